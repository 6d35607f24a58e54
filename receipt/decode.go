package receipt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

// Decode parses a sealed receipt with the default limits (DefaultMaxBytes,
// and spec.DefaultLimits' depth and item caps for out.ok and meta). See
// DecodeWith.
func Decode(b []byte) (*Signed, error) {
	return DecodeWith(b, spec.Limits{})
}

// DecodeWith parses a sealed receipt. It accepts exactly the canonical
// envelope Issue produces (spec/SPEC.md §4): anything else, including a
// valid but non-canonical DAG-CBOR encoding of the same receipt, an unknown
// or missing field, or a field of the wrong type, is an ErrMalformed whose
// message names the field; input over the limits is ErrTooLarge. A zero
// lim.MaxBytes means DefaultMaxBytes.
//
// DecodeWith checks the structure only; call Verify before trusting the
// receipt. The returned Signed keeps b (and sub-slices of it): the caller
// must not modify b afterwards.
func DecodeWith(b []byte, lim spec.Limits) (*Signed, error) {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultMaxBytes
	}
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = spec.DefaultLimits.MaxDepth
	}
	if lim.MaxItems <= 0 {
		lim.MaxItems = spec.DefaultLimits.MaxItems
	}
	if len(b) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), lim.MaxBytes)
	}
	d := decoder{b: b, lim: lim}
	s, err := d.envelope()
	if err != nil {
		return nil, err
	}
	return s, nil
}

type decoder struct {
	b   []byte
	off int
	lim spec.Limits
}

// fail builds a decoding error naming the field, wrapping ErrMalformed (or
// ErrTooLarge) and the spec error behind it, if any.
func (d *decoder) fail(field string, cause error, format string, args ...any) error {
	top := ErrMalformed
	if errors.Is(cause, spec.ErrTooLarge) {
		top = ErrTooLarge
	}
	msg := fmt.Sprintf(format, args...)
	if cause != nil {
		return fmt.Errorf("%w: %s (at byte %d): %s: %w", top, field, d.off, msg, cause)
	}
	return fmt.Errorf("%w: %s (at byte %d): %s", top, field, d.off, msg)
}

var (
	errEOF     = fmt.Errorf("%w: unexpected end of input", spec.ErrMalformed)
	errLong    = fmt.Errorf("%w: integer head not shortest", spec.ErrNotCanonical)
	errIndef   = fmt.Errorf("%w: indefinite length", spec.ErrNotCanonical)
	errReserve = fmt.Errorf("%w: reserved additional info", spec.ErrMalformed)
)

// head reads a CBOR head, refusing non-shortest and indefinite forms. For
// major type 7 it returns the additional info and reads nothing more.
func (d *decoder) head() (major byte, n uint64, err error) {
	if d.off >= len(d.b) {
		return 0, 0, errEOF
	}
	ib := d.b[d.off]
	d.off++
	major, info := ib>>5, ib&0x1f
	if major == majOther || info < 24 {
		return major, uint64(info), nil
	}
	var size int
	switch info {
	case 24:
		size = 1
	case 25:
		size = 2
	case 26:
		size = 4
	case 27:
		size = 8
	case 31:
		return 0, 0, errIndef
	default:
		return 0, 0, errReserve
	}
	if len(d.b)-d.off < size {
		return 0, 0, errEOF
	}
	p := d.b[d.off : d.off+size]
	d.off += size
	var min uint64
	switch size {
	case 1:
		n, min = uint64(p[0]), 24
	case 2:
		n, min = uint64(binary.BigEndian.Uint16(p)), math.MaxUint8+1
	case 4:
		n, min = uint64(binary.BigEndian.Uint32(p)), math.MaxUint16+1
	case 8:
		n, min = binary.BigEndian.Uint64(p), math.MaxUint32+1
	}
	if n < min {
		return 0, 0, errLong
	}
	return major, n, nil
}

var kindNames = [8]string{"int", "negative int", "bytes", "string", "list", "map", "tag", "simple value or float"}

// expect reads a head of the given major type.
func (d *decoder) expect(field string, major byte, what string) (uint64, error) {
	m, n, err := d.head()
	if err != nil {
		return 0, d.fail(field, err, "bad head")
	}
	if m != major {
		if m == majOther && n == 22 {
			return 0, d.fail(field, nil, "must be %s, got null", what)
		}
		return 0, d.fail(field, nil, "must be %s, got %s", what, kindNames[m])
	}
	return n, nil
}

func (d *decoder) take(field string, n uint64) ([]byte, error) {
	if n > uint64(len(d.b)-d.off) {
		return nil, d.fail(field, errEOF, "length %d", n)
	}
	p := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return p, nil
}

// rawText reads a string's bytes, checking they are valid UTF-8.
func (d *decoder) rawText(field string) ([]byte, error) {
	n, err := d.expect(field, majText, "a string")
	if err != nil {
		return nil, err
	}
	p, err := d.take(field, n)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(p) {
		return nil, d.fail(field, spec.ErrMalformed, "string is not valid UTF-8")
	}
	return p, nil
}

func (d *decoder) text(field string) (string, error) {
	p, err := d.rawText(field)
	return string(p), err
}

func (d *decoder) bytesField(field string) ([]byte, error) {
	n, err := d.expect(field, majBytes, "bytes")
	if err != nil {
		return nil, err
	}
	return d.take(field, n)
}

// key reads a map key and checks it sorts after prev. The result aliases
// the input, so that comparing it with the known keys does not allocate.
func (d *decoder) key(where string, prev []byte, first bool) ([]byte, error) {
	k, err := d.rawText(where) // a key: where names the enclosing map
	if err != nil {
		return nil, err
	}
	if !first && (len(prev) > len(k) || len(prev) == len(k) && bytes.Compare(prev, k) >= 0) {
		if bytes.Equal(prev, k) {
			return nil, d.fail(where+"."+string(k), spec.ErrNotCanonical, "duplicate key")
		}
		return nil, d.fail(where+"."+string(k), spec.ErrNotCanonical, "key out of canonical order")
	}
	return k, nil
}

// isNull consumes a null if one is next.
func (d *decoder) isNull() bool {
	if d.off < len(d.b) && d.b[d.off] == cborNull {
		d.off++
		return true
	}
	return false
}

func (d *decoder) link(field string) (cid.Cid, error) {
	tag, err := d.expect(field, majTag, "a link")
	if err != nil {
		return cid.Undef, err
	}
	if tag != 42 {
		return cid.Undef, d.fail(field, spec.ErrMalformed, "tag %d, want 42", tag)
	}
	p, err := d.bytesField(field)
	if err != nil {
		return cid.Undef, err
	}
	if len(p) < 2 || p[0] != 0 {
		return cid.Undef, d.fail(field, spec.ErrMalformed, "link without the 0x00 multibase prefix")
	}
	c, err := cid.Cast(p[1:])
	if err != nil {
		return cid.Undef, d.fail(field, spec.ErrMalformed, "bad CID: %v", err)
	}
	return c, nil
}

// timestamp reads a positive integer no larger than 2^53-1.
func (d *decoder) timestamp(field string) (int64, error) {
	n, err := d.expect(field, majUint, "a positive integer")
	if err != nil {
		return 0, err
	}
	if n == 0 || n > maxSafeInt {
		return 0, d.fail(field, nil, "%d is outside 1..2^53-1", n)
	}
	return int64(n), nil
}

// skip moves past one value without building it, so that the value's
// bytes can be handed to spec.DecodeCBOR, which does the full checking.
func (d *decoder) skip(field string, depth int) error {
	if depth > d.lim.MaxDepth+1 {
		return d.fail(field, spec.ErrTooLarge, "nesting deeper than %d", d.lim.MaxDepth)
	}
	m, n, err := d.head()
	if err != nil {
		return d.fail(field, err, "bad value")
	}
	switch m {
	case majBytes, majText:
		_, err = d.take(field, n)
		return err
	case majArray, majMap:
		if m == majMap {
			if n > math.MaxUint64/2 {
				return d.fail(field, errEOF, "map of %d", n)
			}
			n *= 2
		}
		if n > uint64(len(d.b)-d.off) {
			return d.fail(field, errEOF, "%d items", n)
		}
		for range n {
			if err := d.skip(field, depth+1); err != nil {
				return err
			}
		}
		return nil
	case majTag:
		return d.skip(field, depth+1)
	case majOther:
		switch n {
		case 24:
			_, err = d.take(field, 1)
		case 25:
			_, err = d.take(field, 2)
		case 26:
			_, err = d.take(field, 4)
		case 27:
			_, err = d.take(field, 8)
		}
		return err
	}
	return nil
}

// value reads one arbitrary IPLD value with spec's strict decoder.
func (d *decoder) value(field string) (any, error) {
	start := d.off
	if err := d.skip(field, 0); err != nil {
		return nil, err
	}
	v, err := spec.DecodeCBOR(d.b[start:d.off], d.lim)
	if err != nil {
		d.off = start
		return nil, d.fail(field, err, "bad value")
	}
	return v, nil
}

// Field bits, to find missing and repeated fields.
const (
	hasCmd = 1 << iota
	hasExp
	hasIss
	hasPrf
	hasSub
	hasArgs
	hasNonce
	required = hasCmd | hasExp | hasIss | hasPrf | hasSub | hasArgs | hasNonce
)

// envelopeHead reads the envelope up to the payload's field map: the list
// [signature, {"h": header, tag: ...}], checking the signature's length, the
// varsig header and the tag. It returns the signature and where the signed
// payload starts.
func (d *decoder) envelopeHead() (sig []byte, payloadStart int, err error) {
	n, err := d.expect("envelope", majArray, "a list [signature, payload]")
	if err != nil {
		return nil, 0, err
	}
	if n != 2 {
		return nil, 0, d.fail("envelope", nil, "a list of %d, want [signature, payload]", n)
	}
	if sig, err = d.bytesField("signature"); err != nil {
		return nil, 0, err
	}
	if len(sig) != 64 {
		return nil, 0, d.fail("signature", nil, "%d bytes, want 64 (Ed25519)", len(sig))
	}
	payloadStart = d.off
	if n, err = d.expect("payload", majMap, `a map {"h", tag}`); err != nil {
		return nil, 0, err
	}
	if n != 2 {
		return nil, 0, d.fail("payload", nil, `a map of %d entries, want {"h", tag}`, n)
	}
	hk, err := d.key("payload", nil, true)
	if err != nil {
		return nil, 0, err
	}
	if string(hk) != "h" {
		return nil, 0, d.fail("payload", nil, `first key %q, want "h"`, hk)
	}
	h, err := d.bytesField("h")
	if err != nil {
		return nil, 0, err
	}
	if !bytes.Equal(h, VarsigHeader) {
		return nil, 0, d.fail("h", nil, "varsig header %x, want %x (Ed25519, DAG-CBOR)", h, VarsigHeader)
	}
	if k, err := d.key("payload", hk, false); err != nil {
		return nil, 0, err
	} else if string(k) != Tag {
		return nil, 0, d.fail("payload", nil, "token tag %q, want %q", k, Tag)
	}
	return sig, payloadStart, nil
}

func (d *decoder) envelope() (*Signed, error) {
	sig, payloadStart, err := d.envelopeHead()
	if err != nil {
		return nil, err
	}
	s := &Signed{raw: d.b, sig: sig, payload: d.b[payloadStart:]}
	if err := d.fields(&s.Receipt); err != nil {
		return nil, err
	}
	if d.off != len(d.b) {
		return nil, d.fail("envelope", spec.ErrMalformed, "%d trailing bytes", len(d.b)-d.off)
	}
	return s, nil
}

// fields reads the invocation payload map of a receipt.
func (d *decoder) fields(r *Receipt) error {
	const where = Tag
	n, err := d.expect(where, majMap, "a map")
	if err != nil {
		return err
	}
	var seen int
	var sub, prev []byte
	for i := range n {
		kb, err := d.key(where, prev, i == 0)
		if err != nil {
			return err
		}
		prev = kb
		switch k := payloadKey(kb); k {
		case keyCmd:
			seen |= hasCmd
			c, err := d.rawText(k)
			if err != nil {
				return err
			}
			if string(c) != Cmd {
				return d.fail(k, nil, "%q, want %q", c, Cmd)
			}
		case keyExp:
			seen |= hasExp
			if !d.isNull() {
				if r.Exp, err = d.timestamp(k); err != nil {
					return err
				}
			}
		case keyIat:
			if r.Iat, err = d.timestamp(k); err != nil {
				return err
			}
		case keyIss:
			seen |= hasIss
			if r.Iss, err = d.text(k); err != nil {
				return err
			}
		case keyPrf:
			seen |= hasPrf
			np, err := d.expect(k, majArray, "a list")
			if err != nil {
				return err
			}
			if np != 0 {
				return d.fail(k, nil, "a receipt carries no proofs, got %d", np)
			}
		case keySub:
			seen |= hasSub
			if sub, err = d.rawText(k); err != nil {
				return err
			}
		case keyArgs:
			seen |= hasArgs
			if err := d.args(r); err != nil {
				return err
			}
		case keyMeta:
			if d.off >= len(d.b) || d.b[d.off]>>5 != majMap {
				if _, err := d.expect(k, majMap, "a map"); err != nil {
					return err
				}
			}
			v, err := d.value(k)
			if err != nil {
				return err
			}
			r.Meta = v.(map[string]any)
		case keyNonce:
			seen |= hasNonce
			if r.Nonce, err = d.bytesField(k); err != nil {
				return err
			}
			if len(r.Nonce) < MinNonceLen {
				return d.fail(k, nil, "%d bytes, want at least %d", len(r.Nonce), MinNonceLen)
			}
		default:
			return d.fail(string(kb), nil, "unexpected field in a receipt")
		}
	}
	if missing := required &^ seen; missing != 0 {
		return d.fail(where, nil, "missing field %s", fieldName(missing))
	}
	if string(sub) != r.Iss {
		return d.fail(keySub, nil, "sub %q is not iss %q", sub, r.Iss)
	}
	return nil
}

// payloadKey returns the constant for a known payload key, without
// allocating, or "" for any other key.
func payloadKey(kb []byte) string {
	switch string(kb) {
	case keyCmd:
		return keyCmd
	case keyExp:
		return keyExp
	case keyIat:
		return keyIat
	case keyIss:
		return keyIss
	case keyPrf:
		return keyPrf
	case keySub:
		return keySub
	case keyArgs:
		return keyArgs
	case keyMeta:
		return keyMeta
	case keyNonce:
		return keyNonce
	}
	return ""
}

func fieldName(missing int) string {
	names := []string{keyCmd, keyExp, keyIss, keyPrf, keySub, keyArgs, keyNonce}
	for i, name := range names {
		if missing&(1<<i) != 0 {
			return name
		}
	}
	return "?"
}

// args reads {fx, inv, out, ran}, inv being optional.
func (d *decoder) args(r *Receipt) error {
	n, err := d.expect(keyArgs, majMap, "a map {fx, inv, out, ran}")
	if err != nil {
		return err
	}
	if n > 4 {
		return d.fail(keyArgs, nil, "%d entries, want fx, inv (optional), out, ran", n)
	}
	const (
		hasFx = 1 << iota
		hasOut
		hasRan
	)
	var seen int
	var prev []byte
	for i := range int(n) {
		kb, err := d.key(keyArgs, prev, i == 0)
		if err != nil {
			return err
		}
		prev = kb
		switch string(kb) {
		case keyFx:
			seen |= hasFx
			nf, err := d.expect("args.fx", majArray, "a list of links")
			if err != nil {
				return err
			}
			if nf > uint64(len(d.b)-d.off)/4 { // a link takes more than 4 bytes
				return d.fail("args.fx", errEOF, "list of %d", nf)
			}
			if nf > 0 {
				r.Fx = make([]cid.Cid, nf)
				for j := range r.Fx {
					if r.Fx[j], err = d.link(fmt.Sprintf("args.fx[%d]", j)); err != nil {
						return err
					}
				}
			}
		case keyInv:
			if r.Inv, err = d.link("args.inv"); err != nil {
				return err
			}
		case keyOut:
			seen |= hasOut
			if r.Out, err = d.out(); err != nil {
				return err
			}
		case keyRan:
			seen |= hasRan
			if r.Ran, err = d.link("args.ran"); err != nil {
				return err
			}
		default:
			return d.fail("args."+string(kb), nil, "unexpected field, want fx, inv, out or ran")
		}
	}
	switch {
	case seen&hasFx == 0:
		return d.fail(keyArgs, nil, "missing field args.fx")
	case seen&hasOut == 0:
		return d.fail(keyArgs, nil, "missing field args.out")
	case seen&hasRan == 0:
		return d.fail(keyArgs, nil, "missing field args.ran")
	}
	return nil
}

// out reads {ok: value} or {err: {name, message}}.
func (d *decoder) out() (spec.Result, error) {
	n, err := d.expect("args.out", majMap, "a map {ok} or {err}")
	if err != nil {
		return spec.Result{}, err
	}
	if n != 1 {
		return spec.Result{}, d.fail("args.out", nil, "%d entries, want exactly one of ok, err", n)
	}
	k, err := d.rawText("args.out key")
	if err != nil {
		return spec.Result{}, err
	}
	switch string(k) {
	case "ok":
		v, err := d.value("args.out.ok")
		if err != nil {
			return spec.Result{}, err
		}
		return spec.Result{Ok: v}, nil
	case "err":
		ne, err := d.expect("args.out.err", majMap, "a map {name, message}")
		if err != nil {
			return spec.Result{}, err
		}
		if ne != 2 {
			return spec.Result{}, d.fail("args.out.err", nil, "%d entries, want name and message", ne)
		}
		nk, err := d.key("args.out.err", nil, true)
		if err != nil {
			return spec.Result{}, err
		}
		if string(nk) != "name" {
			return spec.Result{}, d.fail("args.out.err."+string(nk), nil, "unexpected field, want name")
		}
		var f spec.Failure
		if f.Name, err = d.text("args.out.err.name"); err != nil {
			return spec.Result{}, err
		}
		if mk, err := d.key("args.out.err", nk, false); err != nil {
			return spec.Result{}, err
		} else if string(mk) != "message" {
			return spec.Result{}, d.fail("args.out.err."+string(mk), nil, "unexpected field, want message")
		}
		if f.Message, err = d.text("args.out.err.message"); err != nil {
			return spec.Result{}, err
		}
		return spec.Result{Err: &f}, nil
	}
	return spec.Result{}, d.fail("args.out."+string(k), nil, "unexpected field, want ok or err")
}
