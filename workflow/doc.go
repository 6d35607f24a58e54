// Package workflow parses workflow JSON (ipvm's native format and
// Homestar's), validates it (names, promises, cycles, size caps), resolves it
// to a DAG of tasks with their CIDs, and schedules it.
//
// The package is pure: it does no I/O and starts no goroutines. Modules
// given as {"file": path} are resolved through ParseOptions.ResolveFile,
// which the caller supplies.
//
// # Parsing
//
// Parse reads either format (a task with a "run" key means Homestar's) and
// returns a *Workflow whose Tasks are in topological order, each with its
// invocation.Task and task CID. Name promises ({"await/ok": "one"}) are
// rewritten into link promises ({"await/ok": {"/": <CID of one>}}) before
// the CIDs are taken, so every task CID is known before anything runs.
// Errors are *Error values naming the task and the field:
//
//	wf, err := workflow.Parse(b, workflow.ParseOptions{})
//	if errors.Is(err, workflow.ErrCycle) { ... }
//	for _, t := range wf.CIDs() { fmt.Println(t.Name, t.CID) }
//
// # Scheduling
//
// Scheduler is a state machine in the style of etcd/raft's RawNode: its
// driver asks it which tasks may start (Ready), runs them, and feeds back
// results (Done) and the results of earlier work the workflow links by CID
// (External, then Resolve or NotFound). Promise values are filled in by the
// scheduler: the driver receives each task's args ready to run.
//
// The formats and their semantics are specified in spec/SPEC.md §5.
package workflow
