package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/receipt"
	"github.com/ipvm-go/ipvm/spec"
)

// TestMain lets the test binary act as the ipvm command, so tests can run
// it as a separate process and kill it.
func TestMain(m *testing.M) {
	if os.Getenv("IPVM_TEST_AS_CLI") == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestKillRunMidWorkflow: kill -9 `ipvm run` in the middle of a workflow;
// every receipt it printed before dying is in the store afterwards and
// verifies, the store opens without repair, and running again finishes the
// workflow, answering the printed tasks from the memo table.
func TestKillRunMidWorkflow(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	guest, _ := filepath.Abs("../../node/exec/testdata/guest.wasm")
	hello, _ := filepath.Abs("../../examples/hello.wasm")
	// Independent tasks, some slow (a loop stopped by a short time limit),
	// so the kill lands while tasks are in flight.
	var b strings.Builder
	b.WriteString(`{"name":"crash","tasks":[`)
	const k = 60
	for i := range k {
		if i > 0 {
			b.WriteByte(',')
		}
		if i%3 == 0 {
			fmt.Fprintf(&b, `{"name":"slow%d","args":{"mod":{"file":%q},"fun":"loop","params":[]},"meta":{"time":"%dms"}}`, i, guest, 50+i)
		} else {
			fmt.Fprintf(&b, `{"name":"t%d","args":{"mod":{"file":%q},"fun":"add","params":[%d, 1]}}`, i, hello, i)
		}
	}
	b.WriteString(`]}`)
	wf := filepath.Join(dir, "wf.json")
	os.WriteFile(wf, []byte(b.String()), 0o644)

	cmd := exec.Command(os.Args[0], "--offline", "--repo", repo, "run", "--json", wf)
	cmd.Env = append(os.Environ(), "IPVM_TEST_AS_CLI=1", "GOMAXPROCS=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type printed struct{ Task, Receipt string }
	var seen []printed
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var l printed
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad line %q", sc.Text())
		}
		seen = append(seen, l)
		if len(seen) == k/3 {
			cmd.Process.Signal(syscall.SIGKILL)
			break
		}
	}
	cmd.Wait()
	if len(seen) < k/3 || len(seen) == k {
		t.Fatalf("killed after %d of %d tasks", len(seen), k)
	}

	// Reopen: no repair step, every printed receipt is there and verifies.
	r, err := node.OpenRepo(repo)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Open(r, node.Options{})
	if err != nil {
		t.Fatalf("the store does not open after kill -9: %v", err)
	}
	ctx := context.Background()
	for _, p := range seen {
		rc, _ := spec.ParseCID(p.Receipt)
		task, _ := spec.ParseCID(p.Task)
		v, err := n.Receipt(ctx, rc)
		if err != nil || !v.Verified || !v.Signed.Ran.Equals(task) {
			t.Fatalf("printed receipt %s is lost or does not verify: %v", p.Receipt, err)
		}
		s, err := receipt.Decode(v.Signed.Bytes())
		if err != nil || s.Verify(task) != nil {
			t.Fatalf("receipt %s: %v", p.Receipt, err)
		}
	}
	n.Close()

	// Running again finishes the workflow; the printed pure ok tasks are
	// memo hits.
	lines, code, errOut := runJSON(t, "--offline", "--repo", repo, wf)
	if len(lines) != k {
		t.Fatalf("rerun: %d lines, exit %d: %s", len(lines), code, errOut)
	}
	okPrinted := map[string]bool{}
	for _, p := range seen {
		okPrinted[p.Task] = true
	}
	for _, l := range lines {
		if _, ok := l.Out["ok"]; ok && okPrinted[l.Task] && !l.Cached {
			t.Errorf("%s: printed before the kill but executed again", l.Name)
		}
	}
}
