package p2p_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ipvm-go/ipvm/node/p2p"
	"github.com/ipvm-go/ipvm/ucan"
)

func TestConfigValidation(t *testing.T) {
	cases := []struct {
		name string
		cfg  p2p.Config
	}{
		{"watermarks", p2p.Config{ConnLow: 10, ConnHigh: 5}},
		{"negative size", p2p.Config{MaxBlockSize: -1}},
		{"negative count", p2p.Config{FetchParallel: -1}},
		{"negative duration", p2p.Config{StreamTimeout: -1}},
		{"positive threshold", p2p.Config{ScoreThreshold: 5}},
		{"bootstrap without /p2p", p2p.Config{Bootstrap: []string{"/ip4/127.0.0.1/tcp/4001"}}},
		{"bootstrap garbage", p2p.Config{Bootstrap: []string{"not an address"}}},
		{"listen garbage", p2p.Config{Listen: []string{"/ip4/nope/tcp/0"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.Listen == nil {
				tc.cfg.Listen = loopback
			}
			tc.cfg.DisableMDNS = true
			h, err := p2p.New(context.Background(), tc.cfg)
			if !errors.Is(err, p2p.ErrConfig) {
				if h != nil {
					_ = h.Close()
				}
				t.Fatalf("err %v, want ErrConfig", err)
			}
		})
	}
}

func TestCloseIdempotent(t *testing.T) {
	n := newNode(t, nil, nil)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	if err := n.Provide(ctx, taskCID(t, "after close")); !errors.Is(err, p2p.ErrClosed) {
		t.Fatalf("Provide after Close: %v", err)
	}
	if _, err := n.FetchBlock(ctx, taskCID(t, "after close")); !errors.Is(err, p2p.ErrClosed) {
		t.Fatalf("FetchBlock after Close: %v", err)
	}
}

func TestProvideQueueFull(t *testing.T) {
	// A lone host: provides wait for a routing-table peer, so the queue
	// fills and Provide refuses without blocking.
	n := newNode(t, nil, func(c *p2p.Config) { c.ProvideQueue, c.ProvideWorkers = 2, 1 })
	var full int
	for i := range 10 {
		if err := n.Provide(context.Background(), taskCID(t, string(rune('a'+i)))); errors.Is(err, p2p.ErrProvideQueueFull) {
			full++
		}
	}
	if full == 0 || n.Stats().ProvideDropped != uint64(full) {
		t.Fatalf("%d refused, %d counted", full, n.Stats().ProvideDropped)
	}
}

func TestPeerDID(t *testing.T) {
	k, err := ucan.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := crypto.UnmarshalEd25519PrivateKey(k.Private())
	if err != nil {
		t.Fatal(err)
	}
	pid, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	did, err := p2p.PeerDID(pid)
	if err != nil || did != k.DID() {
		t.Fatalf("PeerDID = %q, %v; want %q", did, err, k.DID())
	}
	back, err := p2p.PeerIDFromDID(did)
	if err != nil || back != pid {
		t.Fatalf("PeerIDFromDID = %s, %v; want %s", back, err, pid)
	}
	// A peer ID that is a hash of a non-Ed25519 key has no did:key.
	other, _, err := crypto.GenerateECDSAKeyPair(nil)
	if err != nil {
		t.Skip("no ECDSA key:", err)
	}
	opid, _ := peer.IDFromPrivateKey(other)
	if _, err := p2p.PeerDID(opid); !errors.Is(err, p2p.ErrNotEd25519) {
		t.Fatalf("ECDSA peer: %v", err)
	}
}

func TestPeers(t *testing.T) {
	nodes := cluster(t, 3, nil)
	ps := nodes[0].Peers()
	if len(ps) != 2 {
		t.Fatalf("bootstrap sees %d peers, want 2", len(ps))
	}
	for _, p := range ps {
		if p.DID == "" || len(p.Addrs) == 0 {
			t.Fatalf("peer %+v lacks DID or address", p)
		}
		if p.ID != nodes[1].ID() && p.ID != nodes[2].ID() {
			t.Fatalf("unknown peer %s", p.ID)
		}
	}
}

// TestTransports: each transport alone carries the protocols.
func TestTransports(t *testing.T) {
	for _, tc := range []struct{ addr, proto string }{
		{"/ip4/127.0.0.1/tcp/0", "/tcp/"},
		{"/ip4/127.0.0.1/udp/0/quic-v1", "/quic-v1"},
	} {
		addr := tc.addr
		t.Run(addr, func(t *testing.T) {
			only := func(c *p2p.Config) { c.Listen = []string{addr} }
			a, b := newNode(t, nil, only), newNode(t, nil, only)
			task := taskCID(t, addr)
			a.receipts.put(task, signTestReceipt(t, a.key, task, 8))
			ctx := context.Background()
			if err := b.Connect(ctx, a.AddrInfo()); err != nil {
				t.Fatal(err)
			}
			got, err := b.Request(ctx, a.ID(), p2p.ProtocolReceipt, task.Bytes(), 1<<20)
			if err != nil || verifyTestReceipt(got, task, a.key.DID()) != nil {
				t.Fatalf("request over %s: %v", addr, err)
			}
			if ps := b.Peers(); len(ps) != 1 || len(ps[0].Addrs) == 0 || !strings.Contains(ps[0].Addrs[0].String(), tc.proto) {
				t.Fatalf("peers %+v", ps)
			}
		})
	}
}
