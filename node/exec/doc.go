// Package exec runs Wasm tasks on wazero: one runtime per Executor, modules
// compiled once per module CID and cached (in memory, and on disk with
// wazero's compilation cache), four guest ABIs detected from a module's
// exports and imports, and per-task limits under node-wide caps.
//
// A task that fails for a reason of its own (a trap, a limit, a missing
// export, bad arguments, a bad module) is data: Run returns a spec.Result
// whose Err carries a spec.ErrName* name. Run returns a Go error only when
// the executor itself cannot answer (it is closed, or the caller's context
// ended).
//
// Usage:
//
//	ex, err := exec.New(exec.Config{Blobs: store})
//	if err != nil { ... }
//	defer ex.Close()
//	res, stats, err := ex.Run(ctx, exec.Request{Module: mod, Function: "add_one", Params: []any{int64(1)}})
//
// The ABIs and the detection rule are specified in spec/SPEC.md §6.
package exec
