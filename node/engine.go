package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/fuel"
	"github.com/ipvm-go/ipvm/invocation"
	"github.com/ipvm-go/ipvm/node/exec"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/store"
	"github.com/ipvm-go/ipvm/workflow"
)

// Event reports one finished task of a workflow run.
type Event struct {
	// Name is the task's name in the workflow.
	Name string
	// Task is the task CID.
	Task cid.Cid
	// Receipt is the receipt CID.
	Receipt cid.Cid
	// Out is the task's result.
	Out spec.Result
	// Cached is true when the receipt came from the memo table (or, with
	// From set, from a peer) and nothing was executed.
	Cached bool
	// From is the peer the receipt came from: with Cached, a peer that had
	// it; without, the peer placement ran the task on. Empty for this node.
	From string
	// Bytes are the signed receipt's bytes.
	Bytes []byte

	// queued is true when the receipt was queued in the run's store batch
	// and is not durable until the batch is synced.
	queued bool
}

// RunOptions configure one workflow run.
type RunOptions struct {
	// Grant authorizes the run (Authorize or OwnerGrant); required. Every
	// receipt the run issues names the grant's invocation.
	Grant *Grant
	// OnEvent is called for every finished task, in completion order, from
	// the goroutine that called Run. It must not block for long.
	OnEvent func(Event)
	// OnStart is called when a task starts executing (not on memo hits).
	OnStart func(name string)
}

// Summary is the outcome of a workflow run.
type Summary struct {
	// Events are the finished tasks in the workflow's topological order.
	Events []Event
	// Failed counts tasks whose result is an error.
	Failed int
}

// taskResult is what a worker sends back to the run loop.
type taskResult struct {
	ev  Event
	err error
}

// Run runs a parsed workflow to the end: each task starts as soon as its
// promises are resolved, pure tasks with a stored receipt are answered from
// the memo table, and every task ends with a signed receipt that is on disk
// before it is reported. A task's failure is data (an error receipt); Run
// returns an error only when the node itself cannot go on (ctx canceled,
// store failing, node closed), and then every task not reported yet is
// missing from the summary.
//
// The run's tasks are stepped by a bounded set of goroutines that live as
// long as the run (a goroutine per task grew a fresh stack for each). A
// task's receipt is queued in the run's store batch without waiting for the
// commit or the fsync, and its result feeds the tasks waiting for it at
// once; the run syncs the batch in groups and reports a task (OnEvent, the
// summary) only after a sync that covers its receipt, so a receipt reported
// is durable, and no task waits for a disk flush to start the next.
func (n *Node) Run(ctx context.Context, wf *workflow.Workflow, opts RunOptions) (Summary, error) {
	if err := n.enter(); err != nil {
		return Summary{}, err
	}
	defer n.leave()
	ctx, cancel := context.WithCancel(context.WithValue(ctx, workflowKey{}, wf)) // the workflow, for placement
	defer cancel()
	go func() {
		select {
		case <-n.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	g := opts.Grant
	if g == nil || !g.wf.Equals(wf.CID) {
		return Summary{}, fmt.Errorf("%w: no grant for workflow %s", ErrUnauthorized, wf.CID)
	}
	n.recordWorkflow(ctx, wf)
	r := &runState{n: n, ctx: ctx, cancel: cancel, g: g, opts: opts,
		s:        workflow.NewScheduler(wf),
		results:  make(chan taskResult),
		steps:    make(chan workflow.Step),
		synced:   make(chan syncDone, 1),
		batch:    n.store.NewBatch(),
		events:   make(map[string]Event, len(wf.Tasks)),
		sameWork: map[cid.Cid][]workflow.Step{},
		maxSteps: n.stepGoroutines(),
	}
	defer close(r.steps)
	for _, c := range r.s.External() {
		out, err := n.externalResult(ctx, c)
		switch {
		case err == nil:
			_ = r.s.Resolve(c, out)
		case errors.Is(err, ErrNotFound):
			_ = r.s.NotFound(c)
		default:
			return Summary{}, err
		}
	}
	r.loop()
	sum := Summary{}
	for _, t := range wf.Tasks {
		ev, ok := r.events[t.Name]
		if !ok {
			continue
		}
		if !ev.Out.IsOk() {
			sum.Failed++
		}
		sum.Events = append(sum.Events, ev)
	}
	if r.err != nil {
		return sum, r.err
	}
	if !r.s.Finished() {
		return sum, fmt.Errorf("node: workflow %s stalled with no task ready", wf.CID)
	}
	return sum, nil
}

// stepGoroutines is how many tasks of one run are stepped at once: enough
// to keep every worker busy while other tasks sign and store receipts or
// wait for peers.
func (n *Node) stepGoroutines() int {
	return max(64, 8*cap(n.workers))
}

// runState is one workflow run in progress. Only the run loop touches it.
type runState struct {
	n      *Node
	ctx    context.Context
	cancel context.CancelFunc
	g      *Grant
	opts   RunOptions
	s      *workflow.Scheduler

	results chan taskResult    // from the step goroutines
	steps   chan workflow.Step // to the step goroutines
	synced  chan syncDone      // from the sync in flight
	batch   *store.Batch       // the run's receipt writes

	queue    []workflow.Step // ready, not yet handed to a goroutine
	inflight int             // steps handed out and not finished
	spawned  int             // step goroutines started
	maxSteps int

	// Two tasks of one workflow with the same task CID are the same work:
	// while one runs, the others with that CID wait (sameWork) and take its
	// receipt if it succeeds, or run themselves if it failed.
	sameWork map[cid.Cid][]workflow.Step

	unsynced []Event // finished, not reported: waiting for a sync if any is queued
	queued   int     // events in unsynced whose receipt is queued in the batch
	syncing  bool    // a sync is in flight
	// syncDue fires syncDelay after the first unsynced event: a sync waits
	// for syncBatch events or syncDelay, whichever comes first, so that one
	// fsync carries many receipts (its cost grows with the pages written,
	// and each sync makes the next writes fault their pages in again).
	syncDue *time.Timer
	due     bool // syncDue has fired since the last sync started
	events  map[string]Event
	err     error // the first error that stops the run
}

// The run's sync batching (runState.syncDue): a reported task waits at
// most syncDelay plus one fsync for its report. Measured on the tiny-task
// workflow, 4096/20 ms (about 5 syncs per 4000 tasks) cost 3-5% less CPU
// per task than 1024/5 ms (about 15).
const (
	syncBatch = 4096
	syncDelay = 20 * time.Millisecond
)

// syncDone is the end of a sync that covers the first k unsynced events.
type syncDone struct {
	k   int
	err error
}

// stepCtxKey holds, in the context of a run's steps, the run's store batch:
// their receipts are queued for the committer without waiting for the
// commit or the fsync, and the run syncs the batch before it reports them.
type stepCtxKey struct{}

// loop runs the scheduler to the end or to the first error, and returns
// once every step handed out has come back and every event has been
// reported or dropped.
func (r *runState) loop() {
	stepCtx := context.WithValue(r.ctx, stepCtxKey{}, r.batch)
	r.syncDue = time.NewTimer(time.Hour)
	r.syncDue.Stop()
	defer r.syncDue.Stop()
	armed := false
	r.enqueueReady()
	for {
		stopped := r.err != nil
		if !stopped && !r.syncing && len(r.unsynced) > 0 && r.queued == 0 {
			// Nothing waits for a sync (memo hits, receipts from peers,
			// failures, which are stored durably at once).
			r.reportFirst(len(r.unsynced))
		}
		if !stopped && !r.syncing && r.queued > 0 {
			idle := r.inflight == 0 && len(r.queue) == 0
			switch {
			case r.due || idle || len(r.unsynced) >= syncBatch:
				r.startSync()
				r.due, armed = false, false
				r.syncDue.Stop()
			case !armed:
				r.syncDue.Reset(syncDelay)
				armed = true
			}
		}
		if r.inflight == 0 && !r.syncing && (stopped || len(r.queue) == 0 && len(r.unsynced) == 0) {
			return
		}
		var steps chan workflow.Step
		var next workflow.Step
		if !stopped && len(r.queue) > 0 {
			if r.inflight == r.spawned && r.spawned < r.maxSteps {
				r.spawned++
				go r.stepper(stepCtx)
			}
			steps, next = r.steps, r.queue[0]
		}
		select {
		case steps <- next:
			r.queue[0] = workflow.Step{}
			r.queue = r.queue[1:]
			r.inflight++
		case res := <-r.results:
			r.finish(res)
			r.enqueueReady()
		case <-r.syncDue.C:
			r.due = true
		case d := <-r.synced:
			r.syncing = false
			if d.err != nil {
				r.fail(d.err)
				continue
			}
			r.reportFirst(d.k)
		}
	}
}

// stepper steps tasks until the run closes steps.
func (r *runState) stepper(ctx context.Context) {
	for st := range r.steps {
		ev, err := r.n.step(ctx, st, r.g, r.opts.OnStart)
		r.results <- taskResult{ev, err}
	}
}

// enqueueReady queues the tasks the scheduler has made ready, holding back
// a pure task while another with the same CID runs.
func (r *runState) enqueueReady() {
	if r.err != nil {
		return
	}
	for _, st := range r.s.Ready() {
		if st.Fail == nil && st.Task.Task.Pure() {
			if waiting, running := r.sameWork[st.Task.CID]; running {
				r.sameWork[st.Task.CID] = append(waiting, st)
				continue
			}
			r.sameWork[st.Task.CID] = nil
		}
		r.queue = append(r.queue, st)
	}
}

// startSync syncs the store in the background for the events unsynced now.
func (r *runState) startSync() {
	r.syncing = true
	k := len(r.unsynced)
	go func() {
		r.synced <- syncDone{k, r.batch.Sync(r.ctx)}
	}()
}

// fail records the first error and stops the run.
func (r *runState) fail(err error) {
	if r.err == nil {
		r.err = err
		r.cancel()
	}
}

// finish takes a step's result: its result feeds the scheduler (and the
// tasks waiting on the same work) at once, its report waits for a sync.
func (r *runState) finish(res taskResult) {
	r.inflight--
	if res.err != nil {
		r.fail(res.err)
		return
	}
	r.done(res.ev)
}

// done records a finished task.
func (r *runState) done(ev Event) {
	if waiting, ok := r.sameWork[ev.Task]; ok {
		// The marker goes with the first result for the CID; the copies
		// handed to the waiters find none.
		delete(r.sameWork, ev.Task)
		for _, st := range waiting {
			if ev.Out.IsOk() {
				cp := ev
				cp.Name, cp.Cached = st.Task.Name, true
				defer r.done(cp)
			} else {
				r.queue = append(r.queue, st)
			}
		}
	}
	fed := ev.Out
	if r.n.faults.MisresolvePromises {
		fed = spec.OK(int64(0))
	}
	if err := r.s.Done(ev.Name, fed); err != nil {
		r.fail(err)
	}
	if ev.queued {
		r.queued++
	}
	r.unsynced = append(r.unsynced, ev)
}

// reportFirst reports the first k unsynced events, in order.
func (r *runState) reportFirst(k int) {
	for _, ev := range r.unsynced[:k] {
		if ev.queued {
			r.queued--
		}
		ev.queued = false
		r.report(ev)
	}
	r.unsynced = append(r.unsynced[:0], r.unsynced[k:]...)
}

// report hands a durable event to the caller.
func (r *runState) report(ev Event) {
	r.events[ev.Name] = ev
	if r.opts.OnEvent != nil {
		r.opts.OnEvent(ev)
	}
}

// step runs one ready task: a failure from upstream becomes an error
// receipt, a memo hit returns the stored receipt, anything else executes.
func (n *Node) step(ctx context.Context, st workflow.Step, inv *Grant, onStart func(string)) (Event, error) {
	t := st.Task
	ev := Event{Name: t.Name, Task: t.CID}
	if st.Fail != nil {
		return n.finishTask(ctx, ev, inv, spec.Fail(st.Fail), nil)
	}
	if t.Task.Pure() && !n.noMemo {
		front := n.front()
		if ev, ok := front.get(t.CID); ok {
			ev.Name = t.Name
			n.metrics.MemoHits.Inc()
			return ev, nil
		}
		hit, err := n.Memo(ctx, t.CID)
		if err != nil {
			return Event{}, err
		}
		if hit != nil {
			front.put(*hit)
		}
		if _, isServed := servedFrom(ctx); hit == nil && !isServed { // a caller that sends a task has looked
			if hit, err = n.fromNetwork(ctx, t.CID); err != nil {
				return Event{}, err
			}
		}
		if hit != nil {
			hit.Name = t.Name
			n.metrics.MemoHits.Inc()
			return *hit, nil
		}
		n.metrics.MemoMisses.Inc()
	}
	if t.Task.Cmd != invocation.CmdWasmRun {
		return n.finishTask(ctx, ev, inv, spec.Fail(spec.Failf(spec.ErrNameUnsupportedCommand, "this node runs %s, not %q", invocation.CmdWasmRun, t.Task.Cmd)), nil)
	}
	w, err := (invocation.Task{Cmd: t.Task.Cmd, Args: st.Args}).Wasm()
	if err != nil {
		return n.finishTask(ctx, ev, inv, spec.Fail(spec.Failf(spec.ErrNameBadArgs, "%v", err)), nil)
	}
	if slices.Contains(n.cfg.BlockModules, w.Mod.String()) {
		return n.finishTask(ctx, ev, inv, spec.Fail(spec.Failf(spec.ErrNameBadModule, "module %s is blocked by this node", w.Mod)), nil)
	}
	if onStart != nil {
		onStart(t.Name)
	}
	return n.runPlaced(ctx, st, w, ev, inv)
}

// RunTask runs one task outside a workflow (its args must hold no
// promises): a memo hit answers when the task is pure and memo is on,
// otherwise it executes and its receipt is signed and stored. With durable
// false the receipt is queued for the store's committer and RunTask returns
// without waiting for the commit or the fsync (the store's cheapest write,
// for callers that report results in groups): the caller must call Sync,
// which waits for both, before it reports the receipt to anyone.
func (n *Node) RunTask(ctx context.Context, t *workflow.Task, g *Grant, durable bool) (Event, error) {
	if err := n.enter(); err != nil {
		return Event{}, err
	}
	defer n.leave()
	if g == nil {
		return Event{}, fmt.Errorf("%w: no grant", ErrUnauthorized)
	}
	st := workflow.Step{Task: t, Args: t.Task.Args}
	if !durable {
		ctx = context.WithValue(ctx, noSyncKey{}, true)
	}
	return n.step(ctx, st, g, nil)
}

// Sync makes every receipt stored so far durable.
func (n *Node) Sync(ctx context.Context) error { return n.store.Sync(ctx) }

// noSyncKey marks a context whose receipts are stored without waiting for
// the fsync (RunTask with durable false).
type noSyncKey struct{}

// execute runs one Wasm task under a worker slot, on the caller's
// goroutine (handing it to long-lived worker goroutines cost a tiny task
// two wake-ups, more than the stack growth it saved; RATIONALE, Engine).
func (n *Node) execute(ctx context.Context, req exec.Request) (spec.Result, exec.Stats, error) {
	select {
	case n.workers <- struct{}{}:
	case <-ctx.Done():
		return spec.Result{}, exec.Stats{}, ctx.Err()
	}
	defer func() { <-n.workers }()
	n.executions.Add(1)
	out, stats, err := n.exec.Run(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return spec.Result{}, stats, ctx.Err()
		}
		return spec.Result{}, stats, fmt.Errorf("node: executor: %w", err)
	}
	n.metrics.observeRun(out, stats)
	return out, stats, nil
}

// finishTask signs the task's receipt, stores it durably and returns its
// event.
func (n *Node) finishTask(ctx context.Context, ev Event, g *Grant, out spec.Result, stats *exec.Stats) (Event, error) {
	return n.finishTaskMeta(ctx, ev, g, out, stats, nil)
}

// finishTaskMeta is finishTask with extra receipt meta (placement). A
// task run for a peer whose inputs the peer resolved is neither stored nor
// provided here: its receipt only goes back to the peer.
func (n *Node) finishTaskMeta(ctx context.Context, ev Event, g *Grant, out spec.Result, stats *exec.Stats, extra map[string]any) (Event, error) {
	inv, err := g.invocation(ctx, n)
	if err != nil {
		return Event{}, err
	}
	meta := map[string]any{"executor": n.DID()}
	maps.Copy(meta, extra)
	if stats != nil {
		meta["duration"] = stats.Duration.Nanoseconds()
		meta["memory"] = int64(stats.PeakMemoryBytes)
		meta["abi"] = stats.ABI.String()
		if stats.Fuel > 0 || (out.Err != nil && out.Err.Name == spec.ErrNameOutOfFuel) {
			meta["fuel"] = int64(stats.Fuel)
			meta["fuelTable"] = fuel.CostTableVersion
		}
		if stats.Impure {
			meta["impure"] = true
		}
	}
	rc, b, err := n.issue(ev.Task, inv, out, meta)
	if err != nil {
		return Event{}, err
	}
	s, isServed := servedFrom(ctx)
	if isServed && s.callerInputs {
		ev.Receipt, ev.Out, ev.Bytes = rc, out, b
		return ev, nil
	}
	put := n.store.PutReceipt
	batch, _ := ctx.Value(stepCtxKey{}).(*store.Batch)
	switch {
	case out.Err != nil:
		// A failure never hides a success already indexed for the task.
		put = n.store.PutFailedReceipt
	case ctx.Value(noSyncKey{}) != nil:
		put = n.store.PutReceiptAsync
	case batch != nil:
		put = batch.PutReceipt
		ev.queued = true
	case isServed:
		// A task run for a peer: the caller stores the receipt it asked
		// for durably; this node's copy only serves others, and the
		// caller's remote-run timeout need not wait for our fsync.
		put = n.store.PutReceiptNoSync
	}
	if err := put(ctx, ev.Task, rc, b); err != nil {
		return Event{}, fmt.Errorf("node: store receipt of %s: %w", ev.Name, err)
	}
	n.metrics.ReceiptsStored.Inc()
	if out.IsOk() && stats != nil && !stats.Impure {
		n.provide(ev.Task)
	}
	ev.Receipt, ev.Out, ev.Bytes = rc, out, b
	return ev, nil
}

// Memo returns the stored receipt for a task if it may answer for it (nil
// if none may): an ok result of pure work. Errors are not served from the
// memo table: a trap is deterministic but a timeout or a fuel limit depends
// on the limits, which are not part of the task CID. The caller checks the
// task is pure (no nonce).
func (n *Node) Memo(ctx context.Context, task cid.Cid) (*Event, error) {
	rc, b, err := n.store.ReceiptForTask(ctx, task)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	o, err := decodeStored(b)
	if err != nil {
		n.log.Warn("stored receipt does not decode; running the task", "task", task, "receipt", rc, "err", err)
		return nil, nil
	}
	if !o.Out.IsOk() || o.Impure {
		return nil, nil
	}
	return &Event{Task: task, Receipt: rc, Out: o.Out, Cached: true, Bytes: b}, nil
}

// externalResult looks up the result of earlier work by task CID, for a
// promise that links outside the workflow.
func (n *Node) externalResult(ctx context.Context, task cid.Cid) (spec.Result, error) {
	_, b, err := n.store.ReceiptForTask(ctx, task)
	if errors.Is(err, store.ErrNotFound) {
		return spec.Result{}, ErrNotFound
	}
	if err != nil {
		return spec.Result{}, err
	}
	o, err := decodeStored(b)
	if err != nil {
		return spec.Result{}, ErrNotFound
	}
	return o.Out, nil
}

// limitsOf turns a task's meta into executor limits (zero: the node cap).
func limitsOf(m workflow.Meta) exec.Limits {
	var l exec.Limits
	if m.Memory > 0 {
		l.MemoryBytes = uint64(m.Memory)
	}
	if m.Time > 0 {
		l.Time = m.Time
	}
	if m.Output > 0 {
		l.OutputBytes = m.Output
	}
	if m.Fuel > 0 {
		l.Fuel = uint64(m.Fuel)
	}
	return l
}

// recordWorkflow keeps a record of wf for listings and status lookups,
// once: a workflow run again (the memoized case) costs a read, not a write.
func (n *Node) recordWorkflow(ctx context.Context, wf *workflow.Workflow) {
	if _, seen := n.recorded.Load(wf.CID); seen {
		return
	}
	if _, err := n.store.Workflow(ctx, wf.CID); err != nil {
		b, err := workflowRecord(wf)
		if err != nil || n.store.PutWorkflow(ctx, wf.CID, b) != nil {
			return // not needed to run; tried again next time
		}
	}
	if n.recordedCount.Add(1) > maxRecorded {
		n.recorded.Clear() // a bound, not an LRU: the set is a hint
		n.recordedCount.Store(1)
	}
	n.recorded.Store(wf.CID, struct{}{})
}

// maxRecorded bounds the in-memory set of recorded workflows.
const maxRecorded = 4096

// workflowRecord is what the store keeps about a workflow: its canonical
// form, for GET /v1/workflows/{cid} and listings.
func workflowRecord(wf *workflow.Workflow) ([]byte, error) {
	tasks := make([]any, len(wf.Tasks))
	for i, t := range wf.Tasks {
		tasks[i] = map[string]any{"name": t.Name, "task": t.CID}
	}
	return spec.EncodeCBOR(map[string]any{"name": wf.Name, "tasks": tasks, "at": time.Now().Unix()})
}

// AddBlob stores the bytes read from r as a UnixFS file (the CID `ipfs add
// --cid-version=1` gives) and returns its CID and size.
func (n *Node) AddBlob(ctx context.Context, r io.Reader) (cid.Cid, uint64, error) {
	if err := n.enter(); err != nil {
		return cid.Undef, 0, err
	}
	defer n.leave()
	c, size, err := n.store.AddFile(ctx, r)
	if err == nil {
		n.held.add(c, size)
		n.provideBlob(ctx, c)
	}
	return c, size, err
}

// Blob returns the bytes of a blob: a raw block, or a UnixFS file
// reassembled and verified block by block, up to max bytes.
func (n *Node) Blob(ctx context.Context, c cid.Cid, max int64) ([]byte, error) {
	b, err := n.store.Cat(ctx, c, max)
	if errors.Is(err, store.ErrNotFound) && n.net != nil {
		b, err = n.netBlob(ctx, c, max)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: blob %s", ErrNotFound, c)
	}
	return b, err
}

// WriteBlob writes a blob to w.
func (n *Node) WriteBlob(ctx context.Context, c cid.Cid, w io.Writer) (int64, error) {
	k, err := n.store.CatTo(ctx, w, c, 1<<40)
	if errors.Is(err, store.ErrNotFound) {
		return k, fmt.Errorf("%w: blob %s", ErrNotFound, c)
	}
	return k, err
}
