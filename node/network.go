package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/node/p2p"
	"github.com/ipvm-go/ipvm/receipt"
)

// NetworkOptions start the node's libp2p host. The zero value of each field
// takes the repo config's value.
type NetworkOptions struct {
	// Listen overrides the config's listen multiaddrs.
	Listen []string
	// Bootstrap adds peers to the config's bootstrap list.
	Bootstrap []string
	// NoMDNS turns LAN discovery off.
	NoMDNS bool
	// Host adjusts the p2p configuration before the host starts (tests
	// and tools only).
	Host func(*p2p.Config)
}

// startNetwork starts the libp2p host with the repo key as identity.
func (n *Node) startNetwork(ctx context.Context, o NetworkOptions) error {
	priv, err := Libp2pKey(n.key)
	if err != nil {
		return err
	}
	cfg := n.cfg.Network
	listen := cfg.Listen
	if len(o.Listen) > 0 {
		listen = o.Listen
	}
	pc := p2p.Config{
		Identity:      priv,
		Listen:        listen,
		Bootstrap:     append(append([]string(nil), cfg.Bootstrap...), o.Bootstrap...),
		DisableMDNS:   cfg.NoMDNS || o.NoMDNS,
		Logger:        n.log,
		Receipts:      servedReceipts{n},
		Blocks:        n.store,
		VerifyReceipt: n.verifyRemote,
	}
	for _, b := range n.cfg.BlockPeers {
		if id, err := peerID(b); err == nil {
			pc.Blocked = append(pc.Blocked, id)
		}
	}
	if o.Host != nil {
		o.Host(&pc)
	}
	h, err := p2p.New(ctx, pc)
	if err != nil {
		return fmt.Errorf("node: network: %w", err)
	}
	n.net = h
	n.startPlacement()
	return nil
}

// Network returns the node's libp2p host, or nil when it runs without one.
func (n *Node) Network() *p2p.Host { return n.net }

// servedReceipts answers /ipvm/receipt/1.0.0 from the store, with only the
// receipts that may answer for a task elsewhere: ok results of pure work.
type servedReceipts struct{ n *Node }

func (s servedReceipts) ReceiptForTask(ctx context.Context, task cid.Cid) (cid.Cid, []byte, error) {
	ev, err := s.n.Memo(ctx, task)
	if err != nil {
		return cid.Undef, nil, err
	}
	if ev == nil {
		return cid.Undef, nil, fmt.Errorf("%w: %s", p2p.ErrNotFound, task)
	}
	return ev.Receipt, ev.Bytes, nil
}

// verifyRemote checks a receipt a peer served for task: it decodes
// strictly, names task, is signed by its issuer, the issuer is the peer
// that served it or a key the config trusts, and it is an ok result of pure
// work (the only kind that may answer for a task elsewhere).
func (n *Node) verifyRemote(b []byte, task cid.Cid, providerDID string) error {
	s, err := receipt.Decode(b)
	if err != nil {
		return err
	}
	issuers := append([]string{providerDID}, n.cfg.TrustedIssuers...)
	if err := s.VerifyWith(task, receipt.VerifyOpts{Issuers: issuers}); err != nil {
		return err
	}
	if !s.Out.IsOk() {
		return errors.New("node: a failed run does not answer for a task")
	}
	if s.Meta["impure"] == true {
		return errors.New("node: an impure run does not answer for a task")
	}
	return nil
}

// fromNetwork asks the network for a verified receipt of a pure task,
// within the configured lookup timeout, and stores what it gets.
func (n *Node) fromNetwork(ctx context.Context, task cid.Cid) (*Event, error) {
	if n.net == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Network.LookupTimeout.D())
	defer cancel()
	f, err := n.net.FetchReceipt(ctx, task)
	if err != nil {
		if errors.Is(err, p2p.ErrNotFound) || errors.Is(err, context.DeadlineExceeded) {
			return nil, nil
		}
		n.log.Debug("receipt lookup failed", "task", task, "err", err)
		return nil, nil
	}
	s, err := receipt.Decode(f.Bytes)
	if err != nil {
		n.metrics.NetReceipts.WithLabelValues("rejected").Inc()
		return nil, nil // verified by the host; cannot happen
	}
	// No fsync wait: the provider still holds the receipt, so losing it in
	// a power cut costs a refetch, not a result; it is durable at the next
	// sync.
	if err := n.store.PutReceiptNoSync(ctx, task, s.CID(), f.Bytes); err != nil {
		return nil, err
	}
	n.metrics.NetReceipts.WithLabelValues("accepted").Inc()
	n.metrics.ReceiptsStored.Inc()
	n.provide(task)
	return &Event{Task: task, Receipt: s.CID(), Out: s.Out, Cached: true, From: f.Provider.String(), Bytes: f.Bytes}, nil
}

// provide announces a CID on the DHT, if the node has a network.
func (n *Node) provide(c cid.Cid) {
	if n.net == nil {
		return
	}
	if err := n.net.Provide(context.Background(), c); err != nil {
		n.log.Debug("provide dropped", "cid", c, "err", err)
	}
}

// netBlob fetches the blocks of a blob missing locally from the providers
// of its root (a few at a time, each hash-checked), stores them and
// reassembles the blob.
func (n *Node) netBlob(ctx context.Context, c cid.Cid, max int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// The DAG's blocks weigh a little more than the file: allow for the
	// dag-pb nodes above the leaves.
	limit := max + max/64 + 1<<20
	if max < 0 {
		limit = -1
	}
	if _, err := n.net.FetchDAG(ctx, c, n.store.GetBlock, n.store.PutBlock, limit); err != nil {
		return nil, fmt.Errorf("%w: blob %s: %v", ErrNotFound, c, err)
	}
	n.provide(c)
	return n.store.Cat(ctx, c, max)
}

// provideBlob announces a blob's root: peers fetch the whole DAG from the
// root's providers (p2p.Host.FetchDAG), so one record per blob suffices.
func (n *Node) provideBlob(_ context.Context, root cid.Cid) {
	n.provide(root)
}
