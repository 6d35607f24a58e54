package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/node/daemon"
)

// TestReadmeCurlExamples runs every curl line of README.md, as written,
// against a real daemon: each must succeed (curl -f fails on 4xx/5xx).
func TestReadmeCurlExamples(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(l, "curl ") {
			lines = append(lines, l)
		}
	}
	if len(lines) < 5 {
		t.Fatalf("found %d curl lines in README.md", len(lines))
	}
	repo, err := node.OpenRepo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.Start(context.Background(), daemon.Config{Repo: repo, API: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	root, _ := filepath.Abs("../..")
	out := t.TempDir()
	for _, l := range lines {
		cmd := exec.Command("bash", "-c", l)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "API="+d.URL())
		// Files a line writes (-o receipt.cbor) land in a temp dir.
		if strings.Contains(l, " -o ") {
			cmd.Dir = out
			cmd.Env = append(cmd.Env, "PWD="+out)
			l = strings.ReplaceAll(l, "@examples/", "@"+root+"/examples/")
			cmd.Args = []string{"bash", "-c", l}
		}
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s\n  failed: %v\n  %s", l, err, b)
		}
	}
	if fi, err := os.Stat(filepath.Join(out, "receipt.cbor")); err != nil || fi.Size() < 100 {
		t.Errorf("the DAG-CBOR receipt was not written: %v", err)
	}
}
