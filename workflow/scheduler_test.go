package workflow

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

// The scheduler scripts under testdata/scheduler/ are datadriven-style
// golden files, as in etcd/raft: each block is a command, optional input
// lines, "----", and the expected output, ended by a blank line.
// go test -update rewrites the expected outputs.
//
// Commands:
//
//	parse                      input: workflow JSON; prints tasks and deps
//	ready                      prints the steps Ready returns
//	done NAME ok JSON          Done with an ok result (DAG-JSON value)
//	done NAME err ERRNAME MSG  Done with an error result
//	external                   prints External()
//	resolve CID ok JSON | resolve CID err ERRNAME MSG | notfound CID
//	finished                   prints Finished() and every Outcome
func TestSchedulerScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/scheduler/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runScript(t, f) })
	}
}

type block struct {
	cmd, input, want string
	line             int
}

func readScript(t *testing.T, path string) []block {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var (
		blocks []block
		cur    *block
		inWant bool
		n      int
	)
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur == nil:
			if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
				continue
			}
			blocks = append(blocks, block{cmd: line, line: n})
			cur, inWant = &blocks[len(blocks)-1], false
		case line == "----" && !inWant:
			inWant = true
		case !inWant:
			cur.input += line + "\n"
		case line == "":
			cur = nil
		default:
			cur.want += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

func runScript(t *testing.T, path string) {
	blocks := readScript(t, path)
	var (
		s  *Scheduler
		wf *Workflow
		sb strings.Builder
	)
	for i := range blocks {
		b := &blocks[i]
		got := func() string {
			fields := strings.Fields(b.cmd)
			if fields[0] != "parse" && s == nil {
				t.Fatalf("%s:%d: parse first", path, b.line)
			}
			switch fields[0] {
			case "parse":
				var err error
				wf, err = Parse([]byte(b.input), ParseOptions{})
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				s = NewScheduler(wf)
				var out strings.Builder
				for _, task := range wf.Tasks {
					fmt.Fprintf(&out, "%s deps=%v external=%d\n", task.Name, task.Deps, len(task.External))
				}
				return out.String()
			case "ready":
				return formatSteps(s.Ready())
			case "done":
				r := scriptResult(t, fields[2:], b)
				return errLine(s.Done(fields[1], r))
			case "external":
				var out strings.Builder
				for _, c := range s.External() {
					out.WriteString(c.String() + "\n")
				}
				return out.String()
			case "resolve":
				return errLine(s.Resolve(cid.MustParse(fields[1]), scriptResult(t, fields[2:], b)))
			case "notfound":
				return errLine(s.NotFound(cid.MustParse(fields[1])))
			case "finished":
				out := fmt.Sprintf("finished=%v\n", s.Finished())
				for _, task := range wf.Tasks {
					if r, ok := s.Outcome(task.Name); ok {
						out += task.Name + " " + spec.MustJSON(r.IPLD()) + "\n"
					}
				}
				return out
			}
			t.Fatalf("%s:%d: unknown command %q", path, b.line, b.cmd)
			return ""
		}()
		if got == "" {
			got = "(none)\n"
		}
		if !*update && got != b.want {
			t.Errorf("%s:%d: %s\ngot:\n%swant:\n%s", path, b.line, b.cmd, got, b.want)
		}
		b.want = got
		fmt.Fprintf(&sb, "%s\n%s----\n%s\n", b.cmd, b.input, b.want)
	}
	if *update {
		if err := os.WriteFile(path, []byte(strings.TrimSuffix(sb.String(), "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func scriptResult(t *testing.T, f []string, b *block) spec.Result {
	if len(f) >= 2 && f[0] == "ok" {
		v, err := spec.DecodeJSON([]byte(strings.Join(f[1:], " ")), spec.Limits{})
		if err != nil {
			t.Fatalf("line %d: %v", b.line, err)
		}
		return spec.OK(v)
	}
	if len(f) >= 2 && f[0] == "err" {
		return spec.Fail(&spec.Failure{Name: f[1], Message: strings.Join(f[2:], " ")})
	}
	t.Fatalf("line %d: want ok JSON or err NAME MESSAGE", b.line)
	return spec.Result{}
}

func errLine(err error) string {
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	return "ok\n"
}

func formatSteps(steps []Step) string {
	var out strings.Builder
	for _, st := range steps {
		switch {
		case st.Fail != nil:
			fmt.Fprintf(&out, "%s FAIL %s\n", st.Task.Name, st.Fail.Error())
		case st.Task.Task.Cmd == "/wasm/run":
			fmt.Fprintf(&out, "%s params=%s\n", st.Task.Name, spec.MustJSON(st.Args["params"]))
		default:
			fmt.Fprintf(&out, "%s args=%s\n", st.Task.Name, spec.MustJSON(st.Args))
		}
	}
	return out.String()
}

// Ready never changes the task's own args (the CID is over them).
func TestSchedulerKeepsArgs(t *testing.T) {
	w := mustParse(t, wf(task("a", "[]"), task("b", `[{"await/ok":"a"},{"k":[{"await/*":"a"}]}]`)))
	before := spec.MustJSON(w.Tasks[1].Task.Args)
	s := NewScheduler(w)
	s.Ready()
	if err := s.Done("a", spec.OK(int64(7))); err != nil {
		t.Fatal(err)
	}
	steps := s.Ready()
	if len(steps) != 1 || !spec.Equal(steps[0].Args["params"], []any{int64(7), map[string]any{"k": []any{map[string]any{"ok": int64(7)}}}}) {
		t.Fatalf("steps %s", formatSteps(steps))
	}
	if after := spec.MustJSON(w.Tasks[1].Task.Args); after != before {
		t.Errorf("args changed: %s → %s", before, after)
	}
	if c := mustCID(t, w.Tasks[1].Task); !c.Equals(w.Tasks[1].CID) {
		t.Error("task CID changed")
	}
}

// A wide and deep workflow finishes with every task run once, each after
// its dependencies.
func TestSchedulerLarge(t *testing.T) {
	var tasks []string
	for i := range 2000 {
		params := "[]"
		if i > 0 {
			params = fmt.Sprintf(`[{"await/ok":"t%d"},{"await/*":"t%d"}]`, i-1, i/2)
		}
		tasks = append(tasks, task(fmt.Sprintf("t%d", i), params))
	}
	w := mustParse(t, wf(tasks...))
	s := NewScheduler(w)
	doneAt := map[string]int{}
	for round := 0; !s.Finished(); round++ {
		steps := s.Ready()
		if len(steps) == 0 {
			t.Fatalf("stuck after %d tasks", len(doneAt))
		}
		for _, st := range steps {
			if _, dup := doneAt[st.Task.Name]; dup {
				t.Fatalf("%s handed out twice", st.Task.Name)
			}
			for _, d := range st.Task.Deps {
				if _, ok := doneAt[d]; !ok {
					t.Fatalf("%s ready before %s", st.Task.Name, d)
				}
			}
			doneAt[st.Task.Name] = round
			if err := s.Done(st.Task.Name, spec.OK(int64(round))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(doneAt) != 2000 {
		t.Errorf("%d tasks done", len(doneAt))
	}
}

func TestSchedulerMisuse(t *testing.T) {
	w := mustParse(t, wf(task("a", "[]"), task("b", `[{"await/ok":"a"}]`)))
	s := NewScheduler(w)
	if err := s.Done("zz", spec.OK(nil)); !errors.Is(err, ErrUnknownTask) {
		t.Errorf("unknown: %v", err)
	}
	if err := s.Done("b", spec.OK(nil)); !errors.Is(err, ErrNotRunning) {
		t.Errorf("not started: %v", err)
	}
	s.Ready()
	if err := s.Done("a", spec.OK(nil)); err != nil {
		t.Fatal(err)
	}
	if err := s.Done("a", spec.OK(nil)); !errors.Is(err, ErrNotRunning) {
		t.Errorf("twice: %v", err)
	}
	if err := s.Resolve(modCID, spec.OK(nil)); !errors.Is(err, ErrNotAwaited) {
		t.Errorf("resolve unawaited: %v", err)
	}
	if r := s.Ready(); len(r) != 1 || s.Ready() != nil {
		t.Error("Ready must hand out each task once")
	}
}
