package receipt

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ipvm-go/ipvm/spec"
)

// FuzzReceiptDecode checks that Decode never panics, that its errors wrap
// ErrMalformed or ErrTooLarge, and that whatever it accepts is canonical
// DAG-CBOR whose fields re-encode to exactly the input (the decoder admits
// one encoding per receipt, so a receipt's CID cannot be changed by
// re-encoding it). The seed corpus under testdata/fuzz holds the golden
// receipt vectors of spec/testdata/vectors.json.
// Spec: §4.3
func FuzzReceiptDecode(f *testing.F) {
	addIssued(f,
		Receipt{Ran: testCID(f, "t"), Out: spec.OK(int64(1)), Nonce: fixedNonce},
		Receipt{Ran: testCID(f, "t"), Inv: testCID(f, "i"), Out: spec.Fail(spec.Failf("Trap", "x")), Meta: map[string]any{"a": 1}, Nonce: fixedNonce, Iat: 5},
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeWith(data, spec.Limits{MaxBytes: 1 << 20, MaxDepth: 64, MaxItems: 1 << 16})
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrTooLarge", err)
			}
			return
		}
		if _, err := spec.DecodeCBOR(data, spec.Limits{}); err != nil {
			t.Fatalf("accepted bytes are not canonical DAG-CBOR: %v", err)
		}
		buf, err := s.Receipt.appendEnvelope(nil)
		if err != nil {
			t.Fatalf("accepted receipt does not re-encode: %v", err)
		}
		copy(buf[len(envelopePrefix):sigEnd], s.Signature())
		if !bytes.Equal(buf, data) {
			t.Fatalf("re-encoding changed the bytes:\n in %x\nout %x", data, buf)
		}
		_ = s.VerifySignature() // must not panic, whatever it says
	})
}

// addIssued adds the sealed bytes of each receipt, issued by a fixed key,
// to f's seed corpus.
func addIssued(f *testing.F, rs ...Receipt) {
	f.Helper()
	k := testKey(f, "executor")
	for _, r := range rs {
		s, err := Issue(k, r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s.Bytes())
	}
}
