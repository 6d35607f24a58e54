package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/ipvm-go/ipvm/node/p2p"
	"github.com/ipvm-go/ipvm/node/p2p/p2ptest"
	"github.com/ipvm-go/ipvm/receipt"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/store"
	"github.com/ipvm-go/ipvm/ucan"
	"github.com/ipvm-go/ipvm/workflow"
)

// Hostile-peer test sizes.
const (
	hostileJunkRecords = 2000 // junk provider records the attacker puts on the DHT
	hostileStreams     = 1000 // streams the attacker opens to the victim
	// hostileHeapBound is a generous bound on the heap growth of the whole
	// test process (victim, honest peers and attackers together) while the
	// attack is under way.
	hostileHeapBound = 256 << 20
)

// forger answers every receipt request with a receipt that does not verify
// (signed by a stranger, or with a flipped byte) and every block request
// with bytes that do not hash to the CID asked for.
type forger struct {
	stranger *ucan.Key
	mu       sync.Mutex
	served   [][]byte // every forged receipt handed out
	n        int
}

func (f *forger) ReceiptForTask(_ context.Context, task cid.Cid) (cid.Cid, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	s, err := receipt.Issue(f.stranger, receipt.Receipt{Ran: task, Out: spec.OK(int64(-666))})
	if err != nil {
		return cid.Undef, nil, err
	}
	b := bytes.Clone(s.Bytes())
	if f.n%2 == 0 {
		b[len(b)-1] ^= 1 // a broken signature on top
	}
	f.served = append(f.served, b)
	return s.CID(), b, nil
}

func (f *forger) GetBlock(_ context.Context, c cid.Cid) ([]byte, error) {
	// A plausible module whose hash is not c.
	return append([]byte("\x00asm\x01\x00\x00\x00"), c.Bytes()...), nil
}

// hostileNode opens a node on loopback with the given p2p adjustments.
func hostileNode(t *testing.T, boot []string, adjust func(*p2p.Config)) *Node {
	t.Helper()
	repo, err := OpenRepo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	repo.Config.Network.LookupTimeout = Duration(5 * time.Second)
	n, err := Open(repo, Options{Network: &NetworkOptions{
		Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: boot, NoMDNS: true, Host: adjust,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func addrsOf(n *Node) []string {
	var out []string
	for _, a := range n.Network().Addrs() {
		out = append(out, a.String()+"/p2p/"+n.Network().ID().String())
	}
	return out
}

// numericWorkflow is a workflow of k independent adds on mod whose params
// derive from seed (distinct seeds share no task).
func numericWorkflow(t *testing.T, mod cid.Cid, seed, k int) *workflow.Workflow {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(`{"tasks":[`)
	for i := range k {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"t%d","args":{"mod":{"/":"%s"},"fun":"add","params":[%d,%d]}}`, i, mod, seed, i)
	}
	b.WriteString(`]}`)
	wf, err := workflow.Parse(b.Bytes(), workflow.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return wf
}

// attackHost starts a bare libp2p host connected to victim, without a
// resource manager, so its own limits do not hold an attack back.
func attackHost(ctx context.Context, t *testing.T, victim *Node) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics(),
		libp2p.ResourceManager(&network.NullResourceManager{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	if err := p2ptest.Connect(ctx, h, victim.Network().AddrInfo()); err != nil {
		t.Fatal(err)
	}
	return h
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestHostilePeers: a victim node under attack by two peers on loopback.
// The forger (a DHT participant) floods the DHT with junk provider records
// and provides the task CIDs and a module the victim will need, serving
// forged receipts and blocks whose bytes do not match their CID; a bare
// host opens 1000 streams and sends oversized and slow frames. Meanwhile
// an honest peer still fetches the victim's receipts, the victim still
// gets an honest peer's receipts, the victim stores nothing forged, and
// the process heap grows less than a generous bound (Spec: §11).
func TestHostilePeers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five libp2p hosts")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The victim times slow streams out after 2 s, and never bans: every
	// forged answer must reach verification (banning is tested in p2p).
	victim := hostileNode(t, nil, func(c *p2p.Config) {
		c.StreamTimeout = 2 * time.Second
		c.ScoreThreshold = -1 << 30
	})
	boot := addrsOf(victim)
	honest := hostileNode(t, boot, nil)
	asker := hostileNode(t, boot, nil)
	stranger, err := ucan.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	fg := &forger{stranger: stranger}
	forgerNode := hostileNode(t, boot, func(c *p2p.Config) {
		c.Receipts, c.Blocks = fg, fg
		c.ProvideWorkers = 16
	})
	for _, n := range []*Node{victim, honest, asker, forgerNode} {
		deadline := time.Now().Add(15 * time.Second)
		for n.Network().RoutingTableSize() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("routing tables did not fill")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	modV := addFile(t, victim, "../examples/hello.wasm")
	modH := addFile(t, honest, "../examples/hello.wasm")
	if modV != modH {
		t.Fatal("module CIDs differ")
	}

	// Before the attack: the victim and the honest peer each run a
	// workflow of their own and provide its receipts.
	wfVictim := numericWorkflow(t, modV, 1000, 4)
	if s, err := victim.Run(ctx, wfVictim, RunOptions{Grant: victim.OwnerGrant(wfVictim)}); err != nil || s.Failed != 0 {
		t.Fatalf("victim run: %v %+v", err, s)
	}
	wfHonest := numericWorkflow(t, modH, 2000, 4)
	if s, err := honest.Run(ctx, wfHonest, RunOptions{Grant: honest.OwnerGrant(wfHonest)}); err != nil || s.Failed != 0 {
		t.Fatalf("honest run: %v %+v", err, s)
	}
	waitProvided(t, victim, asker, wfVictim)
	waitProvided(t, honest, victim, wfHonest)
	heapBefore := heapInUse()

	// The forger's provider records: junk CIDs, the tasks of both
	// workflows above, the tasks of a workflow only the victim will run,
	// and a module nobody has.
	wfFresh := numericWorkflow(t, modV, 3000, 4)
	ghost := make([]byte, 64)
	rand.Read(ghost)
	ghostMod := spec.Sum(spec.CodecRaw, ghost)
	wfGhost := numericWorkflow(t, ghostMod, 4000, 1)
	fnet := forgerNode.Network()
	var records []cid.Cid
	for range hostileJunkRecords {
		junk := make([]byte, 32)
		rand.Read(junk)
		records = append(records, spec.Sum(spec.CodecDagCBOR, junk))
	}
	for _, wf := range []*workflow.Workflow{wfVictim, wfHonest, wfFresh} {
		for _, task := range wf.Tasks {
			records = append(records, task.CID)
		}
	}
	records = append(records, ghostMod)
	for _, c := range records {
		for fnet.Provide(ctx, c) != nil {
			time.Sleep(10 * time.Millisecond) // queue full: wait
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for st := fnet.Stats(); st.Provided+st.ProvideFailed < uint64(len(records)); st = fnet.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("the forger provided %d of %d records", st.Provided, len(records))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := fnet.Stats(); st.Provided < uint64(len(records))*9/10 {
		t.Fatalf("the flood did not land: %+v", st)
	}

	// The stream attacker: 1000 streams held open, oversized and slow
	// frames, all while the victim serves honest work.
	// Attacking hosts: one holds the streams, one per bad-frame attack
	// (the victim disconnects a peer that sends junk, which would end the
	// other attacks of the same peer before they reach a handler).
	bare := attackHost(ctx, t, victim)
	var framer [4]host.Host
	for i := range framer {
		framer[i] = attackHost(ctx, t, victim)
	}
	vid := victim.Network().ID()
	var attacks sync.WaitGroup
	var attackErrs [4]error
	attacks.Go(func() {
		_, attackErrs[0] = p2ptest.SendOversized(ctx, framer[0], vid, p2p.ProtocolReceipt, 1<<40)
	})
	attacks.Go(func() {
		_, attackErrs[1] = p2ptest.SendOversized(ctx, framer[1], vid, p2p.ProtocolBlock, 64<<20)
	})
	attacks.Go(func() {
		_, attackErrs[2] = p2ptest.SendSlow(ctx, framer[2], vid, p2p.ProtocolReceipt, p2ptest.Frame(wfVictim.Tasks[0].CID.Bytes()), 200*time.Millisecond)
	})
	attacks.Go(func() {
		junk := make([]byte, 300)
		rand.Read(junk)
		_, attackErrs[3] = p2ptest.SendSlow(ctx, framer[3], vid, p2p.ProtocolBlock, p2ptest.Frame(junk), 100*time.Millisecond)
	})

	// 1. A module only the forger provides, with bytes that do not match
	// its CID: the task fails and no block is stored.
	s, err := victim.Run(ctx, wfGhost, RunOptions{Grant: victim.OwnerGrant(wfGhost)})
	if err != nil {
		t.Fatal(err)
	}
	if s.Failed != 1 || s.Events[0].Out.Err == nil || s.Events[0].Out.Err.Name != spec.ErrNameBlobNotFound {
		t.Errorf("a task on a forged module: %+v", s.Events[0].Out)
	}
	if has, err := victim.store.HasBlock(ctx, ghostMod); err != nil || has {
		t.Errorf("the victim stored the forged module: %v %v", has, err)
	}

	attacks.Wait()
	for i, err := range attackErrs {
		if err == nil {
			t.Errorf("attack %d: the victim answered instead of resetting the stream", i)
		}
		t.Logf("attack %d: %v", i, err)
	}

	// Now hold 1000 streams open on the victim while it works.
	held := p2ptest.OpenStreams(ctx, bare, vid, p2p.ProtocolReceipt, hostileStreams/2)
	held = append(held, p2ptest.OpenStreams(ctx, bare, vid, p2p.ProtocolBlock, hostileStreams/2)...)
	defer p2ptest.Release(held)
	for _, st := range held[:len(held)/2] {
		// A length prefix and nothing more: the stream is negotiated and
		// the victim waits for a payload that never comes. The other half
		// is never negotiated: those streams wait in libp2p's transient
		// scope, which one peer must not be able to fill.
		_, _ = st.Write([]byte{0x22})
	}

	// 2. An honest peer still fetches the victim's receipts.
	s, err = asker.Run(ctx, wfVictim, RunOptions{Grant: asker.OwnerGrant(wfVictim)})
	if err != nil {
		t.Fatal(err)
	}
	if asker.Executions() != 0 {
		t.Errorf("the asker executed %d tasks instead of fetching them from the victim", asker.Executions())
	}
	for _, ev := range s.Events {
		if !ev.Cached || ev.From != vid.String() {
			t.Errorf("asker %s: cached %v from %q, want the victim", ev.Name, ev.Cached, ev.From)
		}
	}

	// 3. The victim still gets the honest peer's receipts, though the
	// forger provides the same tasks.
	execBefore := victim.Executions()
	s, err = victim.Run(ctx, wfHonest, RunOptions{Grant: victim.OwnerGrant(wfHonest)})
	if err != nil || s.Failed != 0 {
		t.Fatalf("victim on the honest workflow: %v %+v", err, s)
	}
	if d := victim.Executions() - execBefore; d != 0 {
		t.Errorf("the victim executed %d honest tasks instead of fetching them", d)
	}
	for _, ev := range s.Events {
		if ev.From != honest.Network().ID().String() {
			t.Errorf("victim %s: from %q, want the honest peer", ev.Name, ev.From)
		}
	}

	// 4. Tasks only the forger provides: every forged receipt is refused
	// and the victim runs them itself.
	execBefore = victim.Executions()
	s, err = victim.Run(ctx, wfFresh, RunOptions{Grant: victim.OwnerGrant(wfFresh)})
	if err != nil || s.Failed != 0 {
		t.Fatalf("victim on the fresh workflow: %v %+v", err, s)
	}
	if d := victim.Executions() - execBefore; d != int64(len(wfFresh.Tasks)) {
		t.Errorf("the victim executed %d of %d tasks the forger claims", d, len(wfFresh.Tasks))
	}
	for i, ev := range s.Events {
		if want := int64(3000 + i); !spec.Equal(ev.Out.Ok, want) {
			t.Errorf("%s: out %v, want %d", ev.Name, ev.Out.Ok, want)
		}
	}

	// Memory while the streams are still held.
	heapDuring := heapInUse()
	if heapDuring > heapBefore && heapDuring-heapBefore > hostileHeapBound {
		t.Errorf("heap grew by %d MiB under attack (bound %d MiB)", (heapDuring-heapBefore)>>20, hostileHeapBound>>20)
	}
	t.Logf("heap in use: %d MiB before the attack, %d MiB during; streams held %d; forged receipts served %d",
		heapBefore>>20, heapDuring>>20, len(held), len(fg.served))

	// 5. Nothing forged is in the victim's store: every receipt it holds
	// for the attacked tasks verifies and was issued by the victim or the
	// honest peer; no forged byte string is stored under any receipt CID.
	fg.mu.Lock()
	forged := fg.served
	fg.mu.Unlock()
	if len(forged) == 0 {
		t.Error("the victim never asked the forger: the attack did not happen")
	}
	for _, wf := range []*workflow.Workflow{wfVictim, wfHonest, wfFresh} {
		for _, task := range wf.Tasks {
			_, b, err := victim.store.ReceiptForTask(ctx, task.CID)
			if err != nil {
				t.Errorf("%s: %v", task.Name, err)
				continue
			}
			sg, err := receipt.Decode(b)
			if err != nil || sg.Verify(task.CID) != nil {
				t.Errorf("%s: stored receipt does not verify: %v", task.Name, err)
				continue
			}
			if sg.Iss != victim.DID() && sg.Iss != honest.DID() {
				t.Errorf("%s: stored receipt issued by %s", task.Name, sg.Iss)
			}
		}
	}
	for _, b := range forged {
		if _, err := victim.store.Receipt(ctx, spec.SumCBOR(b)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a forged receipt is in the victim's store (%v)", err)
		}
	}
	st := victim.Network().Stats()
	t.Logf("victim: %d receipts and %d blocks rejected, %d framing faults, %d streams refused, %d peers disconnected",
		st.ReceiptsRejected, st.BlocksRejected, st.FramingFaults, st.StreamsRefused, st.PeersDisconnect)
	if st.ReceiptsRejected == 0 || st.BlocksRejected == 0 || st.FramingFaults == 0 {
		t.Errorf("the victim's counters do not show the attack: %+v", st)
	}
}
