package node

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/ipvm-go/ipvm/node/exec"
	"github.com/ipvm-go/ipvm/spec"
)

// execPool runs Wasm executions on a fixed set of long-lived goroutines,
// the node's bounded pool of workers. A task's own goroutine hands its
// execution over and waits: wazero's call grows the stack of the goroutine
// it runs on, and a goroutine per task would grow (copy) a fresh stack for
// every task, which cost more than the tiny tasks themselves.
type execPool struct {
	ex   *exec.Executor
	jobs chan *execJob // unbuffered: a job is taken only by an idle worker
	size int           // workers
	busy atomic.Int64  // workers executing now
	// started counts the jobs handed to a worker (Node.executions).
	started *atomic.Int64
	wg      sync.WaitGroup
	once    sync.Once
}

// execJob is one execution handed to the pool.
type execJob struct {
	ctx   context.Context
	req   exec.Request
	out   spec.Result
	stats exec.Stats
	err   error
	done  chan struct{}
}

// newExecPool starts workers goroutines running ex, counting the jobs
// they start in started.
func newExecPool(ex *exec.Executor, workers int, started *atomic.Int64) *execPool {
	p := &execPool{ex: ex, size: workers, jobs: make(chan *execJob), started: started}
	p.wg.Add(workers)
	for range workers {
		go p.work()
	}
	return p
}

func (p *execPool) work() {
	defer p.wg.Done()
	for j := range p.jobs {
		p.busy.Add(1)
		j.out, j.stats, j.err = p.ex.Run(j.ctx, j.req)
		p.busy.Add(-1)
		close(j.done)
	}
}

// run executes req on a worker, waiting for a free one unless ctx ends
// first. Once a worker has the job, run waits for it to finish (the
// executor itself stops at ctx's end), as a call on the caller's own
// goroutine would.
func (p *execPool) run(ctx context.Context, req exec.Request) (spec.Result, exec.Stats, error) {
	j := &execJob{ctx: ctx, req: req, done: make(chan struct{})}
	select {
	case p.jobs <- j:
		p.started.Add(1)
	case <-ctx.Done():
		return spec.Result{}, exec.Stats{}, ctx.Err()
	}
	<-j.done
	return j.out, j.stats, j.err
}

// close stops the workers once they are idle. No run may be in progress or
// start after it (Node.Close waits for every caller first). Idempotent.
func (p *execPool) close() {
	p.once.Do(func() {
		close(p.jobs)
		p.wg.Wait()
	})
}
