package receipt

import (
	"crypto/ed25519"
	"fmt"
	"slices"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/ucan"
)

// VerifyOpts are the optional checks of VerifyWith.
type VerifyOpts struct {
	// Issuers, when not empty, lists the DIDs whose receipts the caller
	// accepts (e.g. the peer that served the receipt plus the keys trusted
	// by config); a receipt from any other issuer fails with
	// ErrUntrustedIssuer even if its signature verifies.
	Issuers []string
}

// Verify checks that the receipt is for the task wantRan and that its
// signature verifies against its issuer's did:key. Decode has already
// checked the rest of the structure (cmd, sub == iss, the varsig header).
// It returns ErrWrongTask or ErrBadSignature.
func (s *Signed) Verify(wantRan cid.Cid) error {
	return s.VerifyWith(wantRan, VerifyOpts{})
}

// VerifyWith is Verify with the optional checks of o.
func (s *Signed) VerifyWith(wantRan cid.Cid, o VerifyOpts) error {
	if !wantRan.Defined() || !s.Ran.Equals(wantRan) {
		return fmt.Errorf("%w: ran %s, asked about %s", ErrWrongTask, s.Ran, wantRan)
	}
	if len(o.Issuers) > 0 && !slices.Contains(o.Issuers, s.Iss) {
		return fmt.Errorf("%w: %s", ErrUntrustedIssuer, s.Iss)
	}
	return s.VerifySignature()
}

// VerifySignature checks only the signature against the issuer's did:key,
// for callers that look a receipt up by its own CID and do not yet know
// which task it names. Prefer Verify.
func (s *Signed) VerifySignature() error {
	pub, err := ucan.PublicKeyFromDID(s.Iss)
	if err != nil {
		return fmt.Errorf("%w: issuer: %w", ErrBadSignature, err)
	}
	if len(s.sig) != ed25519.SignatureSize || !ed25519.Verify(pub, s.payload, s.sig) {
		return fmt.Errorf("%w: issuer %s", ErrBadSignature, s.Iss)
	}
	return nil
}
