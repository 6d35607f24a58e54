package invocation

import (
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

// Task errors.
var (
	// ErrBadTask is returned for a task whose fields have the wrong shape.
	ErrBadTask = errors.New("invocation: bad task")
)

// CmdWasmRun is the command of a Wasm task.
const CmdWasmRun = "/wasm/run"

// Task is a unit of content-addressed work, the "Task" of UCAN Invocation
// 1.0: {sub, cmd, args, nonce}. Its CID, over the canonical DAG-CBOR of
// those four fields, is the memoization key: the same pure work has the
// same CID whoever asks for it. Issuer, audience, expiry, proofs and limits
// are not part of it (they belong to the invocation that asks for the task).
//
// Args may hold promises ({"await/ok": <link to a task CID>}, see the
// workflow package); the CID is taken over the promises, not over the values
// they resolve to, so a downstream task's CID is known before it runs.
type Task struct {
	// Sub is the subject DID. Empty means null: work that belongs to no
	// subject, which is what workflows produce by default so that pure work
	// is shared across users (see RATIONALE.md).
	Sub string
	// Cmd is the command, e.g. "/wasm/run".
	Cmd string
	// Args are the command's arguments. For /wasm/run: {mod: link,
	// fun: string, params: list}.
	Args map[string]any
	// Nonce is empty for pure, memoizable work. A non-empty nonce makes
	// the task unique and it is never served from the memo table.
	Nonce []byte

	// Homestar, when non-nil, is the Homestar instruction this task was read
	// from. The task's CID is then the instruction's CID (DAG-CBOR over
	// {rsc, op, input, nnc} with sha3-256), so that the await links written
	// in Homestar workflow files resolve unchanged.
	Homestar *HomestarInstruction
}

// IPLD returns the task's wire form {sub, cmd, args, nonce}.
func (t Task) IPLD() any {
	var sub any
	if t.Sub != "" {
		sub = t.Sub
	}
	args := t.Args
	if args == nil {
		args = map[string]any{}
	}
	nonce := t.Nonce
	if nonce == nil {
		nonce = []byte{}
	}
	return map[string]any{"sub": sub, "cmd": t.Cmd, "args": args, "nonce": nonce}
}

// Encode returns the canonical DAG-CBOR of the task.
func (t Task) Encode() ([]byte, error) {
	if t.Homestar != nil {
		return t.Homestar.Encode()
	}
	return t.appendCBOR(make([]byte, 0, 160))
}

// appendCBOR appends the canonical DAG-CBOR of {sub, cmd, args, nonce}
// without building the map IPLD returns: the memo check computes a task
// CID before every lookup. The keys are written in canonical order (by
// length, then bytewise): cmd, sub, args, nonce.
func (t Task) appendCBOR(dst []byte) ([]byte, error) {
	if !utf8.ValidString(t.Cmd) || !utf8.ValidString(t.Sub) {
		return nil, fmt.Errorf("%w: cmd or sub is not valid UTF-8", ErrBadTask)
	}
	dst = spec.AppendMapHeader(dst, 4)
	dst = spec.AppendText(spec.AppendText(dst, "cmd"), t.Cmd)
	dst = spec.AppendText(dst, "sub")
	if t.Sub == "" {
		dst = spec.AppendNull(dst)
	} else {
		dst = spec.AppendText(dst, t.Sub)
	}
	dst = spec.AppendText(dst, "args")
	var err error
	switch {
	case t.Args == nil:
		dst = spec.AppendMapHeader(dst, 0)
	case t.Cmd == CmdWasmRun && len(t.Args) == 3:
		if dst, err = appendWasmArgs(dst, t.Args); err != nil {
			return nil, fmt.Errorf("args: %w", err)
		}
	default:
		if dst, err = spec.AppendCBOR(dst, t.Args); err != nil {
			return nil, fmt.Errorf("args: %w", err)
		}
	}
	return spec.AppendBytes(spec.AppendText(dst, "nonce"), t.Nonce), nil
}

// appendWasmArgs appends args, a map of three entries, the way
// spec.AppendCBOR does. The usual /wasm/run args {fun, mod, params} are
// written in their canonical order without iterating and sorting the map
// (the generic encoder's cost, and half of a task CID's); any other shape
// goes through spec.AppendCBOR.
func appendWasmArgs(dst []byte, args map[string]any) ([]byte, error) {
	fun, okF := args["fun"].(string)
	mod, okM := args["mod"].(cid.Cid)
	params, okP := args["params"].([]any)
	if !okF || !okM || !okP || !utf8.ValidString(fun) {
		return spec.AppendCBOR(dst, args)
	}
	dst = spec.AppendMapHeader(dst, 3)
	dst = spec.AppendText(spec.AppendText(dst, "fun"), fun)
	dst, err := spec.AppendLink(spec.AppendText(dst, "mod"), mod)
	if err != nil {
		return dst, err
	}
	dst = spec.AppendHead(spec.AppendText(dst, "params"), 4, uint64(len(params))) // a list
	for _, p := range params {
		if dst, err = spec.AppendCBOR(dst, p); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// CID returns the task CID: CIDv1, dag-cbor, sha2-256 over Encode (or
// the Homestar instruction CID for tasks read from Homestar files).
func (t Task) CID() (cid.Cid, error) {
	if t.Homestar != nil {
		return t.Homestar.CID()
	}
	bp := encodeBufs.Get().(*[]byte)
	defer encodeBufs.Put(bp)
	b, err := t.appendCBOR((*bp)[:0])
	if cap(b) <= maxPooledBuf {
		*bp = b[:0]
	}
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: %v", ErrBadTask, err)
	}
	return spec.SumCBOR(b), nil
}

// encodeBufs holds the encoding buffers of CID: the encoder's buffer
// escapes to the heap (the value encoder is recursive), and a task CID is
// taken on every memo lookup.
var encodeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// maxPooledBuf is the largest buffer CID returns to encodeBufs.
const maxPooledBuf = 64 << 10

// Pure reports whether the task may be memoized: it has no nonce. (The
// executor may still find it impure from the module's imports.)
func (t Task) Pure() bool { return len(t.Nonce) == 0 }

// FromIPLD parses the wire form produced by IPLD.
func FromIPLD(v any) (Task, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Task{}, fmt.Errorf("%w: a task is a map, got %s", ErrBadTask, spec.Kind(v))
	}
	if len(m) != 4 {
		return Task{}, fmt.Errorf("%w: a task has exactly the keys sub, cmd, args, nonce", ErrBadTask)
	}
	var t Task
	switch s := m["sub"].(type) {
	case nil:
	case string:
		if s == "" {
			return Task{}, fmt.Errorf("%w: sub is an empty string (use null)", ErrBadTask)
		}
		t.Sub = s
	default:
		return Task{}, fmt.Errorf("%w: sub must be a DID string or null, got %s", ErrBadTask, spec.Kind(s))
	}
	if t.Cmd, ok = m["cmd"].(string); !ok || t.Cmd == "" {
		return Task{}, fmt.Errorf("%w: cmd must be a non-empty string", ErrBadTask)
	}
	if t.Args, ok = m["args"].(map[string]any); !ok {
		return Task{}, fmt.Errorf("%w: args must be a map, got %s", ErrBadTask, spec.Kind(m["args"]))
	}
	if t.Nonce, ok = m["nonce"].([]byte); !ok {
		return Task{}, fmt.Errorf("%w: nonce must be bytes, got %s", ErrBadTask, spec.Kind(m["nonce"]))
	}
	return t, nil
}

// Decode parses canonical DAG-CBOR bytes of a native task.
func Decode(b []byte) (Task, error) {
	v, err := spec.DecodeCBOR(b, spec.Limits{})
	if err != nil {
		return Task{}, fmt.Errorf("%w: %v", ErrBadTask, err)
	}
	return FromIPLD(v)
}

// Wasm are the arguments of a /wasm/run task.
type Wasm struct {
	// Mod links the module (a UnixFS file or raw block).
	Mod cid.Cid
	// Fun names the export to call.
	Fun string
	// Params are the call's parameters; they may hold promises.
	Params []any
}

// NewWasm returns a pure /wasm/run task.
func NewWasm(mod cid.Cid, fun string, params ...any) Task {
	if params == nil {
		params = []any{}
	}
	return Task{Cmd: CmdWasmRun, Args: map[string]any{"mod": mod, "fun": fun, "params": params}}
}

// Wasm returns the task's /wasm/run arguments.
func (t Task) Wasm() (Wasm, error) {
	if t.Cmd != CmdWasmRun {
		return Wasm{}, fmt.Errorf("%w: cmd is %q, not %q", ErrBadTask, t.Cmd, CmdWasmRun)
	}
	var w Wasm
	var ok bool
	if w.Mod, ok = t.Args["mod"].(cid.Cid); !ok {
		return Wasm{}, fmt.Errorf("%w: args.mod must be a link, got %s", ErrBadTask, spec.Kind(t.Args["mod"]))
	}
	if w.Fun, ok = t.Args["fun"].(string); !ok || w.Fun == "" {
		return Wasm{}, fmt.Errorf("%w: args.fun must be a non-empty string", ErrBadTask)
	}
	switch p := t.Args["params"].(type) {
	case nil:
		w.Params = []any{}
	case []any:
		w.Params = p
	default:
		return Wasm{}, fmt.Errorf("%w: args.params must be a list, got %s", ErrBadTask, spec.Kind(p))
	}
	return w, nil
}
