package receipt

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/ucan"
)

// testKey returns a deterministic key derived from name.
func testKey(t testing.TB, name string) *ucan.Key {
	t.Helper()
	seed := sha256.Sum256([]byte("ipvm test key " + name))
	k, err := ucan.NewKey(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testCID returns the CID of a DAG-CBOR string, a stand-in task CID.
func testCID(t testing.TB, s string) cid.Cid {
	t.Helper()
	c, _, err := spec.CIDOf(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var fixedNonce = []byte("ipvm-nonce-12")

func TestIssueDecodeRoundTrip(t *testing.T) {
	k := testKey(t, "executor")
	ran, inv := testCID(t, "task"), testCID(t, "invocation")
	cases := []struct {
		name string
		r    Receipt
	}{
		{"ok int", Receipt{Ran: ran, Inv: inv, Out: spec.OK(int64(2)), Nonce: fixedNonce}},
		{"ok null, no inv", Receipt{Ran: ran, Out: spec.OK(nil), Nonce: fixedNonce}},
		{"ok nested", Receipt{Ran: ran, Inv: inv, Out: spec.OK(map[string]any{
			"a": []any{int64(-1), 1.5, "x", []byte{1, 2}, ran, nil, true},
		}), Nonce: fixedNonce}},
		{"err", Receipt{Ran: ran, Inv: inv, Out: spec.Fail(spec.Failf(spec.ErrNameTrap, "unreachable at %d", 7)), Nonce: fixedNonce}},
		{"fx meta iat exp", Receipt{Ran: ran, Inv: inv, Out: spec.OK("hi"), Fx: []cid.Cid{inv, ran},
			Meta:  map[string]any{"fuel": int64(1234), "duration_ns": int64(5678), "on": "local"},
			Nonce: fixedNonce, Iat: 1_700_000_000, Exp: 1_800_000_000}},
		{"empty meta", Receipt{Ran: ran, Out: spec.OK(int64(0)), Meta: map[string]any{}, Nonce: fixedNonce}},
		{"random nonce", Receipt{Ran: ran, Out: spec.OK(int64(0))}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Issue(k, tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if s.Iss != k.DID() {
				t.Fatalf("iss %q, want %q", s.Iss, k.DID())
			}
			if len(s.Nonce) < MinNonceLen {
				t.Fatalf("nonce of %d bytes", len(s.Nonce))
			}
			// The bytes are canonical DAG-CBOR.
			v, err := spec.DecodeCBOR(s.Bytes(), spec.Limits{})
			if err != nil {
				t.Fatalf("envelope is not canonical DAG-CBOR: %v", err)
			}
			if re, _ := spec.EncodeCBOR(v); !bytes.Equal(re, s.Bytes()) {
				t.Fatal("re-encoding the envelope changes it")
			}
			if got := s.CID(); !got.Equals(spec.SumCBOR(s.Bytes())) {
				t.Fatalf("CID %s, want %s", got, spec.SumCBOR(s.Bytes()))
			}
			d, err := Decode(s.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if !d.CID().Equals(s.CID()) {
				t.Fatalf("decoded CID %s, want %s", d.CID(), s.CID())
			}
			assertSameReceipt(t, d.Receipt, s.Receipt)
			if err := d.Verify(tc.r.Ran); err != nil {
				t.Fatal(err)
			}
			// Re-issuing the decoded fields with the same key gives the same
			// bytes: Ed25519 is deterministic and the encoding is a function
			// of the fields.
			again, err := Issue(k, d.Receipt)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), s.Bytes()) {
				t.Fatal("re-issuing the decoded receipt gives other bytes")
			}
		})
	}
}

func assertSameReceipt(t *testing.T, got, want Receipt) {
	t.Helper()
	if got.Iss != want.Iss || !got.Ran.Equals(want.Ran) || got.Inv != want.Inv ||
		got.Iat != want.Iat || got.Exp != want.Exp || !bytes.Equal(got.Nonce, want.Nonce) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
	if !spec.Equal(got.Out.IPLD(), want.Out.IPLD()) {
		t.Fatalf("out %s, want %s", spec.MustJSON(got.Out.IPLD()), spec.MustJSON(want.Out.IPLD()))
	}
	if len(got.Fx) != len(want.Fx) {
		t.Fatalf("fx %v, want %v", got.Fx, want.Fx)
	}
	for i := range got.Fx {
		if !got.Fx[i].Equals(want.Fx[i]) {
			t.Fatalf("fx %v, want %v", got.Fx, want.Fx)
		}
	}
	if (got.Meta == nil) != (want.Meta == nil) || !spec.Equal(got.Meta, want.Meta) && want.Meta != nil {
		t.Fatalf("meta %v, want %v", got.Meta, want.Meta)
	}
}

func TestIssueRefuses(t *testing.T) {
	k := testKey(t, "executor")
	ran := testCID(t, "task")
	cases := []struct {
		name string
		r    Receipt
		want string
	}{
		{"undefined ran", Receipt{Out: spec.OK(nil)}, "ran"},
		{"other issuer", Receipt{Iss: testKey(t, "other").DID(), Ran: ran}, "iss"},
		{"short nonce", Receipt{Ran: ran, Nonce: []byte("short")}, "nonce"},
		{"NaN result", Receipt{Ran: ran, Out: spec.OK(nan())}, "out.ok"},
		{"bad meta", Receipt{Ran: ran, Meta: map[string]any{"c": make(chan int)}}, "meta"},
		{"bad UTF-8 message", Receipt{Ran: ran, Out: spec.Fail(&spec.Failure{Name: "Trap", Message: "\xff"})}, "out.err.message"},
		{"undefined fx", Receipt{Ran: ran, Fx: []cid.Cid{cid.Undef}}, "fx[0]"},
		{"negative iat", Receipt{Ran: ran, Iat: -1}, "iat"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Issue(k, tc.r)
			if !errors.Is(err, ErrBadReceipt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrBadReceipt naming %s", err, tc.want)
			}
		})
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

func TestVerify(t *testing.T) {
	k, other := testKey(t, "executor"), testKey(t, "other")
	ran := testCID(t, "task")
	s, err := Issue(k, Receipt{Ran: ran, Out: spec.OK(int64(3)), Nonce: fixedNonce})
	if err != nil {
		t.Fatal(err)
	}
	// A receipt whose payload is signed by another key but claims k's DID:
	// re-sign the same payload bytes with other.
	forged := bytes.Clone(s.Bytes())
	copy(forged[3:67], other.Sign(forged[67:]))
	fs, err := Decode(forged)
	if err != nil {
		t.Fatal(err)
	}
	// Issuer swap: iss and sub rewritten to other's DID, signature kept.
	swapped := bytes.ReplaceAll(bytes.Clone(s.Bytes()), []byte(k.DID()), []byte(other.DID()))
	ss, err := Decode(swapped)
	if err != nil {
		t.Fatal(err)
	}
	// A receipt honestly issued by other.
	os, err := Issue(other, Receipt{Ran: ran, Out: spec.OK(int64(3)), Nonce: fixedNonce})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		s    *Signed
		ran  cid.Cid
		opts VerifyOpts
		want error
	}{
		{"good", s, ran, VerifyOpts{}, nil},
		{"good, trusted", s, ran, VerifyOpts{Issuers: []string{other.DID(), k.DID()}}, nil},
		{"other task", s, testCID(t, "another task"), VerifyOpts{}, ErrWrongTask},
		{"undefined task", s, cid.Undef, VerifyOpts{}, ErrWrongTask},
		{"forged signature", fs, ran, VerifyOpts{}, ErrBadSignature},
		{"issuer swapped", ss, ran, VerifyOpts{}, ErrBadSignature},
		{"untrusted issuer", os, ran, VerifyOpts{Issuers: []string{k.DID()}}, ErrUntrustedIssuer},
		{"other issuer, untrusted list empty", os, ran, VerifyOpts{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.VerifyWith(tc.ran, tc.opts)
			if tc.want == nil && err != nil || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestVerifyTamperedBytes flips every byte of a signed receipt in turn: each
// result must fail to decode or fail to verify, never pass.
func TestVerifyTamperedBytes(t *testing.T) {
	k := testKey(t, "executor")
	ran := testCID(t, "task")
	s, err := Issue(k, Receipt{Ran: ran, Inv: testCID(t, "inv"), Out: spec.OK("result"),
		Meta: map[string]any{"fuel": int64(10)}, Nonce: fixedNonce})
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.Bytes() {
		for _, mask := range []byte{0x01, 0x80} {
			b := bytes.Clone(s.Bytes())
			b[i] ^= mask
			d, err := Decode(b)
			if err != nil {
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
					t.Fatalf("byte %d ^ %#x: decode error %v wraps neither ErrMalformed nor ErrTooLarge", i, mask, err)
				}
				continue
			}
			if err := d.Verify(ran); err == nil {
				t.Fatalf("byte %d ^ %#x: tampered receipt verifies", i, mask)
			}
		}
	}
}

// TestIssueRandomNonce: without a nonce, two receipts of the same run
// differ (and so do their CIDs); with one, they are identical.
// Spec: §4.1
func TestIssueRandomNonce(t *testing.T) {
	k := testKey(t, "executor")
	r := Receipt{Ran: testCID(t, "task"), Out: spec.OK(int64(1))}
	a, err := Issue(k, r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Issue(k, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Nonce) != MinNonceLen || bytes.Equal(a.Nonce, b.Nonce) || a.CID().Equals(b.CID()) {
		t.Fatalf("nonces %x and %x", a.Nonce, b.Nonce)
	}
	r.Nonce = fixedNonce
	if a, b = must(Issue(k, r)), must(Issue(k, r)); !a.CID().Equals(b.CID()) {
		t.Fatal("same fields and nonce, different receipts")
	}
}

func must(s *Signed, err error) *Signed {
	if err != nil {
		panic(err)
	}
	return s
}
