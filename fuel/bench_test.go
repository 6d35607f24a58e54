package fuel

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// workloads of the side-by-side benchmark: the tightest loop (countdown,
// 10^7 iterations of local.tee/i32.sub/br_if), a tight loop (spin, 10^7
// iterations) and a realistic guest (Go-built SHA-256 of 1 MiB, including
// the Go runtime's start-up, instantiated afresh each time).
var workloads = []struct {
	name, file string
	kind       kind
	cl         call
}{
	{"countdown", "testdata/wat/loops.wasm", plain, call{"countdown", []uint64{10_000_000}}},
	{"loop", "testdata/wat/loops.wasm", plain, call{"spin", []uint64{10_000_000}}},
	{"sha256-1MiB", "testdata/gosha.wasm", command, call{"_start", []uint64{1 << 20}}},
}

// variants of the side-by-side benchmark: unmetered; metered trapping at
// once (the budget in the global); metered in Refuel mode (the budget handed
// out DefaultSlice at a time by a Tank, as the node does to check its
// deadline); and the original in a runtime with WithCloseOnContextDone.
var variants = []string{"unmetered", "metered", "refuel", "closeOnContextDone"}

// runner returns a function that makes the workload's call once in the
// given variant.
func runner(b *testing.B, ctx context.Context, plainEnv, closeEnv *env, w int, variant string) func() {
	wl := workloads[w]
	src := entry{file: wl.file}.read(b)
	v, wasm, budget := plainEnv, src, int64(-1)
	switch variant {
	case "metered", "refuel":
		m, err := Instrument(src, Options{Refuel: variant == "refuel"})
		if err != nil {
			b.Fatal(err)
		}
		wasm, budget = m, bigBudget
		if variant == "refuel" {
			ctx = withRefuel(ctx, DefaultSlice)
		}
	case "closeOnContextDone":
		v = closeEnv
	}
	c := v.compile(b, wl.name+variant, wasm)
	if wl.kind == command {
		return func() {
			if o := run(b, ctx, v, c, wl.kind, wl.cl, budget); o.err != nil {
				b.Fatal(o.err)
			}
		}
	}
	mod, err := v.rt.InstantiateModule(ctx, c, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mod.Close(ctx) })
	fn := mod.ExportedFunction(wl.cl.fn)
	g, _ := mod.ExportedGlobal(GlobalName).(api.MutableGlobal)
	if variant == "refuel" {
		return func() {
			tank := NewTank(budget, DefaultSlice)
			g.Set(uint64(tank.Start()))
			if _, err := fn.Call(context.WithValue(ctx, tankKey{}, tank), wl.cl.args...); err != nil {
				b.Fatal(err)
			}
		}
	}
	return func() {
		if g != nil {
			SetBudget(g, budget)
		}
		if _, err := fn.Call(ctx, wl.cl.args...); err != nil {
			b.Fatal(err)
		}
	}
}

// newBenchEnvs returns a plain runtime and one with
// WithCloseOnContextDone(true), both with wazero's optimizing compiler.
func newBenchEnvs(b *testing.B, ctx context.Context) (plainEnv, closeEnv *env) {
	plainEnv = newEnv(ctx, wazero.NewRuntimeConfig())
	closeEnv = newEnv(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	b.Cleanup(func() {
		plainEnv.rt.Close(ctx)
		closeEnv.rt.Close(ctx)
	})
	return plainEnv, closeEnv
}

// BenchmarkFuel times each workload in each variant separately (ns/op).
func BenchmarkFuel(b *testing.B) {
	ctx := context.Background()
	plainEnv, closeEnv := newBenchEnvs(b, ctx)
	for w := range workloads {
		for _, variant := range variants {
			b.Run(workloads[w].name+"/"+variant, func(b *testing.B) {
				f := runner(b, ctx, plainEnv, closeEnv, w, variant)
				for b.Loop() {
					f()
				}
			})
		}
	}
}

// BenchmarkFuelSideBySide runs the variants of a workload in turn in
// every iteration, so that load on a shared machine hits them alike, and
// reports each variant's time per call and the ratios to unmetered, in wall
// time and in CPU time of the calling thread (Linux). The
// goal is metered/unmetered <= 2 on every workload (BENCHMARKS.md "## Fuel").
func BenchmarkFuelSideBySide(b *testing.B) {
	ctx := context.Background()
	plainEnv, closeEnv := newBenchEnvs(b, ctx)
	for w := range workloads {
		b.Run(workloads[w].name, func(b *testing.B) {
			fs := make([]func(), len(variants))
			for i, variant := range variants {
				fs[i] = runner(b, ctx, plainEnv, closeEnv, w, variant)
			}
			// Each call runs on one locked OS thread so that its CPU time
			// can be read; ratios of CPU time hold on a loaded machine
			// where wall time does not.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			wall := make([]time.Duration, len(variants))
			cpu := make([]time.Duration, len(variants))
			n := 0
			for b.Loop() {
				for i, f := range fs {
					st, sc := time.Now(), threadCPU()
					f()
					cpu[i] += threadCPU() - sc
					wall[i] += time.Since(st)
				}
				n++
			}
			for i, variant := range variants {
				b.ReportMetric(float64(wall[i].Nanoseconds())/float64(n), variant+"-ns/call")
			}
			for i, variant := range variants[1:] {
				b.ReportMetric(float64(wall[i+1])/float64(wall[0]), variant+"/unmetered")
			}
			if cpu[0] > 0 {
				b.ReportMetric(float64(cpu[0].Nanoseconds())/float64(n), "unmetered-cpu-ns/call")
				for i, variant := range variants[1:] {
					b.ReportMetric(float64(cpu[i+1])/float64(cpu[0]), "cpu-"+variant+"/unmetered")
				}
			}
		})
	}
}

// BenchmarkInstrument measures the rewrite itself (done once per module
// CID) on the Go-built module (2.4 MB) and Homestar's example_test.wasm.
func BenchmarkInstrument(b *testing.B) {
	for _, e := range []entry{
		{name: "gosha", file: "testdata/gosha.wasm"},
		{name: "homestar-test", file: homestarDir + "/example_test.wasm"},
	} {
		b.Run(e.name, func(b *testing.B) {
			src := e.read(b)
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if _, err := Instrument(src, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
