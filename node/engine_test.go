package node

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/receipt"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/workflow"
)

// openTestNode opens a node on a fresh repo in a temp dir.
func openTestNode(t testing.TB, opts Options) *Node {
	t.Helper()
	repo, err := OpenRepo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n, err := Open(repo, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// addFile adds a file to the node's store and returns its CID.
func addFile(t testing.TB, n *Node, path string) cid.Cid {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, _, err := n.AddBlob(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// parseFile parses a workflow file, adding file modules to n.
func parseFile(t testing.TB, n *Node, path string) *workflow.Workflow {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wf, err := workflow.Parse(b, workflow.ParseOptions{ResolveFile: func(p string) (cid.Cid, error) {
		return addFile(t, n, filepath.Join(filepath.Dir(path), p)), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return wf
}

func parseJSON(t testing.TB, n *Node, js string) *workflow.Workflow {
	t.Helper()
	wf, err := workflow.Parse([]byte(js), workflow.ParseOptions{ResolveFile: func(p string) (cid.Cid, error) {
		return addFile(t, n, filepath.Join("../examples", p)), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return wf
}

func results(sum Summary) map[string]spec.Result {
	m := map[string]spec.Result{}
	for _, ev := range sum.Events {
		m[ev.Name] = ev.Out
	}
	return m
}

// TestRunTwiceMemoizes runs the hello example twice: the first run executes
// every task and signs a receipt that verifies; the second executes nothing
// and returns the same receipts, marked cached (Spec: §4, §5).
func TestRunTwiceMemoizes(t *testing.T) {
	ctx := context.Background()
	n := openTestNode(t, Options{})
	wf := parseFile(t, n, "../examples/hello.json")
	first, err := n.Run(ctx, wf, RunOptions{Grant: n.OwnerGrant(wf)})
	if err != nil {
		t.Fatal(err)
	}
	if first.Failed != 0 || len(first.Events) != len(wf.Tasks) {
		t.Fatalf("first run: %d failed, %d events for %d tasks", first.Failed, len(first.Events), len(wf.Tasks))
	}
	got := results(first)
	if !spec.Equal(got["one"].Ok, int64(2)) || !spec.Equal(got["two"].Ok, int64(3)) || !spec.Equal(got["sum"].Ok, int64(43)) {
		t.Fatalf("results: %v", got)
	}
	execs := n.Executions()
	if execs != int64(len(wf.Tasks)) {
		t.Fatalf("first run executed %d tasks, want %d", execs, len(wf.Tasks))
	}
	for _, ev := range first.Events {
		if ev.Cached {
			t.Errorf("%s cached on the first run", ev.Name)
		}
		s, err := receipt.Decode(ev.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Verify(ev.Task); err != nil {
			t.Errorf("%s: receipt does not verify: %v", ev.Name, err)
		}
		if s.Iss != n.DID() || !s.CID().Equals(ev.Receipt) {
			t.Errorf("%s: iss %s, cid %s", ev.Name, s.Iss, s.CID())
		}
	}
	second, err := n.Run(ctx, wf, RunOptions{Grant: n.OwnerGrant(wf)})
	if err != nil {
		t.Fatal(err)
	}
	if n.Executions() != execs {
		t.Fatalf("second run executed %d tasks", n.Executions()-execs)
	}
	for i, ev := range second.Events {
		if !ev.Cached {
			t.Errorf("%s not cached on the second run", ev.Name)
		}
		if !ev.Receipt.Equals(first.Events[i].Receipt) || !bytes.Equal(ev.Bytes, first.Events[i].Bytes) {
			t.Errorf("%s: second run returned another receipt", ev.Name)
		}
	}
}

// TestReceiptLookup finds a receipt by its CID and by its task CID, both
// verified and byte-identical.
func TestReceiptLookup(t *testing.T) {
	ctx := context.Background()
	n := openTestNode(t, Options{})
	wf := parseFile(t, n, "../examples/hello.json")
	sum, err := n.Run(ctx, wf, RunOptions{Grant: n.OwnerGrant(wf)})
	if err != nil {
		t.Fatal(err)
	}
	ev := sum.Events[0]
	for _, c := range []cid.Cid{ev.Receipt, ev.Task} {
		v, err := n.Receipt(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if !v.Verified || !v.Receipt.Equals(ev.Receipt) || !bytes.Equal(v.Signed.Bytes(), ev.Bytes) {
			t.Fatalf("lookup by %s: %+v", c, v)
		}
	}
	if _, err := n.Receipt(ctx, wf.CID); err == nil {
		t.Fatal("a workflow CID found a receipt")
	}
}

// TestRunawayGuestsFailAlone runs guests that loop, grow memory, recurse
// and trap beside a healthy task: each misbehaving task ends with an error
// receipt within its limit, the healthy one succeeds, and the node keeps
// serving (Spec: §6, §7).
func TestRunawayGuestsFailAlone(t *testing.T) {
	ctx := context.Background()
	n := openTestNode(t, Options{})
	wasm, err := os.ReadFile("exec/testdata/guest.wasm")
	if err != nil {
		t.Fatal(err)
	}
	mod, _, err := n.AddBlob(ctx, bytes.NewReader(wasm))
	if err != nil {
		t.Fatal(err)
	}
	hello := addFile(t, n, "../examples/hello.wasm")
	js := `{"name":"runaway","tasks":[
	 {"name":"loop","args":{"mod":{"/":"` + mod.String() + `"},"fun":"loop","params":[]},"meta":{"time":"300ms"}},
	 {"name":"grow","args":{"mod":{"/":"` + mod.String() + `"},"fun":"grow","params":[]},"meta":{"memory":2097152}},
	 {"name":"recurse","args":{"mod":{"/":"` + mod.String() + `"},"fun":"recurse","params":[0]}},
	 {"name":"trap","args":{"mod":{"/":"` + mod.String() + `"},"fun":"trap","params":[]}},
	 {"name":"missing","args":{"mod":{"/":"` + mod.String() + `"},"fun":"no_such_export","params":[]}},
	 {"name":"fine","args":{"mod":{"/":"` + hello.String() + `"},"fun":"add_one","params":[41]}}]}`
	wf, err := workflow.Parse([]byte(js), workflow.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sum, err := n.Run(ctx, wf, RunOptions{Grant: n.OwnerGrant(wf)})
	if err != nil {
		t.Fatal(err)
	}
	got := results(sum)
	want := map[string]string{
		"loop": spec.ErrNameTimeout, "grow": spec.ErrNameMemoryLimit, "recurse": spec.ErrNameTrap,
		"trap": spec.ErrNameTrap, "missing": spec.ErrNameMissingExport,
	}
	for name, errName := range want {
		r := got[name]
		if r.Err == nil || r.Err.Name != errName {
			t.Errorf("%s: got %+v, want error %s", name, r, errName)
		}
	}
	if !spec.Equal(got["fine"].Ok, int64(42)) {
		t.Errorf("fine: %+v", got["fine"])
	}
	if sum.Failed != len(want) {
		t.Errorf("failed = %d, want %d", sum.Failed, len(want))
	}
	t.Logf("runaway table took %v", time.Since(start))
	// The node still serves: the same healthy task answers from the memo.
	again, err := n.Run(ctx, wf, RunOptions{Grant: n.OwnerGrant(wf)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range again.Events {
		if ev.Name == "fine" && !ev.Cached {
			t.Error("healthy task not memoized after the runaway run")
		}
		if ev.Name != "fine" && ev.Cached {
			t.Errorf("%s: an error result was served from the memo table", ev.Name)
		}
	}
}

// TestFuelInReceipts: a runaway loop with a fuel budget ends OutOfFuel with
// the whole budget used, and the same task gives the same fuel figure on
// every run, with the cost table named in the receipt (Spec: §8).
func TestFuelInReceipts(t *testing.T) {
	ctx := context.Background()
	n := openTestNode(t, Options{NoMemo: true})
	mod := addFile(t, n, "exec/testdata/guest.wasm")
	hello := addFile(t, n, "../examples/hello.wasm")
	js := `{"tasks":[
	 {"name":"loop","args":{"mod":{"/":"` + mod.String() + `"},"fun":"loop","params":[]},"meta":{"fuel":100000,"time":"20s"}},
	 {"name":"sum","args":{"mod":{"/":"` + hello.String() + `"},"fun":"add","params":[2, 40]}}]}`
	wf, err := workflow.Parse([]byte(js), workflow.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var fuelSeen int64 = -1
	for i := range 20 {
		sum, err := n.Run(ctx, wf, RunOptions{Grant: n.OwnerGrant(wf)})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range sum.Events {
			s, err := receipt.Decode(ev.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			f, _ := s.Meta["fuel"].(int64)
			if s.Meta["fuelTable"] != "ipvm-fuel-v1" {
				t.Fatalf("%s: receipt meta %v has no cost table", ev.Name, s.Meta)
			}
			switch ev.Name {
			case "loop":
				if ev.Out.Err == nil || ev.Out.Err.Name != spec.ErrNameOutOfFuel || f != 100000 {
					t.Fatalf("loop: %+v fuel %d", ev.Out, f)
				}
			case "sum":
				if f <= 0 || (fuelSeen >= 0 && f != fuelSeen) {
					t.Fatalf("run %d: fuel %d, before %d", i, f, fuelSeen)
				}
				fuelSeen = f
			}
		}
	}
}

// TestSameTaskTwiceRunsOnce: two tasks of one workflow with the same task
// CID are one execution and one receipt (Spec: §5.4).
func TestSameTaskTwiceRunsOnce(t *testing.T) {
	ctx := context.Background()
	n := openTestNode(t, Options{})
	mod := addFile(t, n, "../examples/hello.wasm")
	js := `{"tasks":[
	 {"name":"a","args":{"mod":{"/":"` + mod.String() + `"},"fun":"add","params":[1, 2]}},
	 {"name":"b","args":{"mod":{"/":"` + mod.String() + `"},"fun":"add","params":[1, 2]}},
	 {"name":"c","args":{"mod":{"/":"` + mod.String() + `"},"fun":"add","params":[{"await/ok":"b"}, 10]}}]}`
	wf, err := workflow.Parse([]byte(js), workflow.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 { // the race this guards against is timing-dependent
		n2 := openTestNode(t, Options{})
		mod2 := addFile(t, n2, "../examples/hello.wasm")
		if !mod2.Equals(mod) {
			t.Fatal("module CID differs")
		}
		sum, err := n2.Run(ctx, wf, RunOptions{Grant: n2.OwnerGrant(wf)})
		if err != nil {
			t.Fatal(err)
		}
		got := results(sum)
		if !spec.Equal(got["c"].Ok, int64(13)) {
			t.Fatalf("c = %+v", got["c"])
		}
		if n2.Executions() != 2 {
			t.Fatalf("%d executions for two distinct tasks", n2.Executions())
		}
		var ra, rb cid.Cid
		for _, ev := range sum.Events {
			switch ev.Name {
			case "a":
				ra = ev.Receipt
			case "b":
				rb = ev.Receipt
			}
		}
		if !ra.Equals(rb) {
			t.Fatal("the same task got two receipts")
		}
	}
	_ = n
}

// TestRunManyTasksBounded runs a workflow of many independent tasks: every
// task runs once and is reported once, each report comes after a sync of
// the store since the run began (a receipt is durable before it is
// reported) with its receipt readable, and the run steps its tasks on a
// bounded set of goroutines rather than one per task.
func TestRunManyTasksBounded(t *testing.T) {
	ctx := context.Background()
	n := openTestNode(t, Options{NoMemo: true})
	mod := addFile(t, n, "../examples/hello.wasm")
	const k = 400
	var js strings.Builder
	js.WriteString(`{"tasks":[`)
	for i := range k {
		if i > 0 {
			js.WriteByte(',')
		}
		fmt.Fprintf(&js, `{"name":"t%d","args":{"mod":{"/":"%s"},"fun":"add_one","params":[%d]}}`, i, mod, i)
	}
	js.WriteString(`]}`)
	wf, err := workflow.Parse([]byte(js.String()), workflow.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	syncs0, base := n.Store().Stats().Syncs, runtime.NumGoroutine()
	maxG, reported := 0, map[string]bool{}
	sum, err := n.Run(ctx, wf, RunOptions{Grant: n.OwnerGrant(wf), OnEvent: func(ev Event) {
		maxG = max(maxG, runtime.NumGoroutine())
		if reported[ev.Name] {
			t.Errorf("%s reported twice", ev.Name)
		}
		reported[ev.Name] = true
		if n.Store().Stats().Syncs == syncs0 {
			t.Errorf("%s reported before any sync", ev.Name)
		}
		if _, err := n.Store().Receipt(ctx, ev.Receipt); err != nil {
			t.Errorf("%s reported, its receipt not readable: %v", ev.Name, err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Events) != k || sum.Failed != 0 || len(reported) != k {
		t.Fatalf("%d events, %d failed, %d reported; want %d, 0, %d", len(sum.Events), sum.Failed, len(reported), k, k)
	}
	for i, ev := range sum.Events {
		if !spec.Equal(ev.Out.Ok, int64(i+1)) {
			t.Fatalf("%s = %+v, want %d", ev.Name, ev.Out, i+1)
		}
	}
	if got := n.Executions(); got != k {
		t.Errorf("%d executions, want %d", got, k)
	}
	if limit := base + n.stepGoroutines() + 32; maxG > limit {
		t.Errorf("%d goroutines during the run, want at most %d (base %d): tasks are not bounded", maxG, limit, base)
	}
}

// TestMemoizedRunDoesNotSync: a run answered wholly from the memo table
// queues no receipt, so it reports its tasks without waiting for an
// fsync (the gateway's hot path for repeated workflows).
func TestMemoizedRunDoesNotSync(t *testing.T) {
	ctx := context.Background()
	n := openTestNode(t, Options{})
	wf := parseFile(t, n, "../examples/hello.json")
	if _, err := n.Run(ctx, wf, RunOptions{Grant: n.OwnerGrant(wf)}); err != nil {
		t.Fatal(err)
	}
	syncs := n.Store().Stats().Syncs
	sum, err := n.Run(ctx, wf, RunOptions{Grant: n.OwnerGrant(wf)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range sum.Events {
		if !ev.Cached {
			t.Fatalf("%s not answered from the memo table", ev.Name)
		}
	}
	if got := n.Store().Stats().Syncs; got != syncs {
		t.Errorf("a memoized run synced the store %d times", got-syncs)
	}
}
