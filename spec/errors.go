package spec

import "errors"

// Encoding errors.
var (
	// ErrNotCanonical is returned when DAG-CBOR input is well formed CBOR but
	// not in the one canonical form (long heads, unsorted or duplicate keys,
	// 16- or 32-bit floats, indefinite lengths).
	ErrNotCanonical = errors.New("spec: not canonical DAG-CBOR")
	// ErrMalformed is returned for input that is not valid DAG-CBOR or
	// DAG-JSON at all (truncated, trailing bytes, bad UTF-8, unknown tags).
	ErrMalformed = errors.New("spec: malformed")
	// ErrTooLarge is returned when input exceeds a size, length or nesting cap.
	ErrTooLarge = errors.New("spec: too large")
	// ErrIntRange is returned for integers outside the int64 range.
	ErrIntRange = errors.New("spec: integer out of range")
	// ErrUnsupportedValue is returned when a Go value has no IPLD form
	// (a channel, a NaN, a map with non-string keys, ...).
	ErrUnsupportedValue = errors.New("spec: unsupported value")
)

// Error names carried in a receipt's out.err.name. They are part of the
// specification (SPEC.md §7): clients match on them, so they never change.
const (
	// ErrNameTrap: the guest trapped (unreachable, out of bounds, ...).
	ErrNameTrap = "Trap"
	// ErrNameTimeout: the task ran past its wall-time limit.
	ErrNameTimeout = "Timeout"
	// ErrNameOutOfFuel: the task used up its fuel budget.
	ErrNameOutOfFuel = "OutOfFuel"
	// ErrNameMemoryLimit: the guest tried to grow memory past its limit.
	ErrNameMemoryLimit = "MemoryLimit"
	// ErrNameOutputTooLarge: the result exceeded the output size limit.
	ErrNameOutputTooLarge = "OutputTooLarge"
	// ErrNameMissingExport: the module has no export of the requested name.
	ErrNameMissingExport = "MissingExport"
	// ErrNameBadArgs: the arguments do not fit the function's signature.
	ErrNameBadArgs = "BadArgs"
	// ErrNameBadOutput: the guest's output is not a valid IPLD value
	// (undecodable DAG-CBOR or DAG-JSON, a NaN, out-of-bounds pointers).
	ErrNameBadOutput = "BadOutput"
	// ErrNameBadModule: the module does not decode, validate or link.
	ErrNameBadModule = "BadModule"
	// ErrNameBlobNotFound: a module or input linked by CID could not be found.
	ErrNameBlobNotFound = "BlobNotFound"
	// ErrNameBranchMismatch: an await/ok promise resolved to an error, or an
	// await/error promise resolved to a success.
	ErrNameBranchMismatch = "BranchMismatch"
	// ErrNameUnresolvedPromise: a promise links a task CID outside the
	// workflow for which no receipt was found.
	ErrNameUnresolvedPromise = "UnresolvedPromise"
	// ErrNameUnauthorized: no valid UCAN authorizes the task.
	ErrNameUnauthorized = "Unauthorized"
	// ErrNameUnsupportedCommand: the node does not run this command.
	ErrNameUnsupportedCommand = "UnsupportedCommand"
	// ErrNameCanceled: the node stopped before the task finished.
	ErrNameCanceled = "Canceled"
	// ErrNameUnplaceable: no node satisfies the task's placement
	// constraints (a pin, labels, block lists), or every candidate failed.
	ErrNameUnplaceable = "Unplaceable"
	// ErrNameInternal: the node failed for a reason of its own.
	ErrNameInternal = "Internal"
)
