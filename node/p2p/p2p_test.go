package p2p_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipvm-go/ipvm/node/p2p"
	"github.com/ipvm-go/ipvm/node/p2p/p2ptest"
	"github.com/ipvm-go/ipvm/receipt"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/store/unixfs"
)

// TestReceiptOverDHT: five real hosts bootstrapped through the first; A
// stores and provides a receipt, E (which never saw the task) finds A on
// the DHT, fetches the receipt and verifies it.
func TestReceiptOverDHT(t *testing.T) {
	nodes := cluster(t, 5, nil)
	a, e := nodes[1], nodes[4]
	task := taskCID(t, "receipt-over-dht")
	rcpt := signTestReceipt(t, a.key, task, 64)
	a.receipts.put(task, rcpt)
	provide(t, a, task)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := e.FetchReceipt(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.Bytes, rcpt) || f.Provider != a.ID() || f.ProviderDID != a.key.DID() {
		t.Fatalf("fetched %d bytes from %s (%s), want %d bytes from %s", len(f.Bytes), f.Provider, f.ProviderDID, len(rcpt), a.ID())
	}
	es, as := e.Stats(), a.Stats()
	if es.ReceiptsFetched != 1 || es.ReceiptsRejected != 0 || as.ReceiptsServed != 1 {
		t.Fatalf("counters: fetcher %+v, server %+v", es, as)
	}
	if in := es.Traffic[p2p.ProtocolReceipt].In; in < uint64(len(rcpt)) {
		t.Fatalf("fetcher read %d receipt-protocol bytes, receipt is %d", in, len(rcpt))
	}
	if out := as.Traffic[p2p.ProtocolReceipt].Out; out != es.Traffic[p2p.ProtocolReceipt].In {
		t.Fatalf("server wrote %d bytes, fetcher read %d", out, es.Traffic[p2p.ProtocolReceipt].In)
	}

	// The Prometheus collector reports the same counters.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.Collector())
	if got := gathered(t, reg, "ipvm_p2p_receipts_total", "result", "fetched"); got != 1 {
		t.Fatalf("ipvm_p2p_receipts_total{result=fetched} = %v, want 1", got)
	}

	// A task nobody provides: not found within the bounded wait.
	_, err = e.FetchReceipt(ctx, taskCID(t, "nobody"))
	if !errors.Is(err, p2p.ErrNotFound) {
		t.Fatalf("unprovided task: %v, want ErrNotFound", err)
	}
}

// TestForgedReceipts: each forger provides a task and answers with a
// forged receipt; the victim rejects it, returns nothing, counts it and
// lowers the forger's score, then still fetches honest receipts and serves
// its own.
//
// A receipt for a task with a nonce is the node's policy, not this
// package's: the network layer sees only task CIDs, so the node never asks
// the network for impure tasks and its VerifyReceipt refuses them.
func TestForgedReceipts(t *testing.T) {
	nodes := cluster(t, 3, nil)
	victim, honest := nodes[1], nodes[2]
	other := newNode(t, nil, nil) // a stranger's key, for issuer swaps

	cases := []struct {
		name  string
		forge func(f *node, task cid.Cid) []byte // nil: raw responder below
		raw   func(f *node, task cid.Cid) []byte
		want  error // the reason, wrapped in the ErrNotFound returned
	}{
		{name: "bad signature", want: receipt.ErrBadSignature, forge: func(f *node, task cid.Cid) []byte {
			b := signTestReceipt(t, f.key, task, 16)
			b[10] ^= 0xff // a byte of the signature (envelope bytes 3..67)
			return b
		}},
		{name: "ran of another task", want: receipt.ErrWrongTask, forge: func(f *node, task cid.Cid) []byte {
			return signTestReceipt(t, f.key, taskCID(t, "another"), 16)
		}},
		{name: "issuer swap", want: receipt.ErrUntrustedIssuer, forge: func(f *node, task cid.Cid) []byte {
			return signTestReceipt(t, other.key, task, 16)
		}},
		{name: "truncated bytes", want: receipt.ErrMalformed, forge: func(f *node, task cid.Cid) []byte {
			b := signTestReceipt(t, f.key, task, 16)
			return b[:len(b)/2]
		}},
		{name: "100 MB frame", want: p2p.ErrFrameTooLarge, raw: func(f *node, task cid.Cid) []byte {
			return p2ptest.OversizedResponse(100<<20, 64<<10)
		}},
		{name: "unknown status byte", want: p2p.ErrBadFrame, raw: func(f *node, task cid.Cid) []byte {
			return p2ptest.Frame([]byte{0x7f, 1, 2, 3})
		}},
	}
	var boot []string
	for _, a := range nodes[0].Addrs() {
		boot = append(boot, a.String())
	}
	parent := t
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Forgers live until the end of the test: a closed peer left in
			// routing tables only slows lookups down, which is not what this
			// test measures.
			forger := newNode(parent, boot, nil)
			task := taskCID(t, "forged "+tc.name)
			if tc.forge != nil {
				forger.receipts.put(task, tc.forge(forger, task))
			} else {
				resp := tc.raw(forger, task)
				p2ptest.ServeRaw(forger.LibP2P(), p2p.ProtocolReceipt, func([]byte) []byte { return resp })
			}
			waitFor(t, "forger routing table", func() bool { return forger.RoutingTableSize() > 0 })
			provide(t, forger, task)

			before := victim.Stats()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			f, err := victim.FetchReceipt(ctx, task)
			if !errors.Is(err, p2p.ErrNotFound) || !errors.Is(err, tc.want) || f.Bytes != nil {
				t.Fatalf("forged receipt: got %d bytes, err %v; want ErrNotFound for %v", len(f.Bytes), err, tc.want)
			}
			after := victim.Stats()
			if after.ReceiptsRejected != before.ReceiptsRejected+1 || after.ReceiptsFetched != before.ReceiptsFetched {
				t.Fatalf("rejected %d→%d, fetched %d→%d", before.ReceiptsRejected, after.ReceiptsRejected,
					before.ReceiptsFetched, after.ReceiptsFetched)
			}
			if s := victim.Score(forger.ID()); s >= 0 {
				t.Fatalf("forger score %d, want negative", s)
			}
			if in := after.Traffic[p2p.ProtocolReceipt].In - before.Traffic[p2p.ProtocolReceipt].In; in > 1<<20+64<<10 {
				t.Fatalf("victim read %d bytes of a forged answer", in)
			}
		})
	}

	// The victim still fetches an honest receipt and serves its own.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	task := taskCID(t, "honest after forgeries")
	honest.receipts.put(task, signTestReceipt(t, honest.key, task, 16))
	provide(t, honest, task)
	if _, err := victim.FetchReceipt(ctx, task); err != nil {
		t.Fatalf("honest fetch after forgeries: %v", err)
	}
	own := taskCID(t, "served by the victim")
	victim.receipts.put(own, signTestReceipt(t, victim.key, own, 16))
	provide(t, victim, own)
	if _, err := honest.FetchReceipt(ctx, own); err != nil {
		t.Fatalf("victim no longer serves: %v", err)
	}
}

// TestBlocks: a block held by A is fetched on C by CID and hash-checked; a
// forged block (bytes that do not hash to the CID) is rejected; a UnixFS
// file added on A is read on C block by block through FetchBlock.
func TestBlocks(t *testing.T) {
	nodes := cluster(t, 4, nil)
	a, c, forger := nodes[1], nodes[2], nodes[3]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	data := []byte("a module or an input, moved by CID")
	blk := spec.Sum(spec.CodecRaw, data)
	_ = a.blocks.Put(ctx, blk, data)
	provide(t, a, blk)
	got, err := c.FetchBlock(ctx, blk)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("FetchBlock: %q, %v", got, err)
	}
	if s := c.Stats(); s.BlocksFetched != 1 || s.BlocksRejected != 0 {
		t.Fatalf("counters %+v", s)
	}

	// Forged: the forger claims a CID and serves other bytes.
	want := spec.Sum(spec.CodecRaw, []byte("the real bytes"))
	_ = forger.blocks.Put(ctx, want, []byte("other bytes"))
	provide(t, forger, want)
	got, err = c.FetchBlock(ctx, want)
	if !errors.Is(err, p2p.ErrNotFound) || got != nil {
		t.Fatalf("forged block: %q, %v", got, err)
	}
	if s := c.Stats(); s.BlocksRejected != 1 || c.Score(forger.ID()) >= 0 {
		t.Fatalf("forged block not counted: %+v, score %d", s, c.Score(forger.ID()))
	}

	// A UnixFS file of several blocks.
	file := make([]byte, 700<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range file {
		file[i] = byte(r.Uint32())
	}
	var cids []cid.Cid
	root, _, err := unixfs.Add(ctx, bytes.NewReader(file), func(ctx context.Context, k cid.Cid, b []byte) error {
		cids = append(cids, k)
		return a.blocks.Put(ctx, k, b)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cids) < 3 {
		t.Fatalf("file made %d blocks, want several", len(cids))
	}
	for _, k := range cids {
		provide(t, a, k)
	}
	out, err := unixfs.Cat(ctx, root, c.FetchBlock, 1<<20)
	if err != nil || !bytes.Equal(out, file) {
		t.Fatalf("Cat over the network: %d bytes, %v", len(out), err)
	}

	// FetchDAG brings the whole DAG to a node that has none of it, in
	// parallel from the root's providers; the file then reads locally.
	d := nodes[0]
	st, err := d.FetchDAG(ctx, root, d.blocks.GetBlock, d.blocks.Put, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if st.Fetched != len(cids) || st.Blocks != len(cids) || d.Stats().BlocksFetched != uint64(len(cids)) {
		t.Fatalf("FetchDAG %+v, stats %+v; want %d blocks fetched", st, d.Stats(), len(cids))
	}
	out, err = unixfs.Cat(ctx, root, d.blocks.GetBlock, 1<<20)
	if err != nil || !bytes.Equal(out, file) {
		t.Fatalf("Cat after FetchDAG: %d bytes, %v", len(out), err)
	}
	// A second FetchDAG finds everything local.
	if st, err := d.FetchDAG(ctx, root, d.blocks.GetBlock, d.blocks.Put, 1<<20); err != nil || st.Fetched != 0 {
		t.Fatalf("second FetchDAG %+v, %v", st, err)
	}
	// The byte cap stops a DAG larger than the caller accepts.
	if _, err := forger.FetchDAG(ctx, root, forger.blocks.GetBlock, forger.blocks.Put, 100<<10); !errors.Is(err, p2p.ErrDAGTooLarge) {
		t.Fatalf("capped FetchDAG: %v", err)
	}
}

// TestHostilePeers: a bare libp2p peer sends an oversized request frame, a
// slow frame, and opens 1000 streams; the victim resets each, penalises
// and disconnects the attacker, and keeps answering an honest peer.
func TestHostilePeers(t *testing.T) {
	edit := func(c *p2p.Config) { c.StreamTimeout = 500 * time.Millisecond }
	victim := newNode(t, nil, edit)
	honest := newNode(t, nil, edit)
	task := taskCID(t, "hostile")
	victim.receipts.put(task, signTestReceipt(t, victim.key, task, 16))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := honest.Connect(ctx, victim.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	serves := func() {
		t.Helper()
		b, err := honest.Request(ctx, victim.ID(), p2p.ProtocolReceipt, task.Bytes(), 1<<20)
		if err != nil || verifyTestReceipt(b, task, victim.key.DID()) != nil {
			t.Fatalf("victim stopped serving an honest peer: %v", err)
		}
	}

	attacks := []struct {
		name string
		run  func(t *testing.T, ctx context.Context, atk *attacker) error
	}{
		{"oversized request frame", func(t *testing.T, ctx context.Context, atk *attacker) error {
			_, err := p2ptest.SendOversized(ctx, atk.h, victim.ID(), p2p.ProtocolReceipt, 100<<20)
			return err
		}},
		{"slow frame", func(t *testing.T, ctx context.Context, atk *attacker) error {
			_, err := p2ptest.SendSlow(ctx, atk.h, victim.ID(), p2p.ProtocolReceipt, p2ptest.Frame(task.Bytes()), 100*time.Millisecond)
			return err
		}},
		{"junk request", func(t *testing.T, ctx context.Context, atk *attacker) error {
			_, err := p2ptest.SendSlow(ctx, atk.h, victim.ID(), p2p.ProtocolReceipt, p2ptest.Frame([]byte("not a cid")), 0)
			return err
		}},
		{"1000 streams", func(t *testing.T, ctx context.Context, atk *attacker) error {
			ss := p2ptest.OpenStreams(ctx, atk.h, victim.ID(), p2p.ProtocolReceipt, 1000)
			defer p2ptest.Release(ss)
			serves() // while the attacker holds its streams
			// Streams past the per-peer bound are reset at once; the rest
			// time out. Either way none gets an answer.
			var answered int
			for _, s := range ss {
				_ = s.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := s.Read(make([]byte, 1)); err == nil {
					answered++
				}
			}
			if answered > 0 {
				t.Errorf("%d idle streams got an answer", answered)
			}
			return errors.New("streams refused")
		}},
	}
	for _, at := range attacks {
		t.Run(at.name, func(t *testing.T) {
			atk := newAttacker(t, ctx, victim)
			before := victim.Stats()
			if err := at.run(t, ctx, atk); err == nil {
				t.Fatal("the victim answered the attack")
			}
			waitFor(t, "attacker penalised", func() bool { return victim.Score(atk.h.ID()) < 0 })
			after := victim.Stats()
			if after.FramingFaults == before.FramingFaults {
				t.Fatal("no framing fault counted")
			}
			serves()
		})
	}
}

// TestBlockList: a blocked peer is neither accepted nor dialled.
func TestBlockList(t *testing.T) {
	bad := newNode(t, nil, nil)
	good := newNode(t, nil, func(c *p2p.Config) { c.Blocked = append(c.Blocked, bad.ID()) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := good.Connect(ctx, bad.AddrInfo()); !errors.Is(err, p2p.ErrBlocked) {
		t.Fatalf("dial of a blocked peer: %v", err)
	}
	// The dialler may see its handshake finish before the gater closes the
	// connection, so check what remains: no connection and no answer.
	_ = bad.Connect(ctx, good.AddrInfo())
	if _, err := bad.Request(ctx, good.ID(), p2p.ProtocolReceipt, taskCID(t, "x").Bytes(), 1024); err == nil {
		t.Fatal("a blocked peer got an answer")
	}
	waitFor(t, "blocked peer gone", func() bool { return len(good.LibP2P().Network().ConnsToPeer(bad.ID())) == 0 })
	if _, err := good.Request(ctx, bad.ID(), p2p.ProtocolReceipt, taskCID(t, "x").Bytes(), 1024); !errors.Is(err, p2p.ErrBlocked) {
		t.Fatalf("request to a blocked peer: %v", err)
	}
}

// gathered returns the value of the metric name with label k=v.
func gathered(t *testing.T, reg *prometheus.Registry, name, k, v string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("metric %s{%s=%q} not found", name, k, v)
	return 0
}

// TestSlowRequest: an answer that takes longer than StreamTimeout arrives
// over a protocol served with HandleSlowRequest to a RequestWithin of a
// large enough budget, and fails over plain HandleRequest/Request; a peer
// that is slow to send its request frame is still cut off at
// StreamTimeout.
func TestSlowRequest(t *testing.T) {
	const st = 300 * time.Millisecond
	edit := func(c *p2p.Config) { c.StreamTimeout = st }
	server, client := newNode(t, nil, edit), newNode(t, nil, edit)
	slow := func(ctx context.Context, _ peer.ID, req []byte) ([]byte, error) {
		select {
		case <-time.After(3 * st):
			return append([]byte("done: "), req...), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	server.HandleSlowRequest("/test/slow", 0, 10*st, slow)
	server.HandleRequest("/test/plain", 0, slow)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := client.Connect(ctx, server.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	b, err := client.RequestWithin(ctx, server.ID(), "/test/slow", []byte("x"), 1<<10, 10*st)
	if err != nil || string(b) != "done: x" {
		t.Fatalf("slow request within its budget: %q, %v", b, err)
	}
	if _, err := client.Request(ctx, server.ID(), "/test/plain", []byte("x"), 1<<10); err == nil {
		t.Fatal("an answer slower than StreamTimeout arrived over plain Request")
	}
	if _, err := client.RequestWithin(ctx, server.ID(), "/test/slow", []byte("x"), 1<<10, st); err == nil {
		t.Fatal("an answer slower than the caller's budget arrived")
	}
	atk := newAttacker(t, ctx, server)
	start := time.Now()
	if _, err := p2ptest.SendSlow(ctx, atk.h, server.ID(), "/test/slow", p2ptest.Frame([]byte("slowloris")), st); err == nil {
		t.Error("a request frame sent slower than StreamTimeout was served")
	}
	if el := time.Since(start); el > 5*st {
		t.Errorf("the slow sender was cut off after %v, StreamTimeout %v", el, st)
	}
}
