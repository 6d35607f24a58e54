package spec

import (
	"crypto/sha256"
	"fmt"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// Multicodec codes used by ipvm.
const (
	CodecRaw     = cid.Raw // 0x55: raw bytes
	CodecDagPB   = cid.DagProtobuf
	CodecDagCBOR = cid.DagCBOR // 0x71: every native ipvm object
	CodecDagJSON = cid.DagJSON
)

// SumCBOR returns the CIDv1 (dag-cbor, sha2-256) of DAG-CBOR bytes. It does
// not check that b is canonical; use it on bytes this process encoded or has
// decoded with DecodeCBOR.
func SumCBOR(b []byte) cid.Cid {
	return Sum(CodecDagCBOR, b)
}

// Sum returns the CIDv1 of b under codec with a sha2-256 multihash.
func Sum(codec uint64, b []byte) cid.Cid {
	d := sha256.Sum256(b)
	// A sha2-256 multihash is 0x12 0x20 then the digest.
	var buf [34]byte
	buf[0], buf[1] = mh.SHA2_256, 32
	copy(buf[2:], d[:])
	return cid.NewCidV1(codec, mh.Multihash(buf[:]))
}

// CIDOf encodes v as canonical DAG-CBOR and returns its CID and bytes.
func CIDOf(v any) (cid.Cid, []byte, error) {
	b, err := EncodeCBOR(v)
	if err != nil {
		return cid.Undef, nil, err
	}
	return SumCBOR(b), b, nil
}

// VerifyCID reports whether b hashes to c under c's own multihash function.
// It supports sha2-256, sha2-512, sha3-256 and the identity hash.
func VerifyCID(c cid.Cid, b []byte) error {
	pref := c.Prefix()
	got, err := pref.Sum(b)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !got.Equals(c) {
		return fmt.Errorf("spec: bytes hash to %s, not %s", got, c)
	}
	return nil
}

// ParseCID parses a CID string, also accepting the ipfs:// URL form.
func ParseCID(s string) (cid.Cid, error) {
	const scheme = "ipfs://"
	if len(s) > len(scheme) && s[:len(scheme)] == scheme {
		s = s[len(scheme):]
	}
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("spec: bad CID %q: %v", truncate(s, 80), err)
	}
	return c, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
