package p2p

import "errors"

// Lookups.
var (
	// ErrNotFound reports that no provider had the receipt or block asked
	// for, or that every answer was rejected. A Receipts or Blocks
	// implementation may return it (or any error wrapping it) to answer
	// "not found".
	ErrNotFound = errors.New("p2p: not found on the network")
	// ErrNoVerifier reports a FetchReceipt call on a host configured
	// without Config.VerifyReceipt: unverified receipts are never returned.
	ErrNoVerifier = errors.New("p2p: no receipt verifier configured")
	// ErrRemote wraps an error message sent by the remote peer.
	ErrRemote = errors.New("p2p: remote error")
)

// Framing and peers.
var (
	// ErrFrameTooLarge reports a frame whose declared length exceeds the
	// protocol's cap; the stream is reset and the sender penalised.
	ErrFrameTooLarge = errors.New("p2p: frame too large")
	// ErrBadFrame reports a malformed frame (bad length prefix, unknown
	// status byte, a request that is not a CID).
	ErrBadFrame = errors.New("p2p: malformed frame")
	// ErrBlocked reports a peer on the block list or below the score
	// threshold.
	ErrBlocked = errors.New("p2p: peer blocked")
	// ErrNotEd25519 reports a peer ID that does not embed an Ed25519 public
	// key, so no did:key can be derived from it.
	ErrNotEd25519 = errors.New("p2p: peer ID does not embed an Ed25519 key")
)

// Lifecycle.
var (
	// ErrClosed reports a call on a closed Host.
	ErrClosed = errors.New("p2p: host closed")
	// ErrProvideQueueFull reports that Provide dropped a CID because the
	// provide queue is full; the caller may provide it again later.
	ErrProvideQueueFull = errors.New("p2p: provide queue full")
	// ErrConfig reports an invalid Config.
	ErrConfig = errors.New("p2p: invalid config")
)
