package bench

import (
	"fmt"
	"math"
	"testing"
)

// Metric is one measured ratio.
type Metric struct {
	// Name identifies the metric.
	Name string `json:"name"`
	// Unit is the unit of Ours and Floor ("ns/op" or "tasks/s").
	Unit string `json:"unit"`
	// Ours is our figure.
	Ours float64 `json:"ours"`
	// Floor is the floor's figure, measured in the same run.
	Floor float64 `json:"floor"`
	// Ratio is Ours/Floor.
	Ratio float64 `json:"ratio"`
	// Goal is the bound on Ratio, e.g. "<= 2".
	Goal string `json:"goal"`
	// Pass reports whether Ratio meets Goal.
	Pass bool `json:"pass"`
	// Note says what is measured.
	Note string `json:"note,omitempty"`
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

func round(f float64) float64 { return math.Round(f*1000) / 1000 }

// nsPerOp runs f as a benchmark and returns its ns/op.
func nsPerOp(f func(b *testing.B)) float64 {
	r := testing.Benchmark(f)
	if r.N == 0 {
		return math.NaN()
	}
	return float64(r.T.Nanoseconds()) / float64(r.N)
}

// A Suite is a named group of metrics that share a setup.
type Suite struct {
	Name string
	Run  func() ([]Metric, error)
}

// Suites lists every suite, in the order `ipvm bench` runs them.
func Suites() []Suite {
	return []Suite{
		{"executor", Executor},
	}
}
