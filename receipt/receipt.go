package receipt

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/ucan"
)

// Wire constants of the receipt envelope (spec/SPEC.md §4).
const (
	// Cmd is the command of every receipt: a receipt is a UCAN invocation
	// that asserts a result.
	Cmd = "/ucan/assert/receipt"
	// Tag is the UCAN token tag the payload sits under: the invocation tag
	// of UCAN 1.0.0-rc.1, the version go-ucan v1.1.0 reads.
	Tag = "ucan/inv@1.0.0-rc.1"
	// MinNonceLen is the shortest nonce a receipt may carry (go-ucan
	// refuses invocations with shorter nonces).
	MinNonceLen = 12
	// DefaultMaxBytes caps the size of an encoded receipt that Decode
	// accepts.
	DefaultMaxBytes = 4 << 20
	// maxSafeInt is 2^53-1: UCAN timestamps must fit a JavaScript number.
	maxSafeInt = 1<<53 - 1
)

// VarsigHeader is the varsig header ("h") of every receipt: varsig v1,
// EdDSA over the Ed25519 curve, SHA-512, payload encoded as DAG-CBOR. It is
// the header go-did-it's Ed25519 keys produce for go-ucan.
var VarsigHeader = []byte{0x34, 0x01, 0xed, 0x01, 0xed, 0x01, 0x13, 0x71}

// Receipt is what an executor asserts about one run of a task. It is the
// unsigned content; Issue signs it into a Signed.
type Receipt struct {
	// Iss is the DID of the executor that ran the task and signs the
	// receipt. Issue fills it from the key when empty.
	Iss string
	// Ran is the CID of the task that ran. Required.
	Ran cid.Cid
	// Inv is the CID of the invocation that asked for the run, or
	// cid.Undef (the inv key is then absent) for a task run on the node
	// owner's own behalf, e.g. a local workflow with no UCAN invocation.
	Inv cid.Cid
	// Out is the task's result: {ok: value} or {err: {name, message}}.
	Out spec.Result
	// Fx lists follow-up tasks the run requested; usually empty.
	Fx []cid.Cid
	// Meta is free-form metadata (fuel used, duration, where it ran, ...):
	// any IPLD map. Nil is omitted from the encoding; an empty map is
	// encoded as {}.
	Meta map[string]any
	// Nonce makes the receipt unique; at least MinNonceLen bytes. Issue
	// fills MinNonceLen random bytes when it is nil.
	Nonce []byte
	// Iat is when the receipt was issued, in Unix seconds; 0 omits it.
	Iat int64
	// Exp is when the receipt expires, in Unix seconds; 0 means never
	// (encoded as null).
	Exp int64
}

// Signed is a sealed receipt: its envelope bytes, the signature and the
// decoded fields. A Signed is immutable and safe for concurrent use; the
// embedded Receipt is a decoded view, and changing its fields does not
// change Bytes, CID or what Verify checks.
type Signed struct {
	Receipt
	raw     []byte  // the whole envelope
	sig     []byte  // raw[3:67]
	payload []byte  // raw[67:], the signed {"h", tag} map
	id      cid.Cid // defined when Issue made it
}

// Bytes returns the envelope's DAG-CBOR bytes. Callers must not modify
// them.
func (s *Signed) Bytes() []byte { return s.raw }

// Signature returns the Ed25519 signature. Callers must not modify it.
func (s *Signed) Signature() []byte { return s.sig }

// SignedPayload returns the bytes the signature covers: the DAG-CBOR of
// the {"h": header, Tag: payload} map.
func (s *Signed) SignedPayload() []byte { return s.payload }

// CID returns the receipt CID: CIDv1, dag-cbor, sha2-256 over Bytes.
func (s *Signed) CID() cid.Cid {
	if s.id.Defined() {
		return s.id
	}
	return spec.SumCBOR(s.raw)
}

// Key names of the payload and of args, in canonical order (by length,
// then bytewise), as the encoder writes them and the decoder expects them.
const (
	keyCmd   = "cmd"
	keyExp   = "exp"
	keyIat   = "iat"
	keyIss   = "iss"
	keyPrf   = "prf"
	keySub   = "sub"
	keyArgs  = "args"
	keyMeta  = "meta"
	keyNonce = "nonce"

	keyFx  = "fx"
	keyInv = "inv"
	keyOut = "out"
	keyRan = "ran"
)

// envelopePrefix is the head of the envelope list and of the signature:
// a 2-list, then a 64-byte byte string.
var envelopePrefix = [3]byte{0x82, 0x58, 0x40}

const sigEnd = len(envelopePrefix) + ed25519.SignatureSize

// Issue signs r with k and returns the sealed receipt. The bytes are the
// UCAN 1.0 envelope [sig, {"h": VarsigHeader, Tag: payload}] with the
// payload an invocation of Cmd whose iss and sub are k's DID and whose args
// are {ran, inv, out, fx}; the signature is Ed25519 over the DAG-CBOR of
// the {"h", Tag} map. Issue is pure apart from reading random bytes for a
// nil nonce.
func Issue(k *ucan.Key, r Receipt) (*Signed, error) {
	if r.Iss == "" {
		r.Iss = k.DID()
	} else if r.Iss != k.DID() {
		return nil, fmt.Errorf("%w: iss %q is not the signing key's DID %q", ErrBadReceipt, r.Iss, k.DID())
	}
	if r.Nonce == nil {
		r.Nonce = make([]byte, MinNonceLen)
		if _, err := rand.Read(r.Nonce); err != nil {
			return nil, err
		}
	}
	buf, err := r.appendEnvelope(make([]byte, 0, 256+len(r.Iss)*2))
	if err != nil {
		return nil, err
	}
	copy(buf[len(envelopePrefix):sigEnd], ed25519.Sign(k.Private(), buf[sigEnd:]))
	return &Signed{
		Receipt: r,
		raw:     buf,
		sig:     buf[len(envelopePrefix):sigEnd],
		payload: buf[sigEnd:],
		id:      spec.SumCBOR(buf),
	}, nil
}

// appendEnvelope appends the envelope with a zero signature.
func (r *Receipt) appendEnvelope(dst []byte) ([]byte, error) {
	if !r.Ran.Defined() {
		return dst, fmt.Errorf("%w: ran is undefined", ErrBadReceipt)
	}
	if len(r.Nonce) < MinNonceLen {
		return dst, fmt.Errorf("%w: nonce of %d bytes, want at least %d", ErrBadReceipt, len(r.Nonce), MinNonceLen)
	}
	if r.Iat < 0 || r.Iat > maxSafeInt || r.Exp < 0 || r.Exp > maxSafeInt {
		return dst, fmt.Errorf("%w: iat or exp outside 0..2^53-1", ErrBadReceipt)
	}
	dst = append(dst, envelopePrefix[:]...)
	dst = append(dst, make([]byte, ed25519.SignatureSize)...)
	// {"h": header, Tag: payload}
	dst = append(dst, 0xa2)
	dst = appendText(dst, "h")
	dst = appendBytes(dst, VarsigHeader)
	dst = appendText(dst, Tag)

	n := uint64(7)
	if r.Iat != 0 {
		n++
	}
	if r.Meta != nil {
		n++
	}
	dst = appendHead(dst, majMap, n)
	dst = appendText(dst, keyCmd)
	dst = appendText(dst, Cmd)
	dst = appendText(dst, keyExp)
	if r.Exp == 0 {
		dst = append(dst, cborNull)
	} else {
		dst = appendHead(dst, majUint, uint64(r.Exp))
	}
	if r.Iat != 0 {
		dst = appendText(dst, keyIat)
		dst = appendHead(dst, majUint, uint64(r.Iat))
	}
	dst = appendText(dst, keyIss)
	dst = appendText(dst, r.Iss)
	dst = appendText(dst, keyPrf)
	dst = append(dst, 0x80) // no proofs: the executor asserts on its own authority
	dst = appendText(dst, keySub)
	dst = appendText(dst, r.Iss)

	dst = appendText(dst, keyArgs)
	if r.Inv.Defined() {
		dst = append(dst, 0xa4)
	} else {
		dst = append(dst, 0xa3)
	}
	dst = appendText(dst, keyFx)
	dst = appendHead(dst, majArray, uint64(len(r.Fx)))
	var err error
	for i, c := range r.Fx {
		if !c.Defined() {
			return dst, fmt.Errorf("%w: fx[%d] is undefined", ErrBadReceipt, i)
		}
		dst = appendLink(dst, c)
	}
	if r.Inv.Defined() {
		dst = appendText(dst, keyInv)
		dst = appendLink(dst, r.Inv)
	}
	dst = appendText(dst, keyOut)
	if dst, err = appendResult(dst, r.Out); err != nil {
		return dst, err
	}
	dst = appendText(dst, keyRan)
	dst = appendLink(dst, r.Ran)

	if r.Meta != nil {
		dst = appendText(dst, keyMeta)
		if dst, err = spec.AppendCBOR(dst, r.Meta); err != nil {
			return dst, fmt.Errorf("%w: meta: %w", ErrBadReceipt, err)
		}
	}
	dst = appendText(dst, keyNonce)
	dst = appendBytes(dst, r.Nonce)
	return dst, nil
}

func appendResult(dst []byte, out spec.Result) ([]byte, error) {
	dst = append(dst, 0xa1)
	if out.Err != nil {
		dst = appendText(dst, "err")
		dst = append(dst, 0xa2)
		dst = appendText(dst, "name")
		dst, err := appendValidText(dst, out.Err.Name, "out.err.name")
		if err != nil {
			return dst, err
		}
		dst = appendText(dst, "message")
		return appendValidText(dst, out.Err.Message, "out.err.message")
	}
	dst = appendText(dst, "ok")
	dst, err := spec.AppendCBOR(dst, out.Ok)
	if err != nil {
		return dst, fmt.Errorf("%w: out.ok: %w", ErrBadReceipt, err)
	}
	return dst, nil
}

func appendValidText(dst []byte, s, field string) ([]byte, error) {
	dst, err := spec.AppendCBOR(dst, s)
	if err != nil {
		return dst, fmt.Errorf("%w: %s: %w", ErrBadReceipt, field, err)
	}
	return dst, nil
}

// CBOR heads used by the envelope encoder and decoder.
const (
	majUint  = 0
	majNeg   = 1
	majBytes = 2
	majText  = 3
	majArray = 4
	majMap   = 5
	majTag   = 6
	majOther = 7

	cborNull = 0xf6
	cborTrue = 0xf5
)

func appendHead(dst []byte, major byte, n uint64) []byte { return spec.AppendHead(dst, major, n) }

// appendText appends a string known to be valid UTF-8 (a constant or a
// DID, which is ASCII by construction of did:key; Decode checks DIDs).
func appendText(dst []byte, s string) []byte { return spec.AppendText(dst, s) }

func appendBytes(dst, b []byte) []byte { return spec.AppendBytes(dst, b) }

func appendLink(dst []byte, c cid.Cid) []byte {
	k := c.KeyString() // the CID's binary form, without a copy
	dst = appendHead(dst, majTag, 42)
	dst = appendHead(dst, majBytes, uint64(len(k)+1))
	dst = append(dst, 0)
	return append(dst, k...)
}
