package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/node/daemon"
)

func newDaemonCmd(e *env) *cobra.Command {
	var api string
	var grace time.Duration
	var verbose bool
	c := &cobra.Command{
		Use:   "daemon",
		Short: "Run a long-lived node with its HTTP gateway",
		Long: `Run the node until SIGINT or SIGTERM: the store, the executor and the HTTP
gateway (POST /v1/workflows, GET /v1/receipts/{cid}, the dashboard at /).
The API address is written to the repo's api file, which the CLI reads to use
the daemon; it is removed on exit. On a signal the daemon drains: running
tasks get --grace to finish, then end with an error receipt.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, err := node.OpenRepo(e.repoPath())
			if err != nil {
				return err
			}
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelInfo
			}
			log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
			d, err := daemon.Start(cmd.Context(), daemon.Config{
				Repo: repo, API: api, Grace: grace, Logger: log, Version: buildVersion(),
				Node: node.Options{Meter: defaultMeter()},
			})
			if err != nil {
				return err
			}
			pid, _ := repo.PeerID()
			fmt.Fprintf(e.stdout, "ipvm daemon serving %s\ndid:  %s\npeer: %s\n", d.URL(), repo.Key.DID(), pid)
			werr := d.Wait(cmd.Context())
			fmt.Fprintln(e.stderr, "ipvm daemon: draining")
			if err := d.Close(); err != nil {
				return err
			}
			return werr
		},
	}
	c.Flags().StringVar(&api, "api", "", "gateway listen address (default: the config's, 127.0.0.1:5080)")
	c.Flags().DurationVar(&grace, "grace", 10*time.Second, "how long running tasks may take to finish on shutdown")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "log more")
	return c
}
