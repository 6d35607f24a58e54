package exec

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/ipvm-go/ipvm/spec"
)

// export finds the function to call, or a MissingExport failure that lists
// what the module does export.
func (r *run) export(mod api.Module, mi *moduleInfo) (api.Function, string, api.FunctionDefinition, *spec.Failure) {
	name := resolveName(mi, r.req.Function)
	if name == "" {
		var names []string
		for n := range mi.exports {
			if !strings.HasPrefix(n, "cabi_") && n != "_initialize" {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		if len(names) > 20 {
			names = append(names[:20], "...")
		}
		return nil, "", nil, spec.Failf(spec.ErrNameMissingExport, "module %s has no function %q (exports: %s)", r.req.Module, r.req.Function, strings.Join(names, ", "))
	}
	return mod.ExportedFunction(name), name, mi.exports[name], nil
}

// numeric: ABI 1. Each param is one core value; results come back as
// int64 (i32 sign-extended) or float64; several results as a list.
func (r *run) numeric(ctx context.Context, mod api.Module, mi *moduleInfo) (any, *spec.Failure) {
	fn, name, def, f := r.export(mod, mi)
	if f != nil {
		return nil, f
	}
	pts := def.ParamTypes()
	if len(pts) != len(r.req.Params) {
		return nil, spec.Failf(spec.ErrNameBadArgs, "%s takes %d params (%s), got %d", name, len(pts), sig(def), len(r.req.Params))
	}
	in := make([]uint64, len(pts))
	for i, t := range pts {
		v, err := toCore(r.req.Params[i], t)
		if err != nil {
			return nil, spec.Failf(spec.ErrNameBadArgs, "%s param %d: %v", name, i, err)
		}
		in[i] = v
	}
	out, f := r.callFn(ctx, fn, name, in...)
	if f != nil {
		return nil, f
	}
	return fromCore(out, def.ResultTypes())
}

// toCore converts an IPLD number to a core value of type t.
func toCore(v any, t api.ValueType) (uint64, error) {
	switch t {
	case api.ValueTypeI32, api.ValueTypeI64:
		n, ok := v.(int64)
		if !ok {
			return 0, fmt.Errorf("want an integer for %s, got %s", api.ValueTypeName(t), spec.Kind(v))
		}
		if t == api.ValueTypeI32 {
			if n < math.MinInt32 || n > math.MaxUint32 {
				return 0, fmt.Errorf("%d does not fit i32", n)
			}
			return api.EncodeI32(int32(n)), nil
		}
		return api.EncodeI64(n), nil
	case api.ValueTypeF32, api.ValueTypeF64:
		var x float64
		switch n := v.(type) {
		case float64:
			x = n
		case int64:
			x = float64(n)
		default:
			return 0, fmt.Errorf("want a number for %s, got %s", api.ValueTypeName(t), spec.Kind(v))
		}
		if t == api.ValueTypeF32 {
			if !math.IsInf(x, 0) && math.Abs(x) > math.MaxFloat32 {
				return 0, fmt.Errorf("%g does not fit f32", x)
			}
			return api.EncodeF32(float32(x)), nil
		}
		return api.EncodeF64(x), nil
	}
	return 0, fmt.Errorf("unsupported param type %s", api.ValueTypeName(t))
}

// fromCore converts core results to an IPLD value.
func fromCore(out []uint64, ts []api.ValueType) (any, *spec.Failure) {
	vals := make([]any, len(ts))
	for i, t := range ts {
		switch t {
		case api.ValueTypeI32:
			vals[i] = int64(api.DecodeI32(out[i]))
		case api.ValueTypeI64:
			vals[i] = int64(out[i])
		case api.ValueTypeF32:
			vals[i] = float64(api.DecodeF32(out[i]))
		case api.ValueTypeF64:
			vals[i] = api.DecodeF64(out[i])
		default:
			return nil, spec.Failf(spec.ErrNameBadOutput, "unsupported result type %s", api.ValueTypeName(t))
		}
		if x, ok := vals[i].(float64); ok && (math.IsNaN(x) || math.IsInf(x, 0)) {
			return nil, spec.Failf(spec.ErrNameBadOutput, "result %d is %g, which IPLD cannot carry", i, x)
		}
	}
	switch len(vals) {
	case 0:
		return nil, nil
	case 1:
		return vals[0], nil
	}
	return vals, nil
}
