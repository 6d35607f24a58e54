package p2p

import (
	"context"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// FirstProvider is the benchmark floor's lookup: the first provider the raw
// DHT query yields, without waiting for the query to end.
func FirstProvider(ctx context.Context, h *Host, c cid.Cid) (peer.AddrInfo, bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for ai := range h.dht.FindProvidersAsync(ctx, c, 1) {
		if ai.ID != h.h.ID() {
			return ai, true
		}
	}
	return peer.AddrInfo{}, false
}
