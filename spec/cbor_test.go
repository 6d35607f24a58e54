package spec_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeCBORRefuses feeds non-canonical and malformed DAG-CBOR and
// checks each is refused for its own reason.
// Spec: §1.2
func TestDecodeCBORRefuses(t *testing.T) {
	link := "d82a 5825 00 01711220" + strings.Repeat("ab", 32)
	cases := []struct {
		name string
		hex  string
		lim  spec.Limits
		want error
		msg  string
	}{
		{"empty input", "", spec.Limits{}, spec.ErrMalformed, "end of input"},
		{"int with 1-byte head under 24", "18 17", spec.Limits{}, spec.ErrNotCanonical, "not shortest"},
		{"int with 2-byte head under 256", "19 00ff", spec.Limits{}, spec.ErrNotCanonical, "not shortest"},
		{"int with 4-byte head under 65536", "1a 0000ffff", spec.Limits{}, spec.ErrNotCanonical, "not shortest"},
		{"int with 8-byte head under 2^32", "1b 00000000ffffffff", spec.Limits{}, spec.ErrNotCanonical, "not shortest"},
		{"negative int long head", "38 00", spec.Limits{}, spec.ErrNotCanonical, "not shortest"},
		{"string length long head", "78 01 61", spec.Limits{}, spec.ErrNotCanonical, "not shortest"},
		{"map length long head", "b8 00", spec.Limits{}, spec.ErrNotCanonical, "not shortest"},
		{"unsorted keys (bytewise)", "a2 6162 01 6161 02", spec.Limits{}, spec.ErrNotCanonical, "out of order"},
		{"longer key first", "a2 626161 01 6162 02", spec.Limits{}, spec.ErrNotCanonical, "out of order"},
		{"duplicate keys", "a2 6161 01 6161 02", spec.Limits{}, spec.ErrNotCanonical, "duplicate"},
		{"16-bit float", "f9 3c00", spec.Limits{}, spec.ErrNotCanonical, "float"},
		{"32-bit float", "fa 3f800000", spec.Limits{}, spec.ErrNotCanonical, "float"},
		{"NaN", "fb 7ff8000000000000", spec.Limits{}, spec.ErrMalformed, "NaN"},
		{"infinity", "fb 7ff0000000000000", spec.Limits{}, spec.ErrMalformed, "infinite"},
		{"indefinite list", "9f 01 ff", spec.Limits{}, spec.ErrNotCanonical, "indefinite"},
		{"indefinite map", "bf 6161 01 ff", spec.Limits{}, spec.ErrNotCanonical, "indefinite"},
		{"indefinite string", "7f 6161 ff", spec.Limits{}, spec.ErrNotCanonical, "indefinite"},
		{"indefinite bytes", "5f 4101 ff", spec.Limits{}, spec.ErrNotCanonical, "indefinite"},
		{"lone break", "ff", spec.Limits{}, spec.ErrMalformed, "break"},
		{"tag other than 42", "c1 00", spec.Limits{}, spec.ErrMalformed, "tag 1"},
		{"tag 42 on text", "d82a 6161", spec.Limits{}, spec.ErrMalformed, "non-bytes"},
		{"link without 0x00 prefix", "d82a 5825 01 01711220" + strings.Repeat("ab", 32), spec.Limits{}, spec.ErrMalformed, "multibase"},
		{"link with bad CID", "d82a 43 00 0171", spec.Limits{}, spec.ErrMalformed, "link"},
		{"undefined simple", "f7", spec.Limits{}, spec.ErrMalformed, "simple"},
		{"simple value 16", "f0", spec.Limits{}, spec.ErrMalformed, "simple"},
		{"reserved info", "1c", spec.Limits{}, spec.ErrMalformed, "reserved"},
		{"trailing bytes", "01 02", spec.Limits{}, spec.ErrMalformed, "trailing"},
		{"truncated int", "19 01", spec.Limits{}, spec.ErrMalformed, "end of input"},
		{"truncated string", "63 6162", spec.Limits{}, spec.ErrMalformed, "past end"},
		{"truncated list", "83 01 02", spec.Limits{}, spec.ErrMalformed, ""},
		{"huge list length", "9b 7fffffffffffffff", spec.Limits{}, spec.ErrMalformed, "past end"},
		{"huge map length", "bb 7fffffffffffffff", spec.Limits{}, spec.ErrMalformed, "past end"},
		{"huge string length", "7b 7fffffffffffffff", spec.Limits{}, spec.ErrMalformed, "past end"},
		{"bad UTF-8 string", "62 c328", spec.Limits{}, spec.ErrMalformed, "UTF-8"},
		{"bad UTF-8 key", "a1 61 ff 01", spec.Limits{}, spec.ErrMalformed, "UTF-8"},
		{"non-string key", "a1 01 01", spec.Limits{}, spec.ErrMalformed, "not a string"},
		{"uint past int64", "1b 8000000000000000", spec.Limits{}, spec.ErrIntRange, ""},
		{"negative past int64", "3b 8000000000000000", spec.Limits{}, spec.ErrIntRange, ""},
		{"too deep", strings.Repeat("81", 5) + "01", spec.Limits{MaxDepth: 4}, spec.ErrTooLarge, "deeper"},
		{"too deep, default cap", strings.Repeat("81", 200) + "01", spec.Limits{}, spec.ErrTooLarge, "deeper"},
		{"too large", "45 0102030405", spec.Limits{MaxBytes: 5}, spec.ErrTooLarge, "limit 5"},
		{"too many items", "83 01 02 03", spec.Limits{MaxItems: 3}, spec.ErrTooLarge, "values"},
		{"link in a non-canonical list", "9f " + link + " ff", spec.Limits{}, spec.ErrNotCanonical, "indefinite"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := spec.DecodeCBOR(unhex(t, tc.hex), tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, %v; want %v", v, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not say %q", err, tc.msg)
			}
		})
	}
}

// TestCBORRoundTrip decodes canonical encodings and re-encodes them.
// Spec: §1.2
func TestCBORRoundTrip(t *testing.T) {
	c, _, err := spec.CIDOf("x")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		v    any
		hex  string
	}{
		{"null", nil, "f6"},
		{"true", true, "f5"},
		{"false", false, "f4"},
		{"0", int64(0), "00"},
		{"23", int64(23), "17"},
		{"24", int64(24), "1818"},
		{"255", int64(255), "18ff"},
		{"256", int64(256), "190100"},
		{"65536", int64(65536), "1a00010000"},
		{"2^32", int64(1 << 32), "1b0000000100000000"},
		{"max int64", int64(math.MaxInt64), "1b7fffffffffffffff"},
		{"-1", int64(-1), "20"},
		{"-25", int64(-25), "3818"},
		{"min int64", int64(math.MinInt64), "3b7fffffffffffffff"},
		{"1.5", 1.5, "fb3ff8000000000000"},
		{"-0.0", math.Copysign(0, -1), "fb8000000000000000"},
		{"empty string", "", "60"},
		{"string", "ab", "626162"},
		{"bytes", []byte{1, 2}, "420102"},
		{"list", []any{int64(1), "a"}, "82016161"},
		{"map sorted by length then bytes", map[string]any{"b": int64(1), "aa": int64(2), "a": int64(3)},
			"a3616103616201626161 02"},
		{"link", c, "d82a582500" + hex.EncodeToString(c.Bytes())},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.hex)
			got, err := spec.EncodeCBOR(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encode: %x, want %x", got, want)
			}
			back, err := spec.DecodeCBOR(want, spec.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !spec.Equal(back, tc.v) {
				t.Fatalf("decode: %#v, want %#v", back, tc.v)
			}
		})
	}
}

// TestEncodeCBORRefuses checks values with no IPLD form.
// Spec: §1.1
func TestEncodeCBORRefuses(t *testing.T) {
	zero := 0.0
	cases := []struct {
		name string
		v    any
		want error
	}{
		{"NaN", zero / zero, spec.ErrUnsupportedValue},
		{"+Inf", math.Inf(1), spec.ErrUnsupportedValue},
		{"bad UTF-8", "\xff", spec.ErrUnsupportedValue},
		{"bad UTF-8 key", map[string]any{"\xff": 1}, spec.ErrUnsupportedValue},
		{"uint64 past int64", uint64(math.MaxInt64) + 1, spec.ErrIntRange},
		{"channel", make(chan int), spec.ErrUnsupportedValue},
		{"undefined CID", cid.Undef, spec.ErrUnsupportedValue},
		{"map with int keys", map[int]any{1: 1}, spec.ErrUnsupportedValue},
		{"too deep", deepList(2000), spec.ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := spec.EncodeCBOR(tc.v); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func deepList(n int) any {
	var v any = "leaf"
	for range n {
		v = []any{v}
	}
	return v
}

// TestEncodeCBORGoTypes checks that Go integer and float types and typed
// slices and maps encode like their IPLD forms.
// Spec: §1.1
func TestEncodeCBORGoTypes(t *testing.T) {
	cases := []struct {
		name string
		v, w any
	}{
		{"int", 5, int64(5)},
		{"uint8", uint8(200), int64(200)},
		{"int32", int32(-7), int64(-7)},
		{"float32", float32(0.5), 0.5},
		{"[]string", []string{"a", "b"}, []any{"a", "b"}},
		{"map[string]int", map[string]int{"b": 1, "a": 2}, map[string]any{"a": int64(2), "b": int64(1)}},
		{"Result", spec.OK(int64(1)), map[string]any{"ok": int64(1)}},
		{"nil *cid.Cid", (*cid.Cid)(nil), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := spec.EncodeCBOR(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			b, err := spec.EncodeCBOR(tc.w)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Fatalf("%x, want %x", a, b)
			}
		})
	}
}

// TestDecodeJSON covers DAG-JSON's rules and its refusals.
// Spec: §1.3
func TestDecodeJSON(t *testing.T) {
	c, _, err := spec.CIDOf("x")
	if err != nil {
		t.Fatal(err)
	}
	good := []struct {
		name, json string
		want       any
	}{
		{"int", `7`, int64(7)},
		{"negative", `-9223372036854775808`, int64(math.MinInt64)},
		{"float by fraction", `1.0`, 1.0},
		{"float by exponent", `1e2`, 100.0},
		{"link", `{"/":"` + c.String() + `"}`, c},
		{"bytes", `{"/":{"bytes":"AQI"}}`, []byte{1, 2}},
		{"bytes with padding", `{"/":{"bytes":"AQI="}}`, []byte{1, 2}},
		{"whitespace", " [ 1 ,\n\t2 ] ", []any{int64(1), int64(2)}},
		{"nested", `{"a":{"b":[null,true]}}`, map[string]any{"a": map[string]any{"b": []any{nil, true}}}},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			v, err := spec.DecodeJSON([]byte(tc.json), spec.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !spec.Equal(v, tc.want) {
				t.Fatalf("%#v, want %#v", v, tc.want)
			}
		})
	}
	bad := []struct {
		name, json string
		lim        spec.Limits
		want       error
	}{
		{"int past int64", `9223372036854775808`, spec.Limits{}, spec.ErrIntRange},
		{"duplicate key", `{"a":1,"a":2}`, spec.Limits{}, spec.ErrMalformed},
		{"slash with other keys", `{"/":"` + c.String() + `","x":1}`, spec.Limits{}, spec.ErrMalformed},
		{"bad link", `{"/":"notacid"}`, spec.Limits{}, spec.ErrMalformed},
		{"bad bytes", `{"/":{"bytes":"!!"}}`, spec.Limits{}, spec.ErrMalformed},
		{"slash with a number", `{"/":1}`, spec.Limits{}, spec.ErrMalformed},
		{"trailing data", `1 2`, spec.Limits{}, spec.ErrMalformed},
		{"truncated", `[1,`, spec.Limits{}, spec.ErrMalformed},
		{"empty", ``, spec.Limits{}, spec.ErrMalformed},
		{"float overflow", `1e400`, spec.Limits{}, spec.ErrMalformed},
		{"too deep", strings.Repeat("[", 200) + strings.Repeat("]", 200), spec.Limits{}, spec.ErrTooLarge},
		{"too large", `"abcdef"`, spec.Limits{MaxBytes: 4}, spec.ErrTooLarge},
		{"too many items", `[1,2,3]`, spec.Limits{MaxItems: 3}, spec.ErrTooLarge},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if v, err := spec.DecodeJSON([]byte(tc.json), tc.lim); !errors.Is(err, tc.want) {
				t.Fatalf("got %#v, %v; want %v", v, err, tc.want)
			}
		})
	}
}

// TestEncodeJSON checks the DAG-JSON writer and the round trip through it.
// Spec: §1.3
func TestEncodeJSON(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{map[string]any{"b": int64(1), "aa": 2.0, "a": []byte{1, 2}}, `{"a":{"/":{"bytes":"AQI"}},"aa":2.0,"b":1}`},
		{[]any{nil, true, "x\"y"}, `[null,true,"x\"y"]`},
		{1e21, `1e+21`},
	}
	for _, tc := range cases {
		b, err := spec.EncodeJSON(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Fatalf("%s, want %s", b, tc.want)
		}
		back, err := spec.DecodeJSON(b, spec.Limits{})
		if err != nil || !spec.Equal(back, tc.v) {
			t.Fatalf("round trip: %#v, %v", back, err)
		}
	}
}

// TestParseCID accepts the ipfs:// form and refuses junk.
// Spec: §1.4
func TestParseCID(t *testing.T) {
	c, _, err := spec.CIDOf("x")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{c.String(), "ipfs://" + c.String()} {
		got, err := spec.ParseCID(s)
		if err != nil || !got.Equals(c) {
			t.Fatalf("%s: %s, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "ipfs://", "bafy-not", "ipfs://x"} {
		if _, err := spec.ParseCID(s); err == nil {
			t.Fatalf("%q parsed", s)
		}
	}
}

// TestVerifyCID checks VerifyCID for several hash functions and a mismatch.
// Spec: §1.4
func TestVerifyCID(t *testing.T) {
	b := []byte("hello")
	c := spec.SumCBOR(b)
	if err := spec.VerifyCID(c, b); err != nil {
		t.Fatal(err)
	}
	if err := spec.VerifyCID(c, []byte("hellO")); err == nil {
		t.Fatal("mismatch verified")
	}
	if got := spec.Sum(spec.CodecRaw, b); got.Prefix().Codec != cid.Raw || spec.VerifyCID(got, b) != nil {
		t.Fatalf("raw CID %s", got)
	}
}

// TestResultFromIPLD checks the result wire form both ways.
// Spec: §4.1
func TestResultFromIPLD(t *testing.T) {
	for _, r := range []spec.Result{spec.OK(nil), spec.OK(int64(1)), spec.Fail(spec.Failf(spec.ErrNameTrap, "x %d", 1))} {
		back, err := spec.ResultFromIPLD(r.IPLD())
		if err != nil || !spec.Equal(back.IPLD(), r.IPLD()) {
			t.Fatalf("%v: %v, %v", r, back, err)
		}
	}
	for _, v := range []any{
		nil, "ok", map[string]any{}, map[string]any{"ok": 1, "err": 2}, map[string]any{"x": 1},
		map[string]any{"err": "x"}, map[string]any{"err": map[string]any{"name": "a"}},
		map[string]any{"err": map[string]any{"name": 1, "message": "m"}},
	} {
		if _, err := spec.ResultFromIPLD(v); !errors.Is(err, spec.ErrMalformed) {
			t.Fatalf("%#v: %v", v, err)
		}
	}
}
