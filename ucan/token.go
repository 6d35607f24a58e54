package ucan

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

// Token tags. Both the 1.0.0-rc.1 spelling (what go-ucan v1.1.0 and the
// spec's fixtures use) and the final 1.0.0 spelling decode; tokens this
// package builds carry the rc.1 spelling so that go-ucan v1.1.0 reads them.
const (
	TagDelegation      = "ucan/dlg@1.0.0-rc.1"
	TagInvocation      = "ucan/inv@1.0.0-rc.1"
	TagDelegation100   = "ucan/dlg@1.0.0"
	TagInvocation100   = "ucan/inv@1.0.0"
	varsigHeaderKey    = "h"
	maxSafeInteger     = 1<<53 - 1
	defaultNonceLength = 12
)

// varsigEd25519 is the varsig header of an Ed25519 signature over a
// DAG-CBOR payload, the only algorithm this node accepts.
var varsigEd25519 = []byte{0x34, 0x01, 0xed, 0x01, 0xed, 0x01, 0x13, 0x71}

// Kind tells delegations from invocations.
type Kind int

// Token kinds.
const (
	KindDelegation Kind = iota + 1
	KindInvocation
)

// String returns "delegation" or "invocation".
func (k Kind) String() string {
	switch k {
	case KindDelegation:
		return "delegation"
	case KindInvocation:
		return "invocation"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Limits caps what the decoders accept. The zero value of a field means its
// default.
type Limits struct {
	// MaxTokenBytes caps one token's encoded size. Zero means 64 KiB.
	MaxTokenBytes int
	// MaxContainerBytes caps a container, before and after base64 and
	// gzip. Zero means 1 MiB.
	MaxContainerBytes int
	// MaxProofs caps the number of proofs of an invocation (and tokens in
	// a container, plus one). Zero means 16.
	MaxProofs int
}

// DefaultLimits are the limits used for zero fields of Limits.
var DefaultLimits = Limits{MaxTokenBytes: 64 << 10, MaxContainerBytes: 1 << 20, MaxProofs: 16}

func (l Limits) withDefaults() Limits {
	if l.MaxTokenBytes <= 0 {
		l.MaxTokenBytes = DefaultLimits.MaxTokenBytes
	}
	if l.MaxContainerBytes <= 0 {
		l.MaxContainerBytes = DefaultLimits.MaxContainerBytes
	}
	if l.MaxProofs <= 0 {
		l.MaxProofs = DefaultLimits.MaxProofs
	}
	return l
}

// Token is a decoded UCAN 1.0 delegation or invocation. Tokens are
// immutable once decoded or built; they are safe for concurrent reads.
type Token struct {
	// Kind is KindDelegation or KindInvocation.
	Kind Kind
	// Tag is the payload tag as found (e.g. "ucan/dlg@1.0.0-rc.1").
	Tag string
	// Issuer is iss: the did:key that signed the token.
	Issuer string
	// Audience is aud; "" when an invocation has none.
	Audience string
	// Subject is sub; "" for a powerline delegation (sub: null).
	Subject string
	// Command is cmd, e.g. "/wasm/run".
	Command string
	// Policy is pol (delegations only).
	Policy Policy
	// Args is args (invocations only); never nil for an invocation.
	Args map[string]any
	// Proofs is prf (invocations only), in the order found.
	Proofs []cid.Cid
	// Nonce is nonce.
	Nonce []byte
	// Meta is meta, or nil.
	Meta map[string]any
	// Exp, Nbf and Iat are exp, nbf and iat in Unix seconds, nil when
	// absent or null (no expiry, no lower bound).
	Exp, Nbf, Iat *int64
	// Cause is cause (invocations only), or nil.
	Cause *cid.Cid
	// Signature is the Ed25519 signature over the signed payload.
	Signature []byte
	// CID is the CID of the token's canonical DAG-CBOR bytes.
	CID cid.Cid

	raw     []byte         // canonical envelope bytes
	signed  []byte         // canonical bytes of the signed payload {h, tag: payload}
	payload map[string]any // the payload as decoded, for Inspect
}

// Bytes returns the token's canonical DAG-CBOR envelope. Callers must not
// modify it.
func (t *Token) Bytes() []byte { return t.raw }

// IsPowerline reports whether t is a delegation with sub: null.
func (t *Token) IsPowerline() bool { return t.Kind == KindDelegation && t.Subject == "" }

// Payload returns the decoded payload (the map under the tag), for display.
func (t *Token) Payload() map[string]any { return t.payload }

// Verify checks the token's signature against its issuer's did:key. It
// fails with InvalidSignature.
func (t *Token) Verify() error {
	if err := VerifyDID(t.Issuer, t.signed, t.Signature); err != nil {
		return failWrap(NameInvalidSignature, err, "%s %s signed by %s", t.Kind, t.CID, t.Issuer)
	}
	return nil
}

// Decode decodes one token envelope without checking its signature (see
// Token.Verify and Validate). Canonical DAG-CBOR is decoded directly; a
// token that is valid DAG-CBOR but not canonical (map keys in another
// order, long integer heads) is decoded and re-encoded canonically, so its
// CID and its signed bytes are those of the canonical form: the same token
// under another encoding is the same token, for revocation and replay
// alike. Errors are *Error named Malformed or TooLarge.
func Decode(b []byte, lim Limits) (tok *Token, err error) {
	lim = lim.withDefaults()
	if len(b) > lim.MaxTokenBytes {
		return nil, fail(NameTooLarge, "token of %d bytes, limit %d", len(b), lim.MaxTokenBytes)
	}
	defer func() {
		if r := recover(); r != nil {
			tok, err = nil, fail(NameMalformed, "decoder panic: %v", r)
		}
	}()
	slim := spec.Limits{MaxBytes: lim.MaxTokenBytes, MaxDepth: 64, MaxItems: lim.MaxTokenBytes}
	v, err := spec.DecodeCBOR(b, slim)
	raw := b
	canonical := true
	if errors.Is(err, spec.ErrNotCanonical) {
		canonical = false
		v, err = decodeLenient(b, slim)
		if err == nil {
			raw, err = spec.EncodeCBOR(v)
		}
	}
	if err != nil {
		return nil, failWrap(NameMalformed, err, "token")
	}
	env, ok := v.([]any)
	if !ok || len(env) != 2 {
		return nil, fail(NameMalformed, "envelope is not [signature, payload]")
	}
	sig, ok := env[0].([]byte)
	if !ok {
		return nil, fail(NameMalformed, "signature is not bytes")
	}
	sp, ok := env[1].(map[string]any)
	if !ok || len(sp) != 2 {
		return nil, fail(NameMalformed, "signed payload is not {h, tag: payload}")
	}
	t := &Token{Signature: sig, raw: raw, CID: spec.SumCBOR(raw)}
	if canonical {
		// Slice the signed payload out of the envelope instead of encoding
		// it again: 0x82, then the signature's byte-string head and body.
		t.signed = raw[1+cborHeadLen(len(sig))+len(sig):]
	} else if t.signed, err = spec.EncodeCBOR(sp); err != nil {
		return nil, failWrap(NameMalformed, err, "signed payload")
	}
	hdr, ok := sp[varsigHeaderKey].([]byte)
	if !ok {
		return nil, fail(NameMalformed, "no varsig header")
	}
	if !bytes.Equal(hdr, varsigEd25519) {
		return nil, fail(NameMalformed, "unsupported varsig header %x (want Ed25519 over DAG-CBOR)", hdr)
	}
	for k, pv := range sp {
		if k == varsigHeaderKey {
			continue
		}
		switch k {
		case TagDelegation, TagDelegation100:
			t.Kind = KindDelegation
		case TagInvocation, TagInvocation100:
			t.Kind = KindInvocation
		default:
			return nil, fail(NameMalformed, "unsupported token tag %q", trunc(k))
		}
		t.Tag = k
		p, ok := pv.(map[string]any)
		if !ok {
			return nil, fail(NameMalformed, "payload is not a map")
		}
		t.payload = p
	}
	if err := t.parsePayload(); err != nil {
		return nil, err
	}
	return t, nil
}

// cborHeadLen is the length of the canonical CBOR head for argument n.
func cborHeadLen(n int) int {
	switch {
	case n < 24:
		return 1
	case n <= math.MaxUint8:
		return 2
	case n <= math.MaxUint16:
		return 3
	case n <= math.MaxUint32:
		return 5
	}
	return 9
}

var (
	delegationFields = map[string]bool{"iss": true, "aud": true, "sub": true, "cmd": true, "pol": true, "nonce": true, "meta": true, "nbf": true, "exp": true}
	invocationFields = map[string]bool{"iss": true, "aud": true, "sub": true, "cmd": true, "args": true, "prf": true, "nonce": true, "meta": true, "exp": true, "iat": true, "cause": true}
)

func (t *Token) parsePayload() error {
	p := t.payload
	fields := delegationFields
	if t.Kind == KindInvocation {
		fields = invocationFields
	}
	for k := range p {
		if !fields[k] {
			return fail(NameMalformed, "unknown %s field %q", t.Kind, trunc(k))
		}
	}
	var err error
	if t.Issuer, err = didField(p, "iss", true); err != nil {
		return err
	}
	if t.Audience, err = didField(p, "aud", t.Kind == KindDelegation); err != nil {
		return err
	}
	if sub, present := p["sub"]; !present {
		return fail(NameMalformed, "no sub")
	} else if sub != nil || t.Kind == KindInvocation {
		if t.Subject, err = didField(p, "sub", true); err != nil {
			return err
		}
	}
	cmd, ok := p["cmd"].(string)
	if !ok {
		return fail(NameMalformed, "cmd is not a string")
	}
	if err := checkCommand(cmd); err != nil {
		return err
	}
	t.Command = cmd
	if t.Nonce, ok = p["nonce"].([]byte); !ok {
		return fail(NameMalformed, "nonce is not bytes")
	}
	if m, present := p["meta"]; present {
		if t.Meta, ok = m.(map[string]any); !ok {
			return fail(NameMalformed, "meta is not a map")
		}
	}
	if _, present := p["exp"]; !present {
		return fail(NameMalformed, "no exp (null for none)")
	}
	if t.Exp, err = timeField(p, "exp"); err != nil {
		return err
	}
	if t.Nbf, err = timeField(p, "nbf"); err != nil {
		return err
	}
	if t.Iat, err = timeField(p, "iat"); err != nil {
		return err
	}
	if t.Kind == KindDelegation {
		pol, present := p["pol"]
		if !present {
			return fail(NameMalformed, "no pol")
		}
		if t.Policy, err = ParsePolicy(pol); err != nil {
			return err
		}
		return nil
	}
	if t.Args, ok = p["args"].(map[string]any); !ok {
		return fail(NameMalformed, "args is not a map")
	}
	prf, ok := p["prf"].([]any)
	if !ok {
		return fail(NameMalformed, "prf is not a list")
	}
	t.Proofs = make([]cid.Cid, len(prf))
	for i, x := range prf {
		if t.Proofs[i], ok = x.(cid.Cid); !ok {
			return fail(NameMalformed, "prf[%d] is not a link", i)
		}
	}
	if c, present := p["cause"]; present && c != nil {
		cc, ok := c.(cid.Cid)
		if !ok {
			return fail(NameMalformed, "cause is not a link")
		}
		t.Cause = &cc
	}
	return nil
}

func didField(p map[string]any, key string, required bool) (string, error) {
	v, present := p[key]
	if !present {
		if required {
			return "", fail(NameMalformed, "no %s", key)
		}
		return "", nil
	}
	s, ok := v.(string)
	if !ok || !strings.HasPrefix(s, "did:") || len(s) > 512 {
		return "", fail(NameMalformed, "%s is not a DID", key)
	}
	return s, nil
}

func timeField(p map[string]any, key string) (*int64, error) {
	switch v := p[key].(type) {
	case nil:
		return nil, nil
	case int64:
		if v < 0 || v > maxSafeInteger {
			return nil, fail(NameMalformed, "%s %d out of range", key, v)
		}
		return &v, nil
	}
	return nil, fail(NameMalformed, "%s is not an integer", key)
}

// checkCommand enforces the UCAN command syntax: "/" or "/"-separated
// non-empty lowercase segments, no trailing slash.
func checkCommand(cmd string) error {
	if cmd == "/" {
		return nil
	}
	if !strings.HasPrefix(cmd, "/") || strings.HasSuffix(cmd, "/") || strings.Contains(cmd, "//") || len(cmd) > 1024 {
		return fail(NameMalformed, "bad command %q", trunc(cmd))
	}
	if strings.ToLower(cmd) != cmd {
		return fail(NameMalformed, "command %q is not lowercase", trunc(cmd))
	}
	return nil
}

// commandCovers reports whether a delegation of cmd dlg allows invoking
// cmd inv: "/" covers everything, "/wasm" covers "/wasm" and "/wasm/run"
// but not "/wasmx".
func commandCovers(dlg, inv string) bool {
	if dlg == "/" || dlg == inv {
		return true
	}
	return strings.HasPrefix(inv, dlg) && inv[len(dlg)] == '/'
}
