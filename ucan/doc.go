// Package ucan owns identities (Ed25519 keys and their did:key), UCAN 1.0
// delegations and invocations, and the validation of a proof chain from a
// subject to an invoker.
//
// Tokens are standard UCAN 1.0 envelopes (go-ucan v1.1.0 reads the ones
// built here, and this package reads go-ucan's), but decoding and chain
// validation are this package's own: go-ucan's ExecutionAllowed alone
// accepts chains it should not (see RATIONALE.md). Decoding is strict
// canonical DAG-CBOR with size caps; a non-canonical re-encoding of a
// token decodes to the canonical token, with the canonical CID, so
// revocation and replay see one token whatever its encoding. Failures are
// *Error values named in the UCAN vocabulary (InvalidClaim, Expired,
// MatchError, Revoked, Replayed, ...): see ErrorName.
//
// Delegating, on Alice's machine:
//
//	pol, _ := ucan.ParsePolicyJSON([]byte(`[["==", ".mod", {"/": "bafy…"}]]`))
//	dlg, err := ucan.Delegate(alice, bobDID, "/wasm/run", ucan.WithPolicy(pol), ucan.WithTTL(24*time.Hour))
//	file, _ := ucan.EncodeContainer(dlg) // or dlg.Bytes()
//
// Invoking a workflow on Alice's authority, on Bob's machine:
//
//	dlgs, _ := ucan.ReadTokens(file, ucan.Limits{})
//	chain, sub, _ := ucan.OrderChain(dlgs, bob.DID())
//	inv, _ := ucan.InvokeWorkflow(bob, sub, workflowCID,
//		ucan.WithProofs(ucan.CIDs(chain)...), ucan.WithAudience(nodeDID))
//	bearer, _ := ucan.EncodeContainer(append([]*ucan.Token{inv}, chain...)...)
//
// Authorizing, on the node (once per workflow, then once per task):
//
//	ctn, err := ucan.DecodeContainer(bearer, ucan.Limits{})
//	c, err := ucan.ValidateWorkflow(ctx, ctn.Invocation, ctn.Delegations, workflowCID,
//		ucan.Options{Node: node.DID(), Revocations: store, Replay: store})
//	for _, task := range tasks {
//		if err := c.Authorize(task.Sub, task.Cmd, task.Args); err != nil { … }
//	}
package ucan
