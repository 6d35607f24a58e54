package gateway

import (
	"sync"
	"time"

	"github.com/ipfs/go-cid"
)

// recentList keeps the last n submissions and their tasks' progress, for
// GET /v1/workflows and the dashboard. It is safe for concurrent use.
type recentList struct {
	mu      sync.Mutex
	n       int
	entries []*entry // oldest first
}

// entry is one remembered submission; its fields are guarded by mu.
type entry struct {
	mu        sync.Mutex
	workflow  cid.Cid
	submitted time.Time
	done      bool
	err       string
	tasks     []TaskStatus
	byName    map[string]int
}

func newRecentList(n int) *recentList { return &recentList{n: n} }

func (l *recentList) add(sub *Submission) *entry {
	e := &entry{workflow: sub.Workflow, submitted: time.Now().UTC(), byName: make(map[string]int, len(sub.Tasks))}
	e.tasks = make([]TaskStatus, len(sub.Tasks))
	for i, t := range sub.Tasks {
		e.tasks[i] = TaskStatus{Name: t.Name, Task: t.Task, State: StatePending}
		e.byName[t.Name] = i
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.entries) >= l.n {
		copy(l.entries, l.entries[1:])
		l.entries = l.entries[:len(l.entries)-1]
	}
	l.entries = append(l.entries, e)
	return e
}

// get returns the newest entry for workflow c, or nil.
func (l *recentList) get(c cid.Cid) *entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.entries) - 1; i >= 0; i-- {
		if l.entries[i].workflow.Equals(c) {
			return l.entries[i]
		}
	}
	return nil
}

// recentSummary is one item of GET /v1/workflows.
type recentSummary struct {
	Workflow  string       `json:"workflow"`
	Submitted time.Time    `json:"submitted"`
	Done      bool         `json:"done"`
	Error     string       `json:"error,omitempty"`
	Tasks     []taskStatus `json:"tasks"`
}

// list returns the remembered submissions, newest first.
func (l *recentList) list() []recentSummary {
	l.mu.Lock()
	es := append([]*entry(nil), l.entries...)
	l.mu.Unlock()
	out := make([]recentSummary, 0, len(es))
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		e.mu.Lock()
		rs := recentSummary{Workflow: e.workflow.String(), Submitted: e.submitted, Done: e.done, Error: e.err,
			Tasks: make([]taskStatus, len(e.tasks))}
		for j, t := range e.tasks {
			rs.Tasks[j] = toTaskStatus(t)
		}
		e.mu.Unlock()
		out = append(out, rs)
	}
	return out
}

func (e *entry) update(ev TaskEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ev.Err != nil {
		e.err = ev.Err.Error()
		return
	}
	i, ok := e.byName[ev.Name]
	if !ok {
		return
	}
	t := &e.tasks[i]
	t.Receipt, t.Out, t.Cached = ev.Receipt, ev.Out, ev.Cached
	t.State = StateDone
	if failed(ev.Out) {
		t.State = StateFailed
	}
}

func (e *entry) finish() {
	e.mu.Lock()
	e.done = true
	e.mu.Unlock()
}

// status returns the entry as a WorkflowStatus.
func (e *entry) status() WorkflowStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	return WorkflowStatus{Workflow: e.workflow, Done: e.done, Tasks: append([]TaskStatus(nil), e.tasks...)}
}
