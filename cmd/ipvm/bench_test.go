package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ipvm-go/ipvm/internal/bench"
)

// TestBenchCommand runs `ipvm bench` on the placement suite (instant,
// no timing involved) in both output forms, and checks an unknown suite
// is refused.
func TestBenchCommand(t *testing.T) {
	out, errb, code := cli(t, "bench", "--suite", "placement", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 12 {
		t.Fatalf("%d lines, want one per placement row:\n%s", len(lines), out)
	}
	for _, l := range lines {
		var m bench.Metric
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if !strings.HasPrefix(m.Name, "placement_bytes_") || m.Goal != "<= 1" || m.Ratio != 1 || !m.Pass {
			t.Errorf("row %+v", m)
		}
	}

	out, _, code = cli(t, "bench", "--suite", "placement")
	if code != 0 || !strings.HasPrefix(out, "metric ") || !strings.Contains(out, "placement_bytes_in_100MB_mod_10KB") {
		t.Fatalf("exit %d, table:\n%s", code, out)
	}

	out, errb, code = cli(t, "bench", "--suite", "nosuch", "--json")
	if code == 0 || out != "" || !strings.Contains(errb, `no suite "nosuch"`) {
		t.Fatalf("unknown suite: exit %d, printed %q, stderr %q", code, out, errb)
	}
}
