package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/node/daemon"
)

// cli runs the whole CLI in-process and returns what it printed and its
// exit code.
func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func TestVersion(t *testing.T) {
	out, _, code := cli(t, "version", "--json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var v map[string]string
	if err := json.Unmarshal([]byte(out), &v); err != nil || !strings.HasPrefix(v["version"], "v") {
		t.Fatalf("version --json printed %q (%v)", out, err)
	}
}

func TestIDAndKeyMove(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	out, _, code := cli(t, "--repo", a, "id", "--json")
	if code != 0 {
		t.Fatalf("id exit %d", code)
	}
	var id map[string]string
	if err := json.Unmarshal([]byte(out), &id); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id["did"], "did:key:z6Mk") || !strings.HasPrefix(id["peer"], "12D3KooW") {
		t.Fatalf("id = %v", id)
	}
	// The identity is stable across invocations.
	out2, _, _ := cli(t, "--repo", a, "id", "--json")
	if out2 != out {
		t.Fatalf("identity changed: %s then %s", out, out2)
	}
	kf := filepath.Join(dir, "exported.key")
	if _, errOut, code := cli(t, "--repo", a, "key", "export", kf); code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	if fi, err := os.Stat(kf); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("exported key mode: %v %v", fi.Mode(), err)
	}
	// Exporting over an existing file needs --force.
	if _, _, code := cli(t, "--repo", a, "key", "export", kf); code == 0 {
		t.Fatal("export over an existing file succeeded without --force")
	}
	// A fresh repo b gets a's identity.
	if _, errOut, code := cli(t, "--repo", b, "key", "import", kf); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	outB, _, _ := cli(t, "--repo", b, "id", "--json")
	if outB != out {
		t.Fatalf("imported identity %s, want %s", outB, out)
	}
	// A repo with another identity refuses without --replace.
	c := filepath.Join(dir, "c")
	cli(t, "--repo", c, "id")
	if _, errOut, code := cli(t, "--repo", c, "key", "import", kf); code == 0 || !strings.Contains(errOut, "--replace") {
		t.Fatalf("import over another identity: code %d, %q", code, errOut)
	}
	if _, _, code := cli(t, "--repo", c, "key", "import", "--replace", kf); code != 0 {
		t.Fatal("import --replace failed")
	}
	if _, err := os.Stat(filepath.Join(c, "key.old")); err != nil {
		t.Fatal("the replaced key was not kept as key.old")
	}
}

func TestUnknownCommand(t *testing.T) {
	_, errOut, code := cli(t, "frobnicate")
	if code == 0 || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}

// TestWorkflowCIDsHomestar checks that on every Homestar workflow file the
// printed task CIDs are the ones the file's await/ok links name: each link
// resolves to a task of the same file (Spec: §5). The exception is part two,
// whose only task links earlier work outside the file: its CID matches no
// form of part one's task (a stale fixture upstream), so it must be treated
// as an external promise, never matched to a task of the file.
func TestWorkflowCIDsHomestar(t *testing.T) {
	const dir = "../../../shared/vectors/homestar/"
	files, _ := filepath.Glob(dir + "workflow-*.json")
	if len(files) < 7 {
		t.Fatalf("found %d Homestar workflow files in %s, want 7", len(files), dir)
	}
	printedBy := func(t *testing.T, f string) map[string]bool {
		out, errOut, code := cli(t, "workflow", "cids", "--json", f)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		printed := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var row struct{ Name, Task string }
			if err := json.Unmarshal([]byte(line), &row); err != nil || row.Name == "" || row.Task == "" {
				t.Fatalf("bad line %q: %v", line, err)
			}
			printed[row.Task] = true
		}
		return printed
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			printed := printedBy(t, f)
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			links := awaitLinks(t, raw)
			if strings.HasSuffix(f, "-part-two.json") {
				for _, l := range links {
					if printed[l] {
						t.Errorf("external link %s matched a task of the file", l)
					}
				}
				return
			}
			for _, l := range links {
				if !printed[l] {
					t.Errorf("await/ok link %s names no task of the file (printed %v)", l, printed)
				}
			}
			if strings.Contains(string(raw), "await/ok") && len(links) == 0 {
				t.Fatal("found no await links in a file that has them")
			}
		})
	}
}

// awaitLinks returns the CIDs of every {"await/ok": {"/": cid}} in a JSON
// document.
func awaitLinks(t *testing.T, raw []byte) []string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if a, ok := x["await/ok"].(map[string]any); ok {
				if s, ok := a["/"].(string); ok {
					out = append(out, s)
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

func TestWorkflowCIDsErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "cycle.json")
	os.WriteFile(bad, []byte(`{"tasks":[{"name":"a","args":{"mod":"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy","fun":"f","params":[{"await/ok":"b"}]}},{"name":"b","args":{"mod":"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy","fun":"f","params":[{"await/ok":"a"}]}}]}`), 0o644)
	_, errOut, code := cli(t, "workflow", "cids", bad)
	if code == 0 || !strings.Contains(errOut, "cycle") {
		t.Fatalf("cycle: code %d, stderr %q", code, errOut)
	}
	_, errOut, code = cli(t, "workflow", "cids", filepath.Join(dir, "missing.json"))
	if code == 0 || !strings.Contains(errOut, "no such file") {
		t.Fatalf("missing file: code %d, stderr %q", code, errOut)
	}
}

type runLine struct {
	Name, Task, Receipt string
	Out                 map[string]any
	Cached              bool
}

func runJSON(t *testing.T, args ...string) ([]runLine, int, string) {
	t.Helper()
	out, errOut, code := cli(t, append([]string{"run", "--json"}, args...)...)
	var lines []runLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var r runLine
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("bad --json line %q: %v", l, err)
		}
		lines = append(lines, r)
	}
	return lines, code, errOut
}

// TestRunHomestarWorkflows runs Homestar's own files unchanged: add-one
// gives 2 then 3 and image-pipeline a PNG, under the task CIDs Homestar's
// links name (Spec: §5).
func TestRunHomestarWorkflows(t *testing.T) {
	const h = "../../../shared/vectors/homestar/"
	repo := t.TempDir()
	lines, code, errOut := runJSON(t, "--repo", repo, "--add", h+"example_test.wasm", h+"workflow-add-one.json")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("add-one: exit %d, %d lines, %s", code, len(lines), errOut)
	}
	byTask := map[string]runLine{}
	for _, l := range lines {
		byTask[l.Task] = l
	}
	first := byTask["bafyrmihmxmsbt4n3g6dzmj7rho34mzfbaoqqbsfcq7etsogslqftbyj7du"]
	if first.Out["ok"] != 2.0 {
		t.Fatalf("first add_one: %+v", first)
	}
	for _, l := range lines {
		if l.Task != first.Task && l.Out["ok"] != 3.0 {
			t.Fatalf("second add_one: %+v", l)
		}
	}
	if !strings.Contains(errOut, "clamped") {
		t.Errorf("no warning about the clamped fuel: %q", errOut)
	}

	lines, code, errOut = runJSON(t, "--repo", repo, "--add", h+"synthcat.png", h+"workflow-image-pipeline.json")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("image-pipeline: exit %d, %d lines, %s", code, len(lines), errOut)
	}
	raw, _ := os.ReadFile(h + "workflow-image-pipeline.json")
	for _, link := range awaitLinks(t, raw) {
		found := false
		for _, l := range lines {
			found = found || l.Task == link
		}
		if !found {
			t.Errorf("await link %s is not a task that ran", link)
		}
	}
	for _, l := range lines {
		b64, _ := l.Out["ok"].(map[string]any)["/"].(map[string]any)["bytes"].(string)
		if !strings.HasPrefix(b64, "iVBORw0KGgo") { // base64 of the PNG signature
			t.Errorf("%s: result is not a PNG: %.40v", l.Name, l.Out)
		}
	}
}

// TestRunExamples runs every native example twice: every task succeeds,
// and the second run answers every pure task from the memo table.
func TestRunExamples(t *testing.T) {
	repo := t.TempDir()
	for _, ex := range []struct{ file, add string }{
		{"../../examples/hello.json", ""},
		{"../../examples/pipeline.json", "../../examples/pipeline/input.txt"},
		{"../../examples/wasi.json", ""},
	} {
		t.Run(filepath.Base(ex.file), func(t *testing.T) {
			args := []string{"--repo", repo}
			if ex.add != "" {
				args = append(args, "--add", ex.add)
			}
			for round := range 2 {
				lines, code, errOut := runJSON(t, append(args, ex.file)...)
				if code != 0 || len(lines) == 0 {
					t.Fatalf("round %d: exit %d, %s", round, code, errOut)
				}
				for _, l := range lines {
					if _, ok := l.Out["ok"]; !ok {
						t.Errorf("round %d: %s failed: %v", round, l.Name, l.Out)
					}
					if l.Cached != (round == 1) {
						t.Errorf("round %d: %s cached=%v", round, l.Name, l.Cached)
					}
				}
			}
		})
	}
}

// TestRunExitCode exits 1 when a task fails and prints the error name.
func TestRunExitCode(t *testing.T) {
	dir := t.TempDir()
	wf := filepath.Join(dir, "bad.json")
	abs, _ := filepath.Abs("../../examples/hello.wasm")
	os.WriteFile(wf, []byte(`{"tasks":[{"name":"x","args":{"mod":{"file":"`+abs+`"},"fun":"nope","params":[]}}]}`), 0o644)
	out, _, code := cli(t, "--repo", filepath.Join(dir, "r"), "run", wf)
	if code != 1 || !strings.Contains(out, "MissingExport") {
		t.Fatalf("exit %d, out %q", code, out)
	}
}

// TestReceiptGet looks a receipt up by task CID and by receipt CID.
func TestReceiptGet(t *testing.T) {
	repo := t.TempDir()
	lines, code, _ := runJSON(t, "--repo", repo, "../../examples/hello.json")
	if code != 0 {
		t.Fatal("run failed")
	}
	for _, c := range []string{lines[0].Task, lines[0].Receipt} {
		out, errOut, code := cli(t, "--repo", repo, "receipt", "get", "--json", c)
		if code != 0 {
			t.Fatalf("receipt get %s: %s", c, errOut)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatal(err)
		}
		if v["verified"] != true || v["receipt"].(map[string]any)["/"] != lines[0].Receipt {
			t.Fatalf("receipt get %s: %v", c, v)
		}
	}
	if _, errOut, code := cli(t, "--repo", repo, "receipt", "get", "not-a-cid"); code == 0 || !strings.Contains(errOut, "bad CID") {
		t.Fatalf("bad CID: %d %q", code, errOut)
	}
}

// TestUcanDelegateInspectRun: Alice delegates to Bob with a policy on the
// module; "ucan inspect" shows it verified; Bob runs with --proof under
// Alice's authority, and a workflow with another module is refused with
// MatchError.
func TestUcanDelegateInspectRun(t *testing.T) {
	dir := t.TempDir()
	alice, bob := filepath.Join(dir, "alice"), filepath.Join(dir, "bob")
	out, _, _ := cli(t, "--repo", bob, "id", "--json")
	var id map[string]string
	json.Unmarshal([]byte(out), &id)
	mod, _, code := cli(t, "--repo", alice, "add", "../../examples/hello.wasm")
	if code != 0 {
		t.Fatal("add failed")
	}
	mod = strings.TrimSpace(mod)
	dlg := filepath.Join(dir, "bob.ucan")
	if _, errOut, code := cli(t, "--repo", alice, "ucan", "delegate", "--to", id["did"], "--cmd", "/wasm/run",
		"--pol", `[["==", ".mod", {"/": "`+mod+`"}]]`, "--ttl", "1h", "--out", dlg); code != 0 {
		t.Fatalf("delegate: %s", errOut)
	}
	out, errOut, code := cli(t, "ucan", "inspect", "--json", dlg)
	if code != 0 || !strings.Contains(out, id["did"]) || !strings.Contains(out, `"verified":true`) {
		t.Fatalf("inspect: %d %s %s", code, out, errOut)
	}
	lines, code, errOut := runJSON(t, "--repo", bob, "--proof", dlg, "../../examples/hello.json")
	if code != 0 || len(lines) != 5 {
		t.Fatalf("run --proof: %d %s", code, errOut)
	}
	other := filepath.Join(dir, "other.json")
	abs, _ := filepath.Abs("../../node/exec/testdata/guest.wasm")
	os.WriteFile(other, []byte(`{"tasks":[{"name":"x","args":{"mod":{"file":"`+abs+`"},"fun":"add_one","params":[1]}}]}`), 0o644)
	_, errOut, code = cli(t, "--repo", bob, "run", "--proof", dlg, other)
	if code == 0 || !strings.Contains(errOut, "MatchError") {
		t.Fatalf("another module: %d %q", code, errOut)
	}
}

// TestDelegationThroughDaemon walks issue 4's two-repo path through Alice's
// daemon: Bob runs the allowed module under her authority, is refused
// another module (MatchError), Alice revokes (through her daemon, which
// holds her store), and Bob's next run is refused (Revoked).
func TestDelegationThroughDaemon(t *testing.T) {
	dir := t.TempDir()
	alice, bob := filepath.Join(dir, "alice"), filepath.Join(dir, "bob")
	r, err := node.OpenRepo(alice)
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.Start(context.Background(), daemon.Config{Repo: r, API: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out, _, _ := cli(t, "--repo", bob, "id", "--json")
	var id map[string]string
	json.Unmarshal([]byte(out), &id)
	mod, errOut, code := cli(t, "--repo", alice, "add", "../../examples/hello.wasm") // through the daemon
	if code != 0 {
		t.Fatalf("add: %s", errOut)
	}
	mod = strings.TrimSpace(mod)
	dlg := filepath.Join(dir, "bob.ucan")
	if _, errOut, code := cli(t, "--repo", alice, "ucan", "delegate", "--to", id["did"],
		"--pol", `[["==", ".mod", {"/": "`+mod+`"}]]`, "--out", dlg); code != 0 {
		t.Fatalf("delegate: %s", errOut)
	}
	wf := func(name, m string, p int) string {
		f := filepath.Join(dir, name)
		os.WriteFile(f, []byte(`{"tasks":[{"name":"x","args":{"mod":{"/":"`+m+`"},"fun":"add_one","params":[`+fmt.Sprint(p)+`]}}]}`), 0o644)
		return f
	}
	lines, code, errOut := runJSON(t, "--repo", bob, "--api", d.URL(), "--proof", dlg, wf("a.json", mod, 1))
	if code != 0 || len(lines) != 1 || lines[0].Out["ok"] != 2.0 {
		t.Fatalf("Bob's allowed run: %d %v %s", code, lines, errOut)
	}
	// Alice's daemon holds her store: her blob and receipt reads go
	// through it (the receipt verified by the CLI).
	if got, errOut, code := cli(t, "--repo", alice, "blob", "get", mod); code != 0 || got != string(mustRead(t, "../../examples/hello.wasm")) {
		t.Fatalf("blob get through the daemon: %d %s", code, errOut)
	}
	if out, errOut, code := cli(t, "--repo", alice, "receipt", "get", "--json", lines[0].Receipt); code != 0 || !strings.Contains(out, `"verified":true`) {
		t.Fatalf("receipt get through the daemon: %d %s %s", code, out, errOut)
	}
	guest, _, _ := cli(t, "--offline", "--repo", filepath.Join(dir, "scratch"), "add", "../../node/exec/testdata/guest.wasm")
	_, errOut, code = cli(t, "--repo", bob, "--api", d.URL(), "run", "--proof", dlg, wf("b.json", strings.TrimSpace(guest), 1))
	if code == 0 || !strings.Contains(errOut, "MatchError") {
		t.Fatalf("another module: %d %q", code, errOut)
	}
	var dlgCID string
	ins, _, _ := cli(t, "ucan", "inspect", "--json", dlg)
	var in map[string]any
	json.Unmarshal([]byte(strings.SplitN(ins, "\n", 2)[0]), &in)
	dlgCID, _ = in["cid"].(string)
	if dlgCID == "" {
		t.Fatalf("inspect gave no cid: %s", ins)
	}
	if _, errOut, code := cli(t, "--repo", alice, "ucan", "revoke", dlgCID); code != 0 {
		t.Fatalf("revoke through the daemon: %s", errOut)
	}
	_, errOut, code = cli(t, "--repo", bob, "--api", d.URL(), "run", "--proof", dlg, wf("c.json", mod, 5))
	if code == 0 || !strings.Contains(errOut, "Revoked") {
		t.Fatalf("after revocation: %d %q", code, errOut)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
