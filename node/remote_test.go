package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/node/p2p"
	"github.com/ipvm-go/ipvm/receipt"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/store/unixfs"
	"github.com/ipvm-go/ipvm/ucan"
	"github.com/ipvm-go/ipvm/workflow"
)

// TestPlacementRules: label constraints and pins, a rule per case,
// including workflows no node can satisfy (a clear error naming the
// constraint). D bootstraps; A (region=us) runs the workflows; B
// (region=eu) and C (region=eu, disk=ssd) hold a 2 MB input.
func TestPlacementRules(t *testing.T) {
	labels := []map[string]string{nil, {"region": "us"}, {"region": "eu"}, {"region": "eu", "disk": "ssd"}}
	nodes := clusterWith(t, 4, func(i int, c *Config, _ []string) { c.Labels = labels[i] })
	a, b, c := nodes[1], nodes[2], nodes[3]
	moved := func(n *Node) uint64 { return blockTraffic(n).In }
	mod := addBytes(t, a, paddedModule(t, 20<<10))
	small := randomBlob(t, b, 1<<10)
	waitHolders(t, a, small)
	waitHolders(t, b, mod)
	waitHolders(t, c, mod)
	id := func(n *Node) string { return n.Network().ID().String() }

	for _, tc := range []struct {
		name   string
		input  string // "big" or "small"
		meta   string
		on     []*Node // acceptable executors; nil: an error result
		errHas string
		data   bool // the data must move to the executor
	}{
		{name: "label picks an eu node", input: "small", meta: `{"labels":{"region":"eu"}}`, on: []*Node{b, c}},
		{name: "two labels pick C", input: "small", meta: `{"labels":{"region":"eu","disk":"ssd"}}`, on: []*Node{c}},
		{name: "own label keeps it local", input: "big", meta: `{"labels":{"region":"us"}}`, on: []*Node{a}, data: true},
		{name: "peers' limits too low", input: "small", meta: `{"labels":{"region":"eu"},"memory":536870912}`, errHas: "offers 268435456 bytes of memory, the task asks 536870912"},
		{name: "no node matches", input: "small", meta: `{"labels":{"region":"mars"}}`, errHas: "label region=mars not matched"},
		{name: "pin local moves the data", input: "big", meta: `{"on":"local"}`, on: []*Node{a}, data: true},
		{name: "pin a peer moves the code", input: "small", meta: `{"on":"` + id(c) + `"}`, on: []*Node{c}},
		{name: "pin a peer whose labels do not match", input: "small", meta: `{"on":"` + id(b) + `","labels":{"disk":"ssd"}}`, errHas: "label disk=ssd not matched"},
		{name: "pin an unknown peer", input: "small", meta: `{"on":"12D3KooWLRPJAA5o6F6FfwCvDRBnhsbYw4eXSWNTKEbxqhWbbM5Y"}`, errHas: "not a known peer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := small
			if tc.input == "big" { // a fresh 2 MB input on B and C
				data := make([]byte, 2<<20)
				_, _ = rand.Read(data)
				in = addBytes(t, b, data)
				addBytes(t, c, data)
				waitHolders(t, a, in)
			}
			before := moved(a)
			ev := runOne(t, a, echoWorkflow(t, mod, in, tc.meta))
			if got := moved(a) - before; tc.data != (got >= 2<<20) {
				t.Fatalf("A received %d block bytes; data moved should be %v", got, tc.data)
			}
			if tc.on == nil {
				if ev.Out.Err == nil || ev.Out.Err.Name != spec.ErrNameUnplaceable || !strings.Contains(ev.Out.Err.Message, tc.errHas) {
					t.Fatalf("got %+v, want Unplaceable naming %q", ev.Out, tc.errHas)
				}
				return
			}
			if !ev.Out.IsOk() {
				t.Fatalf("result %+v", ev.Out)
			}
			ok := false
			for _, n := range tc.on {
				if (n == a && ev.From == "") || ev.From == id(n) {
					placementOf(t, ev, n.DID())
					ok = true
				}
			}
			if !ok {
				t.Fatalf("ran on %q", ev.From)
			}
		})
	}
}

// TestPlacementBlockLists: a node never sends work to a peer it blocks
// (A blocks B: the input's other holder D runs it), and a node refuses to
// run a module it blocks, for peers too (C blocks the module: a task
// pinned on C comes back as C's BadModule receipt).
func TestPlacementBlockLists(t *testing.T) {
	modBytes := paddedModule(t, 20<<10)
	modCID, _, err := unixfs.Add(context.Background(), bytes.NewReader(modBytes), func(context.Context, cid.Cid, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	nodes := clusterWith(t, 4, func(i int, c *Config, ids []string) {
		switch i {
		case 1:
			c.BlockPeers = []string{ids[2]}
		case 3:
			c.BlockModules = []string{modCID.String()}
		}
	})
	d, a, b, c := nodes[0], nodes[1], nodes[2], nodes[3]
	if mod := addBytes(t, a, modBytes); !mod.Equals(modCID) {
		t.Fatalf("module CID %s, want %s", mod, modCID)
	}
	data := make([]byte, 2<<20)
	_, _ = rand.Read(data)
	input := addBytes(t, b, data)
	addBytes(t, d, data)
	waitHolders(t, a, input)
	waitHolders(t, d, modCID)

	ev := runOne(t, a, echoWorkflow(t, modCID, input, ""))
	if !ev.Out.IsOk() || ev.From != d.Network().ID().String() {
		t.Fatalf("from %q: %+v", ev.From, ev.Out)
	}
	if b.Executions() != 0 {
		t.Fatal("the blocked peer ran the task")
	}
	pm := placementOf(t, ev, d.DID())
	for _, e := range pm["candidates"].([]any) {
		m := e.(map[string]any)
		if m["peer"] == b.Network().ID().String() && !strings.Contains(m["excluded"].(string), "block list") {
			t.Fatalf("B is a candidate despite the block list: %v", pm["candidates"])
		}
	}

	ev = runOne(t, a, echoWorkflow(t, modCID, input, `{"on":"`+c.Network().ID().String()+`"}`))
	if ev.From != c.Network().ID().String() || ev.Out.Err == nil || ev.Out.Err.Name != spec.ErrNameBadModule || c.Executions() != 0 {
		t.Fatalf("from %q: %+v", ev.From, ev.Out)
	}
}

// TestRemoteFailover: the chosen peer dies mid-task; the task finishes on
// the next candidate, whose receipt verifies, and the failure is recorded
// in the receipt's meta. Sending the same (invocation, task) again to the
// peer that ran it is refused as a replay.
func TestRemoteFailover(t *testing.T) {
	a, b, c, mod, input := twoHolders(t, nil)

	var mu sync.Mutex
	var killed *Node
	invokeHook = func(n *Node) {
		mu.Lock()
		defer mu.Unlock()
		if killed == nil {
			killed = n
			_ = n.Network().Close() // the peer dies with the task in hand
		}
	}
	t.Cleanup(func() { invokeHook = nil })

	wf := echoWorkflow(t, mod, input, "")
	ev := runOne(t, a, wf)
	if killed == nil {
		t.Fatal("no peer was asked")
	}
	survivor := b
	if killed == b {
		survivor = c
	}
	if !ev.Out.IsOk() || ev.From != survivor.Network().ID().String() {
		t.Fatalf("from %q (survivor %s): %+v", ev.From, survivor.Network().ID(), ev.Out)
	}
	pm := placementOf(t, ev, survivor.DID())
	fb, _ := pm["fallback"].([]any)
	if len(fb) != 1 || fb[0].(map[string]any)["peer"] != killed.Network().ID().String() {
		t.Fatalf("fallback %v", pm["fallback"])
	}
	stored, err := a.Receipt(context.Background(), ev.Task)
	if err != nil || !stored.Verified {
		t.Fatalf("stored receipt: %v %+v", err, stored)
	}

	// The survivor refuses the same (invocation, task) a second time.
	s, err := receipt.Decode(ev.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	g := &Grant{wf: wf.CID, inv: s.Inv}
	g.once.Do(func() {})
	st := workflow.Step{Task: wf.Tasks[0], Args: wf.Tasks[0].Task.Args}
	req, err := a.newInvokeRequest(context.Background(), wf, st, g)
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.invokeRemote(context.Background(), survivor.Network().ID(), req, Event{Name: "echo", Task: ev.Task}, g)
	if !errors.Is(err, ErrRemoteRun) || !strings.Contains(err.Error(), ucan.NameReplayed) {
		t.Fatalf("replay: %v", err)
	}
	if survivor.Executions() != 1 {
		t.Fatalf("survivor executed %d times", survivor.Executions())
	}
}

// TestRemotePromisesAndRefusal: a two-task chain whose input lives on B
// runs both tasks on B, the second with args A resolved; B returns that
// receipt but does not store it (it cannot vouch for A's inputs). A peer
// whose allow-list leaves A out refuses, and A falls back to itself and
// says so in the receipt.
func TestRemotePromisesAndRefusal(t *testing.T) {
	nodes := clusterWith(t, 3, func(i int, c *Config, _ []string) {
		if i == 2 {
			c.Placement.AllowInvokers = []string{"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"}
		}
	})
	a, b, c := nodes[0], nodes[1], nodes[2]
	ctx := context.Background()
	mod := addBytes(t, a, paddedModule(t, 20<<10))
	input := randomBlob(t, b, 4<<20)
	waitHolders(t, a, input)
	waitHolders(t, b, mod)

	js := `{"name":"chain","tasks":[
	 {"name":"first","args":{"mod":{"/":"` + mod.String() + `"},"fun":"echo","params":[{"/":"` + input.String() + `"}]}},
	 {"name":"second","args":{"mod":{"/":"` + mod.String() + `"},"fun":"echo","params":[{"await/ok":"first"},{"/":"` + input.String() + `"}]}}]}`
	wf, err := workflow.Parse([]byte(js), workflow.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := a.Run(ctx, wf, RunOptions{Grant: a.OwnerGrant(wf)})
	if err != nil || sum.Failed != 0 {
		t.Fatalf("%v %+v", err, sum)
	}
	bID := b.Network().ID().String()
	for _, ev := range sum.Events {
		if ev.From != bID {
			t.Fatalf("%s ran on %q", ev.Name, ev.From)
		}
		placementOf(t, ev, b.DID())
	}
	if !spec.Equal(sum.Events[1].Out.Ok, []any{[]any{input}, input}) {
		t.Fatalf("second: %v", sum.Events[1].Out.Ok)
	}
	if _, err := b.Receipt(ctx, sum.Events[0].Task); err != nil {
		t.Fatalf("B did not keep the receipt of a task with no promises: %v", err)
	}
	if _, err := b.Receipt(ctx, sum.Events[1].Task); !errors.Is(err, ErrNotFound) {
		t.Fatalf("B kept the receipt of a task whose inputs A resolved: %v", err)
	}

	// C holds the only copy of a new input but refuses A's invocations.
	big := randomBlob(t, c, 4<<20)
	waitHolders(t, a, big)
	ev := runOne(t, a, echoWorkflow(t, mod, big, ""))
	if !ev.Out.IsOk() || ev.From != "" || c.Executions() != 0 {
		t.Fatalf("from %q: %+v", ev.From, ev.Out)
	}
	pm := placementOf(t, ev, a.DID())
	fb, _ := pm["fallback"].([]any)
	if len(fb) != 1 || !strings.Contains(fb[0].(map[string]any)["err"].(string), "allow list") {
		t.Fatalf("fallback %v", pm["fallback"])
	}
}

// twoHolders starts D (bootstrap), A, B, C: a 20 KB module on A, the same
// 4 MB input on B and C, so that the task goes to B or C and either can
// take over.
func twoHolders(t *testing.T, cfg func(i int, c *Config, ids []string)) (a, b, c *Node, mod, input cid.Cid) {
	t.Helper()
	nodes := clusterWith(t, 4, cfg)
	a, b, c = nodes[1], nodes[2], nodes[3]
	mod = addBytes(t, a, paddedModule(t, 20<<10))
	data := make([]byte, 4<<20)
	_, _ = rand.Read(data)
	input = addBytes(t, b, data)
	addBytes(t, c, data)
	// Both holders must be candidates: a sees one alone when C's record
	// has not reached it yet, and then falls back to running locally.
	waitHolderCount(t, a, input, 2)
	waitHolders(t, b, mod)
	waitHolders(t, c, mod)
	return a, b, c, mod, input
}

// TestRemoteTimeout: the chosen peer stalls past the caller's remote-run
// timeout; the task finishes on the other holder, and the timeout is in
// the receipt's fallback list.
func TestRemoteTimeout(t *testing.T) {
	a, b, c, mod, input := twoHolders(t, func(i int, c *Config, _ []string) {
		if i == 1 {
			c.Placement.Timeout = Duration(300 * time.Millisecond)
		}
	})
	var mu sync.Mutex
	var stalled *Node
	invokeHook = func(n *Node) {
		mu.Lock()
		first := stalled == nil
		if first {
			stalled = n
		}
		mu.Unlock()
		if first {
			time.Sleep(time.Second)
		}
	}
	t.Cleanup(func() { invokeHook = nil })
	ev := runOne(t, a, echoWorkflow(t, mod, input, ""))
	survivor := b
	if stalled == b {
		survivor = c
	}
	if !ev.Out.IsOk() || ev.From != survivor.Network().ID().String() {
		s, _ := receipt.Decode(ev.Bytes)
		t.Fatalf("from %q: %+v; placement %v", ev.From, ev.Out, s.Meta["placement"])
	}
	pm := placementOf(t, ev, survivor.DID())
	fb, _ := pm["fallback"].([]any)
	if len(fb) != 1 || fb[0].(map[string]any)["peer"] != stalled.Network().ID().String() ||
		!strings.Contains(fb[0].(map[string]any)["err"].(string), "deadline") {
		t.Fatalf("fallback %v", pm["fallback"])
	}
}

// TestRemoteRunOutlastsStreamTimeout: a task that a peer takes longer to
// answer than the libp2p stream timeout still comes back from that peer
// (the invoke stream lives as long as the task may), without a fallback.
func TestRemoteRunOutlastsStreamTimeout(t *testing.T) {
	const st = time.Second
	clusterHost = func(c *p2p.Config) { c.StreamTimeout = st }
	t.Cleanup(func() { clusterHost = nil })
	a, b, c, mod, input := twoHolders(t, nil)
	var mu sync.Mutex
	var ran *Node
	invokeHook = func(n *Node) {
		mu.Lock()
		ran = n
		mu.Unlock()
		time.Sleep(2*st + st/2)
	}
	t.Cleanup(func() { invokeHook = nil })
	ev := runOne(t, a, echoWorkflow(t, mod, input, ""))
	mu.Lock()
	defer mu.Unlock()
	if ran == nil || (ran != b && ran != c) {
		t.Fatal("no holder was asked")
	}
	if !ev.Out.IsOk() || ev.From != ran.Network().ID().String() {
		t.Fatalf("from %q, asked %s: %+v", ev.From, ran.Network().ID(), ev.Out)
	}
	if fb, _ := placementOf(t, ev, ran.DID())["fallback"].([]any); len(fb) != 0 {
		t.Fatalf("fallback %v", fb)
	}
}
