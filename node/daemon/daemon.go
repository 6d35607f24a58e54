// Package daemon runs a node as a long-lived process: the node, its HTTP
// gateway and its API file, with a graceful drain on shutdown. It adapts
// node.Node to the gateway's Node interface, so the gateway package stays
// free of node internals and node stays free of HTTP.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipvm-go/ipvm/gateway"
	"github.com/ipvm-go/ipvm/node"
)

// Config configures a daemon. Zero values are the defaults named.
type Config struct {
	// Repo is the node's repo. Required.
	Repo *node.Repo
	// API is the gateway's listen address. Empty: the repo config's API
	// (default 127.0.0.1:5080). Port 0 picks a free port.
	API string
	// Node are the options the node is opened with.
	Node node.Options
	// Grace bounds the drain on shutdown: in-flight tasks may finish
	// within it, then they are canceled and end with an error receipt.
	// Zero: 10s.
	Grace time.Duration
	// Logger receives the daemon's logs. Nil: discard.
	Logger *slog.Logger
	// Version is reported by GET /v1/id.
	Version string
}

// Daemon is a running node with its gateway.
type Daemon struct {
	cfg     Config
	node    *node.Node
	gw      *gateway.Server
	ln      net.Listener
	api     *api
	apiFile string
	log     *slog.Logger

	serveErr chan error
	once     sync.Once
	closeErr error
}

// Start opens the node and starts serving. A second daemon on the same
// repo fails because the store is locked ("repo locked by another
// process").
func Start(ctx context.Context, cfg Config) (*Daemon, error) {
	if cfg.Repo == nil {
		return nil, errors.New("daemon: no repo")
	}
	if cfg.Grace == 0 {
		cfg.Grace = 10 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Node.Logger == nil {
		cfg.Node.Logger = log
	}
	addr := cfg.API
	if addr == "" {
		addr = cfg.Repo.Config.WithDefaults().API
	}
	n, err := node.Open(cfg.Repo, cfg.Node)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	if err := n.Metrics().Register(reg); err != nil {
		n.Close()
		return nil, err
	}
	a := newAPI(n, cfg.Version)
	gw, err := gateway.New(gateway.Config{Node: a, Registry: reg, Logger: log})
	if err != nil {
		n.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("daemon: listen on %s: %w", addr, err)
	}
	d := &Daemon{
		cfg: cfg, node: n, gw: gw, ln: ln, api: a, log: log,
		apiFile:  cfg.Repo.Path(node.APIFile),
		serveErr: make(chan error, 1),
	}
	if err := os.WriteFile(d.apiFile, []byte("http://"+ln.Addr().String()+"\n"), 0o600); err != nil {
		ln.Close()
		n.Close()
		return nil, err
	}
	go func() { d.serveErr <- gw.Serve(context.Background(), ln) }()
	log.Info("daemon serving", "api", ln.Addr().String(), "did", n.DID())
	return d, nil
}

// Addr returns the gateway's address, e.g. "127.0.0.1:5080".
func (d *Daemon) Addr() string { return d.ln.Addr().String() }

// URL returns the gateway's base URL.
func (d *Daemon) URL() string { return "http://" + d.Addr() }

// Node returns the daemon's node.
func (d *Daemon) Node() *node.Node { return d.node }

// Wait blocks until ctx is done or the gateway stops serving on its own.
func (d *Daemon) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-d.serveErr:
		return err
	}
}

// Close drains and stops the daemon: new submissions are refused, running
// workflows get the grace period to finish, then their remaining tasks are
// canceled (each ends with a Canceled error receipt), the gateway stops,
// the store is synced and closed and the API file removed. Idempotent.
func (d *Daemon) Close() error {
	d.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), d.cfg.Grace)
		defer cancel()
		d.api.stopAccepting()
		drained := make(chan struct{})
		go func() { d.api.wait(); close(drained) }()
		select {
		case <-drained:
		case <-ctx.Done():
			d.log.Warn("grace period over; canceling running tasks")
			d.api.cancelAll()
			<-drained
		}
		shutCtx, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel2()
		err := d.gw.Shutdown(shutCtx)
		if errors.Is(err, context.DeadlineExceeded) {
			err = nil // streams were cut; their workflows are done
		}
		os.Remove(d.apiFile)
		d.closeErr = errors.Join(err, d.node.Sync(context.Background()), d.node.Close())
	})
	return d.closeErr
}
