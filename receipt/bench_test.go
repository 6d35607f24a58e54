package receipt

import (
	"crypto/ed25519"
	"testing"

	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/ucan"
)

// benchReceipt is a typical fresh-task receipt: a small ok result and the
// meta an executor writes.
func benchReceipt(b *testing.B) Receipt {
	return Receipt{
		Ran:   testCID(b, "task"),
		Out:   spec.OK(int64(42)),
		Meta:  map[string]any{"fuel": int64(1200), "ns": int64(11000)},
		Nonce: fixedNonce,
	}
}

// BenchmarkEd25519Sign is the floor of BenchmarkReceiptSign: one bare
// signature over a payload of the receipt's size.
func BenchmarkEd25519Sign(b *testing.B) {
	k := testKey(b, "executor")
	s, err := Issue(k, benchReceipt(b))
	if err != nil {
		b.Fatal(err)
	}
	msg := s.SignedPayload()
	b.ReportAllocs()
	for b.Loop() {
		ed25519.Sign(k.Private(), msg)
	}
}

// BenchmarkReceiptSign is Issue: build, encode, sign and take the CID.
func BenchmarkReceiptSign(b *testing.B) {
	k := testKey(b, "executor")
	r := benchReceipt(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Issue(k, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReceiptEncode is Issue without the signature: what the
// receipt adds to a bare ed25519.Sign (encoding, allocation and CID).
func BenchmarkReceiptEncode(b *testing.B) {
	k := testKey(b, "executor")
	r := benchReceipt(b)
	r.Iss = k.DID()
	b.ReportAllocs()
	for b.Loop() {
		buf, err := r.appendEnvelope(make([]byte, 0, 256+len(r.Iss)*2))
		if err != nil {
			b.Fatal(err)
		}
		_ = spec.SumCBOR(buf)
	}
}

// BenchmarkEd25519Verify is the floor of BenchmarkReceiptVerify.
func BenchmarkEd25519Verify(b *testing.B) {
	k := testKey(b, "executor")
	s, err := Issue(k, benchReceipt(b))
	if err != nil {
		b.Fatal(err)
	}
	pub, msg, sig := k.Public(), s.SignedPayload(), s.Signature()
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("does not verify")
		}
	}
}

// BenchmarkReceiptVerify is Decode + Verify of a stored receipt.
func BenchmarkReceiptVerify(b *testing.B) {
	k := testKey(b, "executor")
	r := benchReceipt(b)
	s, err := Issue(k, r)
	if err != nil {
		b.Fatal(err)
	}
	raw := s.Bytes()
	b.ReportAllocs()
	for b.Loop() {
		d, err := Decode(raw)
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Verify(r.Ran); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReceiptDecode decodes a receipt in full (Decode) and as a memo
// hit reads it (DecodeOutcome: the result and meta.impure only).
func BenchmarkReceiptDecode(b *testing.B) {
	k := testKey(b, "executor")
	s, err := Issue(k, benchReceipt(b))
	if err != nil {
		b.Fatal(err)
	}
	raw := s.Bytes()
	for _, tc := range []struct {
		name   string
		decode func([]byte) error
	}{
		{"full", func(b []byte) error { _, err := Decode(b); return err }},
		{"outcome", func(b []byte) error { _, err := DecodeOutcome(b); return err }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if err := tc.decode(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReceiptDecodeGeneric decodes the same bytes with the generic
// spec.DecodeCBOR, for comparison with Decode's envelope reader.
func BenchmarkReceiptDecodeGeneric(b *testing.B) {
	k := testKey(b, "executor")
	s, err := Issue(k, benchReceipt(b))
	if err != nil {
		b.Fatal(err)
	}
	raw := s.Bytes()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := spec.DecodeCBOR(raw, spec.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssuerKey is the did:key parse Verify does before the
// signature check: the part of Verify beyond ed25519.Verify.
func BenchmarkIssuerKey(b *testing.B) {
	did := testKey(b, "executor").DID()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ucan.PublicKeyFromDID(did); err != nil {
			b.Fatal(err)
		}
	}
}
