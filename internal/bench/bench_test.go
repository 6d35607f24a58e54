package bench

import (
	"testing"
)

// TestExecutorMetrics runs the suite once and checks that every figure is
// a real measurement (positive, finite). The goals are reported, not
// asserted: the machines are noisy; `ipvm bench` prints pass/fail.
func TestExecutorMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("benchmarks take a few seconds")
	}
	ms, err := Executor()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if !(m.Ours > 0 && m.Floor > 0 && m.Ratio > 0) {
			t.Errorf("%s: %+v", m.Name, m)
		}
		t.Logf("%-40s ours %12.1f floor %12.1f %s ratio %.3f goal %s pass %v", m.Name, m.Ours, m.Floor, m.Unit, m.Ratio, m.Goal, m.Pass)
	}
}
