package exec

import (
	"context"
	"log/slog"
	"runtime"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/ipvm-go/ipvm/spec"
)

// Host module names (SPEC §6).
const (
	// HostModule is the import module of ipvm's own host functions.
	HostModule      = "ipvm"
	wasiLogging     = "wasi:logging/logging"
	homestarHelpers = "homestar:host/helpers@0.1.1"
)

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// instantiateHost adds the host modules every ABI may import: WASI
// preview 1 (with wazero's deterministic clock and random defaults), ipvm's
// blob reader, Homestar's logging and clock imports, and the meter's own
// (HostMeter).
func instantiateHost(ctx context.Context, rt wazero.Runtime, cfg Config) error {
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return err
	}
	_, err := rt.NewHostModuleBuilder(HostModule).
		NewFunctionBuilder().WithGoModuleFunction(hostFunc(blobLen), []api.ValueType{i32, i32}, []api.ValueType{i64}).
		WithParameterNames("cid_ptr", "cid_len").Export("blob_len").
		NewFunctionBuilder().WithGoModuleFunction(hostFunc(blobRead), []api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i32}).
		WithParameterNames("cid_ptr", "cid_len", "dst_ptr", "off", "len").Export("blob_read").
		Instantiate(ctx)
	if err != nil {
		return err
	}
	log := cfg.Logger
	_, err = rt.NewHostModuleBuilder(wasiLogging).
		NewFunctionBuilder().WithGoModuleFunction(hostFunc(func(ctx context.Context, r *run, m api.Module, s []uint64) {
		guestLog(log, r, m, s)
	}), []api.ValueType{i32, i32, i32, i32, i32}, nil).
		WithParameterNames("level", "ctx_ptr", "ctx_len", "msg_ptr", "msg_len").Export("log").
		Instantiate(ctx)
	if err != nil {
		return err
	}
	_, err = rt.NewHostModuleBuilder(homestarHelpers).
		NewFunctionBuilder().WithGoModuleFunction(hostFunc(currentTime), []api.ValueType{i32}, nil).
		WithParameterNames("ret_ptr").Export("get-current-time").
		Instantiate(ctx)
	if hm, ok := cfg.Meter.(HostMeter); ok && err == nil {
		err = hm.InstantiateHost(ctx, rt)
	}
	return err
}

// hostFunc adapts a host function to wazero: it finds the run, and turns a
// Go panic inside the function into a named failure that ends the call
// (wazero recovers it and returns it as the call's error).
func hostFunc(f func(ctx context.Context, r *run, m api.Module, stack []uint64)) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, stack []uint64) {
		r := runFrom(ctx)
		if r == nil {
			panic(spec.Failf(spec.ErrNameInternal, "host function called outside a run"))
		}
		defer func() {
			if p := recover(); p != nil {
				if f, ok := p.(*spec.Failure); ok {
					panic(f)
				}
				var buf [2048]byte
				n := runtime.Stack(buf[:], false)
				r.e.cfg.Logger.Error("host function panic", "panic", p, "stack", string(buf[:n]))
				r.abort(spec.Failf(spec.ErrNameInternal, "host function panic: %v", p))
			}
		}()
		f(ctx, r, m, stack)
	}
}

// read copies n bytes of guest memory at ptr, or aborts the call.
func (r *run) read(m api.Module, ptr, n uint32, what string) []byte {
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		r.abort(spec.Failf(spec.ErrNameTrap, "%s: %d bytes at %#x out of guest memory", what, n, ptr))
	}
	return b
}

// blob returns a blob's bytes through Config.Blobs, once per run.
func (r *run) blob(ctx context.Context, m api.Module, ptr, n uint32) []byte {
	if n > 256 {
		r.abort(spec.Failf(spec.ErrNameBadArgs, "blob_len: CID of %d bytes", n))
	}
	c, err := cid.Cast(r.read(m, ptr, n, "blob CID"))
	if err != nil {
		r.abort(spec.Failf(spec.ErrNameBadArgs, "blob: bad CID bytes: %v", err))
	}
	return r.getBlob(ctx, c)
}

// getBlob fetches a blob for a host function, aborting with BlobNotFound.
func (r *run) getBlob(ctx context.Context, c cid.Cid) []byte {
	b, f := r.fetchBlob(ctx, c)
	if f != nil {
		r.abort(f)
	}
	return b
}

// fetchBlob fetches a blob through Config.Blobs, once per run.
func (r *run) fetchBlob(ctx context.Context, c cid.Cid) ([]byte, *spec.Failure) {
	r.mu.Lock()
	b, ok := r.blobs[c]
	r.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := r.e.cfg.Blobs.Get(ctx, c)
	if err != nil {
		return nil, spec.Failf(spec.ErrNameBlobNotFound, "blob %s: %v", c, err)
	}
	r.mu.Lock()
	if r.blobs == nil {
		r.blobs = make(map[cid.Cid][]byte)
	}
	r.blobs[c] = b
	r.mu.Unlock()
	return b, nil
}

// blobLen: ipvm.blob_len(cid_ptr, cid_len) -> i64, the blob's size.
func blobLen(ctx context.Context, r *run, m api.Module, s []uint64) {
	b := r.blob(ctx, m, api.DecodeU32(s[0]), api.DecodeU32(s[1]))
	s[0] = uint64(len(b))
}

// blobRead: ipvm.blob_read(cid_ptr, cid_len, dst_ptr, off, len) -> i32,
// copies up to len bytes of the blob from off to dst_ptr and returns how
// many it copied (0 at the end).
func blobRead(ctx context.Context, r *run, m api.Module, s []uint64) {
	b := r.blob(ctx, m, api.DecodeU32(s[0]), api.DecodeU32(s[1]))
	dst, off, n := api.DecodeU32(s[2]), uint64(api.DecodeU32(s[3])), uint64(api.DecodeU32(s[4]))
	if off > uint64(len(b)) {
		off = uint64(len(b))
	}
	chunk := b[off:min(off+n, uint64(len(b)))]
	if !m.Memory().Write(dst, chunk) {
		r.abort(spec.Failf(spec.ErrNameTrap, "blob_read: %d bytes at %#x out of guest memory", len(chunk), dst))
	}
	s[0] = uint64(len(chunk))
}

// guestLog: wasi:logging/logging.log(level, ctx_ptr, ctx_len, msg_ptr, msg_len).
func guestLog(log *slog.Logger, r *run, m api.Module, s []uint64) {
	level := api.DecodeU32(s[0])
	lctx := r.read(m, api.DecodeU32(s[1]), min(api.DecodeU32(s[2]), DefaultMaxLogBytes), "log context")
	msg := r.read(m, api.DecodeU32(s[3]), min(api.DecodeU32(s[4]), DefaultMaxLogBytes), "log message")
	sl := slog.LevelInfo
	switch {
	case level <= 1: // trace, debug
		sl = slog.LevelDebug
	case level == 3:
		sl = slog.LevelWarn
	case level >= 4: // error, critical
		sl = slog.LevelError
	}
	log.Log(context.Background(), sl, string(msg), "context", string(lctx), "module", r.req.Module.String(), "fun", r.req.Function)
}

// currentTime: homestar get-current-time(ret_ptr) writes the record
// {seconds u64, milliseconds u32, nanoseconds u32} at ret_ptr. Reading the
// clock makes the task impure.
func currentTime(ctx context.Context, r *run, m api.Module, s []uint64) {
	r.mu.Lock()
	r.impure = true
	r.mu.Unlock()
	now := time.Now()
	p := api.DecodeU32(s[0])
	mem := m.Memory()
	ok := mem.WriteUint64Le(p, uint64(now.Unix())) &&
		mem.WriteUint32Le(p+8, uint32(now.Nanosecond()/1e6)) &&
		mem.WriteUint32Le(p+12, uint32(now.Nanosecond()))
	if !ok {
		r.abort(spec.Failf(spec.ErrNameTrap, "get-current-time: %#x out of guest memory", p))
	}
}
