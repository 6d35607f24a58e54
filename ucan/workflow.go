package ucan

import (
	"context"

	"github.com/ipfs/go-cid"
)

// CmdWorkflowRun is the command of the one invocation that authorizes a
// whole workflow. Its args are {"workflow": <link to the workflow>}.
const CmdWorkflowRun = "/ipvm/workflow/run"

// ArgWorkflow is the args key of a CmdWorkflowRun invocation that links
// the workflow.
const ArgWorkflow = "workflow"

// InvokeWorkflow signs the invocation that asks a node to run the
// workflow with CID wf on sub's authority: one signature per workflow,
// with a fresh nonce and a short exp (DefaultInvocationTTL unless an
// option says otherwise). Pass the chain with WithProofs and the node
// with WithAudience.
func InvokeWorkflow(issuer *Key, sub string, wf cid.Cid, opts ...Option) (*Token, error) {
	return Invoke(issuer, sub, CmdWorkflowRun, map[string]any{ArgWorkflow: wf}, opts...)
}

// ValidateWorkflow checks that inv authorizes running the workflow whose
// CID is wf (the CID of the body the node received): inv is a
// CmdWorkflowRun invocation for wf, its signatures, principals, subjects
// and time bounds hold, no delegation is revoked and inv was not seen
// before. The delegations' commands and policies are not checked against
// the workflow invocation itself but against each task: the node calls
// Chain.Authorize(task.Sub, task.Cmd, task.Args) for every task before it
// runs it (a delegation for /wasm/run with a policy on .mod constrains
// the tasks, not the envelope). A chain with no delegations (the subject
// invokes for itself) authorizes every task.
func ValidateWorkflow(ctx context.Context, inv *Token, proofs []*Token, wf cid.Cid, opts Options) (*Chain, error) {
	c, err := verifyChain(inv, proofs, opts)
	if err != nil {
		return nil, err
	}
	if inv.Command != CmdWorkflowRun {
		return nil, fail(NameInvalidClaim, "invocation command is %s, want %s", inv.Command, CmdWorkflowRun)
	}
	got, ok := inv.Args[ArgWorkflow].(cid.Cid)
	if !ok || !got.Equals(wf) {
		return nil, fail(NameInvalidClaim, "invocation authorizes workflow %v, not %s", inv.Args[ArgWorkflow], wf)
	}
	if err := c.checkState(ctx, opts); err != nil {
		return nil, err
	}
	return c, nil
}

// OrderChain picks, from delegations in any order (e.g. the files passed
// with --proof), the chain that ends at invoker and returns it root first,
// ready for WithProofs, with the subject it carries. It follows aud → iss
// links back from the delegation addressed to invoker until a delegation
// issued by its own subject; unrelated delegations are left out. Errors
// are *Error named InvalidAudience: no delegation to invoker, or a link
// (a powerline's or a re-delegation's issuer) that no delegation reaches.
func OrderChain(dlgs []*Token, invoker string) ([]*Token, string, error) {
	byAud := make(map[string]*Token, len(dlgs))
	for _, d := range dlgs {
		if d != nil && d.Kind == KindDelegation {
			byAud[d.Audience] = d
		}
	}
	var rev []*Token
	for who := invoker; ; {
		d, ok := byAud[who]
		if !ok {
			if len(rev) == 0 {
				return nil, "", fail(NameInvalidAudience, "no delegation is addressed to %s", invoker)
			}
			return nil, "", fail(NameInvalidAudience, "no delegation is addressed to %s, who issued %s", who, rev[len(rev)-1].CID)
		}
		if len(rev) > len(dlgs) {
			return nil, "", fail(NameInvalidAudience, "delegations form a cycle")
		}
		rev = append(rev, d)
		if d.IsPowerline() || d.Issuer != d.Subject {
			who = d.Issuer
			continue
		}
		break
	}
	out := make([]*Token, len(rev))
	for i, d := range rev {
		out[len(rev)-1-i] = d
	}
	return out, out[0].Subject, nil
}

// CIDs returns the CIDs of toks, in order (for WithProofs).
func CIDs(toks []*Token) []cid.Cid {
	out := make([]cid.Cid, len(toks))
	for i, t := range toks {
		out[i] = t.CID
	}
	return out
}
