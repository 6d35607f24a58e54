package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/ipfs/go-cid"

	"github.com/spf13/cobra"

	"github.com/ipvm-go/ipvm/spec"
)

func newAddCmd(e *env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "add FILE",
		Short: "Store a file (a Wasm module or data) and print its CID",
		Long: `Store a file as a blob and print its CID. The CID is the one
"ipfs add --cid-version=1" gives (UnixFS, 256 KiB chunks, raw leaves), so
ipfs:// links written for IPFS resolve to the same bytes. "-" reads stdin.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r io.Reader = e.stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			c, size, err := e.addBlob(cmd.Context(), r)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(e.stdout).Encode(map[string]any{"cid": c.String(), "size": size})
			}
			fmt.Fprintln(e.stdout, c)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, `print {"cid", "size"}`)
	return c
}

func newBlobCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "blob",
		Short: "Read blobs from the store",
	}
	get := &cobra.Command{
		Use:     "get CID",
		Short:   "Write a blob's bytes to stdout",
		Example: "  ipvm blob get bafybei... > file",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := spec.ParseCID(args[0])
			if err != nil {
				return usageError{err}
			}
			cl, err := e.daemonClient(cmd.Context())
			if err != nil {
				return err
			}
			if cl != nil {
				resp, err := cl.do(cmd.Context(), http.MethodGet, "/v1/blobs/"+c.String(), nil, nil)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				_, err = io.Copy(e.stdout, resp.Body)
				return err
			}
			n, closeNode, err := e.openNode()
			if err != nil {
				return err
			}
			defer closeNode()
			_, err = n.WriteBlob(cmd.Context(), c, e.stdout)
			return err
		},
	}
	c.AddCommand(get)
	return c
}

// addBlob stores a blob through the daemon when one runs, else in the
// embedded node.
func (e *env) addBlob(ctx context.Context, r io.Reader) (cid.Cid, uint64, error) {
	cl, err := e.daemonClient(ctx)
	if err != nil {
		return cid.Undef, 0, err
	}
	if cl != nil {
		return cl.addBlob(ctx, r)
	}
	n, closeNode, err := e.openNode()
	if err != nil {
		return cid.Undef, 0, err
	}
	defer closeNode()
	return n.AddBlob(ctx, r)
}
