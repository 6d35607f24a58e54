package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ipvm-go/ipvm/conformance"
)

func newConformanceCmd(e *env) *cobra.Command {
	var (
		gateway string
		asJSON  bool
		only    []string
		timeout time.Duration
		list    bool
	)
	c := &cobra.Command{
		Use:   "conformance --gateway URL",
		Short: "Check a node against the spec through its HTTP gateway",
		Long: `conformance runs the black-box conformance suite (package conformance)
against the node whose gateway is at URL: it uploads the Wasm modules it
needs through POST /v1/blobs, so it must reach the gateway as the node's
owner (from the node's loopback). It prints one line per case (ID, spec
section, PASS or FAIL, detail) and exits 1 if any case fails.`,
		Example: `  ipvm daemon &
  ipvm conformance --gateway http://127.0.0.1:5080
  ipvm conformance --gateway http://127.0.0.1:5080 --json --only ucan.,receipt.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if list {
				for _, c := range conformance.Cases() {
					fmt.Fprintf(e.stdout, "%s\t%s\t%s\n", c.ID, c.Section, c.Title)
				}
				return nil
			}
			if gateway == "" {
				gateway = e.apiURL
			}
			if gateway == "" {
				return usageError{fmt.Errorf("--gateway URL is required (e.g. http://127.0.0.1:5080)")}
			}
			if !strings.Contains(gateway, "://") {
				gateway = "http://" + gateway
			}
			rs := conformance.Run(cmd.Context(), gateway, conformance.Options{CaseTimeout: timeout, Only: only})
			failed := 0
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				for _, r := range rs {
					if err := enc.Encode(r); err != nil {
						return err
					}
				}
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			for _, r := range rs {
				verdict := "PASS"
				if !r.Pass {
					verdict = "FAIL"
					failed++
				}
				if !asJSON {
					fmt.Fprintf(tw, "%s\t%s\t%s", r.ID, r.Section, verdict)
					if r.Detail != "" {
						fmt.Fprintf(tw, "\t%s", oneLine(r.Detail, 2000))
					}
					fmt.Fprintln(tw)
				}
			}
			if !asJSON {
				if err := tw.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%d cases: %d passed, %d failed\n", len(rs), len(rs)-failed, failed)
			}
			if failed > 0 || len(rs) == 0 {
				return exitCode(1)
			}
			return nil
		},
	}
	c.Flags().StringVar(&gateway, "gateway", "", "the node's gateway URL (default: --api)")
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per case")
	c.Flags().StringSliceVar(&only, "only", nil, "run only the cases whose ID starts with one of these prefixes")
	c.Flags().DurationVar(&timeout, "case-timeout", 30*time.Second, "time limit of each case")
	c.Flags().BoolVar(&list, "list", false, "list the cases (ID, section, title) without running them")
	return c
}
