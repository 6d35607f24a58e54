package bench

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// TestSuites runs every suite once in its reduced form (Config.Short) and
// checks that each metric is a real measurement: a name, a unit, finite
// positive figures, the ratio of the two, and a goal. The goals are
// reported, not asserted (the machines are noisy); `ipvm bench` prints
// pass/fail. The network suite starts ten libp2p hosts and is skipped
// with -short.
func TestSuites(t *testing.T) {
	for _, s := range Suites() {
		t.Run(s.Name, func(t *testing.T) {
			if testing.Short() && (s.Name == "network" || s.Name == "gateway") {
				t.Skip("starts hosts and servers")
			}
			ms, err := s.Run(Config{Short: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) == 0 {
				t.Fatal("no metrics")
			}
			for _, m := range ms {
				ok := func(f float64) bool { return f > 0 && !math.IsInf(f, 0) && !math.IsNaN(f) }
				if m.Name == "" || m.Unit == "" || !ok(m.Ours) || !ok(m.Floor) || !ok(m.Ratio) ||
					math.Abs(m.Ratio-m.Ours/m.Floor) > 0.001 ||
					!(m.Goal == "info" || strings.HasPrefix(m.Goal, "<= ") || strings.HasPrefix(m.Goal, ">= ")) {
					t.Errorf("bad metric %+v", m)
				}
				t.Logf("%-60s ours %14.1f floor %14.1f %-9s ratio %7.3f goal %-6s pass %v", m.Name, m.Ours, m.Floor, m.Unit, m.Ratio, m.Goal, m.Pass)
			}
		})
	}
}

// TestMetricGoals checks the constructors' pass/fail arithmetic.
func TestMetricGoals(t *testing.T) {
	for _, tc := range []struct {
		m    Metric
		pass bool
		goal string
	}{
		{atMost("a", "ns/op", 10, 5, 2, ""), true, "<= 2"},
		{atMost("a", "ns/op", 11, 5, 2, ""), false, "<= 2"},
		{atLeast("a", "req/s", 5, 10, 0.5, ""), true, ">= 0.5"},
		{atLeast("a", "req/s", 4, 10, 0.5, ""), false, ">= 0.5"},
		{info("a", "ns/op", 100, 1, ""), true, "info"},
	} {
		if tc.m.Pass != tc.pass || tc.m.Goal != tc.goal {
			t.Errorf("%+v: want pass %v goal %q", tc.m, tc.pass, tc.goal)
		}
	}
}

// TestInterleave checks that each op is timed apart: an op that does
// more work measures more.
func TestInterleave(t *testing.T) {
	spin := func(n int) func() error {
		return func() error {
			x := 0
			for i := range n {
				x += i ^ x
			}
			if x == -1 {
				t.Log(x)
			}
			return nil
		}
	}
	ns, err := interleave(cpuClock, 3, 50, spin(1_000), spin(100_000))
	if err != nil {
		t.Fatal(err)
	}
	if !(ns[1] > ns[0]) {
		t.Errorf("100 000 iterations %v ns, 1 000 iterations %v ns", ns[1], ns[0])
	}
}

// TestInterleaveMedian checks that a round spoiled by a burst of other
// work moves the figure of neither op: each op's figure is its median
// round (the clock is fake: each call advances it by a set amount).
func TestInterleaveMedian(t *testing.T) {
	var now time.Duration
	measured := 0 // calls of a since the clock was first read
	clk := func() time.Duration {
		if measured == 0 {
			measured = 1
		}
		return now
	}
	a := func() error {
		now += 10
		if measured > 0 {
			if measured++; measured == 5 { // a's middle measured round
				now += 1_000_000
			}
		}
		return nil
	}
	b := func() error { now += 20; return nil }
	ns, err := interleave(clk, 7, 1, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if ns[0] != 10 || ns[1] != 20 {
		t.Errorf("figures %v, want [10 20]", ns)
	}
}

// TestSize checks the placement row labels.
func TestSize(t *testing.T) {
	for n, want := range map[uint64]string{1000: "1KB", 10_000_000: "10MB", 1500: "1500B", 100_000: "100KB"} {
		if got := size(n); got != want {
			t.Errorf("size(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestReadRepoFile finds a repository file from the package directory
// and reports a missing one with ErrNoRepo.
func TestReadRepoFile(t *testing.T) {
	if _, err := readRepoFile(Config{}, "go.mod"); err != nil {
		t.Fatal(err)
	}
	if _, err := readRepoFile(Config{Repo: t.TempDir()}, "go.mod"); !errors.Is(err, ErrNoRepo) {
		t.Fatalf("err %v, want ErrNoRepo", err)
	}
}
