package fuel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// TestTank checks the accounting of Refuel mode's host side: slices, what
// a charge lacked, the end of the budget, and fuel used.
func TestTank(t *testing.T) {
	for _, tc := range []struct {
		name          string
		budget, slice int64
		start         int64
		in, out       []int64 // values passed to Refuel and returned
		exhausted     bool
		used          int64 // Used(last out)
	}{
		{"slices", 100, 30, 30, []int64{-1, -5}, []int64{30, 30}, false, 30 + 31 + 35 - 30},
		{"charge bigger than a slice", 100, 10, 10, []int64{-40}, []int64{10}, false, 10 + 50 - 10},
		{"last slice is short", 50, 30, 30, []int64{-2}, []int64{18}, false, 50 - 18},
		{"runs out exactly", 50, 30, 30, []int64{-20, -1}, []int64{0, -1}, true, 50},
		{"budget zero", 0, 30, 0, []int64{-1}, []int64{-1}, true, 0},
		{"negative budget", -5, 30, 0, []int64{-1}, []int64{-1}, true, 0},
		{"not negative", 10, 30, 10, []int64{3}, []int64{3}, false, 10 - 3},
		{"default slice", 1 << 40, 0, DefaultSlice, []int64{-1}, []int64{DefaultSlice}, false, DefaultSlice + 1 + DefaultSlice - DefaultSlice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tk := NewTank(tc.budget, tc.slice)
			if got := tk.Start(); got != tc.start {
				t.Fatalf("Start = %d, want %d", got, tc.start)
			}
			var last int64
			for i, v := range tc.in {
				last = tk.Refuel(v)
				if last != tc.out[i] {
					t.Fatalf("Refuel(%d) = %d, want %d", v, last, tc.out[i])
				}
			}
			if tk.Exhausted() != tc.exhausted {
				t.Errorf("Exhausted = %v", tk.Exhausted())
			}
			if got := tk.Used(last); got != tc.used {
				t.Errorf("Used = %d, want %d", got, tc.used)
			}
			trap := errors.New("trap")
			if err := tk.Check(trap); errors.Is(err, ErrOutOfFuel) != tc.exhausted {
				t.Errorf("Check = %v", err)
			}
			if tk.Check(nil) != nil {
				t.Error("Check(nil) != nil")
			}
		})
	}
}

// TestRenumber runs a module with a function import, a start section,
// element segments, ref.func in code and globals, and exported functions,
// instrumented in each mode, against the original.
func TestRenumber(t *testing.T) {
	ctx := context.Background()
	src, err := os.ReadFile("testdata/wat/renumber.wasm")
	if err != nil {
		t.Fatal(err)
	}
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	_, err = rt.NewHostModuleBuilder("env").
		NewFunctionBuilder().WithFunc(func(x int32) int32 { return 2 * x }).Export("twice").
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rt.NewHostModuleBuilder(ImportModule).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, v int64) int64 {
		return ctx.Value(tankKey{}).(*Tank).Refuel(v)
	}).Export(ImportName).
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	calls := []call{{"run", []uint64{0}}, {"run", []uint64{1}}, {"run", []uint64{2}}, {"run", []uint64{3}}, {"gf", nil}, {"three", nil}, {"imp", []uint64{5}}}
	results := func(wasm []byte, refuel bool) ([]string, int64) {
		tank := NewTank(1_000_000, 3)
		cctx := context.WithValue(ctx, tankKey{}, tank)
		mod, err := rt.InstantiateWithConfig(cctx, wasm, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatalf("instantiate: %v", err)
		}
		defer mod.Close(ctx)
		g, _ := mod.ExportedGlobal(GlobalName).(api.MutableGlobal)
		if g != nil {
			g.Set(uint64(tank.Start()))
			if !refuel {
				SetBudget(g, 1_000_000)
			}
		}
		var out []string
		for _, cl := range calls {
			res, err := mod.ExportedFunction(cl.fn).Call(cctx, cl.args...)
			out = append(out, cl.String()+"="+fmtResult(res, err))
		}
		switch {
		case g == nil:
			return out, 0
		case refuel:
			return out, tank.Used(Remaining(g))
		}
		return out, Used(1_000_000, g)
	}
	want, _ := results(src, false)
	var fuels []int64
	for _, md := range modes[:2] {
		// Refuel mode's start function runs on slices from the tank.
		initial := int64(1000)
		if md.opts.Refuel {
			initial = 0
		}
		m, err := Instrument(src, Options{Refuel: md.opts.Refuel, InitialFuel: initial})
		if err != nil {
			t.Fatal(err)
		}
		got, fuel := results(m, md.opts.Refuel)
		if len(got) != len(want) {
			t.Fatalf("%s: %v, want %v", md.name, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: %s, want %s", md.name, got[i], want[i])
			}
		}
		fuels = append(fuels, fuel)
	}
	if fuels[0] <= 0 || fuels[0] != fuels[1] {
		t.Errorf("fuel used %v, want the same figure > 0 in both modes", fuels)
	}
}

func fmtResult(res []uint64, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprint(res)
}

// TestRefuelSections checks which sections Refuel mode rewrites: the name
// section is dropped, other custom sections and the sections without
// function indices are kept byte for byte, and the import comes last.
func TestRefuelSections(t *testing.T) {
	custom := func(name string, payload ...byte) []byte {
		return sec(secCustom, append(append([]byte{byte(len(name))}, name...), payload...)...)
	}
	b := wasmOf(
		sec(secType, 0x01, 0x60, 0x00, 0x00),
		sec(secImport, 0x01, 0x01, 'a', 0x01, 'b', kindFunc, 0x00),
		sec(secFunction, 0x01, 0x00),
		sec(secMemory, 0x01, 0x00, 0x01),
		custom("name", 0x01, 0x04, 0x01, 0x01, 0x01, 'f'), // function 1 is "f"
		sec(secCode, 0x01, 0x04, 0x00, 0x10, 0x00, 0x0b),  // call 0 (the import)
		custom("keep", 0x01, 0x02),
	)
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	for _, refuel := range []bool{false, true} {
		out, err := Instrument(b, Options{Refuel: refuel})
		if err != nil {
			t.Fatal(err)
		}
		m := sectionsOf(t, out)
		var customs []string
		for _, s := range m.sections {
			if s.id == secCustom {
				r := &reader{b: s.payload}
				n, _ := r.name()
				customs = append(customs, n)
			}
		}
		want := "[name keep]"
		if refuel {
			want = "[keep]"
		}
		if fmt.Sprint(customs) != want {
			t.Errorf("refuel=%v: custom sections %v, want %s", refuel, customs, want)
		}
		if mem := m.sections[m.find(secMemory)].payload; !bytes.Equal(mem, []byte{0x01, 0x00, 0x01}) {
			t.Errorf("refuel=%v: memory section %x changed", refuel, mem)
		}
		imp := m.sections[m.find(secImport)].payload
		wantImports := byte(1)
		if refuel {
			wantImports = 2
			if !bytes.HasSuffix(imp, append([]byte(ImportName), kindFunc, 0x01)) {
				t.Errorf("import section %x does not end with %s of type 1", imp, ImportName)
			}
		}
		if imp[0] != wantImports {
			t.Errorf("refuel=%v: %d imports, want %d", refuel, imp[0], wantImports)
		}
		if err := validates(rt, out); err != nil {
			t.Errorf("refuel=%v: %v", refuel, err)
		}
	}
}
