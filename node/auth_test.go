package node

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/ucan"
	"github.com/ipvm-go/ipvm/workflow"
)

func wfWith(t *testing.T, mod cid.Cid, fun string, param int64) *workflow.Workflow {
	t.Helper()
	js := `{"name":"bob","tasks":[{"name":"t","args":{"mod":{"/":"` + mod.String() + `"},"fun":"` + fun + `","params":[` + spec.MustJSON(param) + `]}}]}`
	wf, err := workflow.Parse([]byte(js), workflow.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return wf
}

func wantUCANError(t *testing.T, err error, name string) {
	t.Helper()
	if err == nil {
		t.Fatalf("authorized; want %s", name)
	}
	if !errors.Is(err, ErrUnauthorized) || ucan.ErrorName(err) != name {
		t.Fatalf("error %v (name %q), want %s", err, ucan.ErrorName(err), name)
	}
}

// TestDelegationEndToEnd: Alice delegates /wasm/run on her node to Bob with a
// policy that allows one module. Bob's run of that module is authorized and
// runs; his run of another module is refused with MatchError; the same
// invocation again is Replayed; after Alice revokes the delegation, Bob's
// next run is refused with Revoked (Spec: §3).
func TestDelegationEndToEnd(t *testing.T) {
	ctx := context.Background()
	alice := openTestNode(t, Options{})
	bobRepo, err := OpenRepo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bob := bobRepo.Key
	allowed := addFile(t, alice, "../examples/hello.wasm")
	other := addFile(t, alice, "exec/testdata/guest.wasm")

	pol, err := ucan.ParsePolicyJSON([]byte(`[["==", ".mod", {"/": "` + allowed.String() + `"}]]`))
	if err != nil {
		t.Fatal(err)
	}
	dlg, err := ucan.Delegate(alice.Key(), bob.DID(), "/wasm/run", ucan.WithPolicy(pol))
	if err != nil {
		t.Fatal(err)
	}
	proofs := []*ucan.Token{dlg}

	// The allowed module runs, under Alice's authority, on her node.
	wf := wfWith(t, allowed, "add_one", 1)
	inv, err := SignWorkflow(bob, wf.CID, proofs, alice.DID(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Subject != alice.DID() || inv.Issuer != bob.DID() {
		t.Fatalf("invocation sub %s iss %s", inv.Subject, inv.Issuer)
	}
	g, err := alice.Authorize(ctx, wf, inv, proofs)
	if err != nil {
		t.Fatalf("Bob's run of the allowed module: %v", err)
	}
	sum, err := alice.Run(ctx, wf, RunOptions{Grant: g})
	if err != nil || sum.Failed != 0 || !spec.Equal(sum.Events[0].Out.Ok, int64(2)) {
		t.Fatalf("run: %v %+v", err, sum)
	}
	view, err := alice.Receipt(ctx, sum.Events[0].Receipt)
	if err != nil || !view.Signed.Inv.Equals(inv.CID) {
		t.Fatalf("the receipt does not name Bob's invocation: %v", err)
	}

	// The same invocation again is a replay.
	_, err = alice.Authorize(ctx, wf, inv, proofs)
	wantUCANError(t, err, "Replayed")

	// Another module does not match the policy.
	wf2 := wfWith(t, other, "add_one", 1)
	inv2, err := SignWorkflow(bob, wf2.CID, proofs, alice.DID(), 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = alice.Authorize(ctx, wf2, inv2, proofs)
	wantUCANError(t, err, "MatchError")

	// An invocation for one workflow does not authorize another body.
	wf3 := wfWith(t, allowed, "add_one", 7)
	_, err = alice.Authorize(ctx, wf3, inv2, proofs)
	wantUCANError(t, err, "InvalidClaim")

	// Revoked: Bob's next run of the allowed module is refused.
	if err := alice.Revoke(ctx, dlg.CID); err != nil {
		t.Fatal(err)
	}
	inv4, err := SignWorkflow(bob, wf3.CID, proofs, alice.DID(), 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = alice.Authorize(ctx, wf3, inv4, proofs)
	wantUCANError(t, err, "Revoked")

	// Without a delegation, Bob has no authority over Alice's subject.
	inv5, err := ucan.InvokeWorkflow(bob, alice.DID(), wf3.CID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = alice.Authorize(ctx, wf3, inv5, nil)
	if err == nil {
		t.Fatal("Bob ran as Alice with no delegation")
	}
}

// TestRunNeedsGrant: Run refuses a workflow without a grant, or with a
// grant made for another workflow.
func TestRunNeedsGrant(t *testing.T) {
	ctx := context.Background()
	n := openTestNode(t, Options{})
	mod := addFile(t, n, "../examples/hello.wasm")
	wf := wfWith(t, mod, "add_one", 1)
	if _, err := n.Run(ctx, wf, RunOptions{}); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("no grant: %v", err)
	}
	other := wfWith(t, mod, "add_one", 2)
	if _, err := n.Run(ctx, wf, RunOptions{Grant: n.OwnerGrant(other)}); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("grant of another workflow: %v", err)
	}
	if n.Executions() != 0 {
		t.Fatal("a task ran without a grant")
	}
}

// TestOwnerRunSignsLazily: an owner run that executes names a signed
// invocation the node keeps; a fully memoized run signs nothing new.
func TestOwnerRunSignsLazily(t *testing.T) {
	ctx := context.Background()
	n := openTestNode(t, Options{})
	wf := parseFile(t, n, filepath.Join("..", "examples", "hello.json"))
	sum, err := n.Run(ctx, wf, RunOptions{Grant: n.OwnerGrant(wf)})
	if err != nil {
		t.Fatal(err)
	}
	v, err := n.Receipt(ctx, sum.Events[0].Receipt)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := n.Token(ctx, v.Signed.Inv)
	if err != nil {
		t.Fatalf("the owner's invocation %s is not kept: %v", v.Signed.Inv, err)
	}
	if tok.Issuer != n.DID() || tok.Command != ucan.CmdWorkflowRun || !tok.Args[ucan.ArgWorkflow].(cid.Cid).Equals(wf.CID) {
		t.Fatalf("owner invocation: %+v", tok)
	}
}
