package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ipvm-go/ipvm/invocation"
	"github.com/ipvm-go/ipvm/node/p2p"
	"github.com/ipvm-go/ipvm/receipt"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/store"
	"github.com/ipvm-go/ipvm/ucan"
	"github.com/ipvm-go/ipvm/workflow"
)

// Remote execution constants.
const (
	// ProtocolInvoke carries a signed invocation, its proof chain and one
	// task of the workflow it authorizes to a peer, which answers with its
	// signed receipt (SPEC §11.x).
	ProtocolInvoke = "/ipvm/invoke/1.0.0"
	// maxInvokeRequest caps an invoke request (tokens, the workflow's
	// canonical form, the task and its resolved args).
	maxInvokeRequest = 8 << 20
	// maxProofs caps the delegations of one invoke request.
	maxProofs = 16
)

// Remote execution errors.
var (
	// ErrRemoteRun reports a remote run that gave no usable receipt: the
	// peer refused, failed, timed out or sent a receipt that does not
	// verify. The caller falls back to the next candidate.
	ErrRemoteRun = errors.New("node: remote run failed")
)

// invokeRequest is the body of an /ipvm/invoke/1.0.0 request.
type invokeRequest struct {
	inv    []byte         // the signed workflow invocation
	proofs [][]byte       // its delegations, root first
	wf     map[string]any // the workflow's canonical form (its CID is the invocation's)
	name   string         // the task's name in the workflow
	task   map[string]any // the task (invocation.Task IPLD)
	args   map[string]any // the task's args with promises resolved
	note   map[string]any // the caller's placement decision, for the receipt's meta
}

func (r *invokeRequest) encode() ([]byte, error) {
	prf := make([]any, len(r.proofs))
	for i, p := range r.proofs {
		prf[i] = p
	}
	m := map[string]any{"inv": r.inv, "prf": prf, "wf": r.wf, "name": r.name, "task": r.task, "args": r.args}
	if r.note != nil {
		m["note"] = r.note
	}
	return spec.EncodeCBOR(m)
}

func decodeInvokeRequest(b []byte) (*invokeRequest, error) {
	v, err := spec.DecodeCBOR(b, spec.Limits{MaxBytes: maxInvokeRequest})
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("invoke request is not a map")
	}
	r := &invokeRequest{}
	var ok1, ok2, ok3, ok4, ok5 bool
	r.inv, ok1 = m["inv"].([]byte)
	prf, ok2 := m["prf"].([]any)
	r.wf, ok3 = m["wf"].(map[string]any)
	r.name, ok4 = m["name"].(string)
	r.task, ok5 = m["task"].(map[string]any)
	r.args, _ = m["args"].(map[string]any)
	r.note, _ = m["note"].(map[string]any)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || r.args == nil || len(prf) > maxProofs {
		return nil, errors.New("invoke request: missing or mistyped field")
	}
	for _, p := range prf {
		pb, ok := p.([]byte)
		if !ok {
			return nil, errors.New("invoke request: a proof is not bytes")
		}
		r.proofs = append(r.proofs, pb)
	}
	return r, nil
}

// grantTokens returns the signed invocation of a grant and its proofs:
// the chain's tokens, or the owner's lazily signed invocation (no proofs).
func (n *Node) grantTokens(ctx context.Context, g *Grant) ([]byte, [][]byte, error) {
	if g.chain != nil {
		var prf [][]byte
		for _, d := range g.chain.Delegations {
			prf = append(prf, d.Bytes())
		}
		return g.chain.Invocation.Bytes(), prf, nil
	}
	inv, err := g.invocation(ctx, n)
	if err != nil {
		return nil, nil, err
	}
	b, err := n.store.Delegation(ctx, inv)
	if err != nil {
		return nil, nil, fmt.Errorf("node: the owner's invocation %s: %w", inv, err)
	}
	return b, nil, nil
}

// newInvokeRequest builds the request that asks a peer to run st.
func (n *Node) newInvokeRequest(ctx context.Context, wf *workflow.Workflow, st workflow.Step, g *Grant) (*invokeRequest, error) {
	inv, prf, err := n.grantTokens(ctx, g)
	if err != nil {
		return nil, err
	}
	task, _ := st.Task.Task.IPLD().(map[string]any)
	return &invokeRequest{inv: inv, proofs: prf, wf: wf.Canonical(), name: st.Task.Name, task: task, args: st.Args}, nil
}

// invokeRemote sends req to p and returns the verified event: the receipt
// must decode, name the task and the grant's invocation, and be signed by
// p's key. It is then stored (not provided: p provides its own receipt).
func (n *Node) invokeRemote(ctx context.Context, p peer.ID, req *invokeRequest, ev Event, g *Grant) (Event, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Placement.Timeout.D())
	defer cancel()
	did, err := p2p.PeerDID(p)
	if err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrRemoteRun, err)
	}
	body, err := req.encode()
	if err != nil {
		return Event{}, err
	}
	maxResp := int(n.cfg.Limits.Output) + 1<<20
	b, err := n.net.RequestWithin(ctx, p, ProtocolInvoke, body, maxResp, n.cfg.Placement.Timeout.D())
	if err != nil {
		if cerr := ctx.Err(); cerr != nil { // say timeout, not the reset it caused
			return Event{}, fmt.Errorf("%w: %v after %s", ErrRemoteRun, cerr, n.cfg.Placement.Timeout.D())
		}
		return Event{}, fmt.Errorf("%w: %v", ErrRemoteRun, err)
	}
	s, err := receipt.Decode(b)
	if err == nil {
		err = s.VerifyWith(ev.Task, receipt.VerifyOpts{Issuers: []string{did}})
	}
	if err == nil {
		inv, ierr := g.invocation(ctx, n)
		if ierr != nil {
			return Event{}, ierr
		}
		if !s.Inv.Equals(inv) {
			err = fmt.Errorf("receipt names invocation %s, not %s", s.Inv, inv)
		}
	}
	if err != nil {
		n.metrics.NetReceipts.WithLabelValues("rejected").Inc()
		return Event{}, fmt.Errorf("%w: receipt rejected: %v", ErrRemoteRun, err)
	}
	put := n.store.PutReceipt
	if batch, ok := ctx.Value(stepCtxKey{}).(*store.Batch); ok { // a run's task: the run syncs
		put, ev.queued = batch.PutReceipt, true
	}
	if err := put(ctx, ev.Task, s.CID(), b); err != nil {
		return Event{}, fmt.Errorf("node: store receipt of %s: %w", ev.Name, err)
	}
	n.metrics.ReceiptsStored.Inc()
	ev.Receipt, ev.Out, ev.Bytes, ev.From = s.CID(), s.Out, b, p.String()
	return ev, nil
}

// served marks the context of a task run for a peer over
// /ipvm/invoke/1.0.0: it is not placed again, and when its promises were
// resolved by the caller its receipt is neither stored nor provided here
// (this node cannot vouch for inputs it did not compute).
type served struct {
	from         peer.ID
	callerInputs bool
}

type servedKey struct{}

func servedFrom(ctx context.Context) (served, bool) {
	s, ok := ctx.Value(servedKey{}).(served)
	return s, ok
}

// invokeHook, when set (tests only), runs when a served task is about to
// run; a test uses it to kill the node mid-task.
var invokeHook func(n *Node)

// serveInvoke answers /ipvm/invoke/1.0.0: it validates the invocation like
// a local one (UCAN chain for the workflow, then the task against the
// chain's commands and policies), refuses a (invocation, task) pair it has
// seen, runs the task here and answers its signed receipt.
func (n *Node) serveInvoke(ctx context.Context, from peer.ID, body []byte) ([]byte, error) {
	if n.cfg.Placement.NoServe {
		return nil, errors.New("this node runs no task for peers")
	}
	if err := n.enter(); err != nil {
		return nil, err
	}
	defer n.leave()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func(done <-chan struct{}) {
		select {
		case <-n.done: // Close cancels runs for peers too
			cancel()
		case <-done:
		}
	}(ctx.Done())
	req, err := decodeInvokeRequest(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", p2p.ErrBadFrame, err)
	}
	st, g, callerInputs, err := n.admit(ctx, req)
	if err != nil {
		n.log.Info("remote invocation refused", "peer", from, "task", req.name, "err", err)
		return nil, err
	}
	ctx = context.WithValue(ctx, servedKey{}, served{from: from, callerInputs: callerInputs})
	if req.note != nil {
		ctx = context.WithValue(ctx, noteKey{}, req.note)
	}
	if invokeHook != nil {
		invokeHook(n)
	}
	ev, err := n.step(ctx, st, g, nil)
	if err != nil {
		return nil, err
	}
	n.log.Info("ran a task for a peer", "peer", from, "task", ev.Task, "ok", ev.Out.IsOk())
	return ev.Bytes, nil
}

// admit validates an invoke request and returns the task to run, its
// grant, and whether its args hold promises the caller resolved.
func (n *Node) admit(ctx context.Context, req *invokeRequest) (workflow.Step, *Grant, bool, error) {
	fail := func(err error) (workflow.Step, *Grant, bool, error) {
		return workflow.Step{}, nil, false, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	inv, err := ucan.Decode(req.inv, ucan.Limits{})
	if err != nil {
		return fail(err)
	}
	var proofs []*ucan.Token
	for _, b := range req.proofs {
		p, err := ucan.Decode(b, ucan.Limits{})
		if err != nil {
			return fail(err)
		}
		proofs = append(proofs, p)
	}
	wfCID, _, err := spec.CIDOf(req.wf)
	if err != nil {
		return fail(err)
	}
	task, err := invocation.FromIPLD(req.task)
	if err != nil {
		return fail(err)
	}
	tc, err := task.CID()
	if err != nil {
		return fail(err)
	}
	meta, ok := findTask(req.wf, req.name, tc)
	if !ok {
		return fail(fmt.Errorf("task %q (%s) is not in workflow %s", req.name, tc, wfCID))
	}
	if allow := n.cfg.Placement.AllowInvokers; len(allow) > 0 && !slices.Contains(allow, inv.Issuer) && !slices.Contains(allow, inv.Subject) {
		return fail(fmt.Errorf("invoker %s is not on this node's allow list", inv.Issuer))
	}
	chain, err := ucan.ValidateWorkflow(ctx, inv, proofs, wfCID, ucan.Options{
		Node:        n.DID(),
		Revocations: revocations{n.store},
		Replay:      taskReplay{n.store, tc},
	})
	if err != nil {
		return fail(err)
	}
	if err := chain.Authorize(task.Sub, task.Cmd, task.Args); err != nil {
		return fail(fmt.Errorf("task %q: %w", req.name, err))
	}
	deps, ok := argsMatch(task.Args, req.args)
	if !ok {
		return fail(fmt.Errorf("task %q: resolved args differ from the task's outside its promises", req.name))
	}
	wt := &workflow.Task{Name: req.name, Task: task, CID: tc, Meta: metaFromIPLD(meta)}
	return workflow.Step{Task: wt, Args: req.args}, &Grant{wf: wfCID, chain: chain}, deps, nil
}

// findTask finds the entry {name, task, meta} of a workflow's canonical
// form and returns its meta.
func findTask(wf map[string]any, name string, tc cid.Cid) (map[string]any, bool) {
	list, _ := wf["tasks"].([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		c, _ := m["task"].(cid.Cid)
		if m["name"] == name && c.Equals(tc) {
			meta, _ := m["meta"].(map[string]any)
			return meta, true
		}
	}
	return nil, false
}

// metaFromIPLD reads a task's meta from the workflow's canonical form.
func metaFromIPLD(m map[string]any) workflow.Meta {
	var out workflow.Meta
	out.Fuel, _ = m["fuel"].(int64)
	out.Memory, _ = m["memory"].(int64)
	ms, _ := m["time"].(int64)
	out.Time = time.Duration(ms) * time.Millisecond
	out.Output, _ = m["output"].(int64)
	out.On, _ = m["on"].(string)
	if l, ok := m["labels"].(map[string]any); ok {
		out.Labels = map[string]string{}
		for k, v := range l {
			out.Labels[k], _ = v.(string)
		}
	}
	return out
}

// argsMatch reports whether resolved equals task outside the task's
// promises (a promise may resolve to anything), and whether task has
// promises.
func argsMatch(task, resolved any) (promises, ok bool) {
	switch t := task.(type) {
	case map[string]any:
		if isPromiseMap(t) {
			return true, true
		}
		r, isMap := resolved.(map[string]any)
		if !isMap || len(r) != len(t) {
			return false, false
		}
		for k, v := range t {
			rv, has := r[k]
			if !has {
				return false, false
			}
			p, ok := argsMatch(v, rv)
			if !ok {
				return false, false
			}
			promises = promises || p
		}
		return promises, true
	case []any:
		r, isList := resolved.([]any)
		if !isList || len(r) != len(t) {
			return false, false
		}
		for i := range t {
			p, ok := argsMatch(t[i], r[i])
			if !ok {
				return false, false
			}
			promises = promises || p
		}
		return promises, true
	}
	return false, spec.Equal(task, resolved)
}

func isPromiseMap(m map[string]any) bool {
	if len(m) != 1 {
		return false
	}
	for k, v := range m {
		_, link := v.(cid.Cid)
		return link && (k == workflow.AwaitOk || k == workflow.AwaitError || k == workflow.AwaitAny)
	}
	return false
}

// taskReplay is the replay guard of remote invocations: one workflow
// invocation authorizes many tasks, each of which may be sent to a peer,
// so a peer remembers the pair (invocation, task), not the invocation.
type taskReplay struct {
	g    ucan.ReplayGuard
	task cid.Cid
}

// SeeInvocation implements ucan.ReplayGuard under the key
// CID(dag-cbor [invocation, task]).
func (r taskReplay) SeeInvocation(ctx context.Context, inv cid.Cid, exp time.Time) (bool, error) {
	k, _, err := spec.CIDOf([]any{inv, r.task})
	if err != nil {
		return false, err
	}
	return r.g.SeeInvocation(ctx, k, exp)
}

// noteKey carries the caller's placement note into a served run's meta.
type noteKey struct{}
