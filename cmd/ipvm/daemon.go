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
	var verbose, noNetwork, noMDNS bool
	var bootstrap, listen []string
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
			var netOpts *node.NetworkOptions
			if !noNetwork {
				netOpts = &node.NetworkOptions{Bootstrap: bootstrap, Listen: listen, NoMDNS: noMDNS}
			}
			d, err := daemon.Start(cmd.Context(), daemon.Config{
				Repo: repo, API: api, Grace: grace, Logger: log, Version: buildVersion(),
				Node: node.Options{Meter: defaultMeter(), Network: netOpts},
			})
			if err != nil {
				return err
			}
			pid, _ := repo.PeerID()
			fmt.Fprintf(e.stdout, "ipvm daemon serving %s\ndid:  %s\npeer: %s\n", d.URL(), repo.Key.DID(), pid)
			if h := d.Node().Network(); h != nil {
				for _, a := range h.Addrs() {
					fmt.Fprintf(e.stdout, "listening on %s\n", a)
				}
			}
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
	c.Flags().BoolVar(&noNetwork, "no-network", false, "run without the libp2p host")
	c.Flags().BoolVar(&noMDNS, "no-mdns", false, "turn LAN discovery (mDNS) off")
	c.Flags().StringArrayVar(&bootstrap, "bootstrap", nil, "a peer to join through, as a multiaddr ending in /p2p/ID; repeatable")
	c.Flags().StringArrayVar(&listen, "listen", nil, "a libp2p listen multiaddr (default: the config's, or TCP and QUIC on a free port); repeatable")
	return c
}
