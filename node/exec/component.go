package exec

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
	"github.com/tetratelabs/wazero/api"

	"github.com/ipvm-go/ipvm/spec"
)

// ctype is a component-model type derived from an argument value
// (SPEC §6.5): a core module carries no component types.
type ctype struct {
	kind byte   // 'i' s32, 'f' f32, 's' string, 'b' list<u8>, 'l' list
	elem *ctype // for 'l'
}

var (
	tS32    = &ctype{kind: 'i'}
	tF32    = &ctype{kind: 'f'}
	tString = &ctype{kind: 's'}
	tBytes  = &ctype{kind: 'b'}
)

func (t *ctype) String() string {
	switch t.kind {
	case 'i':
		return "s32"
	case 'f':
		return "f32"
	case 's':
		return "string"
	case 'b':
		return "list<u8>"
	}
	return "list<" + t.elem.String() + ">"
}

// size is the element size of t inside a list.
func (t *ctype) size() uint32 {
	if t.kind == 'i' || t.kind == 'f' {
		return 4
	}
	return 8 // (ptr, len)
}

// component: ABI 4, the canonical ABI subset of Homestar's modules.
func (r *run) component(ctx context.Context, mod api.Module, mi *moduleInfo) (any, *spec.Failure) {
	fn, name, def, f := r.export(mod, mi)
	if f != nil {
		return nil, f
	}
	pts := def.ParamTypes()
	var in []uint64
	var hint *ctype // type of the first list-like argument
	need := func(n int, what string) *spec.Failure {
		if len(in)+n > len(pts) {
			return spec.Failf(spec.ErrNameBadArgs, "%s (%s): too many args at %s", name, sig(def), what)
		}
		for _, t := range pts[len(in) : len(in)+n] {
			if n == 2 && t != api.ValueTypeI32 {
				return spec.Failf(spec.ErrNameBadArgs, "%s (%s): %s needs (i32 ptr, i32 len) at core param %d", name, sig(def), what, len(in))
			}
		}
		return nil
	}
	for i, v := range r.req.Params {
		if c, ok := v.(cid.Cid); ok {
			b, f := r.fetchBlob(ctx, c)
			if f != nil {
				return nil, f
			}
			v = b
		}
		switch v := v.(type) {
		case bool:
			if f := need(1, "bool"); f != nil {
				return nil, f
			}
			b := int64(0)
			if v {
				b = 1
			}
			in = append(in, uint64(b))
		case int64, float64:
			if f := need(1, spec.Kind(v)); f != nil {
				return nil, f
			}
			x, err := toCore(v, pts[len(in)])
			if err != nil {
				return nil, spec.Failf(spec.ErrNameBadArgs, "%s arg %d: %v", name, i, err)
			}
			in = append(in, x)
		case string, []byte, []any:
			t, err := typeOf(v)
			if err != nil {
				return nil, spec.Failf(spec.ErrNameBadArgs, "%s arg %d: %v", name, i, err)
			}
			if f := need(2, t.String()); f != nil {
				return nil, f
			}
			if hint == nil {
				hint = t
			}
			ptr, n, f := r.lower(ctx, mod, t, v)
			if f != nil {
				return nil, f
			}
			in = append(in, api.EncodeU32(ptr), api.EncodeU32(n))
		default:
			return nil, spec.Failf(spec.ErrNameBadArgs, "%s arg %d: %s has no component-ABI form here", name, i, spec.Kind(v))
		}
	}
	if len(in) != len(pts) {
		return nil, spec.Failf(spec.ErrNameBadArgs, "%s (%s) takes %d core params, the args give %d", name, sig(def), len(pts), len(in))
	}
	out, f := r.callFn(ctx, fn, name, in...)
	if f != nil {
		return nil, f
	}
	post := mod.ExportedFunction("cabi_post_" + name)
	rts := def.ResultTypes()
	if post == nil || len(rts) != 1 || rts[0] != api.ValueTypeI32 {
		return fromCore(out, rts)
	}
	// A list or string result: the core result points at (ptr u32, len u32).
	retptr := api.DecodeU32(out[0])
	if hint == nil {
		hint = tString
	}
	budget := r.lim.OutputBytes
	v, f := r.lift(mod, hint, retptr, &budget, true)
	if f != nil {
		return nil, f
	}
	if _, f := r.callFn(ctx, post, "cabi_post_"+name, api.EncodeU32(retptr)); f != nil {
		return nil, f
	}
	return v, nil
}

// typeOf derives the component type of a list-like argument.
func typeOf(v any) (*ctype, error) {
	switch v := v.(type) {
	case string:
		return tString, nil
	case []byte:
		return tBytes, nil
	case int64:
		return tS32, nil
	case float64:
		return tF32, nil
	case []any:
		if len(v) == 0 {
			return &ctype{kind: 'l', elem: tS32}, nil
		}
		et, err := typeOf(v[0])
		if err != nil {
			return nil, err
		}
		for _, e := range v[1:] {
			t, err := typeOf(e)
			if err != nil {
				return nil, err
			}
			if t.String() != et.String() {
				return nil, fmt.Errorf("mixed list of %s and %s", et, t)
			}
		}
		return &ctype{kind: 'l', elem: et}, nil
	}
	return nil, fmt.Errorf("%s cannot be a list element", spec.Kind(v))
}

// lower writes a string, bytes or list into guest memory through
// cabi_realloc and returns (ptr, length in elements).
func (r *run) lower(ctx context.Context, mod api.Module, t *ctype, v any) (uint32, uint32, *spec.Failure) {
	var data []byte
	var n uint32
	switch t.kind {
	case 's':
		s := v.(string)
		data, n = []byte(s), uint32(len(s))
	case 'b':
		b := v.([]byte)
		data, n = b, uint32(len(b))
	case 'l':
		l := v.([]any)
		n = uint32(len(l))
		data = make([]byte, 0, int(n)*int(t.elem.size()))
		for _, e := range l {
			switch t.elem.kind {
			case 'i':
				x := e.(int64)
				if x < math.MinInt32 || x > math.MaxUint32 {
					return 0, 0, spec.Failf(spec.ErrNameBadArgs, "list element %d does not fit s32", x)
				}
				data = binary.LittleEndian.AppendUint32(data, uint32(x))
			case 'f':
				data = binary.LittleEndian.AppendUint32(data, math.Float32bits(float32(e.(float64))))
			default:
				p, en, f := r.lower(ctx, mod, t.elem, e)
				if f != nil {
					return 0, 0, f
				}
				data = binary.LittleEndian.AppendUint32(data, p)
				data = binary.LittleEndian.AppendUint32(data, en)
			}
		}
	}
	align := uint32(1)
	if t.kind == 'l' {
		align = 4
	}
	realloc := mod.ExportedFunction("cabi_realloc")
	if realloc == nil {
		return 0, 0, spec.Failf(spec.ErrNameMissingExport, "the component ABI needs cabi_realloc")
	}
	out, f := r.callFn(ctx, realloc, "cabi_realloc", 0, 0, api.EncodeU32(align), api.EncodeU32(uint32(len(data))))
	if f != nil {
		return 0, 0, f
	}
	ptr := api.DecodeU32(out[0])
	if !mod.Memory().Write(ptr, data) {
		return 0, 0, spec.Failf(spec.ErrNameBadOutput, "cabi_realloc returned %#x, out of guest memory for %d bytes", ptr, len(data))
	}
	return ptr, n, nil
}

// lift reads a value of type t whose (ptr, len) pair is at at, counting
// bytes against budget. A string result that is not UTF-8 comes back as
// bytes when loose is set (the top-level result, whose type is a guess).
func (r *run) lift(mod api.Module, t *ctype, at uint32, budget *int64, loose bool) (any, *spec.Failure) {
	mem := mod.Memory()
	ptr, ok1 := mem.ReadUint32Le(at)
	n, ok2 := mem.ReadUint32Le(at + 4)
	if !ok1 || !ok2 {
		return nil, spec.Failf(spec.ErrNameBadOutput, "result pointer %#x out of guest memory", at)
	}
	size := uint64(n)
	if t.kind == 'l' {
		size *= uint64(t.elem.size())
	}
	if int64(size) > *budget || size > math.MaxUint32 {
		return nil, spec.Failf(spec.ErrNameOutputTooLarge, "output exceeds the limit of %d bytes", r.lim.OutputBytes)
	}
	*budget -= int64(size)
	b, f := r.output(mod, ptr, uint32(size))
	if f != nil {
		return nil, f
	}
	switch t.kind {
	case 's':
		if utf8.Valid(b) {
			return string(b), nil
		}
		if loose {
			return b, nil
		}
		return nil, spec.Failf(spec.ErrNameBadOutput, "string result is not UTF-8")
	case 'b':
		return b, nil
	}
	l := make([]any, n)
	for i := range l {
		off := uint32(i) * t.elem.size()
		switch t.elem.kind {
		case 'i':
			l[i] = int64(int32(binary.LittleEndian.Uint32(b[off:])))
		case 'f':
			x := float64(math.Float32frombits(binary.LittleEndian.Uint32(b[off:])))
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, spec.Failf(spec.ErrNameBadOutput, "list element %d is %g", i, x)
			}
			l[i] = x
		default:
			v, f := r.lift(mod, t.elem, ptr+off, budget, false)
			if f != nil {
				return nil, f
			}
			l[i] = v
		}
	}
	return l, nil
}
