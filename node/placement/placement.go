// Package placement is ipvm's cost model for where a task runs: given the
// size of a task's module and of every input it links by CID, and which
// candidate nodes hold which of those blobs, it picks the candidate where
// the fewest bytes must move (code to data when the data is large, data to
// code when it is small), ties going to the local node. Pins ("on"),
// label constraints and block lists narrow the candidates first. It is
// pure: no I/O, no clock, so every rule is table-tested.
package placement

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Local is the value of Task.On that pins a task to the local node.
const Local = "local"

// Blob is a module or an input, by key (a CID string) and size in bytes.
type Blob struct {
	Key  string
	Size uint64
}

// Task is what the model knows about one task.
type Task struct {
	// Module is the task's module.
	Module Blob
	// Inputs are the blobs the task's args link by CID (the module
	// excluded), each once.
	Inputs []Blob
	// On pins the task: Local, a peer ID, or "" for no pin.
	On string
	// Labels must all match a candidate's labels (key=value).
	Labels map[string]string
}

// Candidate is a node that could run the task.
type Candidate struct {
	// Peer is the candidate's peer ID ("" is allowed for the local node).
	Peer string
	// Local marks this node.
	Local bool
	// Holds lists the blob keys the candidate holds.
	Holds map[string]bool
	// Labels are the candidate's host labels.
	Labels map[string]string
	// Unfit, when not empty, is why the candidate cannot take the task
	// whatever the constraints (e.g. its offer's limits are below the
	// task's); it excludes the candidate with that reason.
	Unfit string
}

// Rules are the node's own policy.
type Rules struct {
	// BlockPeers are peer IDs never sent work.
	BlockPeers []string
	// Overhead is the bytes a remote run costs besides blobs: the
	// invocation sent and the receipt returned.
	Overhead uint64
}

// Cost is one candidate's estimate.
type Cost struct {
	// Peer is the candidate's peer ID.
	Peer string
	// Local marks this node.
	Local bool
	// Bytes is the estimate of bytes moved if the task runs there:
	// blobs the candidate lacks, plus Rules.Overhead for a remote node.
	Bytes uint64
	// Excluded, when not empty, says why the candidate may not run the
	// task (a pin, a label, a block list).
	Excluded string
}

// Decision is the model's answer.
type Decision struct {
	// Order lists the eligible candidates, best first: the first is the
	// choice, the rest are the fallbacks in order.
	Order []Cost
	// All lists every candidate with its cost, the excluded ones with
	// their reason, in the order given.
	All []Cost
}

// Choice returns the chosen candidate.
func (d Decision) Choice() Cost { return d.Order[0] }

// Decide ranks the candidates for t. It fails with ErrUnsatisfiable,
// naming the constraint, when none is eligible.
func Decide(t Task, cands []Candidate, r Rules) (Decision, error) {
	var d Decision
	for _, c := range cands {
		cost := Cost{Peer: c.Peer, Local: c.Local, Bytes: bytesTo(t, c)}
		if !c.Local {
			cost.Bytes += r.Overhead
		}
		cost.Excluded = excluded(t, c, r)
		d.All = append(d.All, cost)
		if cost.Excluded == "" {
			d.Order = append(d.Order, cost)
		}
	}
	if len(d.Order) == 0 {
		return d, fmt.Errorf("%w: %s", ErrUnsatisfiable, constraint(t, d.All))
	}
	slices.SortStableFunc(d.Order, func(a, b Cost) int {
		if c := cmp.Compare(a.Bytes, b.Bytes); c != 0 {
			return c
		}
		if a.Local != b.Local {
			if a.Local {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Peer, b.Peer)
	})
	return d, nil
}

// bytesTo is the bytes of the task's blobs that c lacks.
func bytesTo(t Task, c Candidate) uint64 {
	var n uint64
	for _, b := range append([]Blob{t.Module}, t.Inputs...) {
		if !c.Holds[b.Key] {
			n += b.Size
		}
	}
	return n
}

// excluded says why c may not run t, or "".
func excluded(t Task, c Candidate, r Rules) string {
	switch {
	case t.On == Local && !c.Local:
		return `pinned "on": "local"`
	case t.On != "" && t.On != Local && t.On != c.Peer:
		return fmt.Sprintf("pinned \"on\": %q", t.On)
	case !c.Local && slices.Contains(r.BlockPeers, c.Peer):
		return "peer is on this node's block list"
	case c.Unfit != "":
		return c.Unfit
	}
	for _, k := range slices.Sorted(maps.Keys(t.Labels)) {
		if v, ok := c.Labels[k]; !ok || v != t.Labels[k] {
			return fmt.Sprintf("label %s=%s not matched", k, t.Labels[k])
		}
	}
	return ""
}

// constraint names what excluded every candidate: each distinct reason,
// in candidate order.
func constraint(t Task, all []Cost) string {
	if t.On != "" && t.On != Local && !slices.ContainsFunc(all, func(c Cost) bool { return c.Peer == t.On }) {
		return fmt.Sprintf("pinned \"on\": %q, which is not a known peer offering to run it", t.On)
	}
	var reasons []string
	for _, c := range all {
		if c.Excluded != "" && !slices.Contains(reasons, c.Excluded) {
			reasons = append(reasons, c.Excluded)
		}
	}
	if len(reasons) == 0 {
		return "no candidate"
	}
	return strings.Join(reasons, "; ")
}
