package exec

import (
	"bytes"
	"context"
	"errors"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/ipvm-go/ipvm/spec"
)

// encodeStdin renders the params list as DAG-JSON for a WASI command.
func encodeStdin(params []any) ([]byte, error) {
	if params == nil {
		params = []any{}
	}
	return spec.EncodeJSON(params)
}

// wasi: ABI 3. The command's _start runs with the params list as DAG-JSON
// on stdin and argv = [module CID, function]; exit code 0 and one DAG-JSON
// value on stdout (surrounding whitespace ignored, empty means null) is the
// result.
func (r *run) wasi(ctx context.Context, mod api.Module, stdout *capWriter) (any, *spec.Failure) {
	start := mod.ExportedFunction("_start")
	if start == nil {
		return nil, spec.Failf(spec.ErrNameMissingExport, "module %s is not a WASI command (no _start)", r.req.Module)
	}
	_, err := start.Call(ctx)
	if stdout.over {
		return nil, spec.Failf(spec.ErrNameOutputTooLarge, "stdout exceeds the limit of %d bytes", r.lim.OutputBytes)
	}
	var exit *sys.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 0) {
		return nil, r.classify(ctx, err, "_start")
	}
	out := bytes.TrimSpace(stdout.buf.Bytes())
	if len(out) == 0 {
		return nil, nil
	}
	v, err := spec.DecodeJSON(out, spec.Limits{MaxBytes: int(r.lim.OutputBytes)})
	if err != nil {
		return nil, spec.Failf(spec.ErrNameBadOutput, "stdout is not DAG-JSON: %v", err)
	}
	return v, nil
}
