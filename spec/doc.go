// Package spec is the leaf of ipvm: the IPLD value model every other package
// shares, its canonical DAG-CBOR and DAG-JSON encodings, CIDs, the result type
// of a task and the error names of the specification (spec/SPEC.md).
//
// # Values
//
// An IPLD value is held in plain Go types, so that callers build and inspect
// values without an adapter:
//
//	nil            null
//	bool           boolean
//	int64          integer (the whole int64 range; larger integers are refused)
//	float64        float (finite; NaN and infinities are refused)
//	string         string (valid UTF-8)
//	[]byte         bytes
//	cid.Cid        link
//	[]any          list
//	map[string]any map
//
// Encoders accept the common Go integer and float types too (int, uint32,
// float32, ...) and normalise them; decoders always produce the types above.
//
// # Canonical form
//
// EncodeCBOR produces the one canonical DAG-CBOR form of a value (shortest
// integer and length heads, map keys sorted by length then bytes, floats as
// 64-bit, links as tag 42). DecodeCBOR accepts only that form, so that the
// same value always has the same CID and a CID cannot be forged by
// re-encoding.
//
// The package is pure: it does no I/O and starts no goroutines.
package spec
