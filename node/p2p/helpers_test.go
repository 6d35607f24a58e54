package p2p_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/ipvm-go/ipvm/node/p2p"
	"github.com/ipvm-go/ipvm/receipt"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/ucan"
)

var loopback = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}

// node is a test host with its signing key and in-memory stores.
type node struct {
	*p2p.Host
	key      *ucan.Key
	receipts *memReceipts
	blocks   *memBlocks
}

// newNode starts a real host on loopback with mDNS off, in-memory receipts
// and blocks, and the test receipt verifier; edit adjusts its config.
func newNode(t testing.TB, boot []string, edit func(*p2p.Config)) *node {
	t.Helper()
	k, err := ucan.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := crypto.UnmarshalEd25519PrivateKey(k.Private())
	if err != nil {
		t.Fatal(err)
	}
	n := &node{key: k, receipts: &memReceipts{m: map[cid.Cid][]byte{}}, blocks: &memBlocks{m: map[cid.Cid][]byte{}}}
	cfg := p2p.Config{
		Identity:      priv,
		Listen:        loopback,
		Bootstrap:     boot,
		DisableMDNS:   true,
		Receipts:      n.receipts,
		Blocks:        n.blocks,
		VerifyReceipt: verifyTestReceipt,
	}
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n.Host, err = p2p.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Logf("close: %v", err)
		}
	})
	return n
}

// cluster starts n nodes, each bootstrapped through the first, and waits
// until every routing table holds a peer.
func cluster(t testing.TB, n int, edit func(*p2p.Config)) []*node {
	t.Helper()
	nodes := []*node{newNode(t, nil, edit)}
	var boot []string
	for _, a := range nodes[0].Addrs() {
		boot = append(boot, a.String())
	}
	for range n - 1 {
		nodes = append(nodes, newNode(t, boot, edit))
	}
	for _, nd := range nodes {
		waitFor(t, "routing table", func() bool { return nd.RoutingTableSize() > 0 })
	}
	waitFor(t, "bootstrap routing table", func() bool { return nodes[0].RoutingTableSize() >= n-1 })
	return nodes
}

// waitFor polls cond until it holds, failing the test after 30 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// provide provides c from nd and waits until the DHT provide finished.
func provide(t testing.TB, nd *node, c cid.Cid) {
	t.Helper()
	before := nd.Stats().Provided
	if err := nd.Provide(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "provide", func() bool { return nd.Stats().Provided > before })
}

type memReceipts struct {
	mu sync.Mutex
	m  map[cid.Cid][]byte
}

func (r *memReceipts) put(task cid.Cid, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[task] = b
}

func (r *memReceipts) ReceiptForTask(_ context.Context, task cid.Cid) (cid.Cid, []byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.m[task]
	if !ok {
		return cid.Undef, nil, p2p.ErrNotFound
	}
	return spec.SumCBOR(b), b, nil
}

type memBlocks struct {
	mu sync.Mutex
	m  map[cid.Cid][]byte
}

func (s *memBlocks) GetBlock(_ context.Context, c cid.Cid) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[c]
	if !ok {
		return nil, p2p.ErrNotFound
	}
	return b, nil
}

func (s *memBlocks) Put(_ context.Context, c cid.Cid, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[c] = b
	return nil
}

// taskCID makes a distinct task CID from a label.
func taskCID(t testing.TB, label string) cid.Cid {
	t.Helper()
	c, _, err := spec.CIDOf(map[string]any{"cmd": "/wasm/run", "args": []any{label}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// signTestReceipt issues a real signed receipt (receipt.Issue) for ran,
// with an ok result of pad bytes.
func signTestReceipt(t testing.TB, k *ucan.Key, ran cid.Cid, pad int) []byte {
	t.Helper()
	s, err := receipt.Issue(k, receipt.Receipt{Ran: ran, Out: spec.Result{Ok: make([]byte, pad)}})
	if err != nil {
		t.Fatal(err)
	}
	return s.Bytes()
}

// verifyTestReceipt is the VerifyReceipt the node passes: receipt.Decode,
// then Verify for the task asked about, with the provider as the only
// accepted issuer.
func verifyTestReceipt(b []byte, task cid.Cid, providerDID string) error {
	s, err := receipt.Decode(b)
	if err != nil {
		return err
	}
	return s.VerifyWith(task, receipt.VerifyOpts{Issuers: []string{providerDID}})
}
