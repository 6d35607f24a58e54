package reliability

import "errors"

// Sentinel errors.
var (
	// ErrStatus is an HTTP answer with an unexpected status.
	ErrStatus = errors.New("reliability: unexpected status")
	// ErrBusy is a 429 answer: the gateway is full, retry later.
	ErrBusy = errors.New("reliability: gateway busy")
	// ErrNotReady is a daemon that did not start serving in time.
	ErrNotReady = errors.New("reliability: daemon not ready")
	// ErrMismatch is a receipt that is missing, differs or does not verify.
	ErrMismatch = errors.New("reliability: receipt mismatch")
)
