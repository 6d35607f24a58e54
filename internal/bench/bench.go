package bench

import (
	"fmt"
	"math"
	"runtime"
	"runtime/metrics"
	"slices"
	"testing"
	"time"
)

// Metric is one measured ratio.
type Metric struct {
	// Name identifies the metric.
	Name string `json:"name"`
	// Unit is the unit of Ours and Floor, e.g. "ns/op", "cpu-ns/op",
	// "tasks/s", "req/s" or "bytes".
	Unit string `json:"unit"`
	// Ours is our figure.
	Ours float64 `json:"ours"`
	// Floor is the floor's figure, measured in the same run.
	Floor float64 `json:"floor"`
	// Ratio is Ours/Floor.
	Ratio float64 `json:"ratio"`
	// Goal is the bound on Ratio, e.g. "<= 2", or "info" for a figure
	// reported without a goal.
	Goal string `json:"goal"`
	// Pass reports whether Ratio meets Goal (always true for "info").
	Pass bool `json:"pass"`
	// Note says what is measured.
	Note string `json:"note,omitempty"`
}

// Config tunes a run of the suites. The zero value is the full run of
// `ipvm bench`.
type Config struct {
	// Short runs every suite in a reduced form (fewer rounds and
	// iterations) that only checks the measurements work; its figures are
	// too noisy to read.
	Short bool
	// Repo is the repository root, where suites find large test modules
	// (fuel/testdata/gosha.wasm). Empty: found from the working directory
	// or from this package's source path.
	Repo string
}

// pick returns full, or short when c.Short.
func (c Config) pick(full, short int) int {
	if c.Short {
		return short
	}
	return full
}

// atMost and atLeast build a metric from two figures and its goal.
func atMost(name, unit string, ours, floor, goal float64, note string) Metric {
	r := ours / floor
	return Metric{Name: name, Unit: unit, Ours: ours, Floor: floor, Ratio: round(r), Goal: fmt.Sprintf("<= %g", goal), Pass: r <= goal, Note: note}
}

func atLeast(name, unit string, ours, floor, goal float64, note string) Metric {
	r := ours / floor
	return Metric{Name: name, Unit: unit, Ours: ours, Floor: floor, Ratio: round(r), Goal: fmt.Sprintf(">= %g", goal), Pass: r >= goal, Note: note}
}

// info builds a metric reported for orientation, without a goal.
func info(name, unit string, ours, floor float64, note string) Metric {
	return Metric{Name: name, Unit: unit, Ours: ours, Floor: floor, Ratio: round(ours / floor), Goal: "info", Pass: true, Note: note}
}

func round(f float64) float64 { return math.Round(f*1000) / 1000 }

// nsPerOp runs f as a benchmark and returns its ns/op.
func nsPerOp(f func(b *testing.B)) float64 {
	r := testing.Benchmark(f)
	if r.N == 0 {
		return math.NaN()
	}
	return float64(r.T.Nanoseconds()) / float64(r.N)
}

// clock reads a monotonic time: wall time or the process's CPU time.
type clock func() time.Duration

var start = time.Now()

// wallClock is the elapsed wall time.
func wallClock() time.Duration { return time.Since(start) }

// cpuClock is the process's user+system CPU time where the OS reports it
// (see cputime_*.go), so that figures measured on a machine shared with
// other jobs count only this process's work, garbage collection included.
var cpuClock clock = processCPU

// interleave measures ops side by side: for each of rounds rounds it runs
// every op n times in turn, so that load from elsewhere on the machine
// falls on all alike, and returns each op's time per call by clk in its
// median round (a burst of background work, a badger compaction or a
// page-fault storm, spoils a round or two rather than the figure). An op's
// error stops the run.
//
// It first warms up: whole rounds, unmeasured, until the garbage collector
// has completed two cycles (or warmUpBudget or maxWarmUpRounds has passed). Until then the
// heap is still growing into memory the process never touched, and every
// fresh page costs a fault: on a virtual machine that alone made an
// allocating operation several times slower during its first ten thousand
// calls, so that the figures depended on which op allocated more before
// the first collection rather than on the ops.
func interleave(clk clock, rounds, n int, ops ...func() error) ([]float64, error) {
	per := make([][]time.Duration, len(ops))
	gc0, deadline := gcCycles(), time.Now().Add(warmUpBudget)
	for w := 0; w == 0 || w < maxWarmUpRounds && gcCycles() < gc0+2 && time.Now().Before(deadline); w++ {
		for _, op := range ops {
			for range n {
				if err := op(); err != nil {
					return nil, err
				}
			}
		}
	}
	runtime.GC()
	for range rounds {
		for i, op := range ops {
			t0 := clk()
			for range n {
				if err := op(); err != nil {
					return nil, err
				}
			}
			per[i] = append(per[i], clk()-t0)
		}
	}
	out := make([]float64, len(ops))
	for i, ts := range per {
		slices.Sort(ts)
		m := ts[len(ts)/2]
		if len(ts)%2 == 0 {
			m = (ts[len(ts)/2-1] + m) / 2
		}
		out[i] = float64(m.Nanoseconds()) / float64(n)
	}
	return out, nil
}

// interleave's warm-up runs at most this long or this many rounds.
const (
	warmUpBudget    = 3 * time.Second
	maxWarmUpRounds = 50
)

// gcCycles is the number of completed garbage collection cycles.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// A Suite is a named group of metrics that share a setup.
type Suite struct {
	// Name is what `ipvm bench --suite` selects.
	Name string
	// Run measures the suite's metrics.
	Run func(Config) ([]Metric, error)
}

// Suites lists every suite, in the order `ipvm bench` runs them.
func Suites() []Suite {
	return []Suite{
		{"datamodel", DataModel},
		{"executor", Executor},
		{"fuel", Fuel},
		{"ucan", UCAN},
		{"gateway", Gateway},
		{"network", Network},
		{"placement", Placement},
	}
}
