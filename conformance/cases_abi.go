package conformance

import (
	"context"
	"fmt"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

func abiCases() []Case {
	return []Case{
		{ID: "abi.numeric", Section: "§6.2", Title: "numeric ABI: add_one(x) = x+1, i64 add, f64 half, divmod returns a list", run: caseNumeric},
		{ID: "abi.numeric-bad-args", Section: "§6.2", Title: "a param of the wrong kind or count: BadArgs", run: caseNumericBadArgs},
		{ID: "abi.name-swap", Section: "§6.1", Title: "a function name resolves with _ and - swapped (add-one finds add_one)", run: caseNameSwap},
		{ID: "abi.i32-range", Section: "§6.2", Title: "an i32 param takes 0 … 2^32-1 (above 2^31-1 modulo 2^32); 2^32 is BadArgs", run: caseI32Range},
		{ID: "abi.bad-output", Section: "§6.2", Title: "a NaN result, or output bytes that are not DAG-CBOR: BadOutput", run: caseBadOutput},
		{ID: "abi.initialize", Section: "§6.1", Title: "a module's _initialize runs before the task's function", run: caseInitialize},
		{ID: "abi.fresh-instance", Section: "§6.1", Title: "every task runs in a fresh instance: a global counter reads 1 every time", run: caseFreshInstance},
		{ID: "abi.dag-cbor-echo", Section: "§6.3", Title: "DAG-CBOR ABI: any IPLD value (links, bytes, maps, floats) round-trips through echo", run: caseEcho},
		{ID: "abi.wasi-command", Section: "§6.4", Title: "a WASI command's stdout is its DAG-JSON result", run: caseWasi},
		{ID: "abi.component-string", Section: "§6.5", Title: "component subset: a string arg is lowered to (ptr, len) in memory", run: caseComponent},
		{ID: "limits.out-of-fuel", Section: "§6.6", Title: "a runaway loop under meta fuel 100000: OutOfFuel, meta fuel = the budget", run: caseOutOfFuel},
		{ID: "limits.timeout", Section: "§6.6", Title: "a runaway loop under meta time 300ms: Timeout (or OutOfFuel) error receipt", run: caseTimeout},
		{ID: "limits.memory", Section: "§6.6", Title: "growing memory past meta memory: MemoryLimit", run: caseMemoryLimit},
		{ID: "limits.output", Section: "§6.6", Title: "a result over meta output: OutputTooLarge", run: caseOutputLimit},
		{ID: "errors.trap", Section: "§7", Title: "unreachable and division by zero: Trap, with a message", run: caseTrap},
		{ID: "errors.stack-overflow", Section: "§6.6", Title: "infinite recursion: Trap", run: caseStackOverflow},
		{ID: "errors.missing-export", Section: "§7", Title: "a function the module does not export: MissingExport", run: caseMissingExport},
		{ID: "errors.bad-module", Section: "§7", Title: "a blob that is not a Wasm module: BadModule", run: caseBadModule},
		{ID: "errors.blob-not-found", Section: "§7", Title: "a module CID the node cannot find: BlobNotFound", run: caseBlobNotFound},
		{ID: "errors.unsupported-command", Section: "§7", Title: "a command the node does not run: UnsupportedCommand", run: caseUnsupportedCmd},
	}
}

func caseNumeric(ctx context.Context, s *suite) error {
	x := s.n(70)
	st, err := s.run(ctx, workflow("numeric",
		wasm("add_one", s.guest, "add_one", x),
		wasm("add", s.guest, "add", int64(1)<<40, int64(-7)),
		wasm("half", s.guest, "half", float(3)),
		wasm("divmod", s.guest, "divmod", int64(17), int64(5)),
		wasm("neg", s.guest, "add_one", int64(-5)),
	), "")
	if err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		want any
	}{{"add_one", x + 1}, {"add", int64(1)<<40 - 7}, {"half", 1.5}, {"divmod", []any{int64(3), int64(2)}}, {"neg", int64(-4)}} {
		if err := wantOK(st, c.name, c.want); err != nil {
			return err
		}
	}
	return nil
}

func caseNumericBadArgs(ctx context.Context, s *suite) error {
	st, err := s.run(ctx, workflow("bad-args",
		with(wasm("string", s.guest, "add_one", "one"), "nonce", s.nonce("ba1")),
		with(wasm("count", s.guest, "add_one", int64(1), int64(2)), "nonce", s.nonce("ba2")),
		with(wasm("none", s.guest, "add_one"), "nonce", s.nonce("ba3")),
	), "")
	if err != nil {
		return err
	}
	for _, name := range []string{"string", "count", "none"} {
		if _, err := wantErr(st, name, spec.ErrNameBadArgs); err != nil {
			return err
		}
	}
	return nil
}

func caseNameSwap(ctx context.Context, s *suite) error {
	x := s.n(73)
	st, err := s.run(ctx, workflow("name-swap", wasm("t", s.guest, "add-one", x)), "")
	if err != nil {
		return err
	}
	return wantOK(st, "t", x+1)
}

func caseI32Range(ctx context.Context, s *suite) error {
	st, err := s.run(ctx, workflow("i32-range",
		wasm("max", s.guest, "add_one", int64(4294967295)),
		wasm("min", s.guest, "add_one", int64(-2147483648)),
		with(wasm("over", s.guest, "add_one", int64(4294967296)), "nonce", s.nonce("i32")),
	), "")
	if err != nil {
		return err
	}
	if err := wantOK(st, "max", int64(0)); err != nil { // 2^32-1 is -1 as an i32
		return err
	}
	if err := wantOK(st, "min", int64(-2147483647)); err != nil {
		return err
	}
	_, err = wantErr(st, "over", spec.ErrNameBadArgs)
	return err
}

func caseBadOutput(ctx context.Context, s *suite) error {
	st, err := s.run(ctx, workflow("bad-output",
		with(wasm("nan", s.guest, "nan"), "nonce", s.nonce("nan")),
		with(wasm("garbage", s.guest, "garbage"), "nonce", s.nonce("garbage")),
	), "")
	if err != nil {
		return err
	}
	for _, name := range []string{"nan", "garbage"} {
		if _, err := wantErr(st, name, spec.ErrNameBadOutput); err != nil {
			return err
		}
	}
	return nil
}

func caseInitialize(ctx context.Context, s *suite) error {
	st, err := s.limited(ctx, "initialize", wasm("t", s.comp, "initialized"), nil)
	if err != nil {
		return err
	}
	return wantOK(st, "t", int64(42))
}

func caseFreshInstance(ctx context.Context, s *suite) error {
	st, err := s.run(ctx, workflow("fresh",
		with(wasm("a", s.comp, "bump"), "nonce", s.nonce("fresh-a")),
		with(wasm("b", s.comp, "bump"), "nonce", s.nonce("fresh-b")),
		with(wasm("c", s.comp, "bump"), "nonce", s.nonce("fresh-c")),
	), "")
	if err != nil {
		return err
	}
	for _, name := range []string{"a", "b", "c"} {
		if err := wantOK(st, name, int64(1)); err != nil {
			return err
		}
	}
	return nil
}

func caseEcho(ctx context.Context, s *suite) error {
	params := []any{
		s.n(71), float(-2.25), "ünïcødé", obj{"/": obj{"bytes": "AQID"}}, link(s.guest), nil, true,
		obj{"b": int64(1), "aa": []any{obj{"x": int64(-9223372036854775808)}}},
	}
	st, err := s.run(ctx, workflow("echo", wasm("t", s.guest, "echo", params...)), "")
	if err != nil {
		return err
	}
	mod, err := cid.Decode(s.guest)
	if err != nil {
		return err
	}
	want := []any{s.n(71), -2.25, "ünïcødé", []byte{1, 2, 3}, mod, nil, true,
		map[string]any{"b": int64(1), "aa": []any{map[string]any{"x": int64(-9223372036854775808)}}}}
	return wantOK(st, "t", want)
}

func caseWasi(ctx context.Context, s *suite) error {
	st, err := s.run(ctx, workflow("wasi", wasm("t", s.wasi, "_start")), "")
	if err != nil {
		return err
	}
	return wantOK(st, "t", int64(42))
}

func caseComponent(ctx context.Context, s *suite) error {
	st, err := s.run(ctx, workflow("component",
		wasm("len", s.comp, "strlen", "hello, ipvm"),
		wasm("first", s.comp, "first_byte", "Zebra"),
	), "")
	if err != nil {
		return err
	}
	if err := wantOK(st, "len", int64(11)); err != nil {
		return err
	}
	return wantOK(st, "first", int64('Z'))
}

// limited runs one task with a nonce (so it really runs) under meta.
func (s *suite) limited(ctx context.Context, tag string, t obj, meta obj) (*stream, error) {
	if meta != nil {
		t = with(t, "meta", meta)
	}
	return s.run(ctx, workflow("limits-"+tag, with(t, "nonce", s.nonce(tag))), "")
}

// receiptMeta returns the signed meta of a task's receipt.
func (s *suite) receiptMeta(ctx context.Context, st *stream, name string) (map[string]any, error) {
	re, err := st.ev(name)
	if err != nil {
		return nil, err
	}
	rc, err := s.verifiedReceipt(ctx, re.Receipt, re.Task)
	if err != nil {
		return nil, err
	}
	return rc.Meta, nil
}

func caseOutOfFuel(ctx context.Context, s *suite) error {
	st, err := s.limited(ctx, "fuel", wasm("t", s.guest, "loop"), obj{"fuel": 100000, "time": "10s"})
	if err != nil {
		return err
	}
	if _, err := wantErr(st, "t", spec.ErrNameOutOfFuel); err != nil {
		return err
	}
	meta, err := s.receiptMeta(ctx, st, "t")
	if err != nil {
		return err
	}
	if fuelOf(meta) != 100000 {
		return fmt.Errorf("meta %s: fuel used %d, want the budget 100000 (§8.5)", spec.MustJSON(meta), fuelOf(meta))
	}
	return nil
}

// fuelOf returns the fuel a receipt's meta reports, or -1.
func fuelOf(meta map[string]any) int64 {
	if f, ok := meta["fuel"].(int64); ok {
		return f
	}
	return -1
}

func caseTimeout(ctx context.Context, s *suite) error {
	st, err := s.limited(ctx, "time", wasm("t", s.guest, "loop"), obj{"time": "300ms"})
	if err != nil {
		return err
	}
	_, err = wantErr(st, "t", spec.ErrNameTimeout, spec.ErrNameOutOfFuel)
	return err
}

func caseMemoryLimit(ctx context.Context, s *suite) error {
	st, err := s.limited(ctx, "memory", wasm("t", s.guest, "grow"), obj{"memory": 4 << 20, "fuel": 100000000})
	if err != nil {
		return err
	}
	_, err = wantErr(st, "t", spec.ErrNameMemoryLimit)
	return err
}

func caseOutputLimit(ctx context.Context, s *suite) error {
	st, err := s.limited(ctx, "output", wasm("t", s.guest, "echo", strings.Repeat("x", 4096)), obj{"output": 1024})
	if err != nil {
		return err
	}
	_, err = wantErr(st, "t", spec.ErrNameOutputTooLarge)
	return err
}

func caseTrap(ctx context.Context, s *suite) error {
	st, err := s.run(ctx, workflow("trap",
		with(wasm("unreachable", s.guest, "trap"), "nonce", s.nonce("trap1")),
		with(wasm("div0", s.guest, "div", int64(1), int64(0)), "nonce", s.nonce("trap2")),
	), "")
	if err != nil {
		return err
	}
	for _, name := range []string{"unreachable", "div0"} {
		f, err := wantErr(st, name, spec.ErrNameTrap)
		if err != nil {
			return err
		}
		if f.Message == "" {
			return fmt.Errorf("task %q: Trap without a message", name)
		}
	}
	return nil
}

func caseStackOverflow(ctx context.Context, s *suite) error {
	st, err := s.limited(ctx, "recurse", wasm("t", s.guest, "recurse", int64(0)), nil)
	if err != nil {
		return err
	}
	_, err = wantErr(st, "t", spec.ErrNameTrap)
	return err
}

func caseMissingExport(ctx context.Context, s *suite) error {
	st, err := s.limited(ctx, "missing", wasm("t", s.guest, "no_such_function", int64(1)), nil)
	if err != nil {
		return err
	}
	_, err = wantErr(st, "t", spec.ErrNameMissingExport)
	return err
}

func caseBadModule(ctx context.Context, s *suite) error {
	c, err := s.putBlob(ctx, []byte(fmt.Sprintf("not a wasm module %d", s.salt)))
	if err != nil {
		return err
	}
	st, err := s.limited(ctx, "bad-module", wasm("t", c, "add_one", int64(1)), nil)
	if err != nil {
		return err
	}
	_, err = wantErr(st, "t", spec.ErrNameBadModule)
	return err
}

func caseBlobNotFound(ctx context.Context, s *suite) error {
	missing := spec.Sum(cid.Raw, []byte(fmt.Sprintf("never uploaded %d", s.salt)))
	st, err := s.limited(ctx, "blob-not-found", wasm("t", missing.String(), "add_one", int64(1)), obj{"time": "5s"})
	if err != nil {
		return err
	}
	_, err = wantErr(st, "t", spec.ErrNameBlobNotFound)
	return err
}

func caseUnsupportedCmd(ctx context.Context, s *suite) error {
	st, err := s.run(ctx, workflow("unsupported", obj{"name": "t", "cmd": "/conformance/no-such-command", "args": obj{"x": int64(1)}, "nonce": s.nonce("cmd")}), "")
	if err != nil {
		return err
	}
	_, err = wantErr(st, "t", spec.ErrNameUnsupportedCommand)
	return err
}

func fuelCases() []Case {
	return []Case{
		{ID: "fuel.cost-table", Section: "§8.4", Title: "add_one costs exactly 3 fuel (local.get, i32.const, i32.add) and meta names ipvm-fuel-v1", run: caseFuelCost},
		{ID: "fuel.loop-charges", Section: "§8.3", Title: "a loop pays its body's cost at every iteration: spin(10) costs 1 + 10×8 = 81", run: caseFuelLoop},
		{ID: "fuel.dynamic-charge", Section: "§8.3", Title: "memory.grow pays 1024 per page asked for: grow1 costs 11 + 1024 = 1035", run: caseFuelGrow},
		{ID: "fuel.deterministic", Section: "§8", Title: "the same work run twice (two nonces) reports the same fuel", run: caseFuelDeterministic},
	}
}

// exactFuel runs t (with a nonce, so it really runs) and checks the fuel
// its receipt reports; it returns the receipt's meta.
func (s *suite) exactFuel(ctx context.Context, tag string, t obj, want int64) (map[string]any, error) {
	st, err := s.limited(ctx, tag, t, nil)
	if err != nil {
		return nil, err
	}
	re, err := st.ev(t["name"].(string))
	if err != nil {
		return nil, err
	}
	if r, err := outcome(re); err != nil || !r.IsOk() {
		return nil, fmt.Errorf("task failed: %s (%v)", re.Out, err)
	}
	meta, err := s.receiptMeta(ctx, st, "t")
	if err != nil {
		return nil, err
	}
	if fuelOf(meta) != want {
		return meta, fmt.Errorf("meta %s: fuel %d, want %d", spec.MustJSON(meta), fuelOf(meta), want)
	}
	return meta, nil
}

func caseFuelLoop(ctx context.Context, s *suite) error {
	_, err := s.exactFuel(ctx, "fuel-loop", wasm("t", s.guest, "spin", int64(10)), 81)
	return err
}

func caseFuelGrow(ctx context.Context, s *suite) error {
	_, err := s.exactFuel(ctx, "fuel-grow", wasm("t", s.guest, "grow1"), 1035)
	return err
}

func caseFuelCost(ctx context.Context, s *suite) error {
	meta, err := s.exactFuel(ctx, "fuel-cost", wasm("t", s.guest, "add_one", int64(1)), 3)
	if err != nil {
		return err
	}
	for _, v := range meta {
		if v == "ipvm-fuel-v1" {
			return nil
		}
	}
	return fmt.Errorf("meta %s does not name the cost table ipvm-fuel-v1", spec.MustJSON(meta))
}

func caseFuelDeterministic(ctx context.Context, s *suite) error {
	var fuel []int64
	for _, tag := range []string{"det-a", "det-b"} {
		st, err := s.limited(ctx, tag, wasm("t", s.guest, "echo", s.n(72), "some", []any{int64(1), int64(2)}), nil)
		if err != nil {
			return err
		}
		meta, err := s.receiptMeta(ctx, st, "t")
		if err != nil {
			return err
		}
		fuel = append(fuel, fuelOf(meta))
	}
	if fuel[0] <= 0 || fuel[0] != fuel[1] {
		return fmt.Errorf("fuel %d then %d for the same work", fuel[0], fuel[1])
	}
	return nil
}
