package p2p

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/ipvm-go/ipvm/spec"
)

// Fetched is an answer fetched from the network and verified.
type Fetched struct {
	Bytes       []byte        // the receipt or block bytes
	Provider    peer.ID       // the peer that served them
	ProviderDID string        // its did:key ("" if its key is not Ed25519)
	Elapsed     time.Duration // from the call to the verified answer
	Asked       int           // providers asked before the answer
}

// FetchReceipt finds providers of task on the DHT and asks them for its
// receipt over /ipvm/receipt/1.0.0, up to Config.FetchParallel at a time,
// bounded by ctx and Config.FetchTimeout. Every answer goes through
// Config.VerifyReceipt with the provider's did:key before it is returned;
// an answer that fails is dropped, logged and counted, and the provider's
// score lowered. It fails with ErrNotFound when no provider gave a
// verifying receipt, ErrNoVerifier without a verifier.
func (n *Host) FetchReceipt(ctx context.Context, task cid.Cid) (Fetched, error) {
	verify := n.cfg.VerifyReceipt
	if verify == nil {
		return Fetched{}, ErrNoVerifier
	}
	return n.fetch(ctx, ProtocolReceipt, task, n.cfg.MaxReceiptSize,
		func(did string, b []byte) error { return verify(b, task, did) },
		&n.stats.receiptsFetched, &n.stats.receiptsRejected)
}

// FetchBlock finds providers of c on the DHT and fetches the block over
// /ipvm/block/1.0.0 (at most Config.MaxBlockSize bytes), bounded by ctx and
// Config.FetchTimeout. Every block is hash-checked against c on arrival; a
// mismatch is dropped, counted and penalised. It has the signature of the
// block getter of store/unixfs.Cat, so whole files are fetched block by
// block.
func (n *Host) FetchBlock(ctx context.Context, c cid.Cid) ([]byte, error) {
	f, err := n.fetch(ctx, ProtocolBlock, c, n.cfg.MaxBlockSize,
		func(_ string, b []byte) error { return spec.VerifyCID(c, b) },
		&n.stats.blocksFetched, &n.stats.blocksRejected)
	return f.Bytes, err
}

// FindProviders returns up to max providers of c found on the DHT within
// ctx (and Config.FetchTimeout), without the host itself and refused peers.
func (n *Host) FindProviders(ctx context.Context, c cid.Cid, max int) ([]peer.AddrInfo, error) {
	if n.ctx.Err() != nil {
		return nil, ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.FetchTimeout)
	defer cancel()
	var out []peer.AddrInfo
	for ai := range n.dht.FindProvidersAsync(ctx, c, max) {
		if ai.ID != n.h.ID() && !n.scores.refused(ai.ID) {
			out = append(out, ai)
		}
	}
	return out, nil
}

type answer struct {
	p   peer.ID
	did string
	b   []byte
	err error
}

// fetch asks providers of c for it over proto, verifying every answer, and
// returns the first that verifies. Providers already in the local provider
// store (in a small network every node holds every record) are asked
// before the DHT is queried; the query then runs only if they fail.
func (n *Host) fetch(ctx context.Context, proto protocol.ID, c cid.Cid, max int,
	verify func(did string, b []byte) error, ok, rejected *atomic.Uint64) (Fetched, error) {
	if n.ctx.Err() != nil {
		return Fetched{}, ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.FetchTimeout)
	defer cancel()
	// Stop asking when the host closes too.
	stop := context.AfterFunc(n.ctx, cancel)
	defer stop()
	done := make(chan struct{})
	defer close(done)
	f := &fetchRun{n: n, ctx: ctx, proto: proto, c: c, max: max, verify: verify,
		ok: ok, rejected: rejected, start: time.Now(), done: done,
		answers: make(chan answer), seen: make(map[peer.ID]bool)}

	if local, err := n.dht.ProviderStore().GetProviders(ctx, c.Hash()); err == nil && len(local) > 0 {
		ch := make(chan peer.AddrInfo, len(local))
		for _, ai := range local {
			ch <- ai
		}
		close(ch)
		if got, found := f.run(ch); found {
			return got, nil
		}
	}
	if ctx.Err() == nil {
		if got, found := f.run(n.dht.FindProvidersAsync(ctx, c, n.cfg.MaxProviders)); found {
			return got, nil
		}
	}
	if f.asked == 0 {
		return Fetched{}, fmt.Errorf("%w: %s: no providers", ErrNotFound, c)
	}
	return Fetched{}, fmt.Errorf("%w: %s after asking %d providers: %w", ErrNotFound, c, f.asked, errors.Join(f.errs...))
}

// fetchRun is the state of one fetch: the providers asked and the errors.
type fetchRun struct {
	n        *Host
	ctx      context.Context
	proto    protocol.ID
	c        cid.Cid
	max      int
	verify   func(did string, b []byte) error
	ok       *atomic.Uint64
	rejected *atomic.Uint64
	start    time.Time
	done     chan struct{} // closed when the fetch returns
	answers  chan answer
	seen     map[peer.ID]bool
	asked    int
	errs     []error
}

// run asks the providers from provs, at most FetchParallel at a time, and
// returns the first verified answer, or found false once provs is closed
// and every request has answered, or ctx is done.
func (f *fetchRun) run(provs <-chan peer.AddrInfo) (_ Fetched, found bool) {
	n := f.n
	var waiting []peer.ID
	inflight := 0
	ask := func(p peer.ID) {
		inflight++
		f.asked++
		n.wg.Go(func() {
			a := answer{p: p}
			a.did, _ = PeerDID(p)
			a.b, a.err = n.Request(f.ctx, p, f.proto, f.c.Bytes(), f.max)
			if a.err == nil {
				if err := f.verify(a.did, a.b); err != nil {
					a.err = fmt.Errorf("%w: %w", errRejected, err)
				}
			}
			select {
			case f.answers <- a:
			case <-f.done:
			}
		})
	}
	for provs != nil || inflight > 0 {
		select {
		case ai, open := <-provs:
			if !open {
				provs = nil
				continue
			}
			if ai.ID == n.h.ID() || f.seen[ai.ID] || n.scores.refused(ai.ID) {
				continue
			}
			f.seen[ai.ID] = true
			if len(ai.Addrs) > 0 {
				n.h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
			}
			if inflight < n.cfg.FetchParallel {
				ask(ai.ID)
			} else {
				waiting = append(waiting, ai.ID)
			}
		case a := <-f.answers:
			inflight--
			if a.err == nil {
				f.ok.Add(1)
				n.scores.add(a.p, rewardGood)
				return Fetched{Bytes: a.b, Provider: a.p, ProviderDID: a.did, Elapsed: time.Since(f.start), Asked: f.asked}, true
			}
			f.errs = append(f.errs, fmt.Errorf("%s: %w", a.p, a.err))
			if errors.Is(a.err, errRejected) || errors.Is(a.err, ErrFrameTooLarge) || errors.Is(a.err, ErrBadFrame) {
				f.rejected.Add(1)
				n.log.Warn("answer rejected", "protocol", f.proto, "cid", f.c, "peer", a.p, "err", a.err)
			}
			if errors.Is(a.err, errRejected) {
				n.penalise(a.p, penaltyForged)
			}
			if len(waiting) > 0 && f.ctx.Err() == nil {
				ask(waiting[0])
				waiting = waiting[1:]
			}
		case <-f.ctx.Done():
			// In-flight requests see ctx too; their answers are dropped.
			f.errs = append(f.errs, f.ctx.Err())
			return Fetched{}, false
		}
	}
	return Fetched{}, false
}

// errRejected marks an answer that failed verification.
var errRejected = errors.New("p2p: answer failed verification")

// serveReceipt answers /ipvm/receipt/1.0.0 from Config.Receipts.
func (n *Host) serveReceipt(ctx context.Context, _ peer.ID, req []byte) ([]byte, error) {
	task, err := requestCID(req)
	if err != nil {
		return nil, err
	}
	_, b, err := n.cfg.Receipts.ReceiptForTask(ctx, task)
	if err != nil {
		return nil, err
	}
	if len(b) > n.cfg.MaxReceiptSize {
		return nil, fmt.Errorf("receipt of %d bytes exceeds the %d-byte cap", len(b), n.cfg.MaxReceiptSize)
	}
	n.stats.receiptsServed.Add(1)
	return b, nil
}

// serveBlock answers /ipvm/block/1.0.0 from Config.Blocks.
func (n *Host) serveBlock(ctx context.Context, _ peer.ID, req []byte) ([]byte, error) {
	c, err := requestCID(req)
	if err != nil {
		return nil, err
	}
	b, err := n.cfg.Blocks.GetBlock(ctx, c)
	if err != nil {
		return nil, err
	}
	if len(b) > n.cfg.MaxBlockSize {
		return nil, fmt.Errorf("block of %d bytes exceeds the %d-byte cap", len(b), n.cfg.MaxBlockSize)
	}
	n.stats.blocksServed.Add(1)
	return b, nil
}

// requestCID parses a request frame that must be exactly one binary CID.
func requestCID(req []byte) (cid.Cid, error) {
	n, c, err := cid.CidFromBytes(req)
	if err != nil || n != len(req) {
		return cid.Undef, fmt.Errorf("%w: request is not one binary CID", ErrBadFrame)
	}
	return c, nil
}
