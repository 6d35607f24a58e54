package bench

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/ipvm-go/ipvm/fuel"
)

// loopsWasm is fuel/testdata/wat/loops.wasm (its source is loops.wat
// there): spin and countdown are the tight loops of the fuel benchmark.
//
//go:embed testdata/loops.wasm
var loopsWasm []byte

// goshaPath is the Go-built SHA-256 guest of package fuel, relative to the
// repository root. At 2.4 MB it is read from the checkout at run time
// rather than embedded in every ipvm binary.
const goshaPath = "fuel/testdata/gosha.wasm"

// fuelBudget is more fuel than any workload spends.
const fuelBudget = 1 << 60

// fuelWorkload is one guest call measured in the three variants.
type fuelWorkload struct {
	name string
	wasm []byte
	fn   string   // export to call; "_start" runs a WASI command
	args []uint64 // call arguments, or the command's argv[1]
	desc string
}

// Fuel measures deterministic fuel metering (issue 8): each workload runs
// unmetered, fuel-metered (fuel.Instrument, budget set per call) and in a
// runtime with WithCloseOnContextDone(true), the three interleaved, in
// process CPU time. Goal: metered ≤ 2× unmetered on every workload; the
// close-on-context-done figure, the alternative metering replaces, is
// reported beside it.
func Fuel(c Config) ([]Metric, error) {
	ctx := context.Background()
	iters := uint64(c.pick(10_000_000, 1_000_000))
	wls := []fuelWorkload{
		{"countdown", loopsWasm, "countdown", []uint64{iters}, "tightest loop: local.tee/i32.sub/br_if"},
		{"loop", loopsWasm, "spin", []uint64{iters}, "tight accumulate loop"},
	}
	gosha, err := readRepoFile(c, goshaPath)
	if err != nil {
		return nil, err
	}
	wls = append(wls, fuelWorkload{"sha256_1MiB", gosha, "_start", []uint64{uint64(c.pick(1<<20, 1<<16))},
		"Go-built (wasip1) SHA-256 of 1 MiB, Go runtime start-up included, instantiated afresh per call"})

	plain, err := newFuelRuntime(ctx, wazero.NewRuntimeConfig())
	if err != nil {
		return nil, err
	}
	defer plain.Close(ctx)
	closing, err := newFuelRuntime(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	if err != nil {
		return nil, err
	}
	defer closing.Close(ctx)
	// The node's mode: fuel charged against slices of the budget, refilled
	// by the ipvm_fuel.refuel import (where the node also checks the
	// deadline), so fuel is the wall-time guard too.
	refuel, err := newFuelRuntime(ctx, wazero.NewRuntimeConfig())
	if err != nil {
		return nil, err
	}
	defer refuel.Close(ctx)
	if _, err := refuel.NewHostModuleBuilder(fuel.ImportModule).NewFunctionBuilder().
		WithFunc(func(ctx context.Context, v int64) int64 {
			if ctx.Err() != nil {
				return v // still negative: the guest traps
			}
			return ctx.Value(tankKey{}).(*fuel.Tank).Refuel(v)
		}).Export(fuel.ImportName).Instantiate(ctx); err != nil {
		return nil, err
	}

	var ms []Metric
	for _, w := range wls {
		metered, err := fuel.Instrument(w.wasm, fuel.Options{})
		if err != nil {
			return nil, fmt.Errorf("instrument %s: %w", w.name, err)
		}
		sliced, err := fuel.Instrument(w.wasm, fuel.Options{Refuel: true})
		if err != nil {
			return nil, fmt.Errorf("instrument %s for refuel: %w", w.name, err)
		}
		unm, err := newFuelCall(ctx, plain, w, w.wasm, meterNone)
		if err != nil {
			return nil, err
		}
		met, err := newFuelCall(ctx, plain, w, metered, meterGlobal)
		if err != nil {
			return nil, err
		}
		cls, err := newFuelCall(ctx, closing, w, w.wasm, meterNone)
		if err != nil {
			return nil, err
		}
		node, err := newFuelCall(ctx, refuel, w, sliced, meterRefuel)
		if err != nil {
			return nil, err
		}
		ns, err := interleave(cpuClock, c.pick(8, 1), 1, unm, met, cls, node)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", w.name, err)
		}
		ms = append(ms,
			atMost("fuel_metered_vs_unmetered_"+w.name, "cpu-ns/op", ns[1], ns[0], 2,
				w.desc+"; fuel.Instrument'ed module vs the original, same runtime"),
			atMost("fuel_node_mode_vs_unmetered_"+w.name, "cpu-ns/op", ns[3], ns[0], 2,
				w.desc+"; the node's mode: slices refilled by a host import that also enforces the deadline"),
			info("fuel_close_on_done_vs_unmetered_"+w.name, "cpu-ns/op", ns[2], ns[0],
				w.desc+"; wazero WithCloseOnContextDone(true), the stop metering replaces"))
	}
	return ms, nil
}

// newFuelRuntime is a wazero runtime (optimizing compiler where
// available) with WASI for the Go-built guest.
func newFuelRuntime(ctx context.Context, cfg wazero.RuntimeConfig) (wazero.Runtime, error) {
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, err
	}
	return rt, nil
}

// How a fuel workload is metered.
const (
	meterNone   = iota // the original module
	meterGlobal        // the whole budget in the fuel global
	meterRefuel        // slices of the budget, refilled through the import
)

// tankKey carries a call's fuel.Tank to the refuel host function.
type tankKey struct{}

// newFuelCall compiles wasm and returns a function that makes w's call
// once: on one instance for plain exports, on a fresh instance per call
// for a WASI command. A metered call first sets the fuel budget.
func newFuelCall(ctx context.Context, rt wazero.Runtime, w fuelWorkload, wasm []byte, mode int) (func() error, error) {
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", w.name, err)
	}
	callCtx := ctx
	setBudget := func(m api.Module) error {
		if mode == meterNone {
			return nil
		}
		g, ok := m.ExportedGlobal(fuel.GlobalName).(api.MutableGlobal)
		if !ok {
			return fmt.Errorf("%w: %s has no fuel global", ErrMismatch, w.name)
		}
		if mode == meterRefuel {
			tank := fuel.NewTank(fuelBudget, fuel.DefaultSlice)
			g.Set(uint64(tank.Start()))
			callCtx = context.WithValue(ctx, tankKey{}, tank)
			return nil
		}
		fuel.SetBudget(g, fuelBudget)
		return nil
	}
	if w.fn == "_start" {
		var out bytes.Buffer
		cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().WithStdout(&out).
			WithArgs("gosha", fmt.Sprint(w.args[0]))
		return func() error {
			out.Reset()
			m, err := rt.InstantiateModule(ctx, cm, cfg)
			if err != nil {
				return err
			}
			defer m.Close(ctx)
			if err := setBudget(m); err != nil {
				return err
			}
			_, err = m.ExportedFunction("_start").Call(callCtx)
			var exit *sys.ExitError
			if errors.As(err, &exit) && exit.ExitCode() == 0 {
				err = nil
			}
			if err == nil && out.Len() != 65 { // hex digest and newline
				err = fmt.Errorf("%w: %s printed %q", ErrMismatch, w.name, out.String())
			}
			return err
		}, nil
	}
	m, err := rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		return nil, err
	}
	fn := m.ExportedFunction(w.fn)
	if fn == nil {
		return nil, fmt.Errorf("%w: %s has no export %s", ErrMismatch, w.name, w.fn)
	}
	return func() error {
		if err := setBudget(m); err != nil {
			return err
		}
		_, err := fn.Call(callCtx, w.args...)
		return err
	}, nil
}

// readRepoFile reads a file of the repository: from c.Repo, else from the
// first directory at or above the working directory that holds it, else
// relative to this package's source directory (go run and go test on the
// machine that built it).
func readRepoFile(c Config, rel string) ([]byte, error) {
	var dirs []string
	if c.Repo != "" {
		dirs = append(dirs, c.Repo)
	} else {
		if wd, err := os.Getwd(); err == nil {
			for d := wd; ; d = filepath.Dir(d) {
				dirs = append(dirs, d)
				if filepath.Dir(d) == d {
					break
				}
			}
		}
		if _, file, _, ok := runtime.Caller(0); ok {
			dirs = append(dirs, filepath.Join(filepath.Dir(file), "..", ".."))
		}
	}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, filepath.FromSlash(rel)))
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%w: no %s in %v", ErrNoRepo, rel, dirs)
}
