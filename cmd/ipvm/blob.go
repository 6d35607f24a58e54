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

	"github.com/ipvm-go/ipvm/node"
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
			ctx := cmd.Context()
			return e.viaDaemon(ctx, func(cl *client) error {
				resp, err := cl.do(ctx, http.MethodGet, "/v1/blobs/"+c.String(), nil, nil)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				_, err = io.Copy(e.stdout, resp.Body)
				return err
			}, func(n *node.Node) error {
				_, err := n.WriteBlob(ctx, c, e.stdout)
				return err
			})
		},
	}
	c.AddCommand(get)
	return c
}

// addBlob stores a blob through the daemon when one runs, else in the
// embedded node.
func (e *env) addBlob(ctx context.Context, r io.Reader) (c cid.Cid, size uint64, err error) {
	err = e.viaDaemon(ctx, func(cl *client) (err error) {
		c, size, err = cl.addBlob(ctx, r)
		return err
	}, func(n *node.Node) (err error) {
		c, size, err = n.AddBlob(ctx, r)
		return err
	})
	return c, size, err
}
