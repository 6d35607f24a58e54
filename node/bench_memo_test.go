package node

import (
	"context"
	"testing"
	"time"

	"github.com/ipvm-go/ipvm/invocation"
	"github.com/ipvm-go/ipvm/workflow"
)

// memoBench opens a node with one stored receipt for a tiny pure task and
// returns the node and that task.
func memoBench(b *testing.B) (*Node, *invocation.Task) {
	b.Helper()
	ctx := context.Background()
	n := openTestNode(b, Options{})
	mod := addFile(b, n, "../examples/hello.wasm")
	t := invocation.NewWasm(mod, "add_one", int64(1))
	tc, err := t.CID()
	if err != nil {
		b.Fatal(err)
	}
	one := &workflow.Task{Name: "t1", Task: t, CID: tc}
	if _, err := n.RunTask(ctx, one, n.OwnerGrant(&workflow.Workflow{CID: tc}), true); err != nil {
		b.Fatal(err)
	}
	return n, &t
}

// BenchmarkMemoHit is the memo hit of issue 3: the task CID from a parsed
// task, the store lookup and the receipt decode (ipvm bench's
// memo_hit_vs_badger_get; BenchmarkMemoHitPaired measures it beside its
// floor).
func BenchmarkMemoHit(b *testing.B) {
	n, t := memoBench(b)
	ctx := context.Background()
	for b.Loop() {
		c, err := t.CID()
		if err != nil {
			b.Fatal(err)
		}
		hit, err := n.Memo(ctx, c)
		if err != nil || hit == nil {
			b.Fatalf("memo: %v, %v", hit, err)
		}
	}
}

// BenchmarkMemoHitPaired alternates batches of memo hits with batches of
// the floor, a bare badger Get of the same memo entry in the same store,
// and reports both and their ratio (issue 3's goal: at most 2).
func BenchmarkMemoHitPaired(b *testing.B) {
	n, t := memoBench(b)
	ctx := context.Background()
	c, err := t.CID()
	if err != nil {
		b.Fatal(err)
	}
	const batch = 64
	var memoT, getT time.Duration
	for b.Loop() {
		t0 := time.Now()
		for range batch {
			c, err := t.CID()
			if err != nil {
				b.Fatal(err)
			}
			if hit, err := n.Memo(ctx, c); err != nil || hit == nil {
				b.Fatalf("memo: %v, %v", hit, err)
			}
		}
		t1 := time.Now()
		for range batch {
			if _, err := n.store.FloorGet(c); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		memoT += t1.Sub(t0)
		getT += t2.Sub(t1)
	}
	ops := float64(b.N * batch)
	b.ReportMetric(float64(memoT.Nanoseconds())/ops, "memo-ns/op")
	b.ReportMetric(float64(getT.Nanoseconds())/ops, "get-ns/op")
	b.ReportMetric(float64(memoT)/float64(getT), "memo/get")
}
