package daemon

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/gateway"
	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/receipt"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/store"
	"github.com/ipvm-go/ipvm/ucan"
	"github.com/ipvm-go/ipvm/workflow"
)

// maxKnownWorkflows bounds the workflows whose live status is kept in
// memory; older ones are answered from the store.
const maxKnownWorkflows = 1024

// maxParsedWorkflows bounds the parsed workflows kept by the hash of the
// request body that held them, and maxParsedBody the size of a body whose
// parse is kept.
const (
	maxParsedWorkflows = 256
	maxParsedBody      = 64 << 10
)

// api adapts a node.Node to gateway.Node.
type api struct {
	n       *node.Node
	version string
	parsed  parseCache

	mu        sync.Mutex
	accepting bool
	runs      sync.WaitGroup
	cancels   map[*run]context.CancelFunc
	known     map[cid.Cid]*run
	order     []cid.Cid
}

var _ gateway.Node = (*api)(nil)

func newAPI(n *node.Node, version string) *api {
	return &api{n: n, version: version, accepting: true, cancels: map[*run]context.CancelFunc{}, known: map[cid.Cid]*run{}}
}

// run is a workflow submitted through the gateway, with the live status of
// its tasks.
type run struct {
	wf     *workflow.Workflow
	mu     sync.Mutex
	status map[string]gateway.TaskStatus
	done   bool
}

func (a *api) stopAccepting() {
	a.mu.Lock()
	a.accepting = false
	a.mu.Unlock()
}

func (a *api) wait() { a.runs.Wait() }

func (a *api) cancelAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.cancels {
		c()
	}
}

// Submit implements gateway.Node.
func (a *api) Submit(ctx context.Context, body []byte, auth gateway.Auth) (*gateway.Submission, error) {
	wf, err := a.parsed.parse(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", gateway.ErrBadRequest, err)
	}
	grant, err := a.authorize(ctx, wf, auth)
	if err != nil {
		return nil, err
	}
	r := &run{wf: wf, status: make(map[string]gateway.TaskStatus, len(wf.Tasks))}
	refs := make([]gateway.TaskRef, len(wf.Tasks))
	byIndex := slices.Clone(wf.Tasks)
	slices.SortFunc(byIndex, func(x, y *workflow.Task) int { return x.Index - y.Index })
	for i, t := range byIndex {
		refs[i] = gateway.TaskRef{Name: t.Name, Task: t.CID}
		r.status[t.Name] = gateway.TaskStatus{Name: t.Name, Task: t.CID, State: gateway.StatePending}
	}

	runCtx, cancel := context.WithCancel(context.Background())
	a.mu.Lock()
	if !a.accepting {
		a.mu.Unlock()
		cancel()
		return nil, gateway.ErrStopped
	}
	a.runs.Add(1)
	a.cancels[r] = cancel
	a.remember(wf.CID, r)
	a.mu.Unlock()

	events := make(chan gateway.TaskEvent, len(wf.Tasks)+1)
	go func() {
		defer a.runs.Done()
		defer cancel()
		defer close(events)
		_, err := a.n.Run(runCtx, wf, node.RunOptions{
			Grant: grant,
			OnStart: func(name string) {
				r.set(name, func(s *gateway.TaskStatus) { s.State = gateway.StateRunning })
			},
			OnEvent: func(ev node.Event) {
				out := ev.Out.IPLD()
				r.set(ev.Name, func(s *gateway.TaskStatus) {
					s.State = gateway.StateDone
					if !ev.Out.IsOk() {
						s.State = gateway.StateFailed
					}
					s.Receipt, s.Out, s.Cached = ev.Receipt, out, ev.Cached
				})
				events <- gateway.TaskEvent{Name: ev.Name, Task: ev.Task, Receipt: ev.Receipt, Out: out, Cached: ev.Cached}
			},
		})
		r.mu.Lock()
		r.done = true
		r.mu.Unlock()
		a.mu.Lock()
		delete(a.cancels, r)
		a.mu.Unlock()
		if err != nil {
			events <- gateway.TaskEvent{Err: storageError(err)}
		}
	}()
	return &gateway.Submission{Workflow: wf.CID, Tasks: refs, Events: events}, nil
}

// parseCache keeps the most recently used parsed workflows by the SHA-256
// of the body they were parsed from: a parsed workflow is never modified
// (the scheduler and the node only read it), so a repeated body shares
// one. Only the parse is kept; credentials are checked on every request.
type parseCache struct {
	mu    sync.Mutex
	byKey map[[sha256.Size]byte]*list.Element
	lru   list.List // of *parsedEntry, most recent first
}

type parsedEntry struct {
	key [sha256.Size]byte
	wf  *workflow.Workflow
}

// parse returns the workflow body holds, parsing it unless an identical
// body was parsed recently. Bodies that do not parse are not kept.
func (c *parseCache) parse(body []byte) (*workflow.Workflow, error) {
	if len(body) > maxParsedBody {
		return workflow.Parse(body, workflow.ParseOptions{})
	}
	key := sha256.Sum256(body)
	c.mu.Lock()
	if e, ok := c.byKey[key]; ok {
		c.lru.MoveToFront(e)
		wf := e.Value.(*parsedEntry).wf
		c.mu.Unlock()
		return wf, nil
	}
	c.mu.Unlock()
	wf, err := workflow.Parse(body, workflow.ParseOptions{})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[key]; ok { // another request parsed it meanwhile
		c.lru.MoveToFront(e)
		return e.Value.(*parsedEntry).wf, nil
	}
	if c.byKey == nil {
		c.byKey = make(map[[sha256.Size]byte]*list.Element)
	}
	c.byKey[key] = c.lru.PushFront(&parsedEntry{key: key, wf: wf})
	for c.lru.Len() > maxParsedWorkflows {
		old := c.lru.Back()
		delete(c.byKey, old.Value.(*parsedEntry).key)
		c.lru.Remove(old)
	}
	return wf, nil
}

func (r *run) set(name string, f func(*gateway.TaskStatus)) {
	r.mu.Lock()
	s := r.status[name]
	f(&s)
	r.status[name] = s
	r.mu.Unlock()
}

// remember keeps a run's live status, dropping the oldest past the cap.
// a.mu is held.
func (a *api) remember(c cid.Cid, r *run) {
	if _, ok := a.known[c]; !ok {
		a.order = append(a.order, c)
	}
	a.known[c] = r
	for len(a.order) > maxKnownWorkflows {
		delete(a.known, a.order[0])
		a.order = a.order[1:]
	}
}

// authError is a refusal carrying the UCAN error name, mapped to 401 when
// the credentials themselves are bad and 403 when they are good but do not
// grant the request.
type authError struct {
	status int
	name   string
	err    error
}

func (e *authError) Error() string     { return e.err.Error() }
func (e *authError) Unwrap() error     { return e.err }
func (e *authError) HTTPStatus() int   { return e.status }
func (e *authError) ErrorName() string { return e.name }

// unauthenticated lists the UCAN reasons that mean "who you are could not
// be established" (401); every other reason is a refusal (403).
var unauthenticated = map[string]bool{
	"InvalidSignature": true, "Expired": true, "TooEarly": true, "Malformed": true,
	"TooLarge": true, "UnavailableProof": true, spec.ErrNameUnauthorized: true,
}

func refusal(err error) error {
	name := ucan.ErrorName(err)
	if name == "" {
		name = spec.ErrNameUnauthorized
	}
	status := 403
	if unauthenticated[name] {
		status = 401
	}
	return &authError{status: status, name: name, err: err}
}

// authorize turns the request's credentials into a grant: a bearer
// container holding the workflow invocation and its chain, or, with no
// token, the owner's grant for loopback requests when the config allows.
func (a *api) authorize(ctx context.Context, wf *workflow.Workflow, auth gateway.Auth) (*node.Grant, error) {
	if len(auth.Token) == 0 {
		allow := a.n.Repo().Config.WithDefaults().AllowLoopbackOwner
		if auth.Loopback && allow != nil && *allow {
			return a.n.OwnerGrant(wf), nil
		}
		return nil, refusal(fmt.Errorf("%w: a token is required (Authorization: Bearer <UCAN container>)", node.ErrUnauthorized))
	}
	toks, err := ucan.ReadTokens(auth.Token, ucan.Limits{})
	if err != nil {
		return nil, refusal(err)
	}
	var inv *ucan.Token
	var proofs []*ucan.Token
	for _, t := range toks {
		if t.Kind == ucan.KindInvocation && inv == nil {
			inv = t
			continue
		}
		proofs = append(proofs, t)
	}
	if inv == nil {
		return nil, refusal(fmt.Errorf("%w: the token holds no invocation; a bearer of delegations alone is not enough (ipvm ucan invoke)", node.ErrUnauthorized))
	}
	g, err := a.n.Authorize(ctx, wf, inv, proofs)
	if err != nil {
		return nil, refusal(err)
	}
	return g, nil
}

// Workflow implements gateway.Node.
func (a *api) Workflow(ctx context.Context, c cid.Cid) (gateway.WorkflowStatus, error) {
	a.mu.Lock()
	r, ok := a.known[c]
	a.mu.Unlock()
	if !ok {
		return a.storedWorkflow(ctx, c)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ws := gateway.WorkflowStatus{Workflow: c, Name: r.wf.Name, Done: r.done}
	byIndex := slices.Clone(r.wf.Tasks)
	slices.SortFunc(byIndex, func(x, y *workflow.Task) int { return x.Index - y.Index })
	for _, t := range byIndex {
		ws.Tasks = append(ws.Tasks, r.status[t.Name])
	}
	return ws, nil
}

// storedWorkflow answers for a workflow this process did not run, from the
// store's record and receipts.
func (a *api) storedWorkflow(ctx context.Context, c cid.Cid) (gateway.WorkflowStatus, error) {
	rec, err := a.n.WorkflowRecord(ctx, c)
	if errors.Is(err, node.ErrNotFound) {
		return gateway.WorkflowStatus{}, fmt.Errorf("%w: workflow %s", gateway.ErrNotFound, c)
	}
	if err != nil {
		return gateway.WorkflowStatus{}, err
	}
	ws := gateway.WorkflowStatus{Workflow: c, Name: rec.Name, Done: true}
	for _, t := range rec.Tasks {
		ts := gateway.TaskStatus{Name: t.Name, Task: t.Task, State: gateway.StatePending}
		if v, err := a.n.Receipt(ctx, t.Task); err == nil {
			ts.Receipt, ts.Out = v.Receipt, v.Signed.Out.IPLD()
			ts.State = gateway.StateDone
			if !v.Signed.Out.IsOk() {
				ts.State = gateway.StateFailed
			}
		} else {
			ws.Done = false
		}
		ws.Tasks = append(ws.Tasks, ts)
	}
	return ws, nil
}

// Receipt implements gateway.Node.
func (a *api) Receipt(ctx context.Context, c cid.Cid) (gateway.ReceiptView, error) {
	v, err := a.n.Receipt(ctx, c)
	if errors.Is(err, node.ErrNotFound) {
		return gateway.ReceiptView{}, fmt.Errorf("%w: %w", gateway.ErrNotFound, err)
	}
	if err != nil {
		return gateway.ReceiptView{}, err
	}
	return gateway.ReceiptView{
		Receipt:  v.Receipt,
		Task:     v.Signed.Ran,
		Bytes:    v.Signed.Bytes(),
		Value:    receiptValue(v.Signed),
		Verified: v.Verified,
	}, nil
}

// receiptValue is a receipt's fields as an IPLD value, for DAG-JSON.
func receiptValue(s *receipt.Signed) any {
	m := map[string]any{"iss": s.Iss, "ran": s.Ran, "out": s.Out.IPLD()}
	if s.Inv.Defined() {
		m["inv"] = s.Inv
	} else {
		m["inv"] = nil
	}
	fx := make([]any, len(s.Fx))
	for i, f := range s.Fx {
		fx[i] = f
	}
	m["fx"] = fx
	if s.Meta != nil {
		m["meta"] = s.Meta
	}
	if s.Iat != 0 {
		m["iat"] = s.Iat
	}
	return m
}

// PutBlob implements gateway.Node. Remote uploads need the loopback owner
// rule: blobs are not tied to an invocation, so a token cannot scope them.
func (a *api) PutBlob(ctx context.Context, r io.Reader, auth gateway.Auth) (cid.Cid, uint64, error) {
	allow := a.n.Repo().Config.WithDefaults().AllowLoopbackOwner
	if !auth.Loopback || allow == nil || !*allow {
		return cid.Undef, 0, &authError{status: 403, name: "Forbidden", err: errors.New("daemon: blobs are added by the node's owner from loopback")}
	}
	c, n, err := a.n.AddBlob(ctx, r)
	return c, n, storageError(err)
}

// storageError reports a full disk as 507 DiskFull with the store's
// message (which says how much is free and how much the store keeps), not
// as an internal error.
func storageError(err error) error {
	if errors.Is(err, store.ErrDiskFull) {
		return &authError{status: http.StatusInsufficientStorage, name: "DiskFull", err: err}
	}
	return err
}

// Revoke implements gateway.Node: the node's owner (loopback) revokes.
func (a *api) Revoke(ctx context.Context, c cid.Cid, auth gateway.Auth) error {
	allow := a.n.Repo().Config.WithDefaults().AllowLoopbackOwner
	if !auth.Loopback || allow == nil || !*allow {
		return &authError{status: 403, name: "Forbidden", err: errors.New("daemon: only the node's owner revokes, from loopback")}
	}
	return a.n.Revoke(ctx, c)
}

// Blob implements gateway.Node.
func (a *api) Blob(ctx context.Context, c cid.Cid) (io.ReadCloser, uint64, error) {
	size, err := a.n.BlobSize(ctx, c)
	if errors.Is(err, node.ErrNotFound) {
		return nil, 0, fmt.Errorf("%w: %w", gateway.ErrNotFound, err)
	}
	if err != nil {
		return nil, 0, err
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := a.n.WriteBlob(context.WithoutCancel(ctx), c, pw)
		pw.CloseWithError(err)
	}()
	return pr, size, nil
}

// Offers implements gateway.Node.
func (a *api) Offers(ctx context.Context) (any, error) { return a.n.Offers(ctx, "") }

// Identity implements gateway.Node.
func (a *api) Identity() gateway.Identity {
	id := gateway.Identity{DID: a.n.DID(), Version: a.version}
	if pid, err := a.n.Repo().PeerID(); err == nil {
		id.PeerID = pid.String()
	}
	if h := a.n.Network(); h != nil {
		for _, ad := range h.Addrs() {
			id.Addrs = append(id.Addrs, ad.String())
		}
	}
	return id
}

// Peers implements gateway.Node.
func (a *api) Peers(ctx context.Context) ([]gateway.PeerInfo, error) {
	h := a.n.Network()
	if h == nil {
		return []gateway.PeerInfo{}, nil
	}
	out := []gateway.PeerInfo{}
	for _, p := range h.Peers() {
		pi := gateway.PeerInfo{ID: p.ID.String(), DID: p.DID}
		for _, ad := range p.Addrs {
			pi.Addrs = append(pi.Addrs, ad.String())
		}
		out = append(out, pi)
	}
	return out, nil
}
