package node

import (
	"bytes"
	"container/list"
	"context"
	"fmt"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/ipvm-go/ipvm/spec"
)

// frontLen is the number of events n's memo front keeps.
func frontLen(n *Node) int {
	f := n.front()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lru.Len()
}

// TestMemoFrontServesStoredReceipts runs a workflow three times: the
// second run reads every receipt from the store and fills the memo front,
// the third is answered by the front, and both give exactly the store's
// receipt (CID, bytes, result) under the names of the workflow that asked,
// executing nothing.
func TestMemoFrontServesStoredReceipts(t *testing.T) {
	ctx := context.Background()
	n := openTestNode(t, Options{})
	wf := parseFile(t, n, "../examples/hello.json")
	first, err := n.Run(ctx, wf, RunOptions{Grant: n.OwnerGrant(wf)})
	if err != nil || first.Failed != 0 {
		t.Fatalf("first run: %v, %d failed", err, first.Failed)
	}
	execs := n.Executions()
	if got := frontLen(n); got != 0 {
		t.Fatalf("front holds %d events before any memo hit", got)
	}
	for run := 2; run <= 3; run++ {
		sum, err := n.Run(ctx, wf, RunOptions{Grant: n.OwnerGrant(wf)})
		if err != nil {
			t.Fatal(err)
		}
		if n.Executions() != execs {
			t.Fatalf("run %d executed %d tasks", run, n.Executions()-execs)
		}
		for i, ev := range sum.Events {
			stored, err := n.Memo(ctx, ev.Task)
			if err != nil || stored == nil {
				t.Fatalf("run %d: %s: Memo: %v, %v", run, ev.Name, stored, err)
			}
			if ev.Name != first.Events[i].Name || !ev.Cached || ev.From != "" {
				t.Errorf("run %d: event %d is %q cached=%v from=%q, want %q cached from here", run, i, ev.Name, ev.Cached, ev.From, first.Events[i].Name)
			}
			if !ev.Receipt.Equals(stored.Receipt) || !bytes.Equal(ev.Bytes, stored.Bytes) || !spec.Equal(ev.Out.IPLD(), stored.Out.IPLD()) {
				t.Errorf("run %d: %s: event differs from the store's receipt", run, ev.Name)
			}
		}
		if got := frontLen(n); got != len(wf.Tasks) {
			t.Errorf("after run %d the front holds %d events, want %d", run, got, len(wf.Tasks))
		}
	}
}

// TestMemoFrontRenamedTask: a front hit carries the name the asking
// workflow gives the task, not the one it had when it was kept.
func TestMemoFrontRenamedTask(t *testing.T) {
	ctx := context.Background()
	n := openTestNode(t, Options{})
	body := `{"name": "w", "tasks": [{"name": %q, "cmd": "/wasm/run", "args": {"mod": {"file": "hello.wasm"}, "fun": "add_one", "params": [7]}}]}`
	var receipts []string
	for i, name := range []string{"a", "b", "c"} {
		wf := parseJSON(t, n, fmt.Sprintf(body, name))
		sum, err := n.Run(ctx, wf, RunOptions{Grant: n.OwnerGrant(wf)})
		if err != nil || len(sum.Events) != 1 {
			t.Fatalf("run %d: %v, %d events", i, err, len(sum.Events))
		}
		if ev := sum.Events[0]; ev.Name != name || ev.Cached != (i > 0) || !spec.Equal(ev.Out.Ok, int64(8)) {
			t.Errorf("run %d: %q cached=%v out=%v, want %q cached=%v out 8", i, ev.Name, ev.Cached, ev.Out.Ok, name, i > 0)
		}
		receipts = append(receipts, sum.Events[0].Receipt.String())
	}
	if receipts[0] != receipts[1] || receipts[1] != receipts[2] {
		t.Errorf("receipts differ: %v", receipts)
	}
	if n.Executions() != 1 {
		t.Errorf("%d executions, want 1", n.Executions())
	}
}

// TestMemoFrontOffWithNoMemo: with memo off every run executes and the
// front stays empty.
func TestMemoFrontOffWithNoMemo(t *testing.T) {
	ctx := context.Background()
	n := openTestNode(t, Options{NoMemo: true})
	wf := parseFile(t, n, "../examples/hello.json")
	for range 2 {
		if _, err := n.Run(ctx, wf, RunOptions{Grant: n.OwnerGrant(wf)}); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := n.Executions(), int64(2*len(wf.Tasks)); got != want {
		t.Errorf("%d executions, want %d", got, want)
	}
	if got := frontLen(n); got != 0 {
		t.Errorf("front holds %d events with memo off", got)
	}
}

// TestMemoFrontBounds: the front keeps at most memoFrontEntries events and
// memoFrontBytes receipt bytes, dropping the least recently used, and
// never keeps an oversized receipt, a receipt from a peer or an event
// that is not a memo hit.
func TestMemoFrontBounds(t *testing.T) {
	ev := func(i, size int) Event {
		c, _, err := spec.CIDOf(int64(i))
		if err != nil {
			t.Fatal(err)
		}
		return Event{Name: "x", Task: c, Receipt: c, Cached: true, Bytes: make([]byte, size)}
	}
	tests := []struct {
		name      string
		put       []Event
		wantLen   int
		wantFirst bool // whether the first event put is still kept
	}{
		{"one", []Event{ev(0, 10)}, 1, true},
		{"oversized", []Event{ev(0, memoFrontMaxEntry+1)}, 0, false},
		{"from a peer", []Event{func() Event { e := ev(0, 10); e.From = "peer"; return e }()}, 0, false},
		{"not a memo hit", []Event{func() Event { e := ev(0, 10); e.Cached = false; return e }()}, 0, false},
		{"entry bound", func() []Event {
			var es []Event
			for i := range memoFrontEntries + 5 {
				es = append(es, ev(i, 1))
			}
			return es
		}(), memoFrontEntries, false},
		{"byte bound", func() []Event {
			var es []Event
			for i := range memoFrontBytes/memoFrontMaxEntry + 3 {
				es = append(es, ev(i, memoFrontMaxEntry))
			}
			return es
		}(), memoFrontBytes / memoFrontMaxEntry, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &memoFront{byCID: map[cid.Cid]*list.Element{}}
			for _, e := range tt.put {
				f.put(e)
			}
			if f.lru.Len() != tt.wantLen || len(f.byCID) != tt.wantLen {
				t.Errorf("kept %d (%d indexed), want %d", f.lru.Len(), len(f.byCID), tt.wantLen)
			}
			if f.bytes > memoFrontBytes {
				t.Errorf("kept %d bytes, bound %d", f.bytes, memoFrontBytes)
			}
			got, ok := f.get(tt.put[0].Task)
			if ok != tt.wantFirst {
				t.Fatalf("first event kept: %v, want %v", ok, tt.wantFirst)
			}
			if ok && (got.Name != "" || !bytes.Equal(got.Bytes, tt.put[0].Bytes)) {
				t.Errorf("kept %q with %d bytes", got.Name, len(got.Bytes))
			}
			if last := tt.put[len(tt.put)-1]; tt.wantLen > 0 {
				if _, ok := f.get(last.Task); !ok {
					t.Errorf("the last event put is not kept")
				}
			}
		})
	}
}
