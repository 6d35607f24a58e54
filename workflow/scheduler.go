package workflow

import (
	"fmt"
	"slices"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

// Scheduler decides which tasks of a workflow may start, in the style of
// etcd/raft's RawNode: it is a pure state machine with no goroutines, no
// clock and no I/O. Its driver (the node's engine) loops:
//
//	s := workflow.NewScheduler(wf)
//	for _, c := range s.External() { /* look c up; s.Resolve(c, r) or s.NotFound(c) */ }
//	for !s.Finished() {
//		for _, st := range s.Ready() {
//			if st.Fail != nil { s.Done(st.Task.Name, spec.Fail(st.Fail)); continue }
//			/* run st.Task with st.Args, later: */ s.Done(st.Task.Name, result)
//		}
//		/* wait for a result or an external lookup, feed it in */
//	}
//
// A Scheduler is not safe for concurrent use; its driver serializes calls.
type Scheduler struct {
	wf      *Workflow
	index   map[string]int // name → position in wf.Tasks
	state   []taskState
	waiting []int               // unresolved sources per task
	waiters map[cid.Cid][]int   // source CID → tasks waiting on it
	results map[cid.Cid]outcome // settled sources
	ext     map[cid.Cid]bool    // external CIDs still unresolved
	extList []cid.Cid           // externals not yet handed out by External
	queue   []int               // ready, not yet handed out by Ready
	done    int
}

type taskState uint8

const (
	stateWaiting taskState = iota
	stateRunning           // handed out by Ready
	stateDone
)

// outcome is a settled promise source: a result, or an external task CID
// for which no receipt was found.
type outcome struct {
	res     spec.Result
	missing bool
}

// Step is a task that may run now.
type Step struct {
	// Task is the workflow task.
	Task *Task
	// Args are the task's args with every promise replaced by its value:
	// the ok value for await/ok, {name, message} for await/error and the
	// whole result ({"ok": v} or {"err": {name, message}}) for await/*.
	// For a task without promises it is Task.Task.Args itself; never
	// modify it.
	Args map[string]any
	// Fail, when non-nil, means the task must not run: an await/ok source
	// failed or an await/error source succeeded (BranchMismatch), or an
	// external receipt was not found (UnresolvedPromise). The driver
	// reports it with Done(name, spec.Fail(Fail)), usually as an error
	// receipt. Such a failure depends on the upstream outcome, not on the
	// task: it must not be served from a memo table keyed by task CID.
	Fail *spec.Failure
}

// NewScheduler returns a scheduler for wf with every task waiting.
func NewScheduler(wf *Workflow) *Scheduler {
	n := len(wf.Tasks)
	s := &Scheduler{
		wf:      wf,
		index:   make(map[string]int, n),
		state:   make([]taskState, n),
		waiting: make([]int, n),
		waiters: make(map[cid.Cid][]int),
		results: make(map[cid.Cid]outcome),
		ext:     make(map[cid.Cid]bool),
	}
	for i, t := range wf.Tasks {
		s.index[t.Name] = i
	}
	for i, t := range wf.Tasks {
		var sources []cid.Cid
		for _, d := range t.Deps {
			sources = append(sources, wf.byName[d].CID)
		}
		for _, c := range t.External {
			if !s.ext[c] {
				s.ext[c] = true
				s.extList = append(s.extList, c)
			}
			sources = append(sources, c)
		}
		for k, c := range sources {
			if slices.Contains(sources[:k], c) {
				continue // two deps with one CID: the same work
			}
			s.waiting[i]++
			s.waiters[c] = append(s.waiters[c], i)
		}
		if s.waiting[i] == 0 {
			s.queue = append(s.queue, i)
		}
	}
	return s
}

// External returns the task CIDs outside the workflow whose results some
// task awaits and that External has not returned before. The driver looks
// each up (receipt store, network) and answers with Resolve or NotFound.
func (s *Scheduler) External() []cid.Cid {
	out := s.extList
	s.extList = nil
	return out
}

// Ready returns the tasks that may start now, each once, in topological
// order, and marks them running.
func (s *Scheduler) Ready() []Step {
	if len(s.queue) == 0 {
		return nil
	}
	slices.Sort(s.queue)
	steps := make([]Step, len(s.queue))
	for k, i := range s.queue {
		t := s.wf.Tasks[i]
		s.state[i] = stateRunning
		st := Step{Task: t, Args: t.Task.Args}
		if len(t.Deps) > 0 || len(t.External) > 0 {
			v, fail := s.resolve(t.Task.Args)
			st.Args, _ = v.(map[string]any)
			if fail != nil {
				st.Args, st.Fail = nil, fail
			}
		}
		steps[k] = st
	}
	s.queue = s.queue[:0]
	return steps
}

// Done records the result of a task handed out by Ready. It returns
// ErrUnknownTask or ErrNotRunning when the driver errs.
func (s *Scheduler) Done(name string, r spec.Result) error {
	i, ok := s.index[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownTask, name)
	}
	if s.state[i] != stateRunning {
		return fmt.Errorf("%w: %q", ErrNotRunning, name)
	}
	s.state[i] = stateDone
	s.done++
	s.settle(s.wf.Tasks[i].CID, outcome{res: r})
	return nil
}

// Resolve feeds in the result of an external task CID returned by External
// (its receipt's out, verified by the driver).
func (s *Scheduler) Resolve(c cid.Cid, r spec.Result) error {
	return s.external(c, outcome{res: r})
}

// NotFound reports that no receipt exists for an external task CID; the
// tasks awaiting it fail with spec.ErrNameUnresolvedPromise.
func (s *Scheduler) NotFound(c cid.Cid) error {
	return s.external(c, outcome{missing: true})
}

func (s *Scheduler) external(c cid.Cid, o outcome) error {
	if !s.ext[c] {
		return fmt.Errorf("%w: %s", ErrNotAwaited, c)
	}
	delete(s.ext, c)
	s.settle(c, o)
	return nil
}

// settle records a source's outcome and releases the tasks waiting on it.
func (s *Scheduler) settle(c cid.Cid, o outcome) {
	if _, seen := s.results[c]; seen {
		return // a second task with the same CID
	}
	s.results[c] = o
	for _, i := range s.waiters[c] {
		if s.waiting[i]--; s.waiting[i] == 0 {
			s.queue = append(s.queue, i)
		}
	}
	delete(s.waiters, c)
}

// Finished reports whether every task is done.
func (s *Scheduler) Finished() bool { return s.done == len(s.wf.Tasks) }

// Outcome returns the result recorded for a task by Done.
func (s *Scheduler) Outcome(name string) (spec.Result, bool) {
	i, ok := s.index[name]
	if !ok || s.state[i] != stateDone {
		return spec.Result{}, false
	}
	o := s.results[s.wf.Tasks[i].CID]
	return o.res, true
}

// resolve copies v with each promise replaced by its value.
func (s *Scheduler) resolve(v any) (any, *spec.Failure) {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var fail *spec.Failure
			if out[i], fail = s.resolve(e); fail != nil {
				return nil, fail
			}
		}
		return out, nil
	case map[string]any:
		if kind, c, ok := promiseOf(x); ok {
			return s.value(kind, c)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			var fail *spec.Failure
			if out[k], fail = s.resolve(e); fail != nil {
				return nil, fail
			}
		}
		return out, nil
	}
	return v, nil
}

// value is the value a settled promise stands for.
func (s *Scheduler) value(kind string, c cid.Cid) (any, *spec.Failure) {
	o := s.results[c]
	if o.missing {
		return nil, spec.Failf(spec.ErrNameUnresolvedPromise, "%s %s: no receipt found for that task", kind, c)
	}
	switch kind {
	case AwaitOk:
		if e := o.res.Err; e != nil {
			if e.Name == spec.ErrNameBranchMismatch || e.Name == spec.ErrNameUnresolvedPromise {
				// Do not nest upstream messages: a long failed chain would
				// grow them quadratically.
				return nil, spec.Failf(spec.ErrNameBranchMismatch, "%s %s: the task failed upstream (%s)", kind, s.label(c), e.Name)
			}
			return nil, spec.Failf(spec.ErrNameBranchMismatch, "%s %s: the task failed: %s: %s", kind, s.label(c), e.Name, truncate(e.Message, 200))
		}
		return o.res.Ok, nil
	case AwaitError:
		if o.res.Err == nil {
			return nil, spec.Failf(spec.ErrNameBranchMismatch, "%s %s: the task succeeded", kind, s.label(c))
		}
		return map[string]any{"name": o.res.Err.Name, "message": o.res.Err.Message}, nil
	}
	return o.res.IPLD(), nil
}

// label names a source: the task's name, or its CID for earlier work.
func (s *Scheduler) label(c cid.Cid) string {
	if t, ok := s.wf.byCID[c]; ok {
		return fmt.Sprintf("%q", t.Name)
	}
	return c.String()
}

// promiseOf recognizes a resolved-form promise {"await/…": link}.
func promiseOf(m map[string]any) (kind string, c cid.Cid, ok bool) {
	if len(m) != 1 {
		return "", cid.Undef, false
	}
	for k, v := range m {
		if k != AwaitOk && k != AwaitError && k != AwaitAny {
			return "", cid.Undef, false
		}
		c, ok = v.(cid.Cid)
		return k, c, ok
	}
	return "", cid.Undef, false
}
