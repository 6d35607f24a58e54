package workflow

import (
	"fmt"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/invocation"
	"github.com/ipvm-go/ipvm/spec"
)

// Format names the syntax a workflow was written in.
type Format string

// Formats Parse recognizes.
const (
	// FormatNative is ipvm's workflow JSON (SPEC.md §5).
	FormatNative Format = "ipvm"
	// FormatHomestar is Homestar's workflow JSON (tasks with "run").
	FormatHomestar Format = "homestar"
)

// Workflow is a parsed, validated workflow: its tasks in topological order
// with their CIDs. It is immutable once Parse returns it and safe to share
// between goroutines.
type Workflow struct {
	// Name is the workflow's name ("" when the file has none).
	Name string
	// Format is the syntax the file was written in.
	Format Format
	// Tasks are the tasks in topological order: every task comes after
	// the tasks it awaits; among tasks free to go, file order.
	Tasks []*Task
	// CID is the workflow CID: CIDv1, dag-cbor, sha2-256 over the
	// canonical form {name, tasks: [{name, task: <task CID>, meta}]}, the
	// tasks in file order (SPEC.md §5.5).
	CID cid.Cid
	// Warnings are things Parse accepted but a person should know: a
	// Homestar fuel clamped to int64, an unknown meta key ignored.
	Warnings []string

	byName map[string]*Task
	byCID  map[cid.Cid]*Task
}

// Task is one task of a workflow.
type Task struct {
	// Name is the task's name, unique in the workflow. Homestar tasks,
	// which have none, are named "<func>.<index>", e.g. "add_one.0".
	Name string
	// Index is the task's position in the file's tasks list, from 0.
	Index int
	// Task is the content-addressed task. Name promises are already
	// rewritten into link promises {"await/ok": <task CID>}.
	Task invocation.Task
	// CID is the task CID (Task.CID()).
	CID cid.Cid
	// Meta holds limits and placement hints.
	Meta Meta
	// Deps names the tasks of this workflow this task awaits, each once,
	// in the order they first appear in the args.
	Deps []string
	// External lists the task CIDs this task awaits that are not tasks of
	// this workflow (earlier work, to look up in a receipt store), each
	// once, in the order they first appear.
	External []cid.Cid
}

// Task returns the task of the given name.
func (w *Workflow) Task(name string) (*Task, bool) {
	t, ok := w.byName[name]
	return t, ok
}

// TaskByCID returns the first task (in file order) with the given task CID.
// Two tasks of a workflow have the same CID only if they are the same work.
func (w *Workflow) TaskByCID(c cid.Cid) (*Task, bool) {
	t, ok := w.byCID[c]
	return t, ok
}

// NamedCID is a task's name and task CID.
type NamedCID struct {
	// Name is the task name.
	Name string
	// CID is the task CID.
	CID cid.Cid
}

// CIDs lists every task's name and CID in file order, what
// `ipvm workflow cids` prints.
func (w *Workflow) CIDs() []NamedCID {
	out := make([]NamedCID, len(w.Tasks))
	for _, t := range w.Tasks {
		out[t.Index] = NamedCID{Name: t.Name, CID: t.CID}
	}
	return out
}

// Canonical returns the canonical form the workflow CID is taken over:
// {"name": string, "tasks": [{"name": string, "task": link, "meta": map}]}
// with the tasks in file order.
func (w *Workflow) Canonical() map[string]any {
	tasks := make([]any, len(w.Tasks))
	for _, t := range w.Tasks {
		tasks[t.Index] = map[string]any{"name": t.Name, "task": t.CID, "meta": t.Meta.IPLD()}
	}
	return map[string]any{"name": w.Name, "tasks": tasks}
}

// finish computes the lookup maps and the workflow CID.
func (w *Workflow) finish() error {
	w.byName = make(map[string]*Task, len(w.Tasks))
	w.byCID = make(map[cid.Cid]*Task, len(w.Tasks))
	for _, t := range w.Tasks {
		w.byName[t.Name] = t
	}
	// First in file order wins for duplicate CIDs.
	for _, nc := range w.CIDs() {
		if _, dup := w.byCID[nc.CID]; !dup {
			w.byCID[nc.CID] = w.byName[nc.Name]
		}
	}
	c, _, err := spec.CIDOf(w.Canonical())
	if err != nil {
		return newError("", "", ErrWrongType, "workflow canonical form: %v", err)
	}
	w.CID = c
	return nil
}

// String returns the task's name and CID.
func (t *Task) String() string { return fmt.Sprintf("%s (%s)", t.Name, t.CID) }
