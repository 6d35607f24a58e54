package ucan

import (
	"errors"
	"fmt"
)

// Names of validation failures, in the UCAN specification's vocabulary
// (SPEC.md §3). They appear in HTTP error bodies and in the message of an
// Unauthorized receipt, so they never change meaning.
const (
	// NameInvalidClaim: the token claims something its proofs do not back
	// (no proof for another subject, a powerline root, a command outside the
	// delegated one).
	NameInvalidClaim = "InvalidClaim"
	// NameUnavailableProof: a proof named in prf was not supplied.
	NameUnavailableProof = "UnavailableProof"
	// NameExpired: a token of the chain is past its exp.
	NameExpired = "Expired"
	// NameTooEarly: a delegation of the chain is before its nbf.
	NameTooEarly = "TooEarly"
	// NameInvalidAudience: an aud is not the next issuer, or the
	// invocation's aud is not this node.
	NameInvalidAudience = "InvalidAudience"
	// NameInvalidSubject: a delegation's sub is not the invocation's sub, or
	// the root delegation is not issued by the subject.
	NameInvalidSubject = "InvalidSubject"
	// NameInvalidSignature: a signature does not verify.
	NameInvalidSignature = "InvalidSignature"
	// NameMatchError: the arguments violate a delegation's policy.
	NameMatchError = "MatchError"
	// NameRevoked: a delegation of the chain was revoked.
	NameRevoked = "Revoked"
	// NameReplayed: this invocation was already seen and has not expired.
	NameReplayed = "Replayed"
	// NameTooLarge: a token, container or proof list exceeds a cap.
	NameTooLarge = "TooLarge"
	// NameMalformed: the bytes are not a UCAN 1.0 token or container.
	NameMalformed = "Malformed"
)

// Validation errors, one per name. An *Error matches the sentinel of its
// name with errors.Is.
var (
	// ErrInvalidClaim: see NameInvalidClaim.
	ErrInvalidClaim = errors.New("ucan: " + NameInvalidClaim)
	// ErrUnavailableProof: see NameUnavailableProof.
	ErrUnavailableProof = errors.New("ucan: " + NameUnavailableProof)
	// ErrExpired: see NameExpired.
	ErrExpired = errors.New("ucan: " + NameExpired)
	// ErrTooEarly: see NameTooEarly.
	ErrTooEarly = errors.New("ucan: " + NameTooEarly)
	// ErrInvalidAudience: see NameInvalidAudience.
	ErrInvalidAudience = errors.New("ucan: " + NameInvalidAudience)
	// ErrInvalidSubject: see NameInvalidSubject.
	ErrInvalidSubject = errors.New("ucan: " + NameInvalidSubject)
	// ErrInvalidSignature: see NameInvalidSignature.
	ErrInvalidSignature = errors.New("ucan: " + NameInvalidSignature)
	// ErrMatchError: see NameMatchError.
	ErrMatchError = errors.New("ucan: " + NameMatchError)
	// ErrRevoked: see NameRevoked.
	ErrRevoked = errors.New("ucan: " + NameRevoked)
	// ErrReplayed: see NameReplayed.
	ErrReplayed = errors.New("ucan: " + NameReplayed)
	// ErrTooLarge: see NameTooLarge.
	ErrTooLarge = errors.New("ucan: " + NameTooLarge)
	// ErrMalformed: see NameMalformed.
	ErrMalformed = errors.New("ucan: " + NameMalformed)
)

var sentinels = map[string]error{
	NameInvalidClaim:     ErrInvalidClaim,
	NameUnavailableProof: ErrUnavailableProof,
	NameExpired:          ErrExpired,
	NameTooEarly:         ErrTooEarly,
	NameInvalidAudience:  ErrInvalidAudience,
	NameInvalidSubject:   ErrInvalidSubject,
	NameInvalidSignature: ErrInvalidSignature,
	NameMatchError:       ErrMatchError,
	NameRevoked:          ErrRevoked,
	NameReplayed:         ErrReplayed,
	NameTooLarge:         ErrTooLarge,
	NameMalformed:        ErrMalformed,
}

// Error is a validation or decoding failure. Name is one of the Name*
// constants; Reason says what to fix, for people; Err, when set, is the
// underlying cause (a spec decoding error, a store error).
type Error struct {
	Name   string
	Reason string
	Err    error
}

// Error implements error.
func (e *Error) Error() string {
	s := "ucan: " + e.Name
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is the sentinel of e's name.
func (e *Error) Is(target error) bool { return target != nil && sentinels[e.Name] == target }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorName returns the UCAN name of err ("InvalidClaim", ...) or "" when
// err is nil or not a UCAN failure.
func ErrorName(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Name
	}
	for name, s := range sentinels {
		if errors.Is(err, s) {
			return name
		}
	}
	return ""
}

func fail(name, format string, args ...any) *Error {
	return &Error{Name: name, Reason: fmt.Sprintf(format, args...)}
}

func failWrap(name string, err error, format string, args ...any) *Error {
	return &Error{Name: name, Reason: fmt.Sprintf(format, args...), Err: err}
}
