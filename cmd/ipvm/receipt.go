package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/ipfs/go-cid"

	"github.com/spf13/cobra"

	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/receipt"
	"github.com/ipvm-go/ipvm/spec"
)

func newReceiptCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "receipt",
		Short: "Look receipts up",
	}
	var asJSON bool
	get := &cobra.Command{
		Use:   "get CID",
		Short: "Show a receipt by receipt CID or task CID, verified",
		Long: `Show a receipt by its own CID or by the CID of the task it answers. The
signature is checked against the issuer's DID and the receipt must name the
task it was found under; "verified" says whether both hold.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := spec.ParseCID(args[0])
			if err != nil {
				return usageError{err}
			}
			v, err := e.receipt(cmd.Context(), c)
			if err != nil {
				return err
			}
			if asJSON {
				b, err := receiptJSON(v)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(e.stdout, "%s\n", b)
				return err
			}
			s := v.Signed
			fmt.Fprintf(e.stdout, "receipt:  %s\ntask:     %s\n", v.Receipt, s.Ran)
			if s.Inv.Defined() {
				fmt.Fprintf(e.stdout, "inv:      %s\n", s.Inv)
			}
			fmt.Fprintf(e.stdout, "issuer:   %s\nout:      %s\n", s.Iss, describeResult(s.Out))
			if len(s.Meta) > 0 {
				fmt.Fprintf(e.stdout, "meta:     %s\n", spec.MustJSON(s.Meta))
			}
			fmt.Fprintf(e.stdout, "verified: %v\n", v.Verified)
			if !v.Verified {
				return exitCode(1)
			}
			return nil
		},
	}
	get.Flags().BoolVar(&asJSON, "json", false, "print the receipt as DAG-JSON with receipt, verified")
	c.AddCommand(get)
	return c
}

// receiptJSON renders a receipt view as one JSON object: the receipt's
// fields in DAG-JSON form plus "receipt" (its CID) and "verified".
func receiptJSON(v node.ReceiptView) ([]byte, error) {
	s := v.Signed
	m := map[string]any{
		"receipt":  v.Receipt,
		"ran":      s.Ran,
		"iss":      s.Iss,
		"out":      s.Out.IPLD(),
		"verified": v.Verified,
	}
	if s.Inv.Defined() {
		m["inv"] = s.Inv
	}
	if len(s.Meta) > 0 {
		m["meta"] = s.Meta
	}
	if v.From != "" {
		m["from"] = v.From
	}
	b, err := spec.EncodeJSON(m)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

// receipt looks a receipt up through the daemon when one runs (its signed
// bytes, verified here: the daemon's word is not taken), else in the
// embedded node.
func (e *env) receipt(ctx context.Context, c cid.Cid) (v node.ReceiptView, err error) {
	err = e.viaDaemon(ctx, func(cl *client) (err error) {
		v, err = daemonReceipt(ctx, cl, c)
		return err
	}, func(n *node.Node) (err error) {
		v, err = n.Receipt(ctx, c)
		return err
	})
	return v, err
}

// daemonReceipt fetches a receipt's signed bytes from the daemon and
// verifies them here.
func daemonReceipt(ctx context.Context, cl *client, c cid.Cid) (node.ReceiptView, error) {
	resp, err := cl.do(ctx, http.MethodGet, "/v1/receipts/"+c.String(), nil, map[string]string{"Accept": "application/vnd.ipld.dag-cbor"})
	if err != nil {
		return node.ReceiptView{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return node.ReceiptView{}, err
	}
	s, err := receipt.Decode(b)
	if err != nil {
		return node.ReceiptView{}, fmt.Errorf("the daemon sent a receipt that does not decode: %w", err)
	}
	v := node.ReceiptView{Receipt: s.CID(), Signed: s}
	// c names the receipt itself or the task it ran.
	v.Verified = (v.Receipt.Equals(c) || s.Ran.Equals(c)) && s.Verify(s.Ran) == nil
	return v, nil
}
