package node

import (
	"context"
	"sync/atomic"

	"github.com/ipvm-go/ipvm/node/exec"
	"github.com/ipvm-go/ipvm/spec"
)

// execPool bounds the Wasm executions running at once: a task takes one of
// its slots for the execution, on its own goroutine. (Handing executions
// to long-lived worker goroutines instead was measured: the two goroutine
// wake-ups per task cost a tiny task more than the stack growth they
// saved; a workflow's tasks run on the run's long-lived step goroutines.)
type execPool struct {
	ex    *exec.Executor
	size  int           // slots
	slots chan struct{} // a token per execution running
	// started counts the executions begun (Node.executions).
	started *atomic.Int64
}

// newExecPool bounds ex to workers executions at once, counting those it
// starts in started.
func newExecPool(ex *exec.Executor, workers int, started *atomic.Int64) *execPool {
	return &execPool{ex: ex, size: workers, slots: make(chan struct{}, workers), started: started}
}

// busy is how many executions are running.
func (p *execPool) busy() int { return len(p.slots) }

// run executes req once a slot is free, unless ctx ends first.
func (p *execPool) run(ctx context.Context, req exec.Request) (spec.Result, exec.Stats, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return spec.Result{}, exec.Stats{}, ctx.Err()
	}
	defer func() { <-p.slots }()
	p.started.Add(1)
	return p.ex.Run(ctx, req)
}

// close is a no-op kept for Node.Close's order of shutdown: executions end
// with their callers, which Close waits for.
func (p *execPool) close() {}
