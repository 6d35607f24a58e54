package exec

import "errors"

// Executor errors. A task's own failure is never one of these: it is a
// spec.Result with Err set.
var (
	// ErrClosed is returned by Run and Compile after Close.
	ErrClosed = errors.New("exec: executor closed")
	// ErrNoBlobs is returned by New when Config.Blobs is nil.
	ErrNoBlobs = errors.New("exec: Config.Blobs is required")
	// ErrConfig is returned by New for an invalid Config.
	ErrConfig = errors.New("exec: invalid config")
)
