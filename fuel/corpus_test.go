package fuel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// homestarDir holds Homestar's fixtures, beside the repository.
const homestarDir = "../../shared/vectors/homestar"

// call is one function call of the corpus.
type call struct {
	fn   string
	args []uint64
}

func (c call) String() string { return fmt.Sprintf("%s%v", c.fn, c.args) }

// kind says how a corpus module is driven.
type kind int

const (
	plain    kind = iota // exported functions on numbers
	command              // a WASI command: run _start, compare stdout
	homestar             // Homestar's canonical-ABI guest
)

// entry is one module of the corpus and the calls to make on it.
type entry struct {
	name  string
	file  string
	kind  kind
	calls []call
}

func f64(v float64) uint64 { return math.Float64bits(v) }
func f32(v float32) uint64 { return uint64(math.Float32bits(v)) }

// corpus lists the test modules: WAT-built, Go-built, Homestar's and any
// examples/*.wasm.
func corpus(t testing.TB) []entry {
	neg := func(v int64) uint64 { return uint64(v) }
	es := []entry{
		{name: "loops", file: "testdata/wat/loops.wasm", calls: []call{
			{"sum", []uint64{0}}, {"sum", []uint64{1}}, {"sum", []uint64{1000}},
			{"nested", []uint64{0}}, {"nested", []uint64{30}},
			{"spin", []uint64{1}}, {"spin", []uint64{5000}},
			{"countdown", []uint64{1}}, {"countdown", []uint64{5000}},
			{"fib", []uint64{0}}, {"fib", []uint64{90}},
			{"collatz", []uint64{1}}, {"collatz", []uint64{27}}, {"collatz", []uint64{837799}},
		}},
		{name: "control", file: "testdata/wat/control.wasm", calls: []call{
			{"switch", []uint64{0}}, {"switch", []uint64{1}}, {"switch", []uint64{2}}, {"switch", []uint64{3}}, {"switch", []uint64{99}},
			{"clamp", []uint64{5, 0, 10}}, {"clamp", []uint64{neg(-5), 0, 10}}, {"clamp", []uint64{50, 0, 10}},
			{"divmod", []uint64{17, 5}}, {"divmod", []uint64{17, 0}},
			{"mv", []uint64{4}}, {"mv", []uint64{1000}},
			{"looparams", []uint64{10}}, {"looparams", []uint64{300}},
			{"deep", []uint64{0}}, {"deep", []uint64{100}},
		}},
		{name: "calls", file: "testdata/wat/calls.wasm", calls: []call{
			{"fib", []uint64{0}}, {"fib", []uint64{20}},
			{"even", []uint64{0}}, {"even", []uint64{101}}, {"odd", []uint64{1000}},
			{"indirect", []uint64{0, 12}}, {"indirect", []uint64{3, 12}}, {"indirect", []uint64{1, 7}}, {"indirect", []uint64{9, 1}},
		}},
		{name: "memory", file: "testdata/wat/memory.wasm", calls: []call{
			{"bulk", []uint64{1, 20}}, {"bulk", []uint64{0xab, 5000}}, {"bulk", []uint64{0xab, 1 << 20}},
			{"drop", nil},
			{"widths", []uint64{0x0102030405060708}}, {"widths", []uint64{neg(-1)}},
			{"grow", []uint64{0}}, {"grow", []uint64{3}}, {"grow", []uint64{100000}},
		}},
		{name: "numeric", file: "testdata/wat/numeric.wasm", calls: []call{
			{"floats", []uint64{f64(2), f64(9)}}, {"floats", []uint64{f64(-1e300), f64(math.NaN())}},
			{"fcmp", []uint64{f32(1), f32(2)}}, {"fcmp", []uint64{f32(float32(math.NaN())), f32(2)}},
			{"fminmax", []uint64{f64(-3), f64(7)}},
			{"satconv", []uint64{f64(1e30)}}, {"satconv", []uint64{f64(-7.9)}}, {"satconv", []uint64{f64(math.NaN())}},
			{"satconv64f32", []uint64{f32(-1e20)}},
			{"signext", []uint64{0x80ff8000ff}}, {"bits", []uint64{0xf0f0}},
			{"idiv", []uint64{neg(-17), 5}}, {"idiv", []uint64{1, 0}},
			{"trunc", []uint64{f32(3.7)}}, {"trunc", []uint64{f32(float32(math.NaN()))}},
		}},
		{name: "reftypes", file: "testdata/wat/reftypes.wasm", calls: []call{
			{"tables", []uint64{1}}, {"tables", []uint64{5}}, {"tables", []uint64{50}},
			{"tsel", []uint64{0}}, {"tsel", []uint64{1}},
		}},
		{name: "gosha", file: "testdata/gosha.wasm", kind: command, calls: []call{
			{"_start", []uint64{0}}, {"_start", []uint64{1000}}, {"_start", []uint64{1 << 20}},
		}},
		{name: "homestar-add", file: filepath.Join(homestarDir, "example_add.wasm"), calls: []call{
			{"add-one", []uint64{1}}, {"add-two", []uint64{40}},
		}},
		{name: "homestar-test", file: filepath.Join(homestarDir, "example_test.wasm"), kind: homestar, calls: []call{
			{"add-one", []uint64{1}}, {"add-one", []uint64{neg(-1)}}, {"crop", nil},
		}},
	}
	ex, _ := filepath.Glob("../examples/*.wasm")
	for _, f := range ex {
		es = append(es, entry{name: filepath.Base(f), file: f})
	}
	return es
}

// read returns the module bytes of e (Homestar's fixtures come from
// ../shared, which is beside every checkout).
func (e entry) read(t testing.TB) []byte {
	b, err := os.ReadFile(e.file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// env is a wazero runtime with the host modules the corpus imports and a
// cache of compiled modules.
type env struct {
	rt    wazero.Runtime
	mu    sync.Mutex
	cache map[string]wazero.CompiledModule
}

var (
	sharedOnce sync.Once
	shared     *env
)

// testEnv returns the runtime shared by the tests of the package.
func testEnv(t testing.TB) *env {
	sharedOnce.Do(func() { shared = newEnv(context.Background(), wazero.NewRuntimeConfig()) })
	return shared
}

func newEnv(ctx context.Context, cfg wazero.RuntimeConfig) *env {
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	_, err := rt.NewHostModuleBuilder("wasi:logging/logging").
		NewFunctionBuilder().WithFunc(func(context.Context, uint32, uint32, uint32, uint32, uint32) {}).Export("log").
		Instantiate(ctx)
	if err != nil {
		panic(err)
	}
	_, err = rt.NewHostModuleBuilder("homestar:host/helpers@0.1.1").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, ret uint32) {
		m.Memory().WriteUint64Le(ret, 0) // a fixed time keeps runs comparable
	}).Export("get-current-time").
		Instantiate(ctx)
	if err != nil {
		panic(err)
	}
	// The refuel import of Refuel mode: the call's Tank comes with ctx.
	_, err = rt.NewHostModuleBuilder(ImportModule).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, v int64) int64 {
		if t, ok := ctx.Value(tankKey{}).(*Tank); ok {
			return t.Refuel(v)
		}
		return v // no budget: out of fuel

	}).Export(ImportName).
		Instantiate(ctx)
	if err != nil {
		panic(err)
	}
	return &env{rt: rt, cache: map[string]wazero.CompiledModule{}}
}

// tankKey carries a call's *Tank to the refuel import; sliceKey carries
// the slice size that makes run use Refuel mode.
type (
	tankKey  struct{}
	sliceKey struct{}
)

// withRefuel makes run meter through a Tank of the given slice (for
// modules instrumented with Options.Refuel).
func withRefuel(ctx context.Context, slice int64) context.Context {
	return context.WithValue(ctx, sliceKey{}, slice)
}

// mode is one way of instrumenting and metering the corpus.
type mode struct {
	name  string
	opts  Options
	slice int64 // Refuel mode's slice
}

// modes are trapping at once and Refuel mode with a tiny and a large slice.
var modes = []mode{
	{"trap", Options{}, 0},
	{"refuel-7", Options{Refuel: true}, 7},
	{"refuel-default", Options{Refuel: true}, DefaultSlice},
}

func (md mode) ctx(ctx context.Context) context.Context {
	if md.opts.Refuel {
		return withRefuel(ctx, md.slice)
	}
	return ctx
}

// key names the compiled module of file in this mode.
func (md mode) key(file string) string {
	if md.opts.Refuel {
		return file + "+refuel"
	}
	return file + "+fuel"
}

// compile compiles b once per key.
func (v *env) compile(t testing.TB, key string, b []byte) wazero.CompiledModule {
	v.mu.Lock()
	defer v.mu.Unlock()
	if c, ok := v.cache[key]; ok {
		return c
	}
	c, err := v.rt.CompileModule(context.Background(), b)
	if err != nil {
		t.Fatalf("compile %s: %v", key, err)
	}
	v.cache[key] = c
	return c
}

// outcome is what one call produced.
type outcome struct {
	results []uint64
	output  []byte // stdout of a command, or the bytes a Homestar guest returned
	err     error  // trap or exit
	fuel    int64  // fuel used, metered runs only
}

// same reports whether a and b agree on everything but fuel.
func (a outcome) same(b outcome) bool {
	if (a.err == nil) != (b.err == nil) {
		return false
	}
	if a.err != nil && errors.Is(a.err, ErrOutOfFuel) != errors.Is(b.err, ErrOutOfFuel) {
		return false
	}
	return fmt.Sprint(a.results) == fmt.Sprint(b.results) && bytes.Equal(a.output, b.output)
}

// run instantiates c afresh and makes call cl. A budget >= 0 meters the
// call through the fuel global.
func run(t testing.TB, ctx context.Context, v *env, c wazero.CompiledModule, k kind, cl call, budget int64) outcome {
	var stdout bytes.Buffer
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().WithStdout(&stdout)
	if k == command {
		cfg = cfg.WithArgs("gosha", fmt.Sprint(cl.args[0]))
	}
	mod, err := v.rt.InstantiateModule(ctx, c, cfg)
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	defer mod.Close(ctx)
	var g api.MutableGlobal
	var tank *Tank
	if budget >= 0 {
		var ok bool
		g, ok = mod.ExportedGlobal(GlobalName).(api.MutableGlobal)
		if !ok {
			t.Fatalf("no mutable global %q", GlobalName)
		}
		if slice, ok := ctx.Value(sliceKey{}).(int64); ok {
			tank = NewTank(budget, slice)
			ctx = context.WithValue(ctx, tankKey{}, tank)
			g.Set(uint64(tank.Start()))
		} else {
			SetBudget(g, budget)
		}
	}
	var o outcome
	switch k {
	case plain, command:
		fn := mod.ExportedFunction(cl.fn)
		if fn == nil {
			t.Fatalf("no export %q", cl.fn)
		}
		args := cl.args
		if k == command {
			args = nil
		}
		o.results, o.err = fn.Call(ctx, args...)
		var exit *sys.ExitError
		if errors.As(o.err, &exit) && exit.ExitCode() == 0 {
			o.err = nil
		}
		o.output = stdout.Bytes()
	case homestar:
		o = runHomestar(t, ctx, mod, cl)
	}
	switch {
	case tank != nil:
		o.err = tank.Check(o.err)
		o.fuel = tank.Used(Remaining(g))
	case g != nil:
		o.err = Check(g, o.err)
		o.fuel = Used(budget, g)
	}
	return o
}

// runHomestar drives the canonical ABI of Homestar's example_test.wasm.
func runHomestar(t testing.TB, ctx context.Context, mod api.Module, cl call) outcome {
	var o outcome
	if cl.fn != "crop" {
		o.results, o.err = mod.ExportedFunction(cl.fn).Call(ctx, cl.args...)
		return o
	}
	png, err := os.ReadFile(filepath.Join(homestarDir, "synthcat.png"))
	if err != nil {
		t.Fatal(err) // ../shared is beside every checkout (CI included)
	}
	r, err := mod.ExportedFunction("cabi_realloc").Call(ctx, 0, 0, 1, uint64(len(png)))
	if err != nil {
		o.err = err
		return o
	}
	ptr := uint32(r[0])
	if !mod.Memory().Write(ptr, png) {
		t.Fatal("write image")
	}
	o.results, o.err = mod.ExportedFunction("crop").Call(ctx, uint64(ptr), uint64(len(png)), 150, 350, 500, 500)
	if o.err != nil {
		return o
	}
	ret, _ := mod.Memory().Read(uint32(o.results[0]), 8)
	p, n := binary.LittleEndian.Uint32(ret), binary.LittleEndian.Uint32(ret[4:])
	out, ok := mod.Memory().Read(p, n)
	if !ok {
		t.Fatal("read output")
	}
	sum := sha256.Sum256(out)
	o.output = sum[:]
	o.results = nil // a pointer, which may differ
	return o
}
