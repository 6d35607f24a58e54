package spec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
)

// CBOR major types.
const (
	majUint   = 0
	majNeg    = 1
	majBytes  = 2
	majText   = 3
	majArray  = 4
	majMap    = 5
	majTag    = 6
	majSimple = 7
)

// cidTag is the CBOR tag DAG-CBOR uses for links.
const cidTag = 42

// Limits bound what a decoder accepts. The zero value means DefaultLimits.
type Limits struct {
	// MaxBytes caps the input length. Zero means 16 MiB.
	MaxBytes int
	// MaxDepth caps list and map nesting. Zero means 128.
	MaxDepth int
	// MaxItems caps the total number of values in the input. Zero means 1<<20.
	MaxItems int
}

// DefaultLimits are the limits used when a Limits field is zero.
var DefaultLimits = Limits{MaxBytes: 16 << 20, MaxDepth: 128, MaxItems: 1 << 20}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxItems <= 0 {
		l.MaxItems = DefaultLimits.MaxItems
	}
	return l
}

// EncodeCBOR returns the canonical DAG-CBOR encoding of v.
func EncodeCBOR(v any) ([]byte, error) {
	return AppendCBOR(make([]byte, 0, 128), v)
}

// AppendCBOR appends the canonical DAG-CBOR encoding of v to dst.
func AppendCBOR(dst []byte, v any) ([]byte, error) {
	return appendValue(dst, v, 0)
}

// AppendHead appends the shortest head of a CBOR item of the given major
// type (0–7) and argument, as canonical DAG-CBOR requires: for callers
// that encode a fixed shape by hand.
func AppendHead(dst []byte, major byte, n uint64) []byte { return appendHead(dst, major, n) }

// AppendText appends a DAG-CBOR text string. s must be valid UTF-8 (it is
// not checked here: callers pass strings they validated or built).
func AppendText(dst []byte, s string) []byte {
	dst = appendHead(dst, majText, uint64(len(s)))
	return append(dst, s...)
}

// AppendBytes appends a DAG-CBOR byte string.
func AppendBytes(dst, b []byte) []byte {
	dst = appendHead(dst, majBytes, uint64(len(b)))
	return append(dst, b...)
}

// AppendNull appends DAG-CBOR null.
func AppendNull(dst []byte) []byte { return append(dst, majSimple<<5|22) }

// AppendMapHeader appends the head of a map of n pairs; the caller appends
// the pairs, keys in canonical order (SortKeys).
func AppendMapHeader(dst []byte, n int) []byte { return appendHead(dst, majMap, uint64(n)) }

func appendHead(dst []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(dst, m|byte(n))
	case n <= math.MaxUint8:
		return append(dst, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, m|26), uint32(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, m|27), n)
	}
}

func appendInt(dst []byte, i int64) []byte {
	if i >= 0 {
		return appendHead(dst, majUint, uint64(i))
	}
	return appendHead(dst, majNeg, uint64(-(i + 1)))
}

func appendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, fmt.Errorf("%w: float %v", ErrUnsupportedValue, f)
	}
	return binary.BigEndian.AppendUint64(append(dst, majSimple<<5|27), math.Float64bits(f)), nil
}

func appendString(dst []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return dst, fmt.Errorf("%w: string is not valid UTF-8", ErrUnsupportedValue)
	}
	dst = appendHead(dst, majText, uint64(len(s)))
	return append(dst, s...), nil
}

// AppendLink appends c as a DAG-CBOR link (tag 42); an undefined CID is
// an error wrapping ErrUnsupportedValue.
func AppendLink(dst []byte, c cid.Cid) ([]byte, error) { return appendLink(dst, c) }

func appendLink(dst []byte, c cid.Cid) ([]byte, error) {
	if !c.Defined() {
		return dst, fmt.Errorf("%w: undefined CID", ErrUnsupportedValue)
	}
	b := c.KeyString() // the binary CID, without the copy Bytes makes
	dst = appendHead(dst, majTag, cidTag)
	dst = appendHead(dst, majBytes, uint64(len(b)+1))
	dst = append(dst, 0)
	return append(dst, b...), nil
}

// maxEncodeDepth bounds recursion when encoding values built in Go.
const maxEncodeDepth = 1024

func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxEncodeDepth {
		return dst, fmt.Errorf("%w: nesting deeper than %d", ErrTooLarge, maxEncodeDepth)
	}
	switch x := v.(type) {
	case nil:
		return append(dst, majSimple<<5|22), nil
	case bool:
		if x {
			return append(dst, majSimple<<5|21), nil
		}
		return append(dst, majSimple<<5|20), nil
	case int64:
		return appendInt(dst, x), nil
	case int:
		return appendInt(dst, int64(x)), nil
	case int32:
		return appendInt(dst, int64(x)), nil
	case int16:
		return appendInt(dst, int64(x)), nil
	case int8:
		return appendInt(dst, int64(x)), nil
	case uint64:
		if x > math.MaxInt64 {
			return dst, fmt.Errorf("%w: %d", ErrIntRange, x)
		}
		return appendInt(dst, int64(x)), nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return dst, fmt.Errorf("%w: %d", ErrIntRange, x)
		}
		return appendInt(dst, int64(x)), nil
	case uint32:
		return appendInt(dst, int64(x)), nil
	case uint16:
		return appendInt(dst, int64(x)), nil
	case uint8:
		return appendInt(dst, int64(x)), nil
	case float64:
		return appendFloat(dst, x)
	case float32:
		return appendFloat(dst, float64(x))
	case string:
		return appendString(dst, x)
	case []byte:
		dst = appendHead(dst, majBytes, uint64(len(x)))
		return append(dst, x...), nil
	case cid.Cid:
		return appendLink(dst, x)
	case *cid.Cid:
		if x == nil {
			return append(dst, majSimple<<5|22), nil
		}
		return appendLink(dst, *x)
	case []any:
		dst = appendHead(dst, majArray, uint64(len(x)))
		var err error
		for _, e := range x {
			if dst, err = appendValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case map[string]any:
		return appendMap(dst, x, depth)
	case Marshaler:
		return appendValue(dst, x.IPLD(), depth)
	default:
		return appendReflect(dst, v, depth)
	}
}

// Marshaler is implemented by Go types that have an IPLD value form.
type Marshaler interface {
	// IPLD returns the value in the plain Go form described in the package
	// documentation.
	IPLD() any
}

// SortKeys sorts map keys in DAG-CBOR canonical order: shorter keys first,
// then bytewise.
func SortKeys(keys []string) {
	slices.SortFunc(keys, compareKeys)
}

func compareKeys(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

func appendMap(dst []byte, m map[string]any, depth int) ([]byte, error) {
	// One pass over the map collects the entries (a second lookup per key
	// would cost as much again); most maps fit the array on the stack.
	var small [16]entry
	es := small[:0]
	for k, v := range m {
		es = append(es, entry{k, v})
	}
	slices.SortFunc(es, func(a, b entry) int { return compareKeys(a.k, b.k) })
	dst = appendHead(dst, majMap, uint64(len(es)))
	var err error
	for _, e := range es {
		if dst, err = appendString(dst, e.k); err != nil {
			return dst, err
		}
		if dst, err = appendValue(dst, e.v, depth+1); err != nil {
			return dst, fmt.Errorf("key %q: %w", e.k, err)
		}
	}
	return dst, nil
}

// entry is a map entry being encoded.
type entry struct {
	k string
	v any
}

// appendReflect handles the less common Go shapes: typed slices and maps
// with string keys. It is off the hot path.
func appendReflect(dst []byte, v any, depth int) ([]byte, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		dst = appendHead(dst, majArray, uint64(rv.Len()))
		var err error
		for i := range rv.Len() {
			if dst, err = appendValue(dst, rv.Index(i).Interface(), depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		m := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			m[it.Key().String()] = it.Value().Interface()
		}
		return appendMap(dst, m, depth)
	}
	return dst, fmt.Errorf("%w: Go type %T", ErrUnsupportedValue, v)
}

// DecodeCBOR decodes one canonical DAG-CBOR value that fills all of b.
// It refuses non-canonical encodings with ErrNotCanonical, bad input with
// ErrMalformed, input over the limits with ErrTooLarge and integers beyond
// int64 with ErrIntRange.
func DecodeCBOR(b []byte, lim Limits) (any, error) {
	return decodeAll(b, lim, false)
}

// decodeAll decodes one value that fills all of b.
func decodeAll(b []byte, lim Limits, lenient bool) (any, error) {
	lim = lim.withDefaults()
	if len(b) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), lim.MaxBytes)
	}
	d := decoder{b: b, lim: lim, lenient: lenient}
	v, err := d.value(0)
	if err != nil {
		return nil, fmt.Errorf("at byte %d: %w", d.off, err)
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(b)-d.off)
	}
	return v, nil
}

type decoder struct {
	b       []byte
	off     int
	items   int
	lim     Limits
	lenient bool
}

// DecodeCBORLenient decodes DAG-CBOR that is well formed but may not be
// canonical: integer and length heads longer than needed, map keys in any
// order, 16- and 32-bit floats. Duplicate map keys, indefinite lengths,
// tags other than 42 and everything else DecodeCBOR refuses as malformed
// are still refused. It is for inputs whose identity is taken from their
// canonical re-encoding (a UCAN token re-encoded by a sender), never for
// bytes whose CID is trusted as given.
func DecodeCBORLenient(b []byte, lim Limits) (any, error) {
	return decodeAll(b, lim, true)
}

func (d *decoder) head() (major byte, n uint64, err error) {
	if d.off >= len(d.b) {
		return 0, 0, fmt.Errorf("%w: unexpected end of input", ErrMalformed)
	}
	ib := d.b[d.off]
	d.off++
	major, info := ib>>5, ib&0x1f
	if major == majSimple {
		// Simple values and floats are handled by the caller from info.
		return major, uint64(info), nil
	}
	var size int
	switch {
	case info < 24:
		return major, uint64(info), nil
	case info == 24:
		size = 1
	case info == 25:
		size = 2
	case info == 26:
		size = 4
	case info == 27:
		size = 8
	case info == 31:
		return 0, 0, fmt.Errorf("%w: indefinite length", ErrNotCanonical)
	default:
		return 0, 0, fmt.Errorf("%w: reserved additional info %d", ErrMalformed, info)
	}
	if len(d.b)-d.off < size {
		return 0, 0, fmt.Errorf("%w: unexpected end of input", ErrMalformed)
	}
	p := d.b[d.off : d.off+size]
	d.off += size
	switch size {
	case 1:
		n = uint64(p[0])
		if !d.lenient && n < 24 {
			return 0, 0, fmt.Errorf("%w: integer head not shortest", ErrNotCanonical)
		}
	case 2:
		n = uint64(binary.BigEndian.Uint16(p))
		if !d.lenient && n <= math.MaxUint8 {
			return 0, 0, fmt.Errorf("%w: integer head not shortest", ErrNotCanonical)
		}
	case 4:
		n = uint64(binary.BigEndian.Uint32(p))
		if !d.lenient && n <= math.MaxUint16 {
			return 0, 0, fmt.Errorf("%w: integer head not shortest", ErrNotCanonical)
		}
	case 8:
		n = binary.BigEndian.Uint64(p)
		if !d.lenient && n <= math.MaxUint32 {
			return 0, 0, fmt.Errorf("%w: integer head not shortest", ErrNotCanonical)
		}
	}
	return major, n, nil
}

func (d *decoder) take(n uint64) ([]byte, error) {
	if n > uint64(len(d.b)-d.off) {
		return nil, fmt.Errorf("%w: length %d past end of input", ErrMalformed, n)
	}
	p := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return p, nil
}

func (d *decoder) value(depth int) (any, error) {
	d.items++
	if d.items > d.lim.MaxItems {
		return nil, fmt.Errorf("%w: more than %d values", ErrTooLarge, d.lim.MaxItems)
	}
	major, n, err := d.head()
	if err != nil {
		return nil, err
	}
	switch major {
	case majUint:
		if n > math.MaxInt64 {
			return nil, fmt.Errorf("%w: %d", ErrIntRange, n)
		}
		return int64(n), nil
	case majNeg:
		if n > math.MaxInt64 {
			return nil, fmt.Errorf("%w: -1-%d", ErrIntRange, n)
		}
		return -1 - int64(n), nil
	case majBytes:
		p, err := d.take(n)
		if err != nil {
			return nil, err
		}
		return bytes.Clone(p), nil
	case majText:
		p, err := d.take(n)
		if err != nil {
			return nil, err
		}
		if !utf8.Valid(p) {
			return nil, fmt.Errorf("%w: string is not valid UTF-8", ErrMalformed)
		}
		return string(p), nil
	case majArray:
		if depth >= d.lim.MaxDepth {
			return nil, fmt.Errorf("%w: nesting deeper than %d", ErrTooLarge, d.lim.MaxDepth)
		}
		if n > uint64(len(d.b)-d.off) { // every element takes at least a byte
			return nil, fmt.Errorf("%w: list of %d past end of input", ErrMalformed, n)
		}
		l := make([]any, n)
		for i := range l {
			if l[i], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return l, nil
	case majMap:
		if depth >= d.lim.MaxDepth {
			return nil, fmt.Errorf("%w: nesting deeper than %d", ErrTooLarge, d.lim.MaxDepth)
		}
		if n > uint64(len(d.b)-d.off)/2 {
			return nil, fmt.Errorf("%w: map of %d past end of input", ErrMalformed, n)
		}
		m := make(map[string]any, n)
		prev := ""
		for i := range n {
			km, kn, err := d.head()
			if err != nil {
				return nil, err
			}
			if km != majText {
				return nil, fmt.Errorf("%w: map key is not a string", ErrMalformed)
			}
			kp, err := d.take(kn)
			if err != nil {
				return nil, err
			}
			if !utf8.Valid(kp) {
				return nil, fmt.Errorf("%w: map key is not valid UTF-8", ErrMalformed)
			}
			k := string(kp)
			if d.lenient {
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("%w: duplicate map key %q", ErrMalformed, k)
				}
			} else if i > 0 && compareKeys(prev, k) >= 0 {
				if prev == k {
					return nil, fmt.Errorf("%w: duplicate map key %q", ErrNotCanonical, k)
				}
				return nil, fmt.Errorf("%w: map keys out of order at %q", ErrNotCanonical, k)
			}
			prev = k
			if m[k], err = d.value(depth + 1); err != nil {
				return nil, fmt.Errorf("key %q: %w", k, err)
			}
		}
		return m, nil
	case majTag:
		if n != cidTag {
			return nil, fmt.Errorf("%w: tag %d (only 42 is allowed)", ErrMalformed, n)
		}
		bm, bn, err := d.head()
		if err != nil {
			return nil, err
		}
		if bm != majBytes {
			return nil, fmt.Errorf("%w: tag 42 on a non-bytes value", ErrMalformed)
		}
		p, err := d.take(bn)
		if err != nil {
			return nil, err
		}
		if len(p) < 2 || p[0] != 0 {
			return nil, fmt.Errorf("%w: link without the 0x00 multibase prefix", ErrMalformed)
		}
		c, err := cid.Cast(p[1:])
		if err != nil {
			return nil, fmt.Errorf("%w: link: %v", ErrMalformed, err)
		}
		return c, nil
	default: // majSimple
		switch n {
		case 20:
			return false, nil
		case 21:
			return true, nil
		case 22:
			return nil, nil
		case 25, 26:
			if !d.lenient {
				return nil, fmt.Errorf("%w: float narrower than 64 bits", ErrNotCanonical)
			}
			size := 2
			if n == 26 {
				size = 4
			}
			p, err := d.take(uint64(size))
			if err != nil {
				return nil, err
			}
			var f float64
			if size == 4 {
				f = float64(math.Float32frombits(binary.BigEndian.Uint32(p)))
			} else {
				f = halfToFloat(binary.BigEndian.Uint16(p))
			}
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("%w: NaN or infinite float", ErrMalformed)
			}
			return f, nil
		case 27:
			p, err := d.take(8)
			if err != nil {
				return nil, err
			}
			f := math.Float64frombits(binary.BigEndian.Uint64(p))
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("%w: NaN or infinite float", ErrMalformed)
			}
			return f, nil
		case 31:
			return nil, fmt.Errorf("%w: unexpected break", ErrMalformed)
		default:
			return nil, fmt.Errorf("%w: simple value %d", ErrMalformed, n)
		}
	}
}

// halfToFloat converts an IEEE 754 half-precision float.
func halfToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}
