package p2p

import (
	"context"
	"errors"
	"fmt"
	"sync"

	dag "github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/ipvm-go/ipvm/spec"
)

// ErrDAGTooLarge reports a DAG whose blocks add up to more than FetchDAG's
// byte cap.
var ErrDAGTooLarge = errors.New("p2p: DAG exceeds the byte cap")

// DAGStats is what FetchDAG did.
type DAGStats struct {
	Blocks  int   // blocks in the DAG (local and fetched)
	Fetched int   // blocks fetched from the network
	Bytes   int64 // bytes of all blocks
}

// FetchDAG makes every block of the DAG under root available locally: it
// walks dag-pb links (other codecs are leaves), takes each block from local
// when it has it, and otherwise fetches it — first from the providers of
// root (found once on the DHT, as a DAG's blocks are usually held
// together), then from the providers of the block itself — hash-checks it
// and hands it to put. Up to Config.FetchParallel blocks are in flight.
// The blocks' total size is capped by maxBytes (ErrDAGTooLarge). local
// returns an error when it lacks a block.
func (n *Host) FetchDAG(ctx context.Context, root cid.Cid,
	local func(ctx context.Context, c cid.Cid) ([]byte, error),
	put func(ctx context.Context, c cid.Cid, b []byte) error, maxBytes int64) (DAGStats, error) {
	if n.ctx.Err() != nil {
		return DAGStats{}, ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(n.ctx, cancel)
	defer stop()

	w := &dagWalk{n: n, root: root, local: local, put: put}
	type result struct {
		links   []cid.Cid
		size    int
		fetched bool
		err     error
	}
	results := make(chan result)
	seen := map[cid.Cid]bool{root: true}
	queue := []cid.Cid{root}
	var st DAGStats
	inflight := 0
	for len(queue) > 0 || inflight > 0 {
		for inflight < n.cfg.FetchParallel && len(queue) > 0 {
			c := queue[0]
			queue = queue[1:]
			inflight++
			n.wg.Go(func() {
				var r result
				r.links, r.size, r.fetched, r.err = w.block(ctx, c)
				select {
				case results <- r:
				case <-ctx.Done():
				}
			})
		}
		select {
		case r := <-results:
			inflight--
			if r.err != nil {
				return st, r.err
			}
			st.Blocks++
			st.Bytes += int64(r.size)
			if r.fetched {
				st.Fetched++
			}
			if st.Bytes > maxBytes {
				return st, fmt.Errorf("%w: more than %d bytes under %s", ErrDAGTooLarge, maxBytes, root)
			}
			for _, l := range r.links {
				if !seen[l] {
					seen[l] = true
					queue = append(queue, l)
				}
			}
		case <-ctx.Done():
			return st, ctx.Err()
		}
	}
	return st, nil
}

// dagWalk holds what the workers of one FetchDAG share.
type dagWalk struct {
	n     *Host
	root  cid.Cid
	local func(ctx context.Context, c cid.Cid) ([]byte, error)
	put   func(ctx context.Context, c cid.Cid, b []byte) error

	once  sync.Once
	peers []peer.AddrInfo // providers of root
}

// block gets one block (locally, from root's providers, or from its own
// providers) and returns its links.
func (w *dagWalk) block(ctx context.Context, c cid.Cid) (links []cid.Cid, size int, fetched bool, err error) {
	b, lerr := w.local(ctx, c)
	if lerr != nil {
		if b, err = w.remote(ctx, c); err != nil {
			return nil, 0, false, err
		}
		if err := w.put(ctx, c, b); err != nil {
			return nil, 0, false, fmt.Errorf("store block %s: %w", c, err)
		}
		fetched = true
	}
	if c.Prefix().Codec == spec.CodecDagPB {
		nd, err := dag.DecodeProtobuf(b)
		if err != nil {
			return nil, 0, false, fmt.Errorf("decode dag-pb %s: %w", c, err)
		}
		for _, l := range nd.Links() {
			links = append(links, l.Cid)
		}
	}
	return links, len(b), fetched, nil
}

// remote fetches c from root's providers, then through FetchBlock.
func (w *dagWalk) remote(ctx context.Context, c cid.Cid) ([]byte, error) {
	n := w.n
	w.once.Do(func() { w.peers, _ = n.FindProviders(ctx, w.root, n.cfg.MaxProviders) })
	for _, ai := range w.peers {
		if n.scores.refused(ai.ID) {
			continue
		}
		if len(ai.Addrs) > 0 {
			n.h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
		}
		b, err := n.Request(ctx, ai.ID, ProtocolBlock, c.Bytes(), n.cfg.MaxBlockSize)
		if err != nil {
			continue
		}
		if err := spec.VerifyCID(c, b); err != nil {
			n.stats.blocksRejected.Add(1)
			n.log.Warn("answer rejected", "protocol", ProtocolBlock, "cid", c, "peer", ai.ID, "err", err)
			n.penalise(ai.ID, penaltyForged)
			continue
		}
		n.stats.blocksFetched.Add(1)
		n.scores.add(ai.ID, rewardGood)
		return b, nil
	}
	return n.FetchBlock(ctx, c)
}
