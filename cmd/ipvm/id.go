package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ipvm-go/ipvm/node"
)

func newIDCmd(e *env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "id",
		Short: "Print this repo's identity: its DID and libp2p peer ID",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, err := node.OpenRepo(e.repoPath())
			if err != nil {
				return err
			}
			pid, err := repo.PeerID()
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(e.stdout).Encode(map[string]string{"did": repo.Key.DID(), "peer": pid.String()})
			}
			fmt.Fprintf(e.stdout, "did:  %s\npeer: %s\n", repo.Key.DID(), pid)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, `print {"did", "peer"} as JSON`)
	return c
}
