package exec

import (
	"bytes"
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/ipvm-go/ipvm/spec"
)

// cbor: ABI 2. The params list is DAG-CBOR encoded into a buffer from the
// guest's alloc(len) -> ptr; fun(ptr, len) -> i64 returns ptr<<32 | len of
// the output's DAG-CBOR in guest memory.
func (r *run) cbor(ctx context.Context, mod api.Module, mi *moduleInfo) (any, *spec.Failure) {
	fn, name, def, f := r.export(mod, mi)
	if f != nil {
		return nil, f
	}
	if s := sig(def); s != "i32,i32>i64" {
		return nil, spec.Failf(spec.ErrNameBadArgs, "%s has signature %s, the dag-cbor ABI needs i32,i32>i64", name, s)
	}
	params := r.req.Params
	if params == nil {
		params = []any{}
	}
	in, err := spec.EncodeCBOR(params)
	if err != nil {
		return nil, spec.Failf(spec.ErrNameBadArgs, "encode params: %v", err)
	}
	ptr, f := r.alloc(ctx, mod, mi, uint32(len(in)))
	if f != nil {
		return nil, f
	}
	if !mod.Memory().Write(ptr, in) {
		return nil, spec.Failf(spec.ErrNameBadOutput, "alloc returned %#x, out of guest memory for %d bytes", ptr, len(in))
	}
	out, f := r.callFn(ctx, fn, name, api.EncodeU32(ptr), api.EncodeU32(uint32(len(in))))
	if f != nil {
		return nil, f
	}
	optr, olen := uint32(out[0]>>32), uint32(out[0])
	b, f := r.output(mod, optr, olen)
	if f != nil {
		return nil, f
	}
	v, err := spec.DecodeCBOR(b, spec.Limits{MaxBytes: int(r.lim.OutputBytes)})
	if err != nil {
		return nil, spec.Failf(spec.ErrNameBadOutput, "output is not canonical DAG-CBOR: %v", err)
	}
	return v, nil
}

// alloc calls the guest's alloc export.
func (r *run) alloc(ctx context.Context, mod api.Module, mi *moduleInfo, n uint32) (uint32, *spec.Failure) {
	a := mod.ExportedFunction("alloc")
	if a == nil || mod.Memory() == nil {
		return 0, spec.Failf(spec.ErrNameMissingExport, "the dag-cbor ABI needs exports alloc and memory")
	}
	out, f := r.callFn(ctx, a, "alloc", api.EncodeU32(n))
	if f != nil {
		return 0, f
	}
	return api.DecodeU32(out[0]), nil
}

// output copies olen bytes of guest memory at optr, under the output cap.
func (r *run) output(mod api.Module, optr, olen uint32) ([]byte, *spec.Failure) {
	if int64(olen) > r.lim.OutputBytes {
		return nil, spec.Failf(spec.ErrNameOutputTooLarge, "output of %d bytes exceeds the limit of %d", olen, r.lim.OutputBytes)
	}
	b, ok := mod.Memory().Read(optr, olen)
	if !ok {
		return nil, spec.Failf(spec.ErrNameBadOutput, "output %d bytes at %#x is out of guest memory", olen, optr)
	}
	return bytes.Clone(b), nil
}
