package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/ipfs/go-cid"
	"github.com/ipvm-go/ipvm/spec"
)

// Media types the gateway speaks.
const (
	MediaDAGCBOR = "application/vnd.ipld.dag-cbor"
	MediaDAGJSON = "application/vnd.ipld.dag-json"
	MediaSSE     = "text/event-stream"
)

// auth builds the Auth of a request; a malformed Authorization header is
// an error (401), and so is a cross-origin request (403). Loopback needs
// both a loopback TCP peer and a loopback Host header, so that a web page
// whose name is rebound to 127.0.0.1 (DNS rebinding) is not the owner.
func auth(r *http.Request) (Auth, error) {
	if err := sameOrigin(r); err != nil {
		return Auth{}, err
	}
	tok, err := bearer(r.Header.Get("Authorization"))
	if err != nil {
		return Auth{}, err
	}
	loop := isLoopback(r.RemoteAddr) && isLoopbackHost(r.Host)
	return Auth{Token: tok, Loopback: loop, RemoteAddr: r.RemoteAddr}, nil
}

// readBody reads at most max bytes of the request body. Too large → 413,
// read deadline passed → 408, other read errors → 400.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, bool) {
	if r.ContentLength > max {
		writeError(w, http.StatusRequestEntityTooLarge, "TooLarge",
			fmt.Sprintf("body of %d bytes is over the limit of %d", r.ContentLength, max))
		return nil, false
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		writeBodyError(w, err, max)
		return nil, false
	}
	return b, true
}

func writeBodyError(w http.ResponseWriter, err error, max int64) {
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, "TooLarge", fmt.Sprintf("body is over the limit of %d bytes", max))
	case errors.As(err, &ne) && ne.Timeout():
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestTimeout, "Timeout", "request body not received in time")
	default:
		writeError(w, http.StatusBadRequest, "BadRequest", "reading body: "+err.Error())
	}
}

// cidParam parses the {cid} path value; a bad string gets 400 BadCID.
func cidParam(w http.ResponseWriter, r *http.Request) (cid.Cid, bool) {
	c, err := spec.ParseCID(r.PathValue("cid"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadCID", err.Error())
		return cid.Undef, false
	}
	return c, true
}

// submitted is the 202 body of POST /v1/workflows and the data of the SSE
// "workflow" event.
type submitted struct {
	Workflow string    `json:"workflow"`
	Tasks    []taskRef `json:"tasks"`
}

type taskRef struct {
	Name string `json:"name"`
	Task string `json:"task"`
}

func submittedBody(sub *Submission) submitted {
	out := submitted{Workflow: sub.Workflow.String(), Tasks: make([]taskRef, len(sub.Tasks))}
	for i, t := range sub.Tasks {
		out.Tasks[i] = taskRef{Name: t.Name, Task: t.Task.String()}
	}
	return out
}

func (s *Server) postWorkflow(w http.ResponseWriter, r *http.Request) {
	sse, err := wantsSSE(r.Header.Get("Accept"))
	switch {
	case errors.Is(err, errNotAcceptable):
		writeError(w, http.StatusNotAcceptable, "NotAcceptable", err.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	a, err := auth(r)
	if err != nil {
		s.writeNodeError(w, r, err)
		return
	}
	if s.closing.Load() {
		s.writeNodeError(w, r, ErrStopped)
		return
	}
	body, ok := readBody(w, r, s.cfg.MaxWorkflowBytes)
	if !ok {
		return
	}
	if _, err := jsonDepth(body, s.cfg.MaxJSONDepth); err != nil {
		writeError(w, http.StatusBadRequest, "TooDeep", err.Error())
		return
	}
	select {
	case s.slots <- struct{}{}:
	default:
		w.Header().Set("Retry-After", s.retryAfter())
		writeError(w, http.StatusTooManyRequests, "Busy",
			fmt.Sprintf("%d workflows in flight, the most this gateway takes", cap(s.slots)))
		return
	}
	sub, err := s.cfg.Node.Submit(r.Context(), body, a)
	if err != nil {
		<-s.slots
		s.writeNodeError(w, r, err)
		return
	}
	s.cfg.Metrics.WorkflowsInFlight.Inc()
	e := s.recent.add(sub)
	s.drains.Add(1)
	if !sse {
		go s.drain(e, sub.Events)
		w.Header().Set("Location", "/v1/workflows/"+sub.Workflow.String())
		writeJSON(w, http.StatusAccepted, submittedBody(sub))
		return
	}
	s.stream(w, r, e, sub)
}

// drain reads a workflow's events to the end, recording them, then frees
// the workflow's slot. It is the only place that frees slots and calls
// drains.Done.
func (s *Server) drain(e *entry, events <-chan TaskEvent) {
	defer func() {
		e.finish()
		s.cfg.Metrics.WorkflowsInFlight.Dec()
		<-s.slots
		s.drains.Done()
	}()
	if events == nil {
		return
	}
	for ev := range events {
		e.update(ev)
	}
}

func (s *Server) listWorkflows(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"workflows": s.recent.list()})
}

// workflowBody is the body of GET /v1/workflows/{cid}.
type workflowBody struct {
	Workflow string       `json:"workflow"`
	Name     string       `json:"name,omitempty"`
	Done     bool         `json:"done"`
	Tasks    []taskStatus `json:"tasks"`
}

type taskStatus struct {
	Name    string          `json:"name"`
	Task    string          `json:"task"`
	State   string          `json:"state"`
	Receipt string          `json:"receipt,omitempty"`
	Out     json.RawMessage `json:"out,omitempty"`
	Cached  bool            `json:"cached"`
}

// toTaskStatus is the JSON form of a TaskStatus.
func toTaskStatus(t TaskStatus) taskStatus {
	ts := taskStatus{Name: t.Name, Task: t.Task.String(), State: t.State, Cached: t.Cached}
	if t.Receipt.Defined() {
		ts.Receipt = t.Receipt.String()
	}
	if t.Out != nil {
		ts.Out = json.RawMessage(spec.MustJSON(t.Out))
	}
	return ts
}

func (s *Server) getWorkflow(w http.ResponseWriter, r *http.Request) {
	c, ok := cidParam(w, r)
	if !ok {
		return
	}
	st, err := s.cfg.Node.Workflow(r.Context(), c)
	if errors.Is(err, ErrNotFound) {
		if e := s.recent.get(c); e != nil {
			st, err = e.status(), nil
		}
	}
	if err != nil {
		s.writeNodeError(w, r, err)
		return
	}
	body := workflowBody{Workflow: st.Workflow.String(), Name: st.Name, Done: st.Done, Tasks: make([]taskStatus, len(st.Tasks))}
	for i, t := range st.Tasks {
		body.Tasks[i] = toTaskStatus(t)
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) getReceipt(w http.ResponseWriter, r *http.Request) {
	c, ok := cidParam(w, r)
	if !ok {
		return
	}
	rv, err := s.cfg.Node.Receipt(r.Context(), c)
	if err != nil {
		s.writeNodeError(w, r, err)
		return
	}
	accept := r.Header.Get("Accept")
	w.Header().Set("Vary", "Accept")
	w.Header().Set("X-Ipvm-Receipt", rv.Receipt.String())
	if accepts(accept, MediaDAGCBOR) {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("Etag", `"`+rv.Receipt.String()+`"`)
		writeRaw(w, http.StatusOK, MediaDAGCBOR, rv.Bytes)
		return
	}
	b, err := spec.EncodeJSON(map[string]any{
		"receipt":  rv.Receipt,
		"task":     rv.Task,
		"verified": rv.Verified,
		"value":    rv.Value,
	})
	if err != nil {
		s.writeNodeError(w, r, fmt.Errorf("encode receipt %s: %w", rv.Receipt, err))
		return
	}
	ct := "application/json"
	if accepts(accept, MediaDAGJSON) {
		ct = MediaDAGJSON
	}
	writeRaw(w, http.StatusOK, ct, append(b, '\n'))
}

func (s *Server) postBlob(w http.ResponseWriter, r *http.Request) {
	a, err := auth(r)
	if err != nil {
		s.writeNodeError(w, r, err)
		return
	}
	max := s.cfg.MaxBlobBytes
	if r.ContentLength > max {
		writeError(w, http.StatusRequestEntityTooLarge, "TooLarge",
			fmt.Sprintf("body of %d bytes is over the limit of %d", r.ContentLength, max))
		return
	}
	body := &errReader{r: http.MaxBytesReader(w, r.Body, max)}
	c, n, err := s.cfg.Node.PutBlob(r.Context(), body, a)
	if body.err != nil {
		writeBodyError(w, body.err, max)
		return
	}
	if err != nil {
		s.writeNodeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/blobs/"+c.String())
	writeJSON(w, http.StatusCreated, map[string]any{"cid": c.String(), "size": n})
}

// errReader remembers the first read error other than io.EOF, so a body
// error (too large, timeout) is told apart from the node's own errors.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

func (s *Server) getBlob(w http.ResponseWriter, r *http.Request) {
	c, ok := cidParam(w, r)
	if !ok {
		return
	}
	rc, size, err := s.cfg.Node.Blob(r.Context(), c)
	if err != nil {
		s.writeNodeError(w, r, err)
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatUint(size, 10))
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("Etag", `"`+c.String()+`"`)
	h.Set("Content-Security-Policy", "sandbox")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		s.cfg.Logger.Debug("gateway: blob copy", "cid", c, "err", err)
	}
}

func (s *Server) postRevocation(w http.ResponseWriter, r *http.Request) {
	a, err := auth(r)
	if err != nil {
		s.writeNodeError(w, r, err)
		return
	}
	c, err := spec.ParseCID(r.PathValue("cid"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	if err := s.cfg.Node.Revoke(r.Context(), c, a); err != nil {
		s.writeNodeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"revoked": c.String()})
}

func (s *Server) getOffers(w http.ResponseWriter, r *http.Request) {
	v, err := s.cfg.Node.Offers(r.Context())
	if err != nil {
		s.writeNodeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) getPeers(w http.ResponseWriter, r *http.Request) {
	ps, err := s.cfg.Node.Peers(r.Context())
	if err != nil {
		s.writeNodeError(w, r, err)
		return
	}
	if ps == nil {
		ps = []PeerInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"peers": ps})
}

func (s *Server) getID(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.cfg.Node.Identity())
}
