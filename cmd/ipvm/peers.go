package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
)

func newPeersCmd(e *env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "peers",
		Short: "List the peers the running daemon is connected to",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := e.daemonClient(cmd.Context())
			if err != nil {
				return err
			}
			if cl == nil {
				return errors.New("no daemon is running for this repo (start one with: ipvm daemon)")
			}
			resp, err := cl.do(cmd.Context(), http.MethodGet, "/v1/peers", nil, nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var body struct {
				Peers []struct {
					ID    string   `json:"id"`
					DID   string   `json:"did"`
					Addrs []string `json:"addrs"`
				} `json:"peers"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				return err
			}
			peers := body.Peers
			if asJSON {
				return json.NewEncoder(e.stdout).Encode(peers)
			}
			for _, p := range peers {
				addr := ""
				if len(p.Addrs) > 0 {
					addr = p.Addrs[0]
				}
				fmt.Fprintf(e.stdout, "%s\t%s\t%s\n", p.ID, p.DID, addr)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
