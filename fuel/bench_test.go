package fuel

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// BenchmarkFuel compares, side by side, the tightest loop (loops.wasm countdown,
// 10^7 iterations), a tight loop (spin, 10^7 iterations) and a realistic guest (Go-built SHA-256 of 1 MiB, including
// the Go runtime's start-up) unmetered, fuel-metered, and unmetered with
// wazero's WithCloseOnContextDone(true). Results go to BENCHMARKS.md "## Fuel".
func BenchmarkFuel(b *testing.B) {
	ctx := context.Background()
	plainEnv := newEnv(ctx, wazero.NewRuntimeConfig())
	closeEnv := newEnv(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	defer plainEnv.rt.Close(ctx)
	defer closeEnv.rt.Close(ctx)

	for _, w := range []struct {
		name, file string
		kind       kind
		cl         call
	}{
		{"countdown", "testdata/wat/loops.wasm", plain, call{"countdown", []uint64{10_000_000}}},
		{"loop", "testdata/wat/loops.wasm", plain, call{"spin", []uint64{10_000_000}}},
		{"sha256-1MiB", "testdata/gosha.wasm", command, call{"_start", []uint64{1 << 20}}},
	} {
		src := entry{file: w.file}.read(b)
		metered, err := Instrument(src, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range []struct {
			name   string
			env    *env
			wasm   []byte
			budget int64
		}{
			{"unmetered", plainEnv, src, -1},
			{"metered", plainEnv, metered, bigBudget},
			{"closeOnContextDone", closeEnv, src, -1},
		} {
			b.Run(w.name+"/"+m.name, func(b *testing.B) {
				c := m.env.compile(b, w.name+m.name, m.wasm)
				if w.kind == command {
					for b.Loop() {
						if o := run(b, ctx, m.env, c, w.kind, w.cl, m.budget); o.err != nil {
							b.Fatal(o.err)
						}
					}
					return
				}
				mod, err := m.env.rt.InstantiateModule(ctx, c, wazero.NewModuleConfig().WithName(""))
				if err != nil {
					b.Fatal(err)
				}
				defer mod.Close(ctx)
				fn := mod.ExportedFunction(w.cl.fn)
				g, _ := mod.ExportedGlobal(GlobalName).(api.MutableGlobal)
				for b.Loop() {
					if g != nil {
						SetBudget(g, m.budget)
					}
					if _, err := fn.Call(ctx, w.cl.args...); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
