package reliability

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

// Driver submits small workflows through a gateway from several workers
// and records every receipt the gateway acknowledges.
type Driver struct {
	Client *Client
	// Mod is the CID of examples/hello.wasm, uploaded to the daemon.
	Mod cid.Cid
	// Seed numbers workflows; each workflow takes the next value, so no
	// two share a task.
	Seed *atomic.Int64
	// Tasks is the number of independent tasks per workflow (plus one
	// chained task). Default 3.
	Tasks int
	// Poll, when true, makes every other workflow a plain 202 submission
	// whose receipts are read from GET /v1/workflows/{cid}; otherwise all
	// use the event stream.
	Poll bool
	// FetchBytes fetches each acknowledged receipt's signed bytes right
	// away, so a later check compares bytes, not only CIDs.
	FetchBytes bool
	// OnAck is called for every acknowledged receipt (from any worker).
	OnAck func(Ack)
	// OnDone is called when a workflow has all its receipts, with its
	// latency from submission.
	OnDone func(latency time.Duration)

	// Busy counts 429 answers (each retried).
	Busy atomic.Int64
	// Accepted counts workflows the gateway accepted.
	Accepted atomic.Int64
	// Complete counts accepted workflows with all their receipts.
	Complete atomic.Int64
}

// Run starts workers that submit workflows until n are complete (n <= 0:
// until ctx ends). It returns the first error other than ctx's end; a
// workflow cut by the end of ctx is not an error.
func (d *Driver) Run(ctx context.Context, workers int, n int64) error {
	if d.Tasks <= 0 {
		d.Tasks = 3
	}
	var issued atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				if n > 0 && issued.Add(1) > n {
					return
				}
				if ctx.Err() != nil {
					return
				}
				poll := d.Poll && (w+i)%2 == 1
				if err := d.one(ctx, poll); err != nil {
					if ctx.Err() == nil {
						errs <- err
					}
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// one runs one workflow to completion, retrying 429s.
func (d *Driver) one(ctx context.Context, poll bool) error {
	seed := d.Seed.Add(1)
	wf := SmallWorkflow(d.Mod, seed, d.Tasks)
	want := d.Tasks + 1
	for {
		start := time.Now()
		var got int
		var err error
		var wait time.Duration
		if poll {
			got, wait, err = d.polled(ctx, wf)
		} else {
			got, wait, err = d.streamed(ctx, wf)
		}
		if errors.Is(err, ErrBusy) {
			d.Busy.Add(1)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(min(wait, 200*time.Millisecond)):
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("workflow %d: %w", seed, err)
		}
		if got != want {
			return fmt.Errorf("%w: workflow %d has %d receipts of %d", ErrMismatch, seed, got, want)
		}
		d.Complete.Add(1)
		if d.OnDone != nil {
			d.OnDone(time.Since(start))
		}
		return nil
	}
}

func (d *Driver) ack(ctx context.Context, task, rcpt string) error {
	t, err := spec.ParseCID(task)
	if err != nil {
		return err
	}
	r, err := spec.ParseCID(rcpt)
	if err != nil {
		return err
	}
	a := Ack{Task: t, Receipt: r}
	if d.FetchBytes {
		b, _, err := d.Client.ReceiptBytes(ctx, r)
		if err != nil {
			return err
		}
		a.Bytes = b
	}
	if d.OnAck != nil {
		d.OnAck(a)
	}
	return nil
}

func (d *Driver) streamed(ctx context.Context, wf []byte) (int, time.Duration, error) {
	got := 0
	var ackErr error
	acc, wait, err := d.Client.SubmitStream(ctx, wf, func(ev ReceiptEvent) {
		// Acknowledged even if fetching its bytes fails below.
		if e := d.ack(ctx, ev.Task, ev.Receipt); e != nil && ackErr == nil {
			ackErr = e
		}
		got++
	})
	if acc != nil {
		d.Accepted.Add(1)
	}
	if err == nil {
		err = ackErr
	}
	return got, wait, err
}

func (d *Driver) polled(ctx context.Context, wf []byte) (int, time.Duration, error) {
	acc, wait, err := d.Client.Submit(ctx, wf)
	if err != nil {
		return 0, wait, err
	}
	d.Accepted.Add(1)
	seen := map[string]bool{}
	delay := 5 * time.Millisecond
	for {
		st, err := d.Client.Workflow(ctx, acc.Workflow)
		if err != nil {
			return len(seen), 0, err
		}
		for _, t := range st.Tasks {
			if t.Receipt != "" && !seen[t.Task] {
				seen[t.Task] = true
				if err := d.ack(ctx, t.Task, t.Receipt); err != nil {
					return len(seen), 0, err
				}
			}
		}
		if st.Done {
			return len(seen), 0, nil
		}
		select {
		case <-ctx.Done():
			return len(seen), 0, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}
