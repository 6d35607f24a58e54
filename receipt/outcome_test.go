package receipt

import (
	"errors"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

// outcomeOf is what DecodeOutcome must return for a receipt Decode read.
func outcomeOf(s *Signed) Outcome {
	return Outcome{Out: s.Out, Impure: s.Meta["impure"] == true}
}

func sameOutcome(a, b Outcome) bool {
	return a.Impure == b.Impure && spec.Equal(a.Out.IPLD(), b.Out.IPLD())
}

// TestDecodeOutcome checks that the memo read agrees with Decode on the
// result and impurity of receipts of every shape the node issues, and
// refuses what is not a receipt envelope.
// Spec: §4.3
func TestDecodeOutcome(t *testing.T) {
	k := testKey(t, "executor")
	ran, inv := testCID(t, "task"), testCID(t, "inv")
	for _, tc := range []struct {
		name string
		r    Receipt
		want Outcome
	}{
		{"ok, no meta", Receipt{Ran: ran, Out: spec.OK(int64(2))}, Outcome{Out: spec.OK(int64(2))}},
		{"ok, pure meta", Receipt{Ran: ran, Inv: inv, Out: spec.OK("x"), Meta: map[string]any{"fuel": int64(7), "time": int64(3)}}, Outcome{Out: spec.OK("x")}},
		{"impure", Receipt{Ran: ran, Out: spec.OK(int64(2)), Meta: map[string]any{"fuel": int64(7), "impure": true, "z": "after"}}, Outcome{Out: spec.OK(int64(2)), Impure: true}},
		{"impure false", Receipt{Ran: ran, Out: spec.OK(int64(2)), Meta: map[string]any{"impure": false}}, Outcome{Out: spec.OK(int64(2))}},
		{"impure not a bool", Receipt{Ran: ran, Out: spec.OK(int64(2)), Meta: map[string]any{"impure": "yes"}}, Outcome{Out: spec.OK(int64(2))}},
		{"nested impure is not meta.impure", Receipt{Ran: ran, Out: spec.OK(int64(2)), Meta: map[string]any{"x": map[string]any{"impure": true}}}, Outcome{Out: spec.OK(int64(2))}},
		{"error", Receipt{Ran: ran, Out: spec.Fail(spec.Failf("Trap", "unreachable")), Fx: []cid.Cid{inv}, Iat: 9}, Outcome{Out: spec.Fail(spec.Failf("Trap", "unreachable"))}},
		{"deep ok", Receipt{Ran: ran, Out: spec.OK(map[string]any{"a": []any{int64(1), []byte{2}, map[string]any{"b": nil}}})}, Outcome{Out: spec.OK(map[string]any{"a": []any{int64(1), []byte{2}, map[string]any{"b": nil}}})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Issue(k, tc.r)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeOutcome(s.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if !sameOutcome(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			d, err := Decode(s.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if !sameOutcome(got, outcomeOf(d)) {
				t.Errorf("DecodeOutcome %+v disagrees with Decode %+v", got, outcomeOf(d))
			}
			// A truncated receipt is refused or, cut after the point
			// where DecodeOutcome stops reading, read the same: never a
			// different answer. The empty one is refused.
			for i := range len(s.Bytes()) {
				o, err := DecodeOutcome(s.Bytes()[:i])
				if err != nil && !errors.Is(err, ErrMalformed) {
					t.Fatalf("prefix of %d bytes: err %v, want ErrMalformed", i, err)
				}
				if err == nil && (i == 0 || !sameOutcome(o, tc.want)) {
					t.Fatalf("prefix of %d bytes read as %+v", i, o)
				}
			}
		})
	}
	for _, b := range [][]byte{nil, {0xa0}, {0x82, 0x40, 0xa0}} {
		if _, err := DecodeOutcome(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%x: err %v, want ErrMalformed", b, err)
		}
	}
}

// FuzzDecodeOutcome checks that DecodeOutcome never panics, that its
// errors wrap ErrMalformed or ErrTooLarge, and that on every input Decode
// accepts it agrees with Decode.
// Spec: §4.3
func FuzzDecodeOutcome(f *testing.F) {
	addIssued(f,
		Receipt{Ran: testCID(f, "t"), Out: spec.OK(int64(1)), Nonce: fixedNonce},
		Receipt{Ran: testCID(f, "t"), Out: spec.OK(int64(1)), Meta: map[string]any{"impure": true}, Nonce: fixedNonce},
		Receipt{Ran: testCID(f, "t"), Inv: testCID(f, "i"), Out: spec.Fail(spec.Failf("Trap", "x")), Meta: map[string]any{"a": 1}, Nonce: fixedNonce, Iat: 5},
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := DecodeOutcome(data)
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("error %v wraps neither ErrMalformed nor ErrTooLarge", err)
		}
		s, derr := Decode(data)
		if derr != nil {
			return
		}
		if err != nil {
			t.Fatalf("Decode accepts what DecodeOutcome refuses: %v", err)
		}
		if !sameOutcome(o, outcomeOf(s)) {
			t.Fatalf("DecodeOutcome %+v disagrees with Decode %+v", o, outcomeOf(s))
		}
	})
}
