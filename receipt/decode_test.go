package receipt

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ipvm-go/ipvm/spec"
)

// TestDecodeRefuses mutates a valid receipt's envelope, one field at a
// time, and checks that Decode refuses each with an error that names the
// field at fault.
// Spec: §4.3
func TestDecodeRefuses(t *testing.T) {
	k := testKey(t, "executor")
	ran, inv := testCID(t, "task"), testCID(t, "inv")
	good, err := Issue(k, Receipt{Ran: ran, Inv: inv, Out: spec.OK(int64(1)), Meta: map[string]any{"fuel": int64(3)}, Nonce: fixedNonce})
	if err != nil {
		t.Fatal(err)
	}
	// edit returns the canonical encoding of the envelope after f changes
	// its generic form (env, the {"h", tag} map, the payload, its args).
	edit := func(f func(env []any, sp, p, args map[string]any)) []byte {
		v, err := spec.DecodeCBOR(good.Bytes(), spec.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		env := v.([]any)
		sp := env[1].(map[string]any)
		p := sp[Tag].(map[string]any)
		f(env, sp, p, p["args"].(map[string]any))
		b, err := spec.EncodeCBOR(env)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	raw := good.Bytes()
	cases := []struct {
		name  string
		b     []byte
		want  error
		field string
	}{
		{"empty", nil, ErrMalformed, "envelope"},
		{"not a list", []byte{0xa0}, ErrMalformed, "envelope"},
		{"short signature", edit(func(env []any, _, _, _ map[string]any) { env[0] = []byte{1, 2} }), ErrMalformed, "signature"},
		{"signature not bytes", edit(func(env []any, _, _, _ map[string]any) { env[0] = "sig" }), ErrMalformed, "signature"},
		{"other varsig header", edit(func(_ []any, sp, _, _ map[string]any) { sp["h"] = []byte{0x34, 1, 0x12, 0x71} }), ErrMalformed, "h"},
		{"other tag", edit(func(_ []any, sp, p, _ map[string]any) { delete(sp, Tag); sp["ucan/dlg@1.0.0-rc.1"] = p }), ErrMalformed, "token tag"},
		{"extra key beside h", edit(func(_ []any, sp, _, _ map[string]any) { sp["x"] = 1 }), ErrMalformed, "payload"},
		{"other command", edit(func(_ []any, _, p, _ map[string]any) { p["cmd"] = "/wasm/run" }), ErrMalformed, "cmd"},
		{"cmd not a string", edit(func(_ []any, _, p, _ map[string]any) { p["cmd"] = int64(1) }), ErrMalformed, "cmd"},
		{"sub is not iss", edit(func(_ []any, _, p, _ map[string]any) { p["sub"] = testKey(t, "other").DID() }), ErrMalformed, "sub"},
		{"iss missing", edit(func(_ []any, _, p, _ map[string]any) { delete(p, "iss") }), ErrMalformed, "iss"},
		{"nonce missing", edit(func(_ []any, _, p, _ map[string]any) { delete(p, "nonce") }), ErrMalformed, "nonce"},
		{"short nonce", edit(func(_ []any, _, p, _ map[string]any) { p["nonce"] = []byte("x") }), ErrMalformed, "nonce"},
		{"exp missing", edit(func(_ []any, _, p, _ map[string]any) { delete(p, "exp") }), ErrMalformed, "exp"},
		{"exp a string", edit(func(_ []any, _, p, _ map[string]any) { p["exp"] = "soon" }), ErrMalformed, "exp"},
		{"exp zero", edit(func(_ []any, _, p, _ map[string]any) { p["exp"] = int64(0) }), ErrMalformed, "exp"},
		{"iat past 2^53", edit(func(_ []any, _, p, _ map[string]any) { p["iat"] = int64(1 << 53) }), ErrMalformed, "iat"},
		{"iat negative", edit(func(_ []any, _, p, _ map[string]any) { p["iat"] = int64(-5) }), ErrMalformed, "iat"},
		{"proofs", edit(func(_ []any, _, p, _ map[string]any) { p["prf"] = []any{ran} }), ErrMalformed, "prf"},
		{"aud", edit(func(_ []any, _, p, _ map[string]any) { p["aud"] = "did:key:x" }), ErrMalformed, "aud"},
		{"meta not a map", edit(func(_ []any, _, p, _ map[string]any) { p["meta"] = []any{} }), ErrMalformed, "meta"},
		{"args not a map", edit(func(_ []any, _, p, _ map[string]any) { p["args"] = []any{} }), ErrMalformed, "args"},
		{"ran missing", edit(func(_ []any, _, _, a map[string]any) { delete(a, "ran") }), ErrMalformed, "ran"},
		{"ran a string", edit(func(_ []any, _, _, a map[string]any) { a["ran"] = ran.String() }), ErrMalformed, "args.ran"},
		{"inv null", edit(func(_ []any, _, _, a map[string]any) { a["inv"] = nil }), ErrMalformed, "args.inv"},
		{"fx not a list", edit(func(_ []any, _, _, a map[string]any) { a["fx"] = map[string]any{} }), ErrMalformed, "args.fx"},
		{"fx of strings", edit(func(_ []any, _, _, a map[string]any) { a["fx"] = []any{"x"} }), ErrMalformed, "args.fx[0]"},
		{"extra arg", edit(func(_ []any, _, _, a map[string]any) { a["zzz"] = 1 }), ErrMalformed, "args"},
		{"out both", edit(func(_ []any, _, _, a map[string]any) { a["out"] = map[string]any{"ok": 1, "err": 2} }), ErrMalformed, "args.out"},
		{"out other key", edit(func(_ []any, _, _, a map[string]any) { a["out"] = map[string]any{"value": 1} }), ErrMalformed, "args.out"},
		{"out.err a string", edit(func(_ []any, _, _, a map[string]any) { a["out"] = map[string]any{"err": "boom"} }), ErrMalformed, "args.out.err"},
		{"out.err without message", edit(func(_ []any, _, _, a map[string]any) {
			a["out"] = map[string]any{"err": map[string]any{"name": "Trap", "msg": "x"}}
		}), ErrMalformed, "args.out.err"},
		{"out.err name not a string", edit(func(_ []any, _, _, a map[string]any) {
			a["out"] = map[string]any{"err": map[string]any{"name": int64(1), "message": "x"}}
		}), ErrMalformed, "args.out.err.name"},
		{"trailing bytes", append(bytes.Clone(raw), 0), ErrMalformed, "trailing"},
		{"truncated", raw[:len(raw)-1], ErrMalformed, ""},
		{"too large", append(bytes.Clone(raw), make([]byte, DefaultMaxBytes)...), ErrTooLarge, ""},
		{"non-canonical signature head", append([]byte{0x82, 0x59, 0x00, 0x40}, raw[3:]...), ErrMalformed, "signature"},
		{"indefinite envelope", append(append([]byte{0x9f}, raw[1:]...), 0xff), ErrMalformed, "envelope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error %q does not name %q", err, tc.field)
			}
		})
	}
	// Canonical form: every refusal caused by encoding also wraps
	// spec.ErrNotCanonical.
	longHead := append([]byte{0x82, 0x59, 0x00, 0x40}, raw[3:]...)
	if _, err := Decode(longHead); !errors.Is(err, spec.ErrNotCanonical) {
		t.Fatalf("long head: %v, want spec.ErrNotCanonical", err)
	}
	// A nested non-canonical value (a 16-bit float) inside out.ok.
	okIdx := bytes.Index(raw, []byte{0x62, 'o', 'k', 0x01})
	if okIdx < 0 {
		t.Fatal("no out.ok in the test receipt")
	}
	half := append(append(bytes.Clone(raw[:okIdx+3]), 0xf9, 0x3c, 0x00), raw[okIdx+4:]...)
	if _, err := Decode(half); !errors.Is(err, spec.ErrNotCanonical) || !strings.Contains(err.Error(), "args.out.ok") {
		t.Fatalf("half float in out.ok: %v", err)
	}
}

// TestDecodeLimits checks the configurable caps.
// Spec: §4.3
func TestDecodeLimits(t *testing.T) {
	k := testKey(t, "executor")
	s, err := Issue(k, Receipt{Ran: testCID(t, "t"), Out: spec.OK(deep(10)), Nonce: fixedNonce})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeWith(s.Bytes(), spec.Limits{MaxBytes: len(s.Bytes()) - 1}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("size cap: %v", err)
	}
	if _, err := DecodeWith(s.Bytes(), spec.Limits{MaxDepth: 5}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "args.out.ok") {
		t.Fatalf("depth cap: %v", err)
	}
	if _, err := DecodeWith(s.Bytes(), spec.Limits{MaxDepth: 20}); err != nil {
		t.Fatalf("within caps: %v", err)
	}
}

func deep(n int) any {
	var v any = int64(1)
	for range n {
		v = []any{v}
	}
	return v
}
