package ucan

import (
	"context"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
)

// DefaultSkew is the clock skew allowed on exp and nbf.
const DefaultSkew = 60 * time.Second

// RevocationChecker reports whether a delegation was revoked. The node's
// store implements it.
type RevocationChecker interface {
	// Revoked reports whether the token with CID c is revoked.
	Revoked(ctx context.Context, c cid.Cid) (bool, error)
}

// ReplayGuard remembers invocations. The node's store implements it.
type ReplayGuard interface {
	// SeeInvocation records invocation CID c, to be remembered until exp
	// (the zero time when the invocation never expires), and reports
	// whether it had been recorded before. It must be atomic: of two
	// concurrent calls with the same c, exactly one returns false.
	SeeInvocation(ctx context.Context, c cid.Cid, exp time.Time) (seen bool, err error)
}

// Options configure Validate. The zero value validates at time.Now with
// DefaultSkew and DefaultLimits, accepts no invocation aud, and checks no
// revocation and no replay.
type Options struct {
	// Now is the validation time. Zero means time.Now().
	Now time.Time
	// Skew is the clock skew allowed on exp and nbf. Zero means
	// DefaultSkew; negative means none.
	Skew time.Duration
	// Node is this node's DID. An invocation's aud must be absent or equal
	// to it. Empty means only invocations without aud are accepted.
	Node string
	// Limits caps the proof count (Limits.MaxProofs).
	Limits Limits
	// Revocations, if set, is asked about every delegation of the chain.
	Revocations RevocationChecker
	// Replay, if set, refuses an invocation CID it has seen before.
	Replay ReplayGuard
}

func (o Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

func (o Options) skew() int64 {
	switch {
	case o.Skew == 0:
		return int64(DefaultSkew / time.Second)
	case o.Skew < 0:
		return 0
	}
	return int64(o.Skew / time.Second)
}

// Chain is an invocation whose signatures, principals, subjects and time
// bounds were verified, with its delegations root first. Authorize checks
// a command and its args against the delegations.
type Chain struct {
	// Invocation is the validated invocation.
	Invocation *Token
	// Delegations is the proof chain, root first; empty when the subject
	// invokes for itself.
	Delegations []*Token
	// Subject is the DID whose authority the chain carries.
	Subject string
}

// Authorize checks that the chain allows running cmd with args on sub:
// sub is the chain's subject (or empty, meaning the chain's subject),
// every delegation's command covers cmd, and args satisfy every
// delegation's policy. Errors are *Error named InvalidSubject,
// InvalidClaim or MatchError.
func (c *Chain) Authorize(sub, cmd string, args map[string]any) error {
	if sub != "" && sub != c.Subject {
		return fail(NameInvalidSubject, "subject %s is not the chain's subject %s", sub, c.Subject)
	}
	for _, d := range c.Delegations {
		if !commandCovers(d.Command, cmd) {
			return fail(NameInvalidClaim, "command %s is not covered by delegation %s for %s", cmd, d.CID, d.Command)
		}
	}
	for _, d := range c.Delegations {
		if err := d.Policy.Match(args); err != nil {
			err.(*Error).Reason = fmt.Sprintf("policy of delegation %s: %s", d.CID, err.(*Error).Reason)
			return err
		}
	}
	return nil
}

// Validate checks that the invocation inv is authorized by a chain made of
// proofs (delegations in any order, root first or leaf first; extra
// tokens are ignored): every signature, the subject and principal
// alignment, time bounds with skew, the commands and policies against
// inv's own cmd and args, revocation and replay. It returns the chain, or
// an *Error whose Name is the UCAN reason (see ErrorName). It never
// panics on hostile input.
func Validate(ctx context.Context, inv *Token, proofs []*Token, opts Options) (*Chain, error) {
	c, err := verifyChain(inv, proofs, opts)
	if err != nil {
		return nil, err
	}
	if err := c.Authorize(inv.Subject, inv.Command, inv.Args); err != nil {
		return nil, err
	}
	if err := c.checkState(ctx, opts); err != nil {
		return nil, err
	}
	return c, nil
}

// verifyChain runs every check that does not depend on the command being
// authorized. The order of the checks decides which reason a token with
// several defects reports; it follows the UCAN invocation spec's
// validation steps.
func verifyChain(inv *Token, proofs []*Token, opts Options) (c *Chain, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fail(NameMalformed, "validation panic: %v", r)
		}
	}()
	lim := opts.Limits.withDefaults()
	if inv == nil || inv.Kind != KindInvocation {
		return nil, fail(NameMalformed, "not an invocation")
	}
	if len(inv.Proofs) > lim.MaxProofs {
		return nil, fail(NameTooLarge, "%d proofs, limit %d", len(inv.Proofs), lim.MaxProofs)
	}
	if err := inv.Verify(); err != nil {
		return nil, err
	}
	now, skew := opts.now().Unix(), opts.skew()
	if err := checkTime(inv, now, skew); err != nil {
		return nil, err
	}
	if inv.Audience != "" && inv.Audience != opts.Node {
		return nil, fail(NameInvalidAudience, "invocation is addressed to %s, not this node (%s)", inv.Audience, orNone(opts.Node))
	}
	c = &Chain{Invocation: inv, Subject: inv.Subject}
	if len(inv.Proofs) == 0 {
		if inv.Issuer != inv.Subject {
			return nil, fail(NameInvalidClaim, "no proofs, and the issuer %s is not the subject %s", inv.Issuer, inv.Subject)
		}
		return c, nil
	}
	byCID := make(map[cid.Cid]*Token, len(proofs))
	for _, p := range proofs {
		if p != nil {
			byCID[p.CID] = p
		}
	}
	dlgs := make([]*Token, len(inv.Proofs))
	for i, pc := range inv.Proofs {
		d, ok := byCID[pc]
		if !ok {
			return nil, fail(NameUnavailableProof, "proof %s is not supplied", pc)
		}
		if d.Kind != KindDelegation {
			return nil, fail(NameInvalidClaim, "proof %s is not a delegation", pc)
		}
		dlgs[i] = d
	}
	if leafFirst(dlgs, inv) {
		for i, j := 0, len(dlgs)-1; i < j; i, j = i+1, j-1 {
			dlgs[i], dlgs[j] = dlgs[j], dlgs[i]
		}
	}
	for _, d := range dlgs {
		if err := d.Verify(); err != nil {
			return nil, err
		}
		if err := checkTime(d, now, skew); err != nil {
			return nil, err
		}
	}
	root := dlgs[0]
	if root.IsPowerline() {
		return nil, fail(NameInvalidClaim, "root delegation %s is a powerline (sub: null): it proves no authority", root.CID)
	}
	for _, d := range dlgs {
		if d.Subject != "" && d.Subject != inv.Subject {
			return nil, fail(NameInvalidSubject, "delegation %s is for subject %s, the invocation's is %s", d.CID, d.Subject, inv.Subject)
		}
	}
	for i := 0; i+1 < len(dlgs); i++ {
		if dlgs[i].Audience != dlgs[i+1].Issuer {
			return nil, fail(NameInvalidAudience, "delegation %s is addressed to %s, but %s is issued by %s", dlgs[i].CID, dlgs[i].Audience, dlgs[i+1].CID, dlgs[i+1].Issuer)
		}
	}
	if last := dlgs[len(dlgs)-1]; last.Audience != inv.Issuer {
		return nil, fail(NameInvalidAudience, "last delegation %s is addressed to %s, not to the invoker %s", last.CID, last.Audience, inv.Issuer)
	}
	if root.Issuer != root.Subject {
		return nil, fail(NameInvalidSubject, "root delegation %s is issued by %s, not by its subject %s", root.CID, root.Issuer, root.Subject)
	}
	c.Delegations = dlgs
	return c, nil
}

// leafFirst reports whether the proofs are listed leaf first (go-ucan's
// order) rather than root first (the spec fixtures' order): the first
// delegation is addressed to the invoker and the last is issued by the
// subject, and the links line up in reverse but not forward. A chain that
// lines up neither way is reported in the given order.
func leafFirst(d []*Token, inv *Token) bool {
	n := len(d)
	if n < 2 {
		return false
	}
	aligned := func(at func(int) *Token) bool {
		for i := 0; i+1 < n; i++ {
			if at(i).Audience != at(i+1).Issuer {
				return false
			}
		}
		return at(n-1).Audience == inv.Issuer
	}
	if aligned(func(i int) *Token { return d[i] }) {
		return false
	}
	return aligned(func(i int) *Token { return d[n-1-i] })
}

func checkTime(t *Token, now, skew int64) error {
	if t.Exp != nil && now-skew > *t.Exp {
		return fail(NameExpired, "%s %s expired at %s", t.Kind, t.CID, time.Unix(*t.Exp, 0).UTC().Format(time.RFC3339))
	}
	if t.Nbf != nil && now+skew < *t.Nbf {
		return fail(NameTooEarly, "%s %s is not valid before %s", t.Kind, t.CID, time.Unix(*t.Nbf, 0).UTC().Format(time.RFC3339))
	}
	return nil
}

// checkState asks the revocation checker about every delegation, then
// records the invocation with the replay guard (last, so that a refused
// invocation is not remembered).
func (c *Chain) checkState(ctx context.Context, opts Options) error {
	if opts.Revocations != nil {
		for _, d := range c.Delegations {
			revoked, err := opts.Revocations.Revoked(ctx, d.CID)
			if err != nil {
				return fmt.Errorf("ucan: revocation check of %s: %w", d.CID, err)
			}
			if revoked {
				return fail(NameRevoked, "delegation %s (%s → %s, %s) was revoked", d.CID, d.Issuer, d.Audience, d.Command)
			}
		}
	}
	if opts.Replay != nil {
		var exp time.Time
		if e := c.Invocation.Exp; e != nil {
			exp = time.Unix(*e+opts.skew(), 0)
		}
		seen, err := opts.Replay.SeeInvocation(ctx, c.Invocation.CID, exp)
		if err != nil {
			return fmt.Errorf("ucan: replay check of %s: %w", c.Invocation.CID, err)
		}
		if seen {
			return fail(NameReplayed, "invocation %s was already presented", c.Invocation.CID)
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none configured"
	}
	return s
}
