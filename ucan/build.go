package ucan

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

// Default lifetimes of the tokens this package builds, when no option
// sets exp.
const (
	DefaultDelegationTTL = 24 * time.Hour
	DefaultInvocationTTL = 5 * time.Minute
)

// ErrBadOption is returned by Delegate and Invoke for contradictory or
// invalid options.
var ErrBadOption = errors.New("ucan: bad token option")

// Option configures Delegate and Invoke. Options that do not apply to the
// token kind being built are an error.
type Option func(*buildConfig) error

type buildConfig struct {
	now       time.Time
	exp       *time.Time
	noExp     bool
	ttl       time.Duration
	nbf       *time.Time
	iat       *time.Time
	nonce     []byte
	meta      map[string]any
	sub       string
	powerline bool
	pol       Policy
	aud       string
	proofs    []cid.Cid
	cause     *cid.Cid
	set       map[string]bool
}

func (c *buildConfig) mark(name string) { c.set[name] = true }

// WithNow sets the clock the relative options (WithTTL, default exp) use.
func WithNow(now time.Time) Option {
	return func(c *buildConfig) error { c.now = now; return nil }
}

// WithTTL sets exp to now + d.
func WithTTL(d time.Duration) Option {
	return func(c *buildConfig) error {
		if d <= 0 {
			return fmt.Errorf("%w: ttl %v", ErrBadOption, d)
		}
		c.ttl = d
		return nil
	}
}

// WithExpiration sets exp.
func WithExpiration(t time.Time) Option {
	return func(c *buildConfig) error { c.exp = &t; return nil }
}

// WithoutExpiration sets exp to null: the token never expires. Prefer a
// TTL and revocation.
func WithoutExpiration() Option {
	return func(c *buildConfig) error { c.noExp = true; return nil }
}

// WithNotBefore sets nbf (delegations only).
func WithNotBefore(t time.Time) Option {
	return func(c *buildConfig) error { c.nbf = &t; c.mark("nbf"); return nil }
}

// WithIssuedAt sets iat (invocations only).
func WithIssuedAt(t time.Time) Option {
	return func(c *buildConfig) error { c.iat = &t; c.mark("iat"); return nil }
}

// WithNonce sets the nonce. The default is 12 random bytes; an empty
// nonce is allowed for invocations only.
func WithNonce(nonce []byte) Option {
	return func(c *buildConfig) error { c.nonce = append([]byte{}, nonce...); return nil }
}

// WithMeta sets meta (e.g. an invocation's limits: fuel, memory, time).
func WithMeta(meta map[string]any) Option {
	return func(c *buildConfig) error { c.meta = meta; return nil }
}

// WithSubject sets a delegation's sub (default: the issuer, a root
// delegation). Re-delegating another subject's authority names it here.
func WithSubject(sub string) Option {
	return func(c *buildConfig) error { c.sub = sub; c.mark("sub"); return nil }
}

// WithPowerline makes a delegation a powerline (sub: null): it passes on
// whatever the issuer is delegated, for any subject. It is never valid as
// the root of a chain.
func WithPowerline() Option {
	return func(c *buildConfig) error { c.powerline = true; c.mark("sub"); return nil }
}

// WithPolicy sets a delegation's pol (default: empty, no constraint).
func WithPolicy(p Policy) Option {
	return func(c *buildConfig) error { c.pol = p; c.mark("pol"); return nil }
}

// WithAudience sets an invocation's aud: the node that is to run it.
func WithAudience(aud string) Option {
	return func(c *buildConfig) error { c.aud = aud; c.mark("aud"); return nil }
}

// WithProofs sets an invocation's prf: the delegation chain's CIDs, root
// first.
func WithProofs(prf ...cid.Cid) Option {
	return func(c *buildConfig) error { c.proofs = append(c.proofs, prf...); c.mark("prf"); return nil }
}

// WithCause sets an invocation's cause (the receipt that prompted it).
func WithCause(cause cid.Cid) Option {
	return func(c *buildConfig) error { c.cause = &cause; c.mark("cause"); return nil }
}

func newConfig(opts []Option) (*buildConfig, error) {
	c := &buildConfig{set: map[string]bool{}}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.now.IsZero() {
		c.now = time.Now()
	}
	if n := boolCount(c.exp != nil, c.noExp, c.ttl != 0); n > 1 {
		return nil, fmt.Errorf("%w: more than one of WithExpiration, WithTTL, WithoutExpiration", ErrBadOption)
	}
	if c.nonce == nil {
		c.nonce = make([]byte, defaultNonceLength)
		if _, err := rand.Read(c.nonce); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *buildConfig) expiry(def time.Duration) any {
	switch {
	case c.noExp:
		return nil
	case c.exp != nil:
		return c.exp.Unix()
	case c.ttl != 0:
		return c.now.Add(c.ttl).Unix()
	}
	return c.now.Add(def).Unix()
}

func (c *buildConfig) reject(kind Kind, names ...string) error {
	for _, n := range names {
		if c.set[n] {
			return fmt.Errorf("%w: %s does not apply to a %s", ErrBadOption, n, kind)
		}
	}
	return nil
}

func boolCount(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// Delegate builds and signs a delegation from issuer to aud for cmd. By
// default it is a root delegation (sub = the issuer's DID) with an empty
// policy, a random nonce and exp = now + DefaultDelegationTTL.
func Delegate(issuer *Key, aud, cmd string, opts ...Option) (*Token, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := c.reject(KindDelegation, "aud", "prf", "cause", "iat"); err != nil {
		return nil, err
	}
	if err := checkCommand(cmd); err != nil {
		return nil, err
	}
	if _, err := PublicKeyFromDID(aud); err != nil {
		return nil, fmt.Errorf("audience: %w", err)
	}
	if c.powerline && c.sub != "" {
		return nil, fmt.Errorf("%w: WithSubject and WithPowerline", ErrBadOption)
	}
	var sub any = issuer.DID()
	switch {
	case c.powerline:
		sub = nil
	case c.sub != "":
		sub = c.sub
	}
	pol := c.pol
	if pol == nil {
		pol = Policy{}
	}
	p := map[string]any{
		"iss": issuer.DID(), "aud": aud, "sub": sub, "cmd": cmd,
		"pol": pol.IPLD(), "nonce": c.nonce, "exp": c.expiry(DefaultDelegationTTL),
	}
	if c.nbf != nil {
		p["nbf"] = c.nbf.Unix()
	}
	if c.meta != nil {
		p["meta"] = c.meta
	}
	return seal(issuer, TagDelegation, p)
}

// Invoke builds and signs an invocation of cmd with args on sub's
// authority. prf (WithProofs) names the delegation chain from sub to the
// issuer; with none, the issuer must be sub. Defaults: no aud, a random
// nonce, exp = now + DefaultInvocationTTL, iat = now.
func Invoke(issuer *Key, sub, cmd string, args map[string]any, opts ...Option) (*Token, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := c.reject(KindInvocation, "sub", "pol", "nbf"); err != nil {
		return nil, err
	}
	if err := checkCommand(cmd); err != nil {
		return nil, err
	}
	if !isDID(sub) {
		return nil, fmt.Errorf("%w: subject %q is not a DID", ErrBadOption, trunc(sub))
	}
	if args == nil {
		args = map[string]any{}
	}
	prf := make([]any, len(c.proofs))
	for i, p := range c.proofs {
		prf[i] = p
	}
	iat := c.now
	if c.iat != nil {
		iat = *c.iat
	}
	p := map[string]any{
		"iss": issuer.DID(), "sub": sub, "cmd": cmd, "args": args, "prf": prf,
		"nonce": c.nonce, "exp": c.expiry(DefaultInvocationTTL), "iat": iat.Unix(),
	}
	if c.aud != "" {
		if !isDID(c.aud) {
			return nil, fmt.Errorf("%w: audience %q is not a DID", ErrBadOption, trunc(c.aud))
		}
		p["aud"] = c.aud
	}
	if c.meta != nil {
		p["meta"] = c.meta
	}
	if c.cause != nil {
		p["cause"] = *c.cause
	}
	return seal(issuer, TagInvocation, p)
}

func isDID(s string) bool { return len(s) > 4 && s[:4] == "did:" && len(s) <= 512 }

// seal signs payload under tag and decodes the result, so that a built
// token is exactly what a receiver decodes.
func seal(issuer *Key, tag string, payload map[string]any) (*Token, error) {
	sp := map[string]any{varsigHeaderKey: varsigEd25519, tag: payload}
	signed, err := spec.EncodeCBOR(sp)
	if err != nil {
		return nil, fmt.Errorf("ucan: encode payload: %w", err)
	}
	env, err := spec.EncodeCBOR([]any{issuer.Sign(signed), sp})
	if err != nil {
		return nil, fmt.Errorf("ucan: encode envelope: %w", err)
	}
	return Decode(env, Limits{})
}
