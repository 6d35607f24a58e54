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
