package p2p

import (
	"context"
	"time"

	"github.com/ipfs/go-cid"
)

type queued struct{ c cid.Cid }

// Provide announces on the DHT that this host can serve c: a task CID after
// the node stored its receipt, or a block CID it holds. It only queues the
// CID and returns at once; Config.ProvideWorkers workers announce queued
// CIDs, each bounded by Config.ProvideTimeout, waiting for a non-empty
// routing table first. When the queue is full it returns
// ErrProvideQueueFull and the CID is dropped (Stats.ProvideDropped).
// Provider records expire after 48 h, so a long-running node provides what
// it holds again.
func (n *Host) Provide(ctx context.Context, c cid.Cid) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if n.ctx.Err() != nil {
		return ErrClosed
	}
	select {
	case n.queue <- queued{c}:
		return nil
	default:
		n.stats.provideDropped.Add(1)
		return ErrProvideQueueFull
	}
}

func (n *Host) startProviders() {
	n.queue = make(chan queued, n.cfg.ProvideQueue)
	for range n.cfg.ProvideWorkers {
		n.wg.Go(n.provideLoop)
	}
}

func (n *Host) provideLoop() {
	for {
		select {
		case <-n.ctx.Done():
			return
		case q := <-n.queue:
			n.provide(q.c)
		}
	}
}

// provide runs one DHT provide, waiting up to ProvideTimeout for a peer in
// the routing table.
func (n *Host) provide(c cid.Cid) {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.ProvideTimeout)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for n.dht.RoutingTable().Size() == 0 {
		select {
		case <-ctx.Done():
			n.stats.provideFailed.Add(1)
			n.log.Warn("provide: no DHT peers", "cid", c)
			return
		case <-t.C:
		}
	}
	if err := n.dht.Provide(ctx, c, true); err != nil {
		n.stats.provideFailed.Add(1)
		n.log.Warn("provide failed", "cid", c, "err", err)
		return
	}
	n.stats.provided.Add(1)
	n.log.Debug("provided", "cid", c)
}
