package ucan

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/ucan-wg/go-ucan/token/delegation"
	"github.com/ucan-wg/go-ucan/token/invocation"
)

// BenchmarkChain3 compares, on the same go-ucan-built 3-deep chain (an
// invocation and three delegations with a policy each):
//   - ours: decode all four tokens and Validate (signatures, principals,
//     subjects, time, commands, policies);
//   - go-ucan-decode-verify: go-ucan's FromSealed of the four tokens
//     (decode and signature check), the floor the goal is stated against;
//   - go-ucan-execution-allowed: the same plus go-ucan's ExecutionAllowed.
//
// Goal (issue 4): ours ≤ 1.2 × go-ucan-decode-verify. Results: BENCHMARKS.md.
func BenchmarkChain3(b *testing.B) {
	invb, dlgb := goChain(b)
	ctx := context.Background()
	b.Run("ours", func(b *testing.B) {
		proofs := make([]*Token, len(dlgb))
		withCPU(b, func() {
			inv, err := Decode(invb, Limits{})
			if err != nil {
				b.Fatal(err)
			}
			for i, d := range dlgb {
				if proofs[i], err = Decode(d, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := Validate(ctx, inv, proofs, Options{}); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("go-ucan-decode-verify", func(b *testing.B) {
		withCPU(b, func() {
			if _, _, err := invocation.FromSealed(invb); err != nil {
				b.Fatal(err)
			}
			for _, d := range dlgb {
				if _, _, err := delegation.FromSealed(d); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("go-ucan-execution-allowed", func(b *testing.B) {
		withCPU(b, func() {
			if err := goExecutionAllowed(invb, dlgb); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// cpuTime is the process's user+system CPU time. The machine is shared
// with other jobs, so wall-clock ns/op swings with their load; cpu-ns/op
// (reported next to it) counts only this process's work.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// withCPU runs f b.N times and reports cpu-ns/op.
func withCPU(b *testing.B, f func()) {
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkDecodeToken is the decoding of one delegation, without its
// signature check.
func BenchmarkDecodeToken(b *testing.B) {
	_, dlgb := goChain(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(dlgb[0], Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
