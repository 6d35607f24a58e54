package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ipvm-go/ipvm/node"
)

func newOffersCmd(e *env) *cobra.Command {
	var asJSON bool
	var only string
	c := &cobra.Command{
		Use:   "offers",
		Short: "Show this node's offer and the verified offers of peers",
		Long: `Show what this node offers to run (commands, limits, load, labels, blobs it
holds) and, through the running daemon, the signed offers of the peers that
provide /wasm/run, each verified (signature by the peer's key, expiry).
Without a daemon only this node's own offer is shown.`,
		Example: `  ipvm offers
  ipvm offers --peer 12D3KooW... --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cl, err := e.daemonClient(ctx)
			if err != nil {
				return err
			}
			var all node.PeerOffers
			if cl == nil {
				if only != "" {
					return errors.New("--peer needs the network: start the daemon (ipvm daemon)")
				}
				n, closeNode, err := e.openNode()
				if err != nil {
					return err
				}
				defer closeNode()
				if all, err = n.Offers(ctx, ""); err != nil {
					return err
				}
			} else {
				resp, err := cl.do(ctx, http.MethodGet, "/v1/offers", nil, nil)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
					return fmt.Errorf("offers: %w", err)
				}
			}
			list := append([]node.Offer{all.Self}, all.Peers...)
			if only != "" {
				list = slices.DeleteFunc(list, func(o node.Offer) bool { return o.Peer != only })
				if len(list) == 0 {
					if msg := all.Errors[only]; msg != "" {
						return fmt.Errorf("peer %s: %s", only, msg)
					}
					return fmt.Errorf("peer %s offers nothing (not found on the network)", only)
				}
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			for i, o := range list {
				printOffer(e.stdout, o, i == 0 && only == "")
			}
			for _, p := range slices.Sorted(maps.Keys(all.Errors)) {
				if only == "" {
					fmt.Fprintf(e.stderr, "%s: no offer: %s\n", p, all.Errors[p])
				}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the offers as JSON")
	c.Flags().StringVar(&only, "peer", "", "show only this peer's offer (a libp2p peer ID)")
	return c
}

// printOffer prints one offer as a short block.
func printOffer(w io.Writer, o node.Offer, self bool) {
	who := o.Peer
	if who == "" {
		who = "(no network)"
	}
	if self {
		who += " (this node)"
	}
	fmt.Fprintf(w, "%s\n  did      %s\n  commands %s\n", who, o.DID, strings.Join(o.Commands, ", "))
	fmt.Fprintf(w, "  load     %d of %d workers busy\n", o.Busy, o.Workers)
	fmt.Fprintf(w, "  limits   memory %d, time %s, output %d, fuel %d\n", o.Limits.Memory, o.Limits.Time.D(), o.Limits.Output, o.Limits.Fuel)
	if len(o.Labels) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(o.Labels)) {
			kv = append(kv, k+"="+o.Labels[k])
		}
		fmt.Fprintf(w, "  labels   %s\n", strings.Join(kv, ", "))
	}
	fmt.Fprintf(w, "  blobs    %d", len(o.Blobs))
	for i, b := range o.Blobs {
		if i == 5 {
			fmt.Fprintf(w, " …")
			break
		}
		fmt.Fprintf(w, " %s(%d)", b.CID, b.Size)
	}
	fmt.Fprintln(w)
	if !o.Expires.IsZero() {
		fmt.Fprintf(w, "  expires  %s\n", o.Expires.UTC().Format("2006-01-02T15:04:05Z"))
	}
}
