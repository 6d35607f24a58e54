package ucan

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ipvm-go/ipvm/spec"
)

// wasmTask is the args of a /wasm/run task (invocation.Wasm's form).
func wasmTask(mod any, fun string, params ...any) map[string]any {
	if params == nil {
		params = []any{}
	}
	return map[string]any{"mod": mod, "fun": fun, "params": params}
}

// TestWorkflowAuthorization is the library half of the end-to-end
// scenario: Alice delegates /wasm/run to Bob with a policy allowing one
// module; Bob signs one invocation per workflow; the node validates it
// once and authorizes each task: the allowed module runs, another module
// is a MatchError, and after Alice revokes the delegation Bob's next
// workflow is Revoked.
// Spec: SPEC.md §3 (workflow authorization).
func TestWorkflowAuthorization(t *testing.T) {
	alice, bob, node := testKey(t, "alice"), testKey(t, "bob"), testKey(t, "node")
	modA, modB := spec.SumCBOR([]byte("module a")), spec.SumCBOR([]byte("module b"))
	pol, err := ParsePolicyJSON([]byte(`[["==", ".mod", {"/": "` + modA.String() + `"}]]`))
	if err != nil {
		t.Fatal(err)
	}
	dlg, err := Delegate(alice, bob.DID(), "/wasm/run", WithPolicy(pol), WithNow(testNow))
	if err != nil {
		t.Fatal(err)
	}
	replay, revoked := newMemReplay(), memRevocations{}
	opts := Options{Now: testNow, Node: node.DID(), Replay: replay, Revocations: revoked}
	ctx := context.Background()

	run := func(wfName string) (*Chain, error) {
		wf := spec.SumCBOR([]byte(wfName))
		inv, err := InvokeWorkflow(bob, alice.DID(), wf, WithNow(testNow), WithAudience(node.DID()), WithProofs(dlg.CID))
		if err != nil {
			t.Fatal(err)
		}
		// Carried as a bearer container, decoded at the node.
		s, err := EncodeContainer(inv, dlg)
		if err != nil {
			t.Fatal(err)
		}
		ctn, err := DecodeContainer([]byte(s), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return ValidateWorkflow(ctx, ctn.Invocation, ctn.Delegations, wf, opts)
	}

	chain, err := run("workflow 1")
	if err != nil {
		t.Fatalf("workflow 1: %v", err)
	}
	if err := chain.Authorize("", "/wasm/run", wasmTask(modA, "add", int64(1), int64(2))); err != nil {
		t.Errorf("allowed module refused: %v", err)
	}
	if err := chain.Authorize(alice.DID(), "/wasm/run", wasmTask(modA, "add")); err != nil {
		t.Errorf("allowed module with explicit sub refused: %v", err)
	}
	wantName(t, chain.Authorize("", "/wasm/run", wasmTask(modB, "add")), NameMatchError)
	wantName(t, chain.Authorize(bob.DID(), "/wasm/run", wasmTask(modA, "add")), NameInvalidSubject)
	wantName(t, chain.Authorize("", "/http/get", map[string]any{}), NameInvalidClaim)

	revoked[dlg.CID] = true
	_, err = run("workflow 2")
	wantName(t, err, NameRevoked)

	// Alice's own workflow on her own node: self-signed, every task allowed.
	wf := spec.SumCBOR([]byte("workflow 3"))
	own, err := InvokeWorkflow(alice, alice.DID(), wf, WithNow(testNow))
	if err != nil {
		t.Fatal(err)
	}
	chain, err = ValidateWorkflow(ctx, own, nil, wf, opts)
	if err != nil {
		t.Fatalf("self-signed workflow: %v", err)
	}
	if err := chain.Authorize("", "/wasm/run", wasmTask(modB, "anything")); err != nil {
		t.Errorf("owner's task refused: %v", err)
	}
}

// TestValidateWorkflowRefusals: the workflow invocation must be for this
// body's CID, with the workflow command.
func TestValidateWorkflowRefusals(t *testing.T) {
	alice := testKey(t, "alice")
	wf, other := spec.SumCBOR([]byte("wf")), spec.SumCBOR([]byte("other"))
	inv, err := InvokeWorkflow(alice, alice.DID(), wf, WithNow(testNow))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ValidateWorkflow(context.Background(), inv, nil, other, Options{Now: testNow})
	wantName(t, err, NameInvalidClaim)
	task := mustInvoke(t, alice, alice.DID(), "/wasm/run", map[string]any{ArgWorkflow: wf}, nil)
	_, err = ValidateWorkflow(context.Background(), task, nil, wf, Options{Now: testNow})
	wantName(t, err, NameInvalidClaim)
}

// TestPolicyExamples are the policies SPEC.md §3 documents.
func TestPolicyExamples(t *testing.T) {
	modA, modB := spec.SumCBOR([]byte("module a")), spec.SumCBOR([]byte("module b"))
	cases := []struct {
		name, pol string
		args      map[string]any
		ok        bool
	}{
		{"only module A", `[["==", ".mod", {"/": "` + modA.String() + `"}]]`, wasmTask(modA, "f"), true},
		{"only module A, got B", `[["==", ".mod", {"/": "` + modA.String() + `"}]]`, wasmTask(modB, "f"), false},
		{"only function add", `[["==", ".fun", "add"]]`, wasmTask(modB, "add"), true},
		{"only function add, got sub", `[["==", ".fun", "add"]]`, wasmTask(modB, "sub"), false},
		{"module and function", `[["==", ".mod", {"/": "` + modA.String() + `"}], ["==", ".fun", "add"]]`, wasmTask(modA, "add"), true},
		{"functions by prefix", `[["like", ".fun", "math_*"]]`, wasmTask(modA, "math_mul"), true},
		{"one of two modules", `[["or", [["==", ".mod", {"/": "` + modA.String() + `"}], ["==", ".mod", {"/": "` + modB.String() + `"}]]]]`, wasmTask(modB, "f"), true},
		{"small params", `[["all", ".params", ["<=", ".", 1000]]]`, wasmTask(modA, "f", int64(3), 7.5), true},
		{"small params, got big", `[["all", ".params", ["<=", ".", 1000]]]`, wasmTask(modA, "f", int64(3), int64(1001)), false},
		{"first param", `[["==", ".params[0]", 3]]`, wasmTask(modA, "f", int64(3)), true},
		{"last param", `[["==", ".params[-1]", 4.0]]`, wasmTask(modA, "f", int64(3), int64(4)), true},
		{"missing field fails", `[["==", ".nope", null]]`, wasmTask(modA, "f"), false},
		{"optional missing is null", `[["==", ".nope?", null]]`, wasmTask(modA, "f"), true},
		{"not over a missing field fails", `[["not", ["==", ".nope", 1]]]`, wasmTask(modA, "f"), false},
		{"quoted key", `[["==", ".[\"fun\"]", "f"]]`, wasmTask(modA, "f"), true},
		{"nested path", `[["==", ".a.b", 1]]`, map[string]any{"a": map[string]any{"b": int64(1)}}, true},
		{"big ints are exact", `[["<", ".n", 9007199254740993]]`, map[string]any{"n": int64(9007199254740992)}, true},
		{"big int vs float", `[["==", ".n", 9007199254740992.0]]`, map[string]any{"n": int64(9007199254740993)}, false},
		{"empty policy", `[]`, nil, true},
		{"bytes", `[["==", ".b", {"/": {"bytes": "AQI"}}]]`, map[string]any{"b": []byte{1, 2}}, true},
		{"bytes differ", `[["==", ".b", {"/": {"bytes": "AQM"}}]]`, map[string]any{"b": []byte{1, 2}}, false},
		{"bool", `[["==", ".ok", true], ["!=", ".ok", 1]]`, map[string]any{"ok": true}, true},
		{"map equality", `[["==", ".", {"a": [1, {"b": null}]}]]`, map[string]any{"a": []any{1.0, map[string]any{"b": nil}}}, true},
		{"map extra key", `[["==", ".", {"a": 1}]]`, map[string]any{"a": int64(1), "x": int64(2)}, false},
		{"list length", `[["==", ".l", [1, 2]]]`, map[string]any{"l": []any{int64(1)}}, false},
		{"compare non-number", `[[">", ".s", 1]]`, map[string]any{"s": "2"}, false},
		{"like non-string", `[["like", ".n", "*"]]`, map[string]any{"n": int64(2)}, false},
		{"any over a scalar", `[["any", ".n", ["==", ".", 2]]]`, map[string]any{"n": int64(2)}, false},
		{"float fraction vs int", `[["<", ".f", 3]]`, map[string]any{"f": 2.5}, true},
		{"negative float vs int", `[[">", ".f", -3]]`, map[string]any{"f": -2.5}, true},
		{"huge float vs int", `[[">", ".f", 9223372036854775807]]`, map[string]any{"f": 1e19}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePolicyJSON([]byte(c.pol))
			if err != nil {
				t.Fatal(err)
			}
			err = p.Match(c.args)
			if c.ok && err != nil {
				t.Fatalf("%s: %v", c.pol, err)
			}
			if !c.ok {
				wantName(t, err, NameMatchError)
			}
		})
	}
}

// TestParsePolicyErrors: malformed policies are refused at decoding.
func TestParsePolicyErrors(t *testing.T) {
	for _, pol := range []string{
		`{}`, `[1]`, `[["=="]]`, `[["==", "mod", 1]]`, `[["==", ".a", 1, 2]]`, `[["~", ".a", 1]]`,
		`[["<", ".a", "x"]]`, `[["like", ".a", 1]]`, `[["and", 1]]`, `[["not", 1]]`, `[["any", ".a", 1]]`,
		`[["==", ".a[]", 1]]`, `[["==", ".a[1:2]", 1]]`, `[["==", ".[\"x", 1]]`, `[["==", "..a", 1]]`, `[["==", ".a!", 1]]`,
		`[["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["not", ["==", ".", 1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	} {
		if _, err := ParsePolicyJSON([]byte(pol)); ErrorName(err) != NameMalformed {
			t.Errorf("%s: %v, want Malformed", pol, err)
		}
	}
}

// TestCommandCovers: a delegation's command covers itself and the
// commands below it, "/" covers all.
func TestCommandCovers(t *testing.T) {
	cases := []struct {
		dlg, inv string
		ok       bool
	}{
		{"/", "/wasm/run", true}, {"/wasm", "/wasm/run", true}, {"/wasm/run", "/wasm/run", true},
		{"/wasm", "/wasmx", false}, {"/wasm/run", "/wasm", false}, {"/wasm/run", "/wasm/runx", false},
		{"/a/b", "/a/b/c/d", true}, {"/a/b", "/a/bc/d", false},
	}
	for _, c := range cases {
		if got := commandCovers(c.dlg, c.inv); got != c.ok {
			t.Errorf("commandCovers(%q, %q) = %v, want %v", c.dlg, c.inv, got, c.ok)
		}
	}
	for _, bad := range []string{"", "wasm", "/wasm/", "//", "/a//b", "/Wasm"} {
		if err := checkCommand(bad); ErrorName(err) != NameMalformed {
			t.Errorf("checkCommand(%q) = %v", bad, err)
		}
	}
}

// TestGlob checks "like" patterns beyond the fixtures.
func TestGlob(t *testing.T) {
	cases := []struct {
		pat, s string
		ok     bool
	}{
		{"*", "", true}, {"*", "abc", true}, {"", "", true}, {"", "a", false},
		{"a*c", "abbbc", true}, {"a*c", "abbb", false}, {"*a*b*", "xxaxxbxx", true},
		{`a\*c`, "a*c", true}, {`a\*c`, "abc", false}, {"**", "x", true},
		{"*ab", "aab", true}, {"*aab", "aaab", true}, {`\`, `\`, true},
		{strings.Repeat("*a", 50) + "b", strings.Repeat("a", 1000), false},
	}
	for _, c := range cases {
		if got := globMatch(c.pat, c.s); got != c.ok {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.pat, trunc(c.s), got, c.ok)
		}
	}
}

// TestErrorNames: every name has a sentinel that errors.Is matches, and
// ErrorName reads names through wrapping.
func TestErrorNames(t *testing.T) {
	for name, sentinel := range sentinels {
		err := fail(name, "why")
		wrapped := errors.Join(errors.New("context"), err)
		if !errors.Is(wrapped, sentinel) || ErrorName(wrapped) != name {
			t.Errorf("%s: Is=%v Name=%q", name, errors.Is(wrapped, sentinel), ErrorName(wrapped))
		}
		for other, s := range sentinels {
			if other != name && errors.Is(err, s) {
				t.Errorf("%s matches %s", name, other)
			}
		}
		if ErrorName(sentinel) != name {
			t.Errorf("ErrorName(%v) = %q", sentinel, ErrorName(sentinel))
		}
	}
	if ErrorName(nil) != "" || ErrorName(errors.New("x")) != "" {
		t.Error("ErrorName of a non-UCAN error is not empty")
	}
	cause := errors.New("cause")
	if err := failWrap(NameMalformed, cause, "x"); !errors.Is(err, cause) {
		t.Error("cause not unwrapped")
	}
}

// TestOrderChain: delegations given in any order, with strays, come back
// as the chain to the invoker, root first, which then validates.
func TestOrderChain(t *testing.T) {
	keys := []*Key{testKey(t, "alice"), testKey(t, "bob"), testKey(t, "carol"), testKey(t, "dave")}
	chain := chainOf(t, "/wasm/run", keys)
	stray := chainOf(t, "/wasm/run", []*Key{keys[1], keys[0]})[0]
	got, sub, err := OrderChain([]*Token{chain[2], stray, chain[0], chain[1]}, keys[3].DID())
	if err != nil {
		t.Fatal(err)
	}
	if sub != keys[0].DID() || len(got) != 3 {
		t.Fatalf("sub %s, %d delegations", sub, len(got))
	}
	for i := range got {
		if got[i] != chain[i] {
			t.Fatalf("position %d: %s, want %s", i, got[i].CID, chain[i].CID)
		}
	}
	inv := mustInvoke(t, keys[3], sub, "/wasm/run", nil, got)
	if err := validateAt(inv, got, Options{}); err != nil {
		t.Fatal(err)
	}
	_, _, err = OrderChain(chain, keys[1].DID())
	if err != nil {
		t.Errorf("prefix of the chain: %v", err)
	}
	_, _, err = OrderChain(chain[1:], keys[3].DID())
	wantName(t, err, NameInvalidAudience)
	_, _, err = OrderChain(chain, testKey(t, "eve").DID())
	wantName(t, err, NameInvalidAudience)
	pl, _ := Delegate(keys[0], keys[1].DID(), "/", WithPowerline(), WithNow(testNow))
	_, _, err = OrderChain([]*Token{pl}, keys[1].DID())
	wantName(t, err, NameInvalidAudience)
	// A powerline off a root is followed to the root.
	got, sub, err = OrderChain([]*Token{pl, stray}, keys[1].DID())
	if err != nil || sub != keys[1].DID() || len(got) != 2 || got[1] != pl {
		t.Errorf("powerline chain: %v %s %v", err, sub, got)
	}
}
