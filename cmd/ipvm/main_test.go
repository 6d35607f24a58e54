package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
