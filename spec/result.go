package spec

import (
	"fmt"
)

// Failure is the error arm of a task's result: a stable name from the
// specification's vocabulary (the ErrName constants) and a message for
// people.
type Failure struct {
	Name    string
	Message string
}

// Error implements error, so a Failure can travel as a Go error inside the
// executor before it becomes receipt data.
func (f *Failure) Error() string { return f.Name + ": " + f.Message }

// Failf builds a Failure with a formatted message.
func Failf(name, format string, args ...any) *Failure {
	return &Failure{Name: name, Message: fmt.Sprintf(format, args...)}
}

// Result is a task's outcome: exactly one of Ok (any IPLD value, which may
// be nil for null) and Err is meaningful. Err non-nil means failure.
type Result struct {
	Ok  any
	Err *Failure
}

// OK returns a successful Result.
func OK(v any) Result { return Result{Ok: v} }

// Fail returns a failed Result.
func Fail(f *Failure) Result { return Result{Err: f} }

// IsOk reports whether the result is a success.
func (r Result) IsOk() bool { return r.Err == nil }

// IPLD returns the result's wire form: {"ok": value} or
// {"err": {"name": ..., "message": ...}}.
func (r Result) IPLD() any {
	if r.Err != nil {
		return map[string]any{"err": map[string]any{"name": r.Err.Name, "message": r.Err.Message}}
	}
	return map[string]any{"ok": r.Ok}
}

// ResultFromIPLD parses the wire form produced by Result.IPLD.
func ResultFromIPLD(v any) (Result, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return Result{}, fmt.Errorf("%w: out must be a map with exactly one of ok, err", ErrMalformed)
	}
	if ok, has := m["ok"]; has {
		return Result{Ok: ok}, nil
	}
	e, has := m["err"]
	if !has {
		return Result{}, fmt.Errorf("%w: out must have ok or err", ErrMalformed)
	}
	em, isMap := e.(map[string]any)
	if !isMap {
		return Result{}, fmt.Errorf("%w: out.err must be a map, got %s", ErrMalformed, Kind(e))
	}
	name, ok1 := em["name"].(string)
	msg, ok2 := em["message"].(string)
	if !ok1 || !ok2 || len(em) != 2 {
		return Result{}, fmt.Errorf("%w: out.err must be {name: string, message: string}", ErrMalformed)
	}
	return Result{Err: &Failure{Name: name, Message: msg}}, nil
}
