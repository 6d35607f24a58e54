package fuel

import "errors"

// Errors returned by Instrument for modules it cannot rewrite.
var (
	// ErrMalformed reports a module whose binary encoding is broken:
	// truncated sections, bad LEB128 numbers, a code body that does not end
	// where its size says, and the like.
	ErrMalformed = errors.New("fuel: malformed module")
	// ErrUnsupported reports a module that uses a Wasm feature outside the
	// supported set (MVP, mutable-global import/export, sign-extension,
	// non-trapping float-to-int, bulk memory, multi-value, reference
	// types): SIMD, threads, exceptions, memory64 and so on.
	ErrUnsupported = errors.New("fuel: unsupported feature")
	// ErrNameTaken reports a module that already exports GlobalName.
	ErrNameTaken = errors.New("fuel: export name already used")
)

// Errors returned by the host helpers.
var (
	// ErrOutOfFuel reports a call that trapped because the fuel global went
	// below zero. It maps to the receipt error name spec.ErrNameOutOfFuel.
	ErrOutOfFuel = errors.New("fuel: out of fuel")
	// ErrNotInstrumented reports a module instance without the fuel global.
	ErrNotInstrumented = errors.New("fuel: module is not instrumented")
)
