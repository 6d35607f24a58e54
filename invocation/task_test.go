package invocation

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

const modCID = "bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq"

func mustCID(t testing.TB, s string) cid.Cid {
	t.Helper()
	c, err := cid.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// taskFromJSON parses a task's DAG-JSON wire form.
func taskFromJSON(t *testing.T, s string) Task {
	t.Helper()
	v, err := spec.DecodeJSON([]byte(s), spec.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	task, err := FromIPLD(v)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func taskCID(t *testing.T, task Task) cid.Cid {
	t.Helper()
	c, err := task.CID()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSameTaskSameCID writes one task in several ways: key order,
// whitespace, escapes and base64 padding do not change its CID, and the
// CID is the one NewWasm gives.
// Spec: §2.2
func TestSameTaskSameCID(t *testing.T) {
	variants := []string{
		`{"sub":null,"cmd":"/wasm/run","args":{"mod":{"/":"` + modCID + `"},"fun":"add_one","params":[1,{"a":1,"bb":2}]},"nonce":{"/":{"bytes":""}}}`,
		`{"nonce":{"/":{"bytes":""}},"args":{"params":[1,{"bb":2,"a":1}],"fun":"add_one","mod":{"/":"` + modCID + `"}},"cmd":"/wasm/run","sub":null}`,
		"{\n  \"cmd\" : \"/wasm/run\",\n\t\"sub\": null,\r\n \"args\": { \"fun\": \"add\\u005fone\", \"mod\": {\"/\": \"" + modCID + "\"},\n \"params\": [ 1 , { \"a\" : 1 , \"bb\" : 2 } ] },\n \"nonce\": {\"/\": {\"bytes\": \"\"}} }\n",
	}
	want := taskCID(t, NewWasm(mustCID(t, modCID), "add_one", int64(1), map[string]any{"a": 1, "bb": int64(2)}))
	for i, v := range variants {
		if got := taskCID(t, taskFromJSON(t, v)); !got.Equals(want) {
			t.Errorf("variant %d: CID %s, want %s", i, got, want)
		}
	}
	if p := want.Prefix(); p.Version != 1 || p.Codec != cid.DagCBOR || p.MhType != 0x12 || p.MhLength != 32 {
		t.Fatalf("prefix %+v, want CIDv1 dag-cbor sha2-256", p)
	}
}

// TestAnyChangeNewCID changes one thing at a time and expects a new CID
// for each, all distinct.
// Spec: §2.2
func TestAnyChangeNewCID(t *testing.T) {
	mod := mustCID(t, modCID)
	base := func() Task { return NewWasm(mod, "add_one", int64(1)) }
	other, _, err := spec.CIDOf("other module")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		f    func(*Task)
	}{
		{"base", func(*Task) {}},
		{"sub", func(t *Task) { t.Sub = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK" }},
		{"cmd", func(t *Task) { t.Cmd = "/wasm/run2" }},
		{"fun", func(t *Task) { t.Args["fun"] = "add_two" }},
		{"param value", func(t *Task) { t.Args["params"] = []any{int64(2)} }},
		{"param int to float", func(t *Task) { t.Args["params"] = []any{1.0} }},
		{"param int to string", func(t *Task) { t.Args["params"] = []any{"1"} }},
		{"extra param", func(t *Task) { t.Args["params"] = []any{int64(1), nil} }},
		{"no params", func(t *Task) { t.Args["params"] = []any{} }},
		{"mod", func(t *Task) { t.Args["mod"] = other }},
		{"extra arg", func(t *Task) { t.Args["meta"] = map[string]any{} }},
		{"nonce", func(t *Task) { t.Nonce = []byte{1} }},
		{"other nonce", func(t *Task) { t.Nonce = []byte{2} }},
	}
	seen := map[string]string{}
	for _, tc := range cases {
		task := base()
		tc.f(&task)
		c := taskCID(t, task).String()
		if prev, dup := seen[c]; dup {
			t.Errorf("%s and %s share CID %s", tc.name, prev, c)
		}
		seen[c] = tc.name
	}
}

// TestTaskWireForm checks the four-field form and the round trip through
// DAG-CBOR.
// Spec: §2.1
func TestTaskWireForm(t *testing.T) {
	task := NewWasm(mustCID(t, modCID), "f", int64(1), "x")
	task.Sub = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
	task.Nonce = []byte("n")
	b, err := task.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !spec.Equal(back.IPLD(), task.IPLD()) {
		t.Fatalf("round trip: %s", spec.MustJSON(back.IPLD()))
	}
	if back.Pure() || !NewWasm(mustCID(t, modCID), "f").Pure() {
		t.Fatal("Pure: a nonce makes a task impure, no nonce keeps it pure")
	}
	// A zero Task has null sub, empty args and empty nonce.
	zero := Task{Cmd: "/x"}.IPLD().(map[string]any)
	if zero["sub"] != nil || len(zero["args"].(map[string]any)) != 0 || len(zero["nonce"].([]byte)) != 0 {
		t.Fatalf("zero task form %v", zero)
	}
	w, err := back.Wasm()
	if err != nil || w.Fun != "f" || len(w.Params) != 2 || !w.Mod.Equals(mustCID(t, modCID)) {
		t.Fatalf("Wasm() = %+v, %v", w, err)
	}
}

// TestFromIPLDRefuses lists wrong shapes; each error names the field.
// Spec: §2.1
func TestFromIPLDRefuses(t *testing.T) {
	mod := mustCID(t, modCID)
	good := func() map[string]any {
		return map[string]any{"sub": nil, "cmd": "/wasm/run", "args": map[string]any{}, "nonce": []byte{}}
	}
	cases := []struct {
		name  string
		v     any
		field string
	}{
		{"not a map", []any{}, "map"},
		{"missing nonce", func() any { m := good(); delete(m, "nonce"); return m }(), "keys"},
		{"extra key", func() any { m := good(); m["iss"] = "x"; return m }(), "keys"},
		{"sub empty string", func() any { m := good(); m["sub"] = ""; return m }(), "sub"},
		{"sub an int", func() any { m := good(); m["sub"] = int64(1); return m }(), "sub"},
		{"cmd empty", func() any { m := good(); m["cmd"] = ""; return m }(), "cmd"},
		{"cmd null", func() any { m := good(); m["cmd"] = nil; return m }(), "cmd"},
		{"args a list", func() any { m := good(); m["args"] = []any{}; return m }(), "args"},
		{"nonce a string", func() any { m := good(); m["nonce"] = "abc"; return m }(), "nonce"},
		{"nonce null", func() any { m := good(); m["nonce"] = nil; return m }(), "nonce"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromIPLD(tc.v)
			if !errors.Is(err, ErrBadTask) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("got %v, want ErrBadTask naming %s", err, tc.field)
			}
		})
	}
	wasm := []struct {
		name  string
		args  map[string]any
		field string
	}{
		{"mod a string", map[string]any{"mod": modCID, "fun": "f"}, "args.mod"},
		{"fun missing", map[string]any{"mod": mod}, "args.fun"},
		{"params a map", map[string]any{"mod": mod, "fun": "f", "params": map[string]any{}}, "args.params"},
	}
	for _, tc := range wasm {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Task{Cmd: CmdWasmRun, Args: tc.args}.Wasm()
			if !errors.Is(err, ErrBadTask) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("got %v, want ErrBadTask naming %s", err, tc.field)
			}
		})
	}
	if _, err := (Task{Cmd: "/other"}).Wasm(); !errors.Is(err, ErrBadTask) {
		t.Fatalf("Wasm of another command: %v", err)
	}
}

// TestDecodeRefusesNonCanonical: a task's bytes must be canonical, or two
// encodings of one task would have two CIDs.
// Spec: §2.2
func TestDecodeRefusesNonCanonical(t *testing.T) {
	b, err := NewWasm(mustCID(t, modCID), "f").Encode()
	if err != nil {
		t.Fatal(err)
	}
	// Swap to a long map head: 0xa4 -> 0xb8 0x04.
	long := append([]byte{0xb8, 0x04}, b[1:]...)
	if _, err := Decode(long); !errors.Is(err, ErrBadTask) || !strings.Contains(err.Error(), "not canonical") {
		t.Fatalf("long head: %v", err)
	}
	if _, err := Decode(append(b, 0)); !errors.Is(err, ErrBadTask) {
		t.Fatalf("trailing byte: %v", err)
	}
}

// homestarFile reads the run sections of a Homestar workflow fixture.
func homestarFile(t *testing.T, name string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "shared", "vectors", "homestar", name))
	if err != nil {
		t.Fatalf("%v (the tests expect ../shared beside the repository)", err)
	}
	var w struct {
		Tasks []struct {
			Run json.RawMessage `json:"run"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	runs := make([]map[string]any, len(w.Tasks))
	for i, task := range w.Tasks {
		v, err := spec.DecodeJSON(task.Run, spec.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		runs[i] = v.(map[string]any)
	}
	return runs
}

func homestarCID(t *testing.T, run map[string]any) cid.Cid {
	t.Helper()
	nnc, ok := run["nnc"].(string)
	if !ok {
		t.Fatalf("nnc of type %s", spec.Kind(run["nnc"]))
	}
	h := &HomestarInstruction{Rsc: run["rsc"].(string), Op: run["op"].(string), Input: run["input"].(map[string]any), Nnc: nnc}
	c, err := h.CID()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// awaitLink returns the link of the first argument's await/ok promise.
func awaitLink(t *testing.T, run map[string]any) cid.Cid {
	t.Helper()
	args := run["input"].(map[string]any)["args"].([]any)
	p, ok := args[0].(map[string]any)["await/ok"].(cid.Cid)
	if !ok {
		t.Fatalf("first arg %v is not an await/ok promise", args[0])
	}
	return p
}

// TestHomestarInstructionCIDs reproduces the instruction CIDs Homestar's
// workflow files link: each await/ok names the earlier task of the same
// file by its DAG-CBOR + sha3-256 CID.
// Spec: §5 (Homestar compatibility)
func TestHomestarInstructionCIDs(t *testing.T) {
	cases := []struct {
		file     string
		from, to int // task from awaits task to
	}{
		{"workflow-add-one.json", 1, 0},
		{"workflow-add-one-nonced.json", 1, 0},
		{"workflow-image-pipeline.json", 1, 0},
		{"workflow-image-pipeline.json", 2, 1},
	}
	for _, tc := range cases {
		runs := homestarFile(t, tc.file)
		got := homestarCID(t, runs[tc.to])
		if want := awaitLink(t, runs[tc.from]); !got.Equals(want) {
			t.Errorf("%s: task %d is %s, task %d awaits %s", tc.file, tc.to, got, tc.from, want)
		}
		if p := got.Prefix(); p.Codec != cid.DagCBOR || p.MhType != 0x16 || !strings.HasPrefix(got.String(), "bafyrmi") {
			t.Errorf("%s: CID %s is not dag-cbor sha3-256", tc.file, got)
		}
	}
	// The first add-one task appears unchanged in part one: same CID.
	a := homestarCID(t, homestarFile(t, "workflow-add-one.json")[0])
	b := homestarCID(t, homestarFile(t, "workflow-add-one-part-one.json")[0])
	if !a.Equals(b) || a.String() != "bafyrmihmxmsbt4n3g6dzmj7rho34mzfbaoqqbsfcq7etsogslqftbyj7du" {
		t.Errorf("add-one first task %s, part one %s", a, b)
	}
	// And a Task carrying the instruction takes its CID.
	runs := homestarFile(t, "workflow-add-one.json")
	h := &HomestarInstruction{Rsc: runs[0]["rsc"].(string), Op: runs[0]["op"].(string), Input: runs[0]["input"].(map[string]any)}
	if c := taskCID(t, Task{Cmd: CmdWasmRun, Homestar: h}); !c.Equals(a) {
		t.Errorf("Task with Homestar: %s, want %s", c, a)
	}
}

// BenchmarkTaskCID is the CID of a typical /wasm/run task built in Go: the
// memo key computed before every run.
func BenchmarkTaskCID(b *testing.B) {
	task := NewWasm(mustCID(b, modCID), "add_one", int64(1), int64(2))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := task.CID(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTaskCIDFromJSON parses the task's DAG-JSON and takes its CID.
func BenchmarkTaskCIDFromJSON(b *testing.B) {
	src := []byte(`{"sub":null,"cmd":"/wasm/run","nonce":{"/":{"bytes":""}},"args":{"mod":{"/":"` + modCID + `"},"fun":"add_one","params":[1,2]}}`)
	b.ReportAllocs()
	for b.Loop() {
		v, err := spec.DecodeJSON(src, spec.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		task, err := FromIPLD(v)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := task.CID(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEncodeMatchesGeneric: the direct task encoder writes exactly the
// canonical DAG-CBOR of the task's IPLD form (Spec: §2.1).
func TestEncodeMatchesGeneric(t *testing.T) {
	mod := mustCID(t, modCID)
	for _, task := range []Task{
		NewWasm(mod, "add_one", int64(1)),
		{Cmd: "/wasm/run"},
		{Sub: "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", Cmd: "/x", Args: map[string]any{"b": 1.5, "aa": []any{"s", nil, true}}, Nonce: []byte{1, 2}},
		{Cmd: "/wasm/run", Args: map[string]any{"mod": mod, "params": []any{map[string]any{"await/ok": mod}}}, Nonce: []byte{}},
		// The direct path for {fun, mod, params} and the shapes it hands
		// back to the generic encoder.
		NewWasm(mod, "f", int64(-300), "s", []byte{1}, map[string]any{"k": []any{1.5, nil}}, mod),
		{Cmd: "/wasm/run", Args: map[string]any{"fun": "f", "mod": mod, "params": []any{}}},
		{Cmd: "/wasm/run", Args: map[string]any{"fun": "f", "mod": "not a link", "params": []any{}}},
		{Cmd: "/wasm/run", Args: map[string]any{"fun": int64(1), "mod": mod, "params": []any{}}},
		{Cmd: "/wasm/run", Args: map[string]any{"fun": "f", "mod": mod, "other": []any{}}},
		{Cmd: "/wasm/run", Args: map[string]any{"fun": "f", "mod": mod, "params": []int64{1}}},
	} {
		got, err := task.Encode()
		if err != nil {
			t.Fatal(err)
		}
		want, err := spec.EncodeCBOR(task.IPLD())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%+v:\n got %x\nwant %x", task, got, want)
		}
		c, _ := task.CID()
		if !c.Equals(spec.SumCBOR(want)) {
			t.Errorf("%+v: CID differs", task)
		}
	}
	if _, err := (Task{Cmd: "\xff"}).Encode(); err == nil {
		t.Error("invalid UTF-8 cmd encoded")
	}
	if _, err := NewWasm(mod, "\xff").Encode(); err == nil {
		t.Error("invalid UTF-8 fun encoded")
	}
	if _, err := NewWasm(cid.Undef, "f").Encode(); err == nil {
		t.Error("undefined module CID encoded")
	}
}
