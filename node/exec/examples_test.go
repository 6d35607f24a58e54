package exec_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/invocation"
	"github.com/ipvm-go/ipvm/node/exec"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/store/unixfs"
	"github.com/ipvm-go/ipvm/workflow"
)

// addUnixFS stores a file's bytes under its UnixFS CID (as `ipvm add` and
// `ipfs add --cid-version=1` compute it), the way the store serves them.
func (b *mapBlobs) addUnixFS(t testing.TB, path string) cid.Cid {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := unixfs.Add(context.Background(), bytes.NewReader(data), func(context.Context, cid.Cid, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = make(map[cid.Cid][]byte)
	}
	b.m[c] = data
	return c
}

// runWorkflow parses a workflow file (modules given as files are resolved
// relative to it) and runs it serially on ex, returning each task's result
// by name. It is the smallest driver of workflow.Scheduler, for tests.
func runWorkflow(t *testing.T, ex *exec.Executor, blobs *mapBlobs, path string) map[string]spec.Result {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wf, err := workflow.Parse(b, workflow.ParseOptions{ResolveFile: func(p string) (cid.Cid, error) {
		return blobs.addUnixFS(t, filepath.Join(filepath.Dir(path), p)), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := workflow.NewScheduler(wf)
	if ext := s.External(); len(ext) > 0 {
		t.Fatalf("workflow awaits external tasks %v", ext)
	}
	out := map[string]spec.Result{}
	for !s.Finished() {
		steps := s.Ready()
		if len(steps) == 0 {
			t.Fatal("scheduler stalled")
		}
		for _, st := range steps {
			res := spec.Fail(st.Fail)
			if st.Fail == nil {
				w, err := invocation.Task{Cmd: st.Task.Task.Cmd, Args: st.Args}.Wasm()
				if err != nil {
					t.Fatalf("task %s: %v", st.Task.Name, err)
				}
				lim := exec.Limits{MemoryBytes: uint64(st.Task.Meta.Memory), Time: st.Task.Meta.Time, OutputBytes: st.Task.Meta.Output}
				res, _, err = ex.Run(context.Background(), exec.Request{Module: w.Mod, Function: w.Fun, Params: w.Params, Limits: lim})
				if err != nil {
					t.Fatalf("task %s: %v", st.Task.Name, err)
				}
			}
			out[st.Task.Name] = res
			if err := s.Done(st.Task.Name, res); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

func wantOK(t *testing.T, got map[string]spec.Result, name string, want any) {
	t.Helper()
	r, ok := got[name]
	if !ok || r.Err != nil || !spec.Equal(r.Ok, want) {
		t.Errorf("task %s = %+v, want %#v", name, r, want)
	}
}

// TestExamples runs every workflow in examples/ and the Homestar vectors'
// workflows on the executor.
func TestExamples(t *testing.T) {
	blobs := &mapBlobs{}
	// Data the workflows link by CID, as `ipvm add` would have stored it.
	input := blobs.addUnixFS(t, "../../examples/pipeline/input.txt")
	text, _ := os.ReadFile("../../examples/pipeline/input.txt")
	cat := blobs.addUnixFS(t, homestarDir+"/synthcat.png")
	blobs.addUnixFS(t, homestarDir+"/example_test.wasm")
	ex := newExec(t, exec.Config{Blobs: blobs, MaxTime: time.Minute})

	t.Run("hello", func(t *testing.T) {
		got := runWorkflow(t, ex, blobs, "../../examples/hello.json")
		wantOK(t, got, "one", int64(1+1))
		wantOK(t, got, "two", int64(1+1+1))
		wantOK(t, got, "sum", int64(3+40))
		wantOK(t, got, "scaled", 43*0.5)
		wantOK(t, got, "divmod", []any{int64(17 / 5), int64(17 % 5)})
	})
	t.Run("pipeline", func(t *testing.T) {
		b, _ := os.ReadFile("../../examples/pipeline.json")
		if !strings.Contains(string(b), input.String()) {
			t.Fatalf("pipeline.json does not link input.txt's CID %s", input)
		}
		got := runWorkflow(t, ex, blobs, "../../examples/pipeline.json")
		wantOK(t, got, "fetch", string(text))
		wantOK(t, got, "words", map[string]any{"text": strings.ToUpper(string(text)), "words": int64(len(strings.Fields(string(text))))})
		if r := got["hash"]; r.Err != nil || len(r.Ok.(string)) != 64 {
			t.Errorf("hash = %+v", r)
		}
	})
	t.Run("wasi", func(t *testing.T) {
		got := runWorkflow(t, ex, blobs, "../../examples/wasi.json")
		wantOK(t, got, "greet", "Hello, ipvm!")
		wantOK(t, got, "stats", map[string]any{"count": int64(4), "sum": 10.5, "mean": 10.5 / 4})
	})
	if testing.Short() {
		return
	}
	t.Run("homestar add-one", func(t *testing.T) {
		for _, path := range []string{"../../examples/homestar-add-one.json", homestarDir + "/workflow-add-one.json"} {
			got := runWorkflow(t, ex, blobs, path)
			var vals []any
			for _, r := range got {
				vals = append(vals, r.Ok)
			}
			if len(got) != 2 || !(spec.Equal(vals, []any{int64(2), int64(3)}) || spec.Equal(vals, []any{int64(3), int64(2)})) {
				t.Errorf("%s: %+v, want 2 and 3", path, got)
			}
		}
	})
	t.Run("homestar image pipeline", func(t *testing.T) {
		b, _ := os.ReadFile("../../examples/homestar-image-pipeline.json")
		if !strings.Contains(string(b), cat.String()) {
			t.Fatalf("image pipeline does not link synthcat.png's CID %s", cat)
		}
		for _, path := range []string{"../../examples/homestar-image-pipeline.json", homestarDir + "/workflow-image-pipeline.json"} {
			got := runWorkflow(t, ex, blobs, path)
			if len(got) != 3 {
				t.Fatalf("%s: %d results", path, len(got))
			}
			for _, r := range got {
				checkPNG(t, r, 500, 500)
			}
		}
	})
}
