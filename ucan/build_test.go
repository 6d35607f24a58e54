package ucan

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ipvm-go/ipvm/spec"
)

// TestBuildDefaults: a root delegation is for the issuer's subject with an
// empty policy and a day's TTL; an invocation lives five minutes and has
// a fresh nonce each time.
func TestBuildDefaults(t *testing.T) {
	alice, bob := testKey(t, "alice"), testKey(t, "bob")
	d, err := Delegate(alice, bob.DID(), "/wasm/run", WithNow(testNow))
	if err != nil {
		t.Fatal(err)
	}
	if d.Subject != alice.DID() || len(d.Policy) != 0 || d.Exp == nil || *d.Exp != testNow.Add(DefaultDelegationTTL).Unix() || len(d.Nonce) != 12 || d.Tag != TagDelegation {
		t.Errorf("delegation defaults: %+v", d)
	}
	i1, err := Invoke(bob, alice.DID(), "/wasm/run", nil, WithNow(testNow))
	if err != nil {
		t.Fatal(err)
	}
	i2, _ := Invoke(bob, alice.DID(), "/wasm/run", nil, WithNow(testNow))
	if *i1.Exp != testNow.Add(DefaultInvocationTTL).Unix() || *i1.Iat != testNow.Unix() || i1.Audience != "" || i1.Args == nil {
		t.Errorf("invocation defaults: %+v", i1)
	}
	if i1.CID.Equals(i2.CID) {
		t.Error("two invocations share a CID: nonce not fresh")
	}
	n, err := Invoke(bob, alice.DID(), "/wasm/run", nil, WithNow(testNow), WithoutExpiration(), WithNonce(nil))
	if err != nil || n.Exp != nil || len(n.Nonce) != 0 {
		t.Errorf("no exp, empty nonce: %+v %v", n, err)
	}
	if err := n.Verify(); err != nil {
		t.Error(err)
	}
	cause := spec.SumCBOR([]byte("receipt"))
	c, err := Invoke(bob, alice.DID(), "/wasm/run", nil, WithNow(testNow), WithCause(cause), WithIssuedAt(testNow.Add(-time.Second)))
	if err != nil || c.Cause == nil || !c.Cause.Equals(cause) || *c.Iat != testNow.Unix()-1 {
		t.Errorf("cause and iat: %+v %v", c, err)
	}
}

// TestBuildOptionErrors: contradictory or misplaced options are refused.
func TestBuildOptionErrors(t *testing.T) {
	alice, bob := testKey(t, "alice"), testKey(t, "bob")
	dlgCases := map[string][]Option{
		"two expiries":           {WithTTL(time.Hour), WithoutExpiration()},
		"aud on delegation":      {WithAudience(bob.DID())},
		"sub and powerline":      {WithSubject(bob.DID()), WithPowerline()},
		"negative ttl":           {WithTTL(-time.Second)},
		"proofs on a delegation": {WithProofs(spec.SumCBOR(nil))},
	}
	for name, opts := range dlgCases {
		if _, err := Delegate(alice, bob.DID(), "/wasm/run", opts...); !errors.Is(err, ErrBadOption) {
			t.Errorf("%s: %v", name, err)
		}
	}
	invCases := map[string][]Option{
		"policy on invocation": {WithPolicy(Policy{})},
		"sub option":           {WithSubject(bob.DID())},
		"nbf on invocation":    {WithNotBefore(testNow)},
		"bad aud":              {WithAudience("bob")},
	}
	for name, opts := range invCases {
		if _, err := Invoke(bob, alice.DID(), "/wasm/run", nil, opts...); !errors.Is(err, ErrBadOption) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Delegate(alice, "did:web:example.com", "/wasm/run"); !errors.Is(err, ErrBadDID) {
		t.Errorf("non-key audience: %v", err)
	}
	if _, err := Delegate(alice, bob.DID(), "wasm"); ErrorName(err) != NameMalformed {
		t.Errorf("bad command: %v", err)
	}
	if _, err := Invoke(bob, "alice", "/wasm/run", nil); !errors.Is(err, ErrBadOption) {
		t.Errorf("bad subject: %v", err)
	}
}

// TestDecodeRefusals: envelopes that are not UCAN 1.0 tokens are
// Malformed, and tokens over the size cap TooLarge.
func TestDecodeRefusals(t *testing.T) {
	alice := testKey(t, "alice")
	good := map[string]any{"iss": alice.DID(), "sub": alice.DID(), "cmd": "/x", "args": map[string]any{}, "prf": []any{}, "nonce": []byte{}, "exp": nil}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := map[string][]byte{
		"not cbor":        []byte("hello"),
		"not a list":      mustCBOR(t, map[string]any{}),
		"one element":     mustCBOR(t, []any{[]byte{1}}),
		"sig not bytes":   mustCBOR(t, []any{"x", map[string]any{"h": varsigEd25519, TagInvocation: good}}),
		"no header":       mustCBOR(t, []any{[]byte{1}, map[string]any{"x": 1, TagInvocation: good}}),
		"other varsig":    mustCBOR(t, []any{[]byte{1}, map[string]any{"h": []byte{0x34, 0x01, 0x12}, TagInvocation: good}}),
		"unknown tag":     sealRaw(t, alice, "ucan/rev@1.0.0", good),
		"unknown field":   sealRaw(t, alice, TagInvocation, with("zzz", int64(1))),
		"no exp":          sealRaw(t, alice, TagInvocation, with("exp", nil)),
		"negative exp":    sealRaw(t, alice, TagInvocation, with("exp", int64(-1))),
		"huge exp":        sealRaw(t, alice, TagInvocation, with("exp", int64(1)<<60)),
		"iss not did":     sealRaw(t, alice, TagInvocation, with("iss", "alice")),
		"sub null inv":    sealRaw(t, alice, TagInvocation, with("sub", nil)),
		"prf not links":   sealRaw(t, alice, TagInvocation, with("prf", []any{"x"})),
		"args not map":    sealRaw(t, alice, TagInvocation, with("args", []any{})),
		"nonce not byte":  sealRaw(t, alice, TagInvocation, with("nonce", "x")),
		"bad command":     sealRaw(t, alice, TagInvocation, with("cmd", "x/")),
		"bad policy":      sealRaw(t, alice, TagDelegation, map[string]any{"iss": alice.DID(), "aud": alice.DID(), "sub": alice.DID(), "cmd": "/", "pol": []any{int64(1)}, "nonce": []byte{}, "exp": nil}),
		"dlg without aud": sealRaw(t, alice, TagDelegation, map[string]any{"iss": alice.DID(), "sub": alice.DID(), "cmd": "/", "pol": []any{}, "nonce": []byte{}, "exp": nil}),
	}
	for name, b := range cases {
		if _, err := Decode(b, Limits{}); ErrorName(err) != NameMalformed {
			t.Errorf("%s: %v, want Malformed", name, err)
		}
	}
	ok := sealRaw(t, alice, TagInvocation100, good)
	tok, err := Decode(ok, Limits{})
	if err != nil || tok.Tag != TagInvocation100 {
		t.Fatalf("1.0.0 tag: %v", err)
	}
	if _, err := Decode(ok, Limits{MaxTokenBytes: len(ok) - 1}); ErrorName(err) != NameTooLarge {
		t.Errorf("over the cap: %v", err)
	}
	// A valid envelope whose signature is over other bytes.
	bad := append([]byte{}, ok...)
	bad[10] ^= 1
	tok, err = Decode(bad, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if ErrorName(tok.Verify()) != NameInvalidSignature {
		t.Errorf("flipped signature bit verifies")
	}
}

func mustCBOR(t *testing.T, v any) []byte {
	t.Helper()
	b, err := spec.EncodeCBOR(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInspect: a delegation file (raw token or container) is described
// with its CID and signature status.
func TestInspect(t *testing.T) {
	alice, bob := testKey(t, "alice"), testKey(t, "bob")
	pl, err := Delegate(alice, bob.DID(), "/wasm/run", WithNow(testNow), WithPowerline())
	if err != nil {
		t.Fatal(err)
	}
	s, err := EncodeContainer(pl)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"raw": pl.Bytes(), "container": []byte(s + "\n")} {
		ins, err := Inspect(b)
		if err != nil || len(ins) != 1 {
			t.Fatalf("%s: %v", name, err)
		}
		in := ins[0]
		if in.CID != pl.CID.String() || !in.Verified || in.Subject != "null (powerline)" || in.Kind != "delegation" {
			t.Errorf("%s: %+v", name, in)
		}
		text := in.String()
		for _, want := range []string{pl.CID.String(), "verified: yes", `"sub":null`, "/wasm/run"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: %q lacks %q", name, text, want)
			}
		}
		if _, err := json.Marshal(in); err != nil {
			t.Error(err)
		}
	}
	bad := append([]byte{}, pl.Bytes()...)
	bad[5] ^= 1
	ins, err := Inspect(bad)
	if err != nil {
		t.Fatal(err)
	}
	if ins[0].Verified || !strings.Contains(ins[0].String(), "NO: ucan: InvalidSignature") {
		t.Errorf("tampered token: %s", ins[0])
	}
}
