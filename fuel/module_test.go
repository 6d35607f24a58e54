package fuel

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

func TestLEB(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		bits int // 0: u32
		want int64
		err  bool
	}{
		{"u32 zero", []byte{0x00}, 0, 0, false},
		{"u32 max", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 0, math.MaxUint32, false},
		{"u32 padded zero", []byte{0x80, 0x80, 0x00}, 0, 0, false},
		{"u32 overflow", []byte{0xff, 0xff, 0xff, 0xff, 0x1f}, 0, 0, true},
		{"u32 too long", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, 0, true},
		{"u32 truncated", []byte{0x80}, 0, 0, true},
		{"u32 empty", nil, 0, 0, true},
		{"s32 -1", []byte{0x7f}, 32, -1, false},
		{"s32 min", []byte{0x80, 0x80, 0x80, 0x80, 0x78}, 32, math.MinInt32, false},
		{"s32 max", []byte{0xff, 0xff, 0xff, 0xff, 0x07}, 32, math.MaxInt32, false},
		{"s32 overflow", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 32, 0, true},
		{"s32 bad sign bits", []byte{0x80, 0x80, 0x80, 0x80, 0x70}, 32, 0, true},
		{"s33 block type empty", []byte{0x40}, 33, -64, false},
		{"s33 type index", []byte{0x85, 0x01}, 33, 133, false},
		{"s64 min", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}, 64, math.MinInt64, false},
		{"s64 max", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}, 64, math.MaxInt64, false},
		{"s64 overflow", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 64, 0, true},
		{"s64 too long", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 64, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &reader{b: tc.in}
			var got int64
			var err error
			if tc.bits == 0 {
				var u uint32
				u, err = r.u32()
				got = int64(u)
			} else {
				got, err = r.signed(tc.bits)
			}
			if tc.err {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil || got != tc.want || !r.eof() {
				t.Fatalf("got %d, %v (eof %v), want %d", got, err, r.eof(), tc.want)
			}
		})
	}
}

func TestLEBRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 10000; i++ {
		u := rng.Uint32() >> rng.IntN(32)
		r := &reader{b: appendU32(nil, u)}
		if got, err := r.u32(); err != nil || got != u || !r.eof() {
			t.Fatalf("u32 %d: got %d, %v", u, got, err)
		}
		s := int64(rng.Uint64()) >> rng.IntN(64)
		r = &reader{b: appendS64(nil, s)}
		if got, err := r.signed(64); err != nil || got != s || !r.eof() {
			t.Fatalf("s64 %d: got %d, %v", s, got, err)
		}
		s32 := int64(int32(s))
		r = &reader{b: appendS64(nil, s32)}
		if got, err := r.signed(32); err != nil || got != s32 || !r.eof() {
			t.Fatalf("s32 %d: got %d, %v", s32, got, err)
		}
	}
}

// Helpers that build small binaries by hand.

func sec(id byte, payload ...byte) []byte {
	return append(append([]byte{id}, appendU32(nil, uint32(len(payload)))...), payload...)
}

func wasmOf(sections ...[]byte) []byte {
	b := append([]byte(nil), header...)
	for _, s := range sections {
		b = append(b, s...)
	}
	return b
}

// oneFunc is a module with one function of type [] -> [] and the given
// body (local declarations included).
func oneFunc(body ...byte) []byte {
	code := append([]byte{0x01}, appendU32(nil, uint32(len(body)))...)
	code = append(code, body...)
	return wasmOf(
		sec(secType, 0x01, 0x60, 0x00, 0x00),
		sec(secFunction, 0x01, 0x00),
		sec(secCode, code...),
	)
}

func TestInstrumentErrors(t *testing.T) {
	valid := oneFunc(0x00, 0x0b)
	exportsFuel := wasmOf(
		sec(secType, 0x01, 0x60, 0x00, 0x00),
		sec(secFunction, 0x01, 0x00),
		sec(secExport, append(append([]byte{0x01, byte(len(GlobalName))}, GlobalName...), kindFunc, 0x00)...),
		sec(secCode, 0x01, 0x02, 0x00, 0x0b),
	)
	refuel := Options{Refuel: true}
	importsFuel := append([]byte{0x01, byte(len(ImportModule))}, ImportModule...)
	importsFuel = append(append(importsFuel, byte(len(ImportName))), ImportName...)
	importsFuel = append(importsFuel, kindGlobal, 0x7f, 0x00)
	for _, tc := range []struct {
		name string
		in   []byte
		want error
		msg  string
		opts Options
	}{
		{"empty", nil, ErrMalformed, "not a Wasm binary", Options{}},
		{"not wasm", []byte("\x7fELF\x02\x01\x01\x00"), ErrMalformed, "not a Wasm binary", Options{}},
		{"component", []byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00}, ErrUnsupported, "version", Options{}},
		{"truncated section", valid[:len(valid)-1], ErrMalformed, "past end", Options{}},
		{"section out of order", wasmOf(sec(secFunction, 0x00), sec(secType, 0x00)), ErrMalformed, "out of order", Options{}},
		{"duplicate section", wasmOf(sec(secType, 0x00), sec(secType, 0x00)), ErrMalformed, "out of order", Options{}},
		{"tag section", wasmOf(sec(13, 0x00)), ErrUnsupported, "section id 13", Options{}},
		{"simd opcode", oneFunc(0x00, 0xfd, 0x0c, 0x0b), ErrUnsupported, "unsupported opcode 0xfd at offset", Options{}},
		{"threads opcode", oneFunc(0x00, 0xfe, 0x03, 0x00, 0x0b), ErrUnsupported, "unsupported opcode 0xfe at offset", Options{}},
		{"exceptions opcode", oneFunc(0x00, 0x08, 0x00, 0x0b), ErrUnsupported, "unsupported opcode 0x08 at offset", Options{}},
		{"unknown 0xfc", oneFunc(0x00, 0xfc, 0x12, 0x0b), ErrUnsupported, "unsupported opcode 0xfc 18 at offset", Options{}},
		{"v128 local", oneFunc(0x01, 0x01, 0x7b, 0x0b), ErrUnsupported, "local type 0x7b", Options{}},
		{"body without end", oneFunc(0x00, 0x01), ErrMalformed, "without end", Options{}},
		{"code after end", oneFunc(0x00, 0x0b, 0x01), ErrMalformed, "after function end", Options{}},
		{"else outside if", oneFunc(0x00, 0x05, 0x0b), ErrMalformed, "else outside if", Options{}},
		{"truncated immediate", oneFunc(0x00, 0x41), ErrMalformed, "unexpected end", Options{}},
		{"code count", wasmOf(sec(secType, 0x01, 0x60, 0x00, 0x00), sec(secFunction, 0x02, 0x00, 0x00),
			sec(secCode, 0x01, 0x02, 0x00, 0x0b)), ErrMalformed, "code count", Options{}},
		{"no code", wasmOf(sec(secType, 0x01, 0x60, 0x00, 0x00), sec(secFunction, 0x01, 0x00)), ErrMalformed, "without a code section", Options{}},
		{"bad type index", wasmOf(sec(secType, 0x01, 0x60, 0x00, 0x00), sec(secFunction, 0x01, 0x05),
			sec(secCode, 0x01, 0x02, 0x00, 0x0b)), ErrMalformed, "type 5", Options{}},
		{"shared memory import", wasmOf(sec(secImport, 0x01, 0x01, 'a', 0x01, 'b', kindMemory, 0x03, 0x01, 0x02)), ErrUnsupported, "shared", Options{}},
		{"gc type", wasmOf(sec(secType, 0x01, 0x5f, 0x00)), ErrUnsupported, "type form", Options{}},
		{"global init opcode", wasmOf(sec(secGlobal, 0x01, 0x7f, 0x00, 0xfd, 0x0b)), ErrUnsupported, "constant expression", Options{}},
		{"export name taken", exportsFuel, ErrNameTaken, GlobalName, Options{}},
		{"many locals", oneFunc(0x01, 0xff, 0xff, 0x03, 0x7f, 0x0b), ErrUnsupported, "locals", Options{}},
		{"global.set of the fuel global", oneFunc(0x00, 0x42, 0x00, 0x24, 0x00, 0x0b), ErrMalformed, "global index 0 of 0", Options{}},
		{"call out of range", oneFunc(0x00, 0x10, 0x05, 0x0b), ErrMalformed, "function index 5 of 1", Options{}},
		{"call out of range, refuel", oneFunc(0x00, 0x10, 0x01, 0x0b), ErrMalformed, "function index 1 of 1", refuel},
		{"imports from the refuel module", wasmOf(sec(secImport, importsFuel...)), ErrNameTaken, ImportModule, refuel},
		{"element flags", wasmOf(sec(secElement, 0x01, 0x08)), ErrUnsupported, "element segment flags", refuel},
		{"element index out of range", wasmOf(sec(secElement, 0x01, 0x01, 0x00, 0x01, 0x00)), ErrMalformed, "function index 0 of 0", refuel},
		{"start out of range", wasmOf(sec(secStart, 0x03)), ErrMalformed, "function index 3 of 0", refuel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Instrument(tc.in, tc.opts)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.want, tc.msg)
			}
			if out != nil {
				t.Fatal("output with an error")
			}
		})
	}
}

// sectionsOf returns the sections of b by id (custom sections by order).
func sectionsOf(t *testing.T, b []byte) *module {
	t.Helper()
	m, err := parseModule(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSectionsKept checks that Instrument rewrites only the global, export
// and code sections and keeps every other section byte for byte, in order.
func TestSectionsKept(t *testing.T) {
	for _, e := range corpus(t) {
		t.Run(e.name, func(t *testing.T) {
			b := e.read(t)
			out, err := Instrument(b, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var kept, got [][]byte
			for _, s := range sectionsOf(t, b).sections {
				if s.id != secGlobal && s.id != secExport && s.id != secCode {
					kept = append(kept, append([]byte{s.id}, s.payload...))
				}
			}
			m := sectionsOf(t, out)
			for _, s := range m.sections {
				if s.id != secGlobal && s.id != secExport && s.id != secCode {
					got = append(got, append([]byte{s.id}, s.payload...))
				}
			}
			if len(kept) != len(got) {
				t.Fatalf("%d kept sections, want %d", len(got), len(kept))
			}
			for i := range kept {
				if !bytes.Equal(kept[i], got[i]) {
					t.Errorf("section %d (id %d) changed", i, kept[i][0])
				}
			}
			if m.find(secGlobal) < 0 || m.find(secExport) < 0 {
				t.Error("no global or export section")
			}
			again, err := Instrument(b, Options{})
			if err != nil || !bytes.Equal(again, out) {
				t.Error("Instrument is not a function of its input")
			}
		})
	}
}

// TestBareModule checks that a module without global and export sections
// gets them in the right place, that bodies without charges are kept, and
// that the export is the new mutable i64 global.
func TestBareModule(t *testing.T) {
	b, err := os.ReadFile("testdata/wat/bare.wasm")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Instrument(b, Options{InitialFuel: 77})
	if err != nil {
		t.Fatal(err)
	}
	var ids []byte
	for _, s := range sectionsOf(t, out).sections {
		ids = append(ids, s.id)
	}
	if want := []byte{secType, secFunction, secGlobal, secExport, secCode}; !bytes.Equal(ids[:5], want) {
		t.Fatalf("section ids %v, want %v first", ids, want)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	mod, err := rt.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := mod.ExportedGlobal(GlobalName).(api.MutableGlobal)
	if !ok || g.Type() != api.ValueTypeI64 || Remaining(g) != 77 {
		t.Fatalf("fuel global %v (mutable %v)", g, ok)
	}
}

// TestStartAndImportedGlobals checks a module that imports globals and has
// a start function: the fuel global lands after all of them, the start
// function is charged from InitialFuel, and a zero InitialFuel stops it.
func TestStartAndImportedGlobals(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	prov, err := os.ReadFile("testdata/wat/provider.wasm")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.InstantiateWithConfig(ctx, prov, wazero.NewModuleConfig().WithName("env")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("testdata/wat/start.wasm")
	if err != nil {
		t.Fatal(err)
	}
	orig, err := rt.InstantiateWithConfig(ctx, b, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	want, err := orig.ExportedFunction("globals").Call(ctx)
	if err != nil {
		t.Fatal(err)
	}
	orig.Close(ctx)

	if _, err := rt.InstantiateWithConfig(ctx, mustInstrument(t, b, 0), wazero.NewModuleConfig().WithName("")); err == nil {
		t.Fatal("start function ran with no fuel")
	}
	const initial = 100_000
	mod, err := rt.InstantiateWithConfig(ctx, mustInstrument(t, b, initial), wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	g := mod.ExportedGlobal(GlobalName).(api.MutableGlobal)
	if rem := Remaining(g); rem <= 0 || rem >= initial {
		t.Fatalf("fuel after start %d, want in (0, %d)", rem, initial)
	}
	if own := mod.ExportedGlobal("own"); own.Get() != 5 || own.Type() != api.ValueTypeI64 {
		t.Fatalf("own global %d, the fuel global took its place", own.Get())
	}
	SetBudget(g, 1000)
	got, err := mod.ExportedFunction("globals").Call(ctx)
	if err != nil || got[0] != want[0]+1 { // the imported global was bumped once already
		t.Fatalf("globals() = %v, %v, want %d", got, err, want[0]+1)
	}
	if used := Used(1000, g); used <= 0 {
		t.Fatalf("used %d", used)
	}
}

func mustInstrument(t *testing.T, b []byte, initial int64) []byte {
	t.Helper()
	out, err := Instrument(b, Options{InitialFuel: initial})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCheck covers the host helpers on traps that are not out of fuel.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	v := testEnv(t)
	m := mustInstrument(t, entry{file: "testdata/wat/numeric.wasm"}.read(t), 0)
	c := v.compile(t, "testdata/wat/numeric.wasm+fuel", m)
	for _, tc := range []struct {
		cl      call
		budget  int64
		trap    bool
		outOfFu bool
	}{
		{call{"idiv", []uint64{7, 2}}, 100, false, false},
		{call{"idiv", []uint64{7, 0}}, 100, true, false},
		{call{"trunc", []uint64{f32(float32(math.NaN()))}}, 100, true, false},
		{call{"idiv", []uint64{7, 2}}, 3, true, true},
		{call{"idiv", []uint64{7, 2}}, 0, true, true},
	} {
		o := run(t, ctx, v, c, plain, tc.cl, tc.budget)
		if (o.err != nil) != tc.trap || errors.Is(o.err, ErrOutOfFuel) != tc.outOfFu {
			t.Errorf("%v budget %d: err %v", tc.cl, tc.budget, o.err)
		}
		if o.fuel < 0 || o.fuel > max(tc.budget, 0) {
			t.Errorf("%v budget %d: used %d", tc.cl, tc.budget, o.fuel)
		}
	}
	if err := Check(nil, nil); err != nil {
		t.Fatal(err)
	}
}

// cell is a Global in a variable.
type cell uint64

func (c *cell) Get() uint64  { return uint64(*c) }
func (c *cell) Set(v uint64) { *c = cell(v) }

func TestHelpers(t *testing.T) {
	var g cell
	SetBudget(&g, -5)
	if Remaining(&g) != 0 {
		t.Fatalf("negative budget stored as %d", Remaining(&g))
	}
	SetBudget(&g, 100)
	g.Set(uint64(30))
	if u := Used(100, &g); u != 70 {
		t.Fatalf("used %d", u)
	}
	trap := errors.New("wasm error: unreachable")
	if err := Check(&g, trap); err != trap {
		t.Fatalf("trap with fuel left became %v", err)
	}
	g.Set(uint64(math.MaxUint64)) // -1
	if err := Check(&g, trap); !errors.Is(err, ErrOutOfFuel) || !strings.Contains(err.Error(), trap.Error()) {
		t.Fatalf("Check = %v", err)
	}
	if u := Used(100, &g); u != 100 {
		t.Fatalf("used %d after running out, want the budget", u)
	}
}
