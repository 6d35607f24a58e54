package workflow

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

// FuzzParse: Parse never panics; it fails with an *Error, or returns a
// workflow whose CIDs are stable, whose tasks are in topological order, and
// which the scheduler runs to the end. Seeds: the Homestar fixtures, the
// examples under testdata/ and the committed corpus under
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.json")
	vectors, _ := filepath.Glob("../../shared/vectors/homestar/workflow-*.json")
	for _, p := range append(seeds, vectors...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(wf(task("a", `[{"await/ok":"b"}]`), task("b", `[{"await/error":"a"}]`))))
	f.Add([]byte(wf(task("a", `[{"/":{"bytes":"AQID"}},-1,1e300,"\u00e9"]`), task("b", `[{"await/*":"a"}]`))))
	lim := Limits{MaxBytes: 1 << 16, MaxDepth: 16, MaxString: 1 << 10, MaxTasks: 64}
	resolver := func(p string) (cid.Cid, error) {
		if p == "bad" {
			return cid.Undef, errors.New("no such file")
		}
		return modCID, nil
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := Parse(b, ParseOptions{Limits: lim, ResolveFile: resolver})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) || e.Err == nil || e.Reason == "" {
				t.Fatalf("error %v (%T) is not a complete *Error", err, err)
			}
			return
		}
		checkWorkflow(t, w)
		again, err := Parse(b, ParseOptions{Limits: lim, ResolveFile: resolver})
		if err != nil || !again.CID.Equals(w.CID) {
			t.Fatalf("second parse: %v, CID %v vs %s", err, again, w.CID)
		}
		runToEnd(t, w)
	})
}

// checkWorkflow asserts the invariants of a parsed workflow.
func checkWorkflow(t *testing.T, w *Workflow) {
	t.Helper()
	if !w.CID.Defined() || len(w.Tasks) == 0 {
		t.Fatal("empty workflow")
	}
	if c, _, err := spec.CIDOf(w.Canonical()); err != nil || !c.Equals(w.CID) {
		t.Fatalf("workflow CID %s, canonical form gives %s (%v)", w.CID, c, err)
	}
	checkTopo(t, w)
	seen := map[string]bool{}
	for _, task := range w.Tasks {
		if seen[task.Name] {
			t.Fatalf("duplicate name %q", task.Name)
		}
		seen[task.Name] = true
		if _, isBytes := bytesNonce(task); !isBytes {
			if c, err := task.Task.CID(); err != nil || !c.Equals(task.CID) {
				t.Fatalf("%s: Task.CID() %s (%v) != %s", task.Name, c, err, task.CID)
			}
		}
		if task.Task.Cmd == "/wasm/run" {
			if _, err := task.Task.Wasm(); err != nil {
				t.Fatalf("%s: %v", task.Name, err)
			}
		}
	}
}

// runToEnd drives a scheduler with every task succeeding (or, for tasks of
// odd position, failing) and every external lookup found, and asserts it
// finishes with each task handed out once.
func runToEnd(t *testing.T, w *Workflow) {
	t.Helper()
	s := NewScheduler(w)
	for _, c := range s.External() {
		if err := s.Resolve(c, spec.OK(int64(1))); err != nil {
			t.Fatal(err)
		}
	}
	handed := map[string]bool{}
	for !s.Finished() {
		steps := s.Ready()
		if len(steps) == 0 {
			t.Fatalf("stuck with %d of %d tasks done", len(handed), len(w.Tasks))
		}
		for _, st := range steps {
			if handed[st.Task.Name] {
				t.Fatalf("%s handed out twice", st.Task.Name)
			}
			handed[st.Task.Name] = true
			r := spec.OK(st.Task.Name)
			if st.Fail != nil {
				r = spec.Fail(st.Fail)
			} else if st.Task.Index%2 == 1 {
				r = spec.Fail(spec.Failf(spec.ErrNameTrap, "fuzz"))
			}
			if err := s.Done(st.Task.Name, r); err != nil {
				t.Fatal(err)
			}
		}
	}
}
