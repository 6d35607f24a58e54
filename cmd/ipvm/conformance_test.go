package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ipvm-go/ipvm/conformance"
	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/node/daemon"
)

// startConformanceDaemon starts a daemon on a temp repo and a free port.
func startConformanceDaemon(t *testing.T, opts node.Options) string {
	t.Helper()
	repo, err := node.OpenRepo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.Start(context.Background(), daemon.Config{Repo: repo, API: "127.0.0.1:0", Node: opts, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d.URL()
}

func TestConformanceCommand(t *testing.T) {
	url := startConformanceDaemon(t, node.Options{})

	// A selection that our node passes: exit 0, one table line per case.
	out, errOut, code := cli(t, "conformance", "--gateway", url, "--only", "receipt.,ucan.forged,ucan.expired,http.")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := 0
	for _, c := range conformance.Cases() {
		if strings.HasPrefix(c.ID, "receipt.") || strings.HasPrefix(c.ID, "ucan.forged") || strings.HasPrefix(c.ID, "ucan.expired") || strings.HasPrefix(c.ID, "http.") {
			want++
			if !strings.Contains(out, c.ID) {
				t.Errorf("case %s missing from the table", c.ID)
			}
		}
	}
	if len(lines) != want+1 || !strings.Contains(lines[len(lines)-1], "0 failed") {
		t.Fatalf("%d lines for %d cases:\n%s", len(lines), want, out)
	}
	for _, l := range lines[:want] {
		if f := strings.Fields(l); len(f) < 3 || !strings.HasPrefix(f[1], "§") || f[2] != "PASS" {
			t.Errorf("table line %q: want ID, §section, PASS", l)
		}
	}

	// --json: one object per case.
	out, _, code = cli(t, "conformance", "--gateway", url, "--json", "--only", "http.healthz,blob.")
	if code != 0 {
		t.Fatalf("--json exit %d\n%s", code, out)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r conformance.Result
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.ID == "" || r.Section == "" || !r.Pass {
			t.Errorf("--json line %q: %+v %v", l, r, err)
		}
		n++
	}
	if n < 2 {
		t.Errorf("--json printed %d objects", n)
	}
}

func TestConformanceCommandFailsOnBrokenNode(t *testing.T) {
	url := startConformanceDaemon(t, node.Options{Faults: node.Faults{BadSignatures: true}})
	out, _, code := cli(t, "conformance", "--gateway", url, "--only", "receipt.verify-signature")
	if code != 1 || !strings.Contains(out, "FAIL") || !strings.Contains(out, "1 failed") {
		t.Fatalf("against a node with bad signatures: exit %d\n%s", code, out)
	}
}

func TestConformanceCommandNeedsGateway(t *testing.T) {
	if _, errOut, code := cli(t, "--api", "", "conformance"); code == 0 || !strings.Contains(errOut, "--gateway") {
		t.Fatalf("without --gateway: exit %d, %q", code, errOut)
	}
}
