package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/store"
	"github.com/ipvm-go/ipvm/ucan"
	"github.com/ipvm-go/ipvm/workflow"
)

// ErrUnauthorized is returned when a run has no valid grant. Errors from
// Authorize wrap a *ucan.Error that names the UCAN reason.
var ErrUnauthorized = errors.New("node: unauthorized")

// Grant is the proof that a workflow run is authorized: a validated UCAN
// chain whose commands and policies allow every task, or the node owner's
// own run. Only Authorize and OwnerGrant make one; Run refuses to start
// without it, so no task runs unauthorized.
type Grant struct {
	wf    cid.Cid
	chain *ucan.Chain // nil for the owner's run

	// The owner's runs are named by an invocation the node signs on the
	// owner's behalf, lazily: a run answered entirely from the memo table
	// signs nothing.
	once sync.Once
	inv  cid.Cid
	err  error
}

// Subject returns the DID whose authority the run carries.
func (g *Grant) Subject(n *Node) string {
	if g.chain == nil {
		return n.DID()
	}
	return g.chain.Subject
}

// invocation returns the CID of the invocation every receipt of the run
// names.
func (g *Grant) invocation(ctx context.Context, n *Node) (cid.Cid, error) {
	if g.chain != nil {
		return g.chain.Invocation.CID, nil
	}
	g.once.Do(func() {
		tok, err := ucan.InvokeWorkflow(n.key, n.DID(), g.wf)
		if err != nil {
			g.err = fmt.Errorf("node: sign the owner's invocation: %w", err)
			return
		}
		if err := n.store.PutDelegation(ctx, tok.CID, tok.Bytes()); err != nil {
			g.err = err
			return
		}
		g.inv = tok.CID
	})
	return g.inv, g.err
}

// OwnerGrant authorizes a run on the node owner's own behalf (the embedded
// CLI on its own repo, a loopback request when the config allows it).
// Every task still has to be a command this node runs.
func (n *Node) OwnerGrant(wf *workflow.Workflow) *Grant {
	return &Grant{wf: wf.CID}
}

// Authorize validates a workflow invocation and its delegation chain for
// the workflow wf: signatures, principal and subject alignment, time
// bounds, revocation and replay (the invocation's CID is remembered until
// its exp), then checks every task against the chain's commands and
// policies. The error wraps ErrUnauthorized and a *ucan.Error whose name
// says what to fix (ucan.ErrorName).
func (n *Node) Authorize(ctx context.Context, wf *workflow.Workflow, inv *ucan.Token, proofs []*ucan.Token) (*Grant, error) {
	if inv == nil {
		return nil, fmt.Errorf("%w: no invocation", ErrUnauthorized)
	}
	chain, err := ucan.ValidateWorkflow(ctx, inv, proofs, wf.CID, ucan.Options{
		Node:        n.DID(),
		Revocations: revocations{n.store},
		Replay:      n.store,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	for _, t := range wf.Tasks {
		if err := chain.Authorize(t.Task.Sub, t.Task.Cmd, t.Task.Args); err != nil {
			return nil, fmt.Errorf("%w: task %q: %w", ErrUnauthorized, t.Name, err)
		}
	}
	// Keep the tokens, so that the invocation a receipt names can be shown.
	for _, tok := range append([]*ucan.Token{inv}, chain.Delegations...) {
		if err := n.store.PutDelegation(ctx, tok.CID, tok.Bytes()); err != nil {
			return nil, err
		}
	}
	return &Grant{wf: wf.CID, chain: chain}, nil
}

// Revoke records the revocation of a delegation: every chain that holds it
// is refused from now on (Revoked).
func (n *Node) Revoke(ctx context.Context, c cid.Cid) error {
	return n.store.Revoke(ctx, c)
}

// Token returns a token (delegation or invocation) the node has kept.
func (n *Node) Token(ctx context.Context, c cid.Cid) (*ucan.Token, error) {
	b, err := n.store.Delegation(ctx, c)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: token %s", ErrNotFound, c)
	}
	if err != nil {
		return nil, err
	}
	return ucan.Decode(b, ucan.Limits{})
}

// revocations adapts the store to ucan.RevocationChecker.
type revocations struct{ s *store.Store }

func (r revocations) Revoked(ctx context.Context, c cid.Cid) (bool, error) {
	return r.s.IsRevoked(ctx, c)
}

// SignWorkflow signs, with k, the invocation asking a node to run wf on
// sub's authority, with the delegations proofs as its chain (root first or
// leaf first). With no proofs, sub is k's own DID. aud, when not empty, is
// the node that is to run it.
func SignWorkflow(k *ucan.Key, wf cid.Cid, proofs []*ucan.Token, aud string, ttl time.Duration) (*ucan.Token, error) {
	sub := k.DID()
	var prf []cid.Cid
	for _, p := range proofs {
		if p.Kind != ucan.KindDelegation {
			return nil, fmt.Errorf("node: proof %s is not a delegation", p.CID)
		}
		prf = append(prf, p.CID)
		if p.Subject != "" && (p.Issuer == p.Subject) {
			sub = p.Subject // the root names the subject
		}
	}
	opts := []ucan.Option{ucan.WithProofs(prf...)}
	if aud != "" {
		opts = append(opts, ucan.WithAudience(aud))
	}
	if ttl > 0 {
		opts = append(opts, ucan.WithTTL(ttl))
	}
	return ucan.InvokeWorkflow(k, sub, wf, opts...)
}
