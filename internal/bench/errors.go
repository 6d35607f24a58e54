package bench

import "errors"

// Errors of the suites.
var (
	// ErrMismatch reports a measured operation that gave a wrong answer
	// (a figure for the wrong work is no figure).
	ErrMismatch = errors.New("bench: wrong answer")
	// ErrNoRepo is returned when a suite needs a file from the repository
	// and cannot find the repository.
	ErrNoRepo = errors.New("bench: repository not found (run ipvm bench from the ipvm checkout)")
)
