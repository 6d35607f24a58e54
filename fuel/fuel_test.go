package fuel

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

var update = flag.Bool("update", false, "rewrite testdata/fuel.golden")

// bigBudget is more than any corpus call needs.
const bigBudget = 1 << 60

// TestCorpusEquivalence checks that every corpus module, instrumented,
// compiles in wazero and gives the same results as the original on the same
// inputs, and that the fuel figures match testdata/fuel.golden (a change to
// them is a change of CostTableVersion).
// Spec: §8.
func TestCorpusEquivalence(t *testing.T) {
	for _, md := range modes {
		t.Run(md.name, func(t *testing.T) { testCorpusEquivalence(t, md) })
	}
}

// testCorpusEquivalence is TestCorpusEquivalence in one mode: every mode
// must give the figures of the one golden file.
func testCorpusEquivalence(t *testing.T, md mode) {
	ctx := md.ctx(context.Background())
	v := testEnv(t)
	var golden strings.Builder
	fmt.Fprintf(&golden, "# fuel used per corpus call, %s\n", CostTableVersion)
	for _, e := range corpus(t) {
		t.Run(e.name, func(t *testing.T) {
			b := e.read(t)
			m, err := Instrument(b, md.opts)
			if err != nil {
				t.Fatalf("instrument: %v", err)
			}
			orig := v.compile(t, e.file, b)
			inst := v.compile(t, md.key(e.file), m)
			for _, cl := range e.calls {
				want := run(t, ctx, v, orig, e.kind, cl, -1)
				got := run(t, ctx, v, inst, e.kind, cl, bigBudget)
				if !want.same(got) {
					t.Errorf("%v: original %v %x err=%v, instrumented %v %x err=%v",
						cl, want.results, want.output, want.err, got.results, got.output, got.err)
				}
				if errors.Is(got.err, ErrOutOfFuel) {
					t.Errorf("%v: out of fuel with %d", cl, int64(bigBudget))
				}
				if got.fuel <= 0 {
					t.Errorf("%v: fuel used %d, want > 0", cl, got.fuel)
				}
				fmt.Fprintf(&golden, "%s %v %d\n", e.name, cl, got.fuel)
			}
		})
	}
	if t.Failed() || testing.Short() {
		return
	}
	const path = "testdata/fuel.golden"
	if *update && !md.opts.Refuel {
		if err := os.WriteFile(path, []byte(golden.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got := golden.String(); got != string(want) {
		t.Errorf("fuel figures differ from %s; if the cost table changed on purpose, bump CostTableVersion and run with -update\n%s",
			path, diffLines(string(want), got))
	}
}

// diffLines lists the lines of got that are not in want.
func diffLines(want, got string) string {
	seen := map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		seen[l] = true
	}
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(got))
	for sc.Scan() {
		if !seen[sc.Text()] {
			fmt.Fprintf(&b, "+ %s\n", sc.Text())
		}
	}
	return b.String()
}

// TestDeterminism runs the same calls 100 times under several GOMAXPROCS
// settings and requires one fuel figure per call.
func TestDeterminism(t *testing.T) {
	ctx := context.Background()
	v := testEnv(t)
	cases := []struct {
		e  string
		cl call
	}{
		{"loops", call{"collatz", []uint64{837799}}},
		{"calls", call{"fib", []uint64{15}}},
		{"memory", call{"bulk", []uint64{3, 30000}}},
		{"gosha", call{"_start", []uint64{4096}}},
	}
	byName := map[string]entry{}
	for _, e := range corpus(t) {
		byName[e.name] = e
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, c := range cases {
		t.Run(c.e, func(t *testing.T) {
			e := byName[c.e]
			first := int64(-1)
			for _, md := range modes {
				m, err := Instrument(e.read(t), md.opts)
				if err != nil {
					t.Fatal(err)
				}
				inst := v.compile(t, md.key(e.file), m)
				ctx := md.ctx(ctx)
				for _, procs := range []int{1, 2, 8} {
					runtime.GOMAXPROCS(procs)
					for i := 0; i < 100; i++ {
						o := run(t, ctx, v, inst, e.kind, c.cl, bigBudget)
						if o.err != nil {
							t.Fatal(o.err)
						}
						if first < 0 {
							first = o.fuel
						}
						if o.fuel != first {
							t.Fatalf("%s, GOMAXPROCS=%d run %d: fuel %d, first run %d", md.name, procs, i, o.fuel, first)
						}
					}
				}
			}
		})
	}
}

// TestFuelLinear checks the charging algorithm on loops whose cost the cost
// table fixes: fuel is an exact affine function of the iteration count.
func TestFuelLinear(t *testing.T) {
	ctx := context.Background()
	v := testEnv(t)
	for _, tc := range []struct{ file, fn string }{
		{"testdata/wat/loops.wasm", "sum"},
		{"testdata/wat/loops.wasm", "fib"},
		{"testdata/wat/calls.wasm", "even"},
		{"testdata/wat/control.wasm", "looparams"},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			e := entry{file: tc.file}
			m, err := Instrument(e.read(t), Options{})
			if err != nil {
				t.Fatal(err)
			}
			inst := v.compile(t, tc.file+"+fuel", m)
			fuel := func(n uint64) int64 {
				o := run(t, ctx, v, inst, plain, call{tc.fn, []uint64{n}}, bigBudget)
				if o.err != nil {
					t.Fatal(o.err)
				}
				return o.fuel
			}
			a, b := fuel(2), fuel(3)
			step := b - a
			if step <= 0 {
				t.Fatalf("fuel(3)-fuel(2) = %d, want > 0", step)
			}
			for _, n := range []uint64{10, 100, 777} {
				if got, want := fuel(n), a+step*int64(n-2); got != want {
					t.Errorf("fuel(%d) = %d, want %d", n, got, want)
				}
			}
		})
	}
}

// TestRunaway checks that runaway guests stop with ErrOutOfFuel having
// spent exactly their budget, before the work that would exceed it.
func TestRunaway(t *testing.T) {
	ctx := context.Background()
	v := testEnv(t)
	for _, tc := range []struct {
		name, file, fn string
		budget         int64
	}{
		{"loop br 0", "testdata/wat/calls.wasm", "forever", 10_000_000},
		{"mutual recursion", "testdata/wat/calls.wasm", "ping", 1_000_000},
		{"huge memory.fill", "testdata/wat/memory.wasm", "hugefill", 1_000_000},
		{"zero budget", "testdata/wat/loops.wasm", "fib", 0},
		{"sha256 of 1 MiB", "testdata/gosha.wasm", "_start", 1_000_000},
	} {
		for _, md := range modes {
			t.Run(tc.name+"/"+md.name, func(t *testing.T) {
				e := entry{file: tc.file}
				m, err := Instrument(e.read(t), md.opts)
				if err != nil {
					t.Fatal(err)
				}
				k := plain
				if tc.fn == "_start" {
					k = command
				}
				inst := v.compile(t, md.key(tc.file), m)
				cl := call{tc.fn, []uint64{1 << 20}}
				o := run(t, md.ctx(ctx), v, inst, k, cl, tc.budget)
				if !errors.Is(o.err, ErrOutOfFuel) {
					t.Fatalf("err = %v, want ErrOutOfFuel", o.err)
				}
				if o.fuel != tc.budget {
					t.Errorf("fuel used %d, want the budget %d", o.fuel, tc.budget)
				}
				if len(o.output) != 0 {
					t.Errorf("output %q after running out of fuel", o.output)
				}
			})
		}
	}
	// The fill must not have happened: its charge comes first.
	t.Run("fill not done", func(t *testing.T) {
		m, err := Instrument(entry{file: "testdata/wat/memory.wasm"}.read(t), Options{})
		if err != nil {
			t.Fatal(err)
		}
		mod, err := v.rt.InstantiateModule(ctx, v.compile(t, "testdata/wat/memory.wasm+fuel", m), wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatal(err)
		}
		defer mod.Close(ctx)
		g := mod.ExportedGlobal(GlobalName).(api.MutableGlobal)
		SetBudget(g, 1_000_000)
		_, err = mod.ExportedFunction("hugefill").Call(ctx, 0)
		if err = Check(g, err); !errors.Is(err, ErrOutOfFuel) {
			t.Fatalf("err = %v, want ErrOutOfFuel", err)
		}
		if size := mod.Memory().Size(); size != 512<<16 {
			t.Fatalf("memory size %d, want the grow to have happened", size)
		}
		if b, _ := mod.Memory().ReadByte(1000); b != 0 {
			t.Errorf("memory[1000] = %d, want 0: the fill ran", b)
		}
	})
}
