package receipt

import "errors"

// Decoding errors. A decoding error wraps one of these and, where the cause
// is the canonical form, also spec.ErrNotCanonical, spec.ErrMalformed or
// spec.ErrIntRange, so both errors.Is checks work. The message names the
// field at fault (e.g. "args.ran").
var (
	// ErrMalformed is returned for bytes that are not a receipt envelope:
	// not canonical DAG-CBOR, a missing or extra field, a field of the
	// wrong type, another command or token tag, sub different from iss.
	ErrMalformed = errors.New("receipt: malformed")
	// ErrTooLarge is returned for input over the decoder's size or nesting
	// limits.
	ErrTooLarge = errors.New("receipt: too large")
)

// Verification errors.
var (
	// ErrBadSignature is returned when the signature does not verify
	// against the issuer's did:key, or the issuer is not an Ed25519 did:key.
	ErrBadSignature = errors.New("receipt: signature does not verify")
	// ErrWrongTask is returned when the receipt's ran is not the task CID
	// the caller asked about.
	ErrWrongTask = errors.New("receipt: receipt is for another task")
	// ErrUntrustedIssuer is returned when VerifyOpts.Issuers is set and
	// the receipt's issuer is not among them.
	ErrUntrustedIssuer = errors.New("receipt: issuer not trusted")
)

// Issuing errors.
var (
	// ErrBadReceipt is returned by Issue for a receipt that cannot be
	// encoded: undefined ran, an issuer other than the signing key, a value
	// with no IPLD form, a nonce shorter than MinNonceLen.
	ErrBadReceipt = errors.New("receipt: bad receipt")
)
