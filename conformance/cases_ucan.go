package conformance

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/ucan"
	wf "github.com/ipvm-go/ipvm/workflow"
)

// cmdWasmRun is the command of a Wasm task.
const cmdWasmRun = "/wasm/run"

// workflowCID computes the CID a workflow body is signed by (§5.5), with
// the reference parser.
func workflowCID(body []byte) (cid.Cid, error) {
	w, err := wf.Parse(body, wf.ParseOptions{})
	if err != nil {
		return cid.Undef, fmt.Errorf("reference parser refuses the suite's workflow: %w", err)
	}
	return w.CID, nil
}

// container writes tokens in the container format (§3.5) with the given
// header byte: 'B' base64, 'C' base64url, 'O' gzip+base64, 'P' gzip+base64url.
func container(form byte, tokens ...[]byte) (string, error) {
	list := make([]any, len(tokens))
	for i, t := range tokens {
		list[i] = t
	}
	b, err := spec.EncodeCBOR(map[string]any{"ctn-v1": list})
	if err != nil {
		return "", err
	}
	if form == 'O' || form == 'P' {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, _ = zw.Write(b)
		if err := zw.Close(); err != nil {
			return "", err
		}
		b = z.Bytes()
	}
	switch form {
	case 'B', 'O':
		return string(form) + base64.StdEncoding.EncodeToString(b), nil
	case 'C', 'P':
		return string(form) + base64.RawURLEncoding.EncodeToString(b), nil
	}
	return "", fmt.Errorf("container form %q", form)
}

// selfToken is an invocation by k on its own authority for the workflow
// body, in a 'B' container.
func selfToken(k *ucan.Key, body []byte, opts ...ucan.Option) (string, *ucan.Token, error) {
	c, err := workflowCID(body)
	if err != nil {
		return "", nil, err
	}
	inv, err := ucan.InvokeWorkflow(k, k.DID(), c, opts...)
	if err != nil {
		return "", nil, err
	}
	tok, err := container('B', inv.Bytes())
	return tok, inv, err
}

// refused posts body with token and expects status and the UCAN name.
func (s *suite) refused(ctx context.Context, body []byte, token string, status int, name string) error {
	r, err := s.post(ctx, body, token)
	if err != nil {
		return err
	}
	return wantStatus(r, status, name)
}

// taskRefused checks that a task the chain does not allow does not run:
// §3.4 lets a node refuse the submission (403 with the UCAN name, this
// node's way) or accept it and answer the task with an Unauthorized
// receipt whose message names the UCAN error.
func (s *suite) taskRefused(ctx context.Context, body []byte, token, name string) error {
	r, err := s.post(ctx, body, token)
	if err != nil {
		return err
	}
	if r.status != http.StatusAccepted {
		return wantStatus(r, http.StatusForbidden, name)
	}
	// Accepted: the task must fail Unauthorized. The token was used, so
	// the outcome is read from the workflow's status.
	var sb submitted
	if err := json.Unmarshal(r.body, &sb); err != nil {
		return err
	}
	for {
		var ws struct {
			Done  bool `json:"done"`
			Tasks []struct {
				Name string          `json:"name"`
				Out  json.RawMessage `json:"out"`
			} `json:"tasks"`
		}
		if err := s.getJSON(ctx, "/v1/workflows/"+sb.Workflow, &ws); err != nil {
			return err
		}
		if ws.Done {
			for _, t := range ws.Tasks {
				res, err := outcome(receiptEvent{Name: t.Name, Out: t.Out})
				if err != nil {
					return err
				}
				if res.IsOk() || res.Err.Name != spec.ErrNameUnauthorized || !strings.Contains(res.Err.Message, name) {
					return fmt.Errorf("accepted, and task %q ended %s; want refused (403 %s) or an Unauthorized receipt naming %s", t.Name, t.Out, name, name)
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// authWorkflow is a small fresh workflow for the UCAN cases.
func (s *suite) authWorkflow(tag string, fun string) []byte {
	return workflow("ucan-"+tag, wasm("t", s.guest, fun, s.n(20)))
}

func ucanCases() []Case {
	return []Case{
		{ID: "ucan.self-issued-accepted", Section: "§3.4", Title: "a workflow invocation signed by its own subject runs, and its receipts name that invocation", run: caseUcanSelf},
		{ID: "ucan.chain-accepted", Section: "§3.2", Title: "an invocation with a valid delegation chain from the subject runs", run: caseUcanChain},
		{ID: "ucan.forged-signature", Section: "§3.2", Title: "an invocation whose signature does not verify: 401 InvalidSignature", run: caseUcanForged},
		{ID: "ucan.expired", Section: "§3.2", Title: "an expired invocation: 401 Expired", run: caseUcanExpired},
		{ID: "ucan.wrong-audience", Section: "§3.2", Title: "an invocation addressed to another node: 403 InvalidAudience", run: caseUcanAudience},
		{ID: "ucan.other-workflow", Section: "§3.4", Title: "an invocation for another workflow body: 403 InvalidClaim", run: caseUcanOtherWorkflow},
		{ID: "ucan.issuer-not-subject", Section: "§3.2", Title: "no proofs and iss ≠ sub: 403 InvalidClaim", run: caseUcanIssNotSub},
		{ID: "ucan.unavailable-proof", Section: "§3.2", Title: "a proof listed in prf but not supplied: 401 UnavailableProof", run: caseUcanUnavailable},
		{ID: "ucan.not-yet-valid", Section: "§3.2", Title: "a delegation with nbf in the future: 401 TooEarly", run: caseUcanTooEarly},
		{ID: "ucan.command-not-covered", Section: "§3.4", Title: "a delegation for another command than the tasks': 403 InvalidClaim", run: caseUcanCmd},
		{ID: "ucan.policy-mismatch", Section: "§3.3", Title: "a task outside the delegation's policy: 403 MatchError", run: caseUcanPolicy},
		{ID: "ucan.task-subject", Section: "§3.4", Title: "a task whose sub is neither null nor the chain's subject is refused: InvalidSubject", run: caseUcanTaskSubject},
		{ID: "ucan.too-many-proofs", Section: "§3.2", Title: "an invocation with 17 proofs: 401 TooLarge, before any proof is resolved", run: caseUcanTooMany},
		{ID: "ucan.root-not-subject", Section: "§3.2", Title: "a chain whose root is not issued by its subject: 403 InvalidSubject", run: caseUcanRootNotSubject},
		{ID: "ucan.chain-broken", Section: "§3.2", Title: "a delegation to someone other than the invoker: 403 InvalidAudience", run: caseUcanChainBroken},
		{ID: "ucan.delegation-forged", Section: "§3.2", Title: "a delegation whose signature does not verify: 401 InvalidSignature", run: caseUcanDelegationForged},
		{ID: "ucan.delegation-expired", Section: "§3.2", Title: "an expired delegation: 401 Expired", run: caseUcanDelegationExpired},
		{ID: "ucan.powerline-root", Section: "§3.2", Title: "a powerline (sub: null) as the root of the chain: 403 InvalidClaim", run: caseUcanPowerlineRoot},
		{ID: "ucan.policy-like-allows", Section: "§3.3", Title: "a task inside a like and all policy runs", run: caseUcanPolicyAllows},
		{ID: "ucan.policy-all", Section: "§3.3", Title: "a param over an all/<= policy bound is refused: MatchError", run: caseUcanPolicyAll},
		{ID: "ucan.tag-1-0-0", Section: "§3.1", Title: "an invocation under the ucan/inv@1.0.0 tag spelling is read", run: caseUcanTag100},
		{ID: "ucan.replayed", Section: "§3.2", Title: "the same invocation twice: the second is 403 Replayed", run: caseUcanReplay},
		{ID: "ucan.replay-key-order", Section: "§3.1", Title: "a used invocation re-sent with its envelope's map keys out of order is the same token: 403 Replayed", run: caseUcanReplayKeyOrder},
		{ID: "ucan.replay-long-head", Section: "§3.1", Title: "a used invocation re-sent with a long length head is the same token: 403 Replayed", run: caseUcanReplayLongHead},
		{ID: "ucan.delegations-only", Section: "§3.5", Title: "a bearer of delegations without an invocation is refused (401)", run: caseUcanDelegationsOnly},
		{ID: "ucan.container-forms", Section: "§3.5", Title: "containers in the C, O and P forms are read", run: caseUcanForms},
		{ID: "ucan.bad-authorization", Section: "§10", Title: "an Authorization header that is not a bearer container: 401", run: caseUcanBadHeader},
	}
}

func caseUcanSelf(ctx context.Context, s *suite) error {
	body := s.authWorkflow("self", "add_one")
	tok, inv, err := selfToken(s.alice, body, ucan.WithAudience(s.nodeDID))
	if err != nil {
		return err
	}
	st, err := s.run(ctx, body, tok)
	if err != nil {
		return err
	}
	if err := wantOK(st, "t", s.n(20)+1); err != nil {
		return err
	}
	re, _ := st.ev("t")
	rc, err := s.verifiedReceipt(ctx, re.Receipt, re.Task)
	if err != nil {
		return err
	}
	if !rc.Inv.Equals(inv.CID) {
		return fmt.Errorf("receipt inv %v, want the invocation %s (§4.1)", rc.Inv, inv.CID)
	}
	return nil
}

// delegated returns a container with invoker's invocation of body on
// sub's authority, citing a delegation from "from" to "to" for cmd (with
// dopts); the delegation itself is in the container when withProof.
func delegated(body []byte, from *ucan.Key, to string, invoker *ucan.Key, sub, cmd string, withProof bool, dopts ...ucan.Option) (string, error) {
	d, err := ucan.Delegate(from, to, cmd, dopts...)
	if err != nil {
		return "", err
	}
	c, err := workflowCID(body)
	if err != nil {
		return "", err
	}
	inv, err := ucan.InvokeWorkflow(invoker, sub, c, ucan.WithProofs(d.CID))
	if err != nil {
		return "", err
	}
	if !withProof {
		return container('B', inv.Bytes())
	}
	return container('B', inv.Bytes(), d.Bytes())
}

// chain returns a delegation from alice (the subject) to bob for cmd
// with pol, and bob's invocation for body with it, as a container.
func (s *suite) chain(body []byte, cmd string, pol string, dopts ...ucan.Option) (string, error) {
	if pol != "" {
		p, err := ucan.ParsePolicyJSON([]byte(pol))
		if err != nil {
			return "", err
		}
		dopts = append(dopts, ucan.WithPolicy(p))
	}
	return delegated(body, s.alice, s.bob.DID(), s.bob, s.alice.DID(), cmd, true, dopts...)
}

func caseUcanChain(ctx context.Context, s *suite) error {
	body := s.authWorkflow("chain", "add_one")
	tok, err := s.chain(body, cmdWasmRun, fmt.Sprintf(`[["==", ".fun", "add_one"], ["==", ".mod", {"/": %q}]]`, s.guest))
	if err != nil {
		return err
	}
	return s.runOK(ctx, body, tok, "t", s.n(20)+1)
}

func caseUcanForged(ctx context.Context, s *suite) error {
	body := s.authWorkflow("forged", "add_one")
	_, inv, err := selfToken(s.alice, body)
	if err != nil {
		return err
	}
	b := append([]byte(nil), inv.Bytes()...)
	b[10] ^= 0x01 // inside the 64-byte signature, after 82 58 40
	tok, err := container('B', b)
	if err != nil {
		return err
	}
	return s.refused(ctx, body, tok, http.StatusUnauthorized, "InvalidSignature")
}

func caseUcanExpired(ctx context.Context, s *suite) error {
	body := s.authWorkflow("expired", "add_one")
	tok, _, err := selfToken(s.alice, body, ucan.WithExpiration(time.Now().Add(-time.Hour)), ucan.WithIssuedAt(time.Now().Add(-2*time.Hour)))
	if err != nil {
		return err
	}
	return s.refused(ctx, body, tok, http.StatusUnauthorized, "Expired")
}

func caseUcanAudience(ctx context.Context, s *suite) error {
	body := s.authWorkflow("audience", "add_one")
	tok, _, err := selfToken(s.alice, body, ucan.WithAudience(s.bob.DID()))
	if err != nil {
		return err
	}
	return s.refused(ctx, body, tok, http.StatusForbidden, "InvalidAudience")
}

func caseUcanOtherWorkflow(ctx context.Context, s *suite) error {
	body := s.authWorkflow("other", "add_one")
	tok, _, err := selfToken(s.alice, s.authWorkflow("other-signed", "add_one"))
	if err != nil {
		return err
	}
	return s.refused(ctx, body, tok, http.StatusForbidden, "InvalidClaim")
}

func caseUcanIssNotSub(ctx context.Context, s *suite) error {
	body := s.authWorkflow("iss-sub", "add_one")
	c, err := workflowCID(body)
	if err != nil {
		return err
	}
	inv, err := ucan.InvokeWorkflow(s.bob, s.alice.DID(), c)
	if err != nil {
		return err
	}
	tok, err := container('B', inv.Bytes())
	if err != nil {
		return err
	}
	return s.refused(ctx, body, tok, http.StatusForbidden, "InvalidClaim")
}

func caseUcanUnavailable(ctx context.Context, s *suite) error {
	body := s.authWorkflow("unavailable", "add_one")
	tok, err := delegated(body, s.alice, s.bob.DID(), s.bob, s.alice.DID(), cmdWasmRun, false) // the delegation is left out
	if err != nil {
		return err
	}
	return s.refused(ctx, body, tok, http.StatusUnauthorized, "UnavailableProof")
}

func caseUcanTooEarly(ctx context.Context, s *suite) error {
	body := s.authWorkflow("nbf", "add_one")
	tok, err := s.chain(body, cmdWasmRun, "", ucan.WithNotBefore(time.Now().Add(time.Hour)))
	if err != nil {
		return err
	}
	return s.refused(ctx, body, tok, http.StatusUnauthorized, "TooEarly")
}

func caseUcanCmd(ctx context.Context, s *suite) error {
	body := s.authWorkflow("cmd", "add_one")
	tok, err := s.chain(body, "/wasmx", "")
	if err != nil {
		return err
	}
	return s.taskRefused(ctx, body, tok, "InvalidClaim")
}

func caseUcanPolicy(ctx context.Context, s *suite) error {
	body := s.authWorkflow("policy", "add_one")
	tok, err := s.chain(body, cmdWasmRun, `[["==", ".fun", "add"]]`)
	if err != nil {
		return err
	}
	return s.taskRefused(ctx, body, tok, "MatchError")
}

func caseUcanTaskSubject(ctx context.Context, s *suite) error {
	body := workflow("ucan-task-sub", with(wasm("t", s.guest, "add_one", s.n(22)), "sub", s.bob.DID()))
	tok, _, err := selfToken(s.alice, body)
	if err != nil {
		return err
	}
	return s.taskRefused(ctx, body, tok, "InvalidSubject")
}

func caseUcanTooMany(ctx context.Context, s *suite) error {
	body := s.authWorkflow("too-many", "add_one")
	c, err := workflowCID(body)
	if err != nil {
		return err
	}
	var prf []cid.Cid
	for i := range 17 {
		prf = append(prf, spec.SumCBOR([]byte(fmt.Sprintf("proof %d", i))))
	}
	inv, err := ucan.InvokeWorkflow(s.bob, s.alice.DID(), c, ucan.WithProofs(prf...))
	if err != nil {
		return err
	}
	tok, err := container('B', inv.Bytes())
	if err != nil {
		return err
	}
	return s.refused(ctx, body, tok, http.StatusUnauthorized, "TooLarge")
}

func caseUcanRootNotSubject(ctx context.Context, s *suite) error {
	carol, err := ucan.GenerateKey()
	if err != nil {
		return err
	}
	body := s.authWorkflow("root-sub", "add_one")
	// bob claims alice's authority without a delegation from her.
	tok, err := delegated(body, s.bob, carol.DID(), carol, s.alice.DID(), cmdWasmRun, true, ucan.WithSubject(s.alice.DID()))
	if err != nil {
		return err
	}
	return s.refused(ctx, body, tok, http.StatusForbidden, "InvalidSubject")
}

func caseUcanChainBroken(ctx context.Context, s *suite) error {
	carol, err := ucan.GenerateKey()
	if err != nil {
		return err
	}
	body := s.authWorkflow("broken", "add_one")
	// alice delegates to carol, and bob invokes with it.
	tok, err := delegated(body, s.alice, carol.DID(), s.bob, s.alice.DID(), cmdWasmRun, true)
	if err != nil {
		return err
	}
	return s.refused(ctx, body, tok, http.StatusForbidden, "InvalidAudience")
}

func (s *suite) replayReencoded(ctx context.Context, tag string, reencode func([]byte) ([]byte, error)) error {
	body := s.authWorkflow(tag, "add_one")
	_, inv, err := selfToken(s.alice, body)
	if err != nil {
		return err
	}
	tok, err := container('B', inv.Bytes())
	if err != nil {
		return err
	}
	if _, err := s.submit(ctx, body, tok); err != nil {
		return fmt.Errorf("first use: %w", err)
	}
	b := inv.Bytes()
	// 82 58 40 <64-byte signature> a2 61 68 48 <8-byte varsig> <tag> <payload>
	if len(b) < 79 || b[0] != 0x82 || b[1] != 0x58 || b[2] != 0x40 || b[67] != 0xa2 || b[68] != 0x61 || b[69] != 'h' {
		return fmt.Errorf("the suite's own token is not laid out as 82 58 40 <sig> a2 61 68 …")
	}
	other, err := reencode(b)
	if err != nil {
		return err
	}
	tok, err = container('B', other)
	if err != nil {
		return err
	}
	return s.refused(ctx, body, tok, http.StatusForbidden, "Replayed")
}

func caseUcanReplayKeyOrder(ctx context.Context, s *suite) error {
	return s.replayReencoded(ctx, "replay-key-order", func(b []byte) ([]byte, error) {
		h := b[68:79] // "h" and its 8-byte value
		out := append([]byte{}, b[:68]...)
		out = append(out, b[79:]...)  // the tag and payload first,
		return append(out, h...), nil // then "h": not the canonical order
	})
}

func caseUcanReplayLongHead(ctx context.Context, s *suite) error {
	return s.replayReencoded(ctx, "replay-long-head", func(b []byte) ([]byte, error) {
		// The signature's length in a two-byte head.
		return append([]byte{0x82, 0x59, 0x00, 0x40}, b[3:]...), nil
	})
}

func caseUcanDelegationForged(ctx context.Context, s *suite) error {
	body := s.authWorkflow("dlg-forged", "add_one")
	d, err := ucan.Delegate(s.alice, s.bob.DID(), cmdWasmRun)
	if err != nil {
		return err
	}
	forged := append([]byte(nil), d.Bytes()...)
	forged[10] ^= 0x01 // inside the signature
	c, err := workflowCID(body)
	if err != nil {
		return err
	}
	// The invocation cites the forged token by its own CID, so the proof
	// is found and its signature is what fails.
	inv, err := ucan.InvokeWorkflow(s.bob, s.alice.DID(), c, ucan.WithProofs(spec.SumCBOR(forged)))
	if err != nil {
		return err
	}
	tok, err := container('B', inv.Bytes(), forged)
	if err != nil {
		return err
	}
	return s.refused(ctx, body, tok, http.StatusUnauthorized, "InvalidSignature")
}

func caseUcanDelegationExpired(ctx context.Context, s *suite) error {
	body := s.authWorkflow("dlg-expired", "add_one")
	tok, err := s.chain(body, cmdWasmRun, "", ucan.WithExpiration(time.Now().Add(-time.Hour)))
	if err != nil {
		return err
	}
	return s.refused(ctx, body, tok, http.StatusUnauthorized, "Expired")
}

func caseUcanPowerlineRoot(ctx context.Context, s *suite) error {
	body := s.authWorkflow("powerline", "add_one")
	tok, err := delegated(body, s.alice, s.bob.DID(), s.bob, s.alice.DID(), cmdWasmRun, true, ucan.WithPowerline())
	if err != nil {
		return err
	}
	return s.refused(ctx, body, tok, http.StatusForbidden, "InvalidClaim")
}

func caseUcanPolicyAllows(ctx context.Context, s *suite) error {
	body := workflow("ucan-like", wasm("t", s.guest, "add_one", int64(999)))
	tok, err := s.chain(body, "/wasm", `[["like", ".fun", "add_*"], ["all", ".params", ["<=", ".", 1000]]]`)
	if err != nil {
		return err
	}
	return s.runOK(ctx, body, tok, "t", int64(1000))
}

func caseUcanPolicyAll(ctx context.Context, s *suite) error {
	body := workflow("ucan-all", wasm("t", s.guest, "add_one", int64(1001)))
	tok, err := s.chain(body, cmdWasmRun, `[["all", ".params", ["<=", ".", 1000]]]`)
	if err != nil {
		return err
	}
	return s.taskRefused(ctx, body, tok, "MatchError")
}

func caseUcanTag100(ctx context.Context, s *suite) error {
	body := s.authWorkflow("tag100", "add_one")
	c, err := workflowCID(body)
	if err != nil {
		return err
	}
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	now := time.Now().Unix()
	sp := map[string]any{
		"h": []byte{0x34, 0x01, 0xed, 0x01, 0xed, 0x01, 0x13, 0x71},
		"ucan/inv@1.0.0": map[string]any{
			"iss": s.alice.DID(), "sub": s.alice.DID(), "cmd": ucan.CmdWorkflowRun,
			"args": map[string]any{"workflow": c}, "prf": []any{}, "nonce": nonce,
			"exp": now + 300, "iat": now,
		},
	}
	signed, err := spec.EncodeCBOR(sp)
	if err != nil {
		return err
	}
	env, err := spec.EncodeCBOR([]any{s.alice.Sign(signed), sp})
	if err != nil {
		return err
	}
	tok, err := container('B', env)
	if err != nil {
		return err
	}
	return s.runOK(ctx, body, tok, "t", s.n(20)+1)
}

func caseUcanReplay(ctx context.Context, s *suite) error {
	body := s.authWorkflow("replay", "add_one")
	tok, _, err := selfToken(s.alice, body)
	if err != nil {
		return err
	}
	if _, err := s.submit(ctx, body, tok); err != nil {
		return fmt.Errorf("first use: %w", err)
	}
	return s.refused(ctx, body, tok, http.StatusForbidden, "Replayed")
}

func caseUcanDelegationsOnly(ctx context.Context, s *suite) error {
	body := s.authWorkflow("dlg-only", "add_one")
	d, err := ucan.Delegate(s.alice, s.nodeDID, cmdWasmRun)
	if err != nil {
		return err
	}
	tok, err := container('B', d.Bytes())
	if err != nil {
		return err
	}
	r, err := s.post(ctx, body, tok)
	if err != nil {
		return err
	}
	return wantStatus(r, http.StatusUnauthorized)
}

func caseUcanForms(ctx context.Context, s *suite) error {
	for _, form := range []byte{'C', 'O', 'P'} {
		body := workflow("ucan-form-"+string(form), wasm("t", s.guest, "add_one", s.n(21)))
		c, err := workflowCID(body)
		if err != nil {
			return err
		}
		inv, err := ucan.InvokeWorkflow(s.alice, s.alice.DID(), c)
		if err != nil {
			return err
		}
		tok, err := container(form, inv.Bytes())
		if err != nil {
			return err
		}
		if _, err := s.submit(ctx, body, tok); err != nil {
			return fmt.Errorf("container form %c: %w", form, err)
		}
	}
	return nil
}

func caseUcanBadHeader(ctx context.Context, s *suite) error {
	body := s.authWorkflow("header", "add_one")
	for _, h := range []string{"Basic dXNlcjpwYXNz", "Bearer", "Bearer !!!not-a-container!!!"} {
		r, err := s.do(ctx, http.MethodPost, "/v1/workflows", bytes.NewReader(body), map[string]string{"Content-Type": "application/json", "Authorization": h})
		if err != nil {
			return err
		}
		if err := wantStatus(r, http.StatusUnauthorized); err != nil {
			return fmt.Errorf("Authorization %q: %w", h, err)
		}
	}
	return nil
}
