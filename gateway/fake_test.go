package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/ipvm-go/ipvm/spec"
)

// fakeNode implements Node over maps. Workflow JSON is
// {"name": s, "tasks": [{"name": s, "fun": s, "fail": bool}]}; each task's
// out is {"ok": len(fun)} or, with fail, {"err": {...}}. Tokens: "good"
// passes, "forbidden" is refused with 403, anything else with 401
// InvalidSignature; no token passes only from loopback.
type fakeNode struct {
	mu        sync.Mutex
	receipts  map[cid.Cid]ReceiptView // by receipt CID and by task CID
	workflows map[cid.Cid]WorkflowStatus
	blobs     map[cid.Cid][]byte
	// gate, when set, is received from before each event is sent.
	gate chan struct{}
	// delay, when set, is slept before each event.
	delay time.Duration
	// hold, when set, keeps Events open until it is closed.
	hold chan struct{}
	// panicOn makes Offers panic, to test recovery.
	panicOn bool
	peers   []PeerInfo
}

func newFakeNode() *fakeNode {
	return &fakeNode{
		receipts:  map[cid.Cid]ReceiptView{},
		workflows: map[cid.Cid]WorkflowStatus{},
		blobs:     map[cid.Cid][]byte{},
		peers:     []PeerInfo{{ID: "12D3KooWfake", Addrs: []string{"/ip4/127.0.0.1/tcp/4001"}}},
	}
}

// authError is a UCAN-style refusal carrying an error name.
type authError struct {
	sentinel error
	name     string
}

func (e *authError) Error() string     { return "ucan: " + e.name }
func (e *authError) ErrorName() string { return e.name }
func (e *authError) Unwrap() error     { return e.sentinel }

type fakeWorkflow struct {
	Name  string `json:"name"`
	Tasks []struct {
		Name string `json:"name"`
		Fun  string `json:"fun"`
		Fail bool   `json:"fail"`
	} `json:"tasks"`
}

func (f *fakeNode) Submit(ctx context.Context, body []byte, a Auth) (*Submission, error) {
	switch {
	case a.Token == nil && !a.Loopback:
		return nil, &authError{ErrUnauthorized, "MissingToken"}
	case a.Token != nil && string(a.Token) == "forbidden":
		return nil, &authError{ErrForbidden, "PolicyViolation"}
	case a.Token != nil && string(a.Token) == "busy":
		return nil, ErrBusy
	case a.Token != nil && string(a.Token) != "good":
		return nil, &authError{ErrUnauthorized, "InvalidSignature"}
	}
	var wf fakeWorkflow
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&wf); err != nil {
		return nil, fmt.Errorf("%w: workflow: %v", ErrBadRequest, err)
	}
	if len(wf.Tasks) == 0 {
		return nil, fmt.Errorf("%w: workflow has no tasks", ErrBadRequest)
	}
	wc, _, err := spec.CIDOf(map[string]any{"name": wf.Name, "body": body})
	if err != nil {
		return nil, err
	}
	sub := &Submission{Workflow: wc}
	type planned struct {
		ev   TaskEvent
		view ReceiptView
	}
	var plan []planned
	st := WorkflowStatus{Workflow: wc, Name: wf.Name}
	for _, t := range wf.Tasks {
		tc, _, err := spec.CIDOf(map[string]any{"fun": t.Fun, "fail": t.Fail})
		if err != nil {
			return nil, err
		}
		sub.Tasks = append(sub.Tasks, TaskRef{Name: t.Name, Task: tc})
		st.Tasks = append(st.Tasks, TaskStatus{Name: t.Name, Task: tc, State: StatePending})
		out := map[string]any{"ok": int64(len(t.Fun))}
		if t.Fail {
			out = map[string]any{"err": map[string]any{"name": spec.ErrNameTrap, "message": "unreachable"}}
		}
		val := map[string]any{"ran": tc, "out": out, "iss": "did:key:fake"}
		rc, b, err := spec.CIDOf(val)
		if err != nil {
			return nil, err
		}
		plan = append(plan, planned{
			ev:   TaskEvent{Name: t.Name, Task: tc, Receipt: rc, Out: out},
			view: ReceiptView{Receipt: rc, Task: tc, Bytes: b, Value: val, Verified: true},
		})
	}
	f.mu.Lock()
	f.workflows[wc] = st
	f.mu.Unlock()
	events := make(chan TaskEvent)
	sub.Events = events
	go func() {
		defer close(events)
		for i, p := range plan {
			if f.gate != nil {
				<-f.gate
			}
			if f.delay > 0 {
				time.Sleep(f.delay)
			}
			f.mu.Lock()
			_, cached := f.receipts[p.view.Task]
			f.receipts[p.view.Receipt] = p.view
			f.receipts[p.view.Task] = p.view
			ws := f.workflows[wc]
			ws.Tasks[i].State, ws.Tasks[i].Receipt, ws.Tasks[i].Out, ws.Tasks[i].Cached = StateDone, p.ev.Receipt, p.ev.Out, cached
			if failed(p.ev.Out) {
				ws.Tasks[i].State = StateFailed
			}
			f.mu.Unlock()
			p.ev.Cached = cached
			events <- p.ev
		}
		if f.hold != nil {
			<-f.hold
		}
		f.mu.Lock()
		ws := f.workflows[wc]
		ws.Done = true
		f.workflows[wc] = ws
		f.mu.Unlock()
	}()
	return sub, nil
}

func (f *fakeNode) Workflow(ctx context.Context, c cid.Cid) (WorkflowStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.workflows[c]
	if !ok {
		return WorkflowStatus{}, fmt.Errorf("workflow %s: %w", c, ErrNotFound)
	}
	st.Tasks = append([]TaskStatus(nil), st.Tasks...)
	return st, nil
}

func (f *fakeNode) Receipt(ctx context.Context, c cid.Cid) (ReceiptView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rv, ok := f.receipts[c]
	if !ok {
		return ReceiptView{}, fmt.Errorf("receipt %s: %w", c, ErrNotFound)
	}
	return rv, nil
}

func (f *fakeNode) PutBlob(ctx context.Context, r io.Reader, a Auth) (cid.Cid, uint64, error) {
	if !a.Loopback && string(a.Token) != "good" {
		return cid.Undef, 0, &authError{ErrUnauthorized, "MissingToken"}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return cid.Undef, 0, err
	}
	c := spec.Sum(cid.Raw, b)
	f.mu.Lock()
	f.blobs[c] = b
	f.mu.Unlock()
	return c, uint64(len(b)), nil
}

func (f *fakeNode) Blob(ctx context.Context, c cid.Cid) (io.ReadCloser, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.blobs[c]
	if !ok {
		return nil, 0, fmt.Errorf("blob %s: %w", c, ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), uint64(len(b)), nil
}

func (f *fakeNode) Revoke(ctx context.Context, c cid.Cid, a Auth) error {
	if !a.Loopback {
		return ErrForbidden
	}
	return nil
}

func (f *fakeNode) Offers(ctx context.Context) (any, error) {
	if f.panicOn {
		panic("fake node: offers exploded at /secret/path.go:42")
	}
	return map[string]any{"commands": []string{"/wasm/run"}, "load": 0}, nil
}

func (f *fakeNode) Identity() Identity {
	return Identity{DID: "did:key:z6MkfakeNode", PeerID: "12D3KooWself", Version: "test"}
}

func (f *fakeNode) Peers(ctx context.Context) ([]PeerInfo, error) { return f.peers, nil }
