package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ipvm-go/ipvm/spec"
	"github.com/prometheus/client_golang/prometheus"
)

const wf3 = `{"name": "demo", "tasks": [
 {"name": "one", "fun": "add_one"},
 {"name": "two", "fun": "double"},
 {"name": "bad", "fun": "trap", "fail": true}]}`

type submittedJSON struct {
	Workflow string `json:"workflow"`
	Tasks    []struct {
		Name, Task string
	} `json:"tasks"`
}

type receiptJSON struct {
	Name    string         `json:"name"`
	Task    string         `json:"task"`
	Receipt string         `json:"receipt"`
	Out     map[string]any `json:"out"`
	Cached  bool           `json:"cached"`
}

func TestSubmitAcceptedThenLookUp(t *testing.T) {
	node := newFakeNode()
	_, base := startServer(t, node, nil)

	code, hdr, body := do(t, "POST", base+"/v1/workflows", wf3, "Content-Type", "application/json")
	if code != http.StatusAccepted {
		t.Fatalf("POST: %d %s", code, body)
	}
	sub := decode[submittedJSON](t, body)
	if len(sub.Tasks) != 3 || sub.Tasks[0].Name != "one" || sub.Tasks[2].Name != "bad" {
		t.Fatalf("tasks: %+v", sub.Tasks)
	}
	if hdr.Get("Location") != "/v1/workflows/"+sub.Workflow {
		t.Errorf("Location %q", hdr.Get("Location"))
	}

	var st workflowBody
	eventually(t, "workflow done", func() bool {
		code, _, body := do(t, "GET", base+"/v1/workflows/"+sub.Workflow, "")
		if code != http.StatusOK {
			t.Fatalf("GET workflow: %d %s", code, body)
		}
		st = decode[workflowBody](t, body)
		return st.Done
	})
	wantStates := []string{StateDone, StateDone, StateFailed}
	for i, ts := range st.Tasks {
		if ts.State != wantStates[i] || ts.Receipt == "" || ts.Task != sub.Tasks[i].Task {
			t.Errorf("task %d: %+v", i, ts)
		}
	}

	// The same signed bytes by receipt CID and by task CID.
	rcpt, task := st.Tasks[0].Receipt, st.Tasks[0].Task
	_, h1, byReceipt := do(t, "GET", base+"/v1/receipts/"+rcpt, "", "Accept", MediaDAGCBOR)
	_, h2, byTask := do(t, "GET", base+"/v1/receipts/"+task, "", "Accept", MediaDAGCBOR)
	if !bytes.Equal(byReceipt, byTask) || len(byReceipt) == 0 {
		t.Fatalf("bytes differ or empty: %x vs %x", byReceipt, byTask)
	}
	if ct := h1.Get("Content-Type"); ct != MediaDAGCBOR {
		t.Errorf("Content-Type %q", ct)
	}
	if h2.Get("X-Ipvm-Receipt") != rcpt {
		t.Errorf("X-Ipvm-Receipt %q, want %q", h2.Get("X-Ipvm-Receipt"), rcpt)
	}
	c, err := spec.ParseCID(rcpt)
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.VerifyCID(c, byReceipt); err != nil {
		t.Errorf("served bytes do not hash to the receipt CID: %v", err)
	}

	// DAG-JSON by default, with verified.
	code, hdr, body = do(t, "GET", base+"/v1/receipts/"+rcpt, "")
	if code != http.StatusOK || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("GET receipt JSON: %d %s %s", code, hdr.Get("Content-Type"), body)
	}
	v, err := spec.DecodeJSON(body, spec.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	if m["verified"] != true || !spec.Equal(m["receipt"], c) {
		t.Errorf("receipt JSON: %s", body)
	}
	_, hdr, _ = do(t, "GET", base+"/v1/receipts/"+rcpt, "", "Accept", MediaDAGJSON)
	if hdr.Get("Content-Type") != MediaDAGJSON {
		t.Errorf("dag-json Content-Type %q", hdr.Get("Content-Type"))
	}

	// Recent list.
	code, _, body = do(t, "GET", base+"/v1/workflows", "")
	recent := decode[struct {
		Workflows []recentSummary `json:"workflows"`
	}](t, body)
	if code != http.StatusOK || len(recent.Workflows) != 1 || recent.Workflows[0].Workflow != sub.Workflow || !recent.Workflows[0].Done {
		t.Errorf("recent: %d %s", code, body)
	}
}

func TestSubmitStreamsReceipts(t *testing.T) {
	node := newFakeNode()
	_, base := startServer(t, node, nil)
	for round, wantCached := range []bool{false, true} {
		req, _ := http.NewRequest("POST", base+"/v1/workflows", strings.NewReader(wf3))
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != MediaSSE {
			t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		evs := readSSE(t, resp.Body)
		resp.Body.Close()
		names := []string{}
		for i, ev := range evs {
			names = append(names, ev.Name)
			if want := itoa(i + 1); ev.ID != want {
				t.Errorf("event %d id %q", i, ev.ID)
			}
		}
		if got := strings.Join(names, ","); got != "workflow,receipt,receipt,receipt,done" {
			t.Fatalf("round %d events: %s", round, got)
		}
		sub := decode[submittedJSON](t, []byte(evs[0].Data))
		for i, ev := range evs[1:4] {
			r := decode[receiptJSON](t, []byte(ev.Data))
			if r.Name != sub.Tasks[i].Name || r.Task != sub.Tasks[i].Task || r.Receipt == "" || r.Cached != wantCached {
				t.Errorf("round %d receipt %d: %+v", round, i, r)
			}
			_, isErr := r.Out["err"]
			if isErr != (r.Name == "bad") {
				t.Errorf("out of %s: %v", r.Name, r.Out)
			}
		}
		done := decode[doneEvent](t, []byte(evs[4].Data))
		cached := 0
		if wantCached {
			cached = 3
		}
		if done != (doneEvent{Workflow: sub.Workflow, Tasks: 3, Ok: 2, Failed: 1, Cached: cached}) {
			t.Errorf("done: %+v", done)
		}
	}
}

func TestErrorsAndAuth(t *testing.T) {
	node := newFakeNode()
	s, base := startServer(t, node, nil)
	unknown := spec.SumCBOR([]byte("nothing")).String()
	tests := []struct {
		name, method, path, body string
		hdr                      []string
		code                     int
		errName                  string
	}{
		{"bad workflow JSON", "POST", "/v1/workflows", `{"tasks": [}`, nil, 400, "BadRequest"},
		{"unknown field", "POST", "/v1/workflows", `{"tasks": [{"nope": 1}]}`, nil, 400, "BadRequest"},
		{"empty workflow", "POST", "/v1/workflows", `{"tasks": []}`, nil, 400, "BadRequest"},
		{"bad token", "POST", "/v1/workflows", wf3, []string{"Authorization", "Bearer forged"}, 401, "InvalidSignature"},
		{"not bearer", "POST", "/v1/workflows", wf3, []string{"Authorization", "Basic dTpw"}, 401, "Unauthorized"},
		{"forbidden", "POST", "/v1/workflows", wf3, []string{"Authorization", "Bearer forbidden"}, 403, "PolicyViolation"},
		{"node busy", "POST", "/v1/workflows", wf3, []string{"Authorization", "Bearer busy"}, 429, "Busy"},
		{"cross origin", "POST", "/v1/workflows", wf3, []string{"Origin", "http://evil.example"}, 403, "CrossOrigin"},
		{"cross origin blob", "POST", "/v1/blobs", "x", []string{"Origin", "null"}, 403, "CrossOrigin"},
		{"rebound host is not the owner", "POST", "/v1/workflows", wf3, []string{"Host", "evil.example:5080"}, 401, "MissingToken"},
		{"not acceptable", "POST", "/v1/workflows", wf3, []string{"Accept", "image/png"}, 406, "NotAcceptable"},
		{"bad accept q", "POST", "/v1/workflows", wf3, []string{"Accept", "text/event-stream;q=x"}, 400, "BadRequest"},
		{"workflow bad CID", "GET", "/v1/workflows/notacid", "", nil, 400, "BadCID"},
		{"workflow unknown", "GET", "/v1/workflows/" + unknown, "", nil, 404, "NotFound"},
		{"receipt bad CID", "GET", "/v1/receipts/bafy!!", "", nil, 400, "BadCID"},
		{"receipt unknown", "GET", "/v1/receipts/" + unknown, "", nil, 404, "NotFound"},
		{"receipt unknown cbor", "GET", "/v1/receipts/" + unknown, "", []string{"Accept", MediaDAGCBOR}, 404, "NotFound"},
		{"blob bad CID", "GET", "/v1/blobs/zzz", "", nil, 400, "BadCID"},
		{"blob unknown", "GET", "/v1/blobs/" + unknown, "", nil, 404, "NotFound"},
		{"no route", "GET", "/v2/nothing", "", nil, 404, "NotFound"},
		{"wrong method", "DELETE", "/v1/receipts/" + unknown, "", nil, 405, ""},
		{"static missing", "GET", "/static/nope.js", "", nil, 404, "NotFound"},
		{"static traversal", "GET", "/static/..%2fserver.go", "", nil, 404, "NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, hdr, body := do(t, tt.method, base+tt.path, tt.body, tt.hdr...)
			if code != tt.code {
				t.Fatalf("status %d, want %d: %s", code, tt.code, body)
			}
			if tt.errName == "" {
				return
			}
			e := decode[errorBody](t, body)
			if e.Name != tt.errName || e.Error == "" {
				t.Errorf("body %s, want name %q", body, tt.errName)
			}
			if code == 429 && hdr.Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q", hdr.Get("Retry-After"))
			}
		})
	}

	// Same origin (the dashboard) and localhost pass.
	host := strings.TrimPrefix(base, "http://")
	if code, _, body := do(t, "POST", base+"/v1/workflows", wf3, "Origin", base); code != 202 {
		t.Errorf("same origin: %d %s", code, body)
	}
	if code, _, body := do(t, "POST", base+"/v1/workflows", wf3, "Host", "localhost:"+host[strings.LastIndex(host, ":")+1:]); code != 202 {
		t.Errorf("Host localhost: %d %s", code, body)
	}

	// A remote caller without a token is refused; X-Forwarded-For does not
	// make it loopback.
	req := httptest.NewRequest("POST", "/v1/workflows", strings.NewReader(wf3))
	req.RemoteAddr = "203.0.113.7:5555"
	req.Header.Set("X-Forwarded-For", "127.0.0.1")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != 401 || decode[errorBody](t, rec.Body.Bytes()).Name != "MissingToken" {
		t.Errorf("remote without token: %d %s", rec.Code, rec.Body)
	}
	req = httptest.NewRequest("POST", "/v1/workflows", strings.NewReader(wf3))
	req.RemoteAddr = "203.0.113.7:5555"
	req.Header.Set("Authorization", "Bearer good")
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != 202 {
		t.Errorf("remote with token: %d %s", rec.Code, rec.Body)
	}
}

func TestBlobs(t *testing.T) {
	node := newFakeNode()
	_, base := startServer(t, node, func(c *Config) { c.MaxBlobBytes = 1000 })
	data := strings.Repeat("wasm", 100)
	code, _, body := do(t, "POST", base+"/v1/blobs", data)
	if code != http.StatusCreated {
		t.Fatalf("POST blob: %d %s", code, body)
	}
	got := decode[struct {
		CID  string `json:"cid"`
		Size uint64 `json:"size"`
	}](t, body)
	if got.Size != 400 {
		t.Errorf("size %d", got.Size)
	}
	code, hdr, body := do(t, "GET", base+"/v1/blobs/"+got.CID, "")
	if code != 200 || string(body) != data || hdr.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("GET blob: %d %q", code, hdr.Get("Content-Type"))
	}
	code, _, body = do(t, "POST", base+"/v1/blobs", strings.Repeat("x", 1001))
	if code != http.StatusRequestEntityTooLarge || decode[errorBody](t, body).Name != "TooLarge" {
		t.Errorf("big blob: %d %s", code, body)
	}
	// Chunked (no Content-Length) over the cap: caught while reading.
	req, _ := http.NewRequest("POST", base+"/v1/blobs", struct{ *strings.Reader }{strings.NewReader(strings.Repeat("y", 5000))})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked big blob: %d", resp.StatusCode)
	}
}

func TestInfoEndpoints(t *testing.T) {
	node := newFakeNode()
	_, base := startServer(t, node, nil)
	code, _, body := do(t, "GET", base+"/v1/id", "")
	if id := decode[Identity](t, body); code != 200 || id.DID != node.Identity().DID || id.PeerID != "12D3KooWself" {
		t.Errorf("id: %d %s", code, body)
	}
	code, _, body = do(t, "GET", base+"/v1/peers", "")
	if p := decode[struct{ Peers []PeerInfo }](t, body); code != 200 || len(p.Peers) != 1 || p.Peers[0].ID != "12D3KooWfake" {
		t.Errorf("peers: %d %s", code, body)
	}
	code, _, body = do(t, "GET", base+"/v1/offers", "")
	if code != 200 || !strings.Contains(string(body), "/wasm/run") {
		t.Errorf("offers: %d %s", code, body)
	}
	code, _, body = do(t, "GET", base+"/healthz", "")
	if code != 200 || decode[map[string]string](t, body)["status"] != "ok" {
		t.Errorf("healthz: %d %s", code, body)
	}
	code, hdr, body := do(t, "GET", base+"/openapi.json", "")
	if code != 200 || hdr.Get("Content-Type") != "application/json" || !json.Valid(body) {
		t.Errorf("openapi: %d", code)
	}
	code, hdr, body = do(t, "GET", base+"/", "")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "/static/app.js") {
		t.Errorf("dashboard: %d %s", code, hdr.Get("Content-Type"))
	}
	if !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("dashboard CSP %q", hdr.Get("Content-Security-Policy"))
	}
	for _, f := range []string{"app.js", "style.css"} {
		if code, _, _ := do(t, "GET", base+"/static/"+f, ""); code != 200 {
			t.Errorf("static %s: %d", f, code)
		}
	}
}

func TestMetrics(t *testing.T) {
	node := newFakeNode()
	reg := prometheus.NewRegistry()
	// The node registers its own collectors in the same registry.
	hits := prometheus.NewCounter(prometheus.CounterOpts{Name: "ipvm_memo_hits_total", Help: "memo hits"})
	reg.MustRegister(hits)
	hits.Add(3)
	s, base := startServer(t, node, func(c *Config) { c.Registry = reg })
	do(t, "GET", base+"/v1/receipts/bad", "")
	if s.Metrics().WorkflowsInFlight == nil {
		t.Fatal("no WorkflowsInFlight gauge")
	}
	code, hdr, body := do(t, "GET", base+"/metrics", "")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %q", code, hdr.Get("Content-Type"))
	}
	for _, want := range []string{
		`ipvm_http_requests_total{code="400",path="GET /v1/receipts/{cid}"} 1`,
		`ipvm_memo_hits_total 3`,
		`ipvm_http_request_duration_seconds_bucket`,
		`ipvm_workflows_in_flight 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestPanicIsRecovered(t *testing.T) {
	node := newFakeNode()
	node.panicOn = true
	_, base := startServer(t, node, nil)
	code, _, body := do(t, "GET", base+"/v1/offers", "")
	if code != 500 || decode[errorBody](t, body).Name != "Internal" {
		t.Fatalf("panic: %d %s", code, body)
	}
	if strings.Contains(string(body), "secret") || strings.Contains(string(body), "goroutine") {
		t.Errorf("response leaks the panic: %s", body)
	}
	if code, _, _ := do(t, "GET", base+"/healthz", ""); code != 200 {
		t.Errorf("after panic healthz %d", code)
	}
}

func TestInFlightCap(t *testing.T) {
	node := newFakeNode()
	node.hold = make(chan struct{})
	_, base := startServer(t, node, func(c *Config) { c.MaxInFlight = 1 })
	if code, _, body := do(t, "POST", base+"/v1/workflows", wf3); code != 202 {
		t.Fatalf("first: %d %s", code, body)
	}
	code, hdr, body := do(t, "POST", base+"/v1/workflows", wf3)
	if code != 429 || hdr.Get("Retry-After") == "" || decode[errorBody](t, body).Name != "Busy" {
		t.Fatalf("second: %d %q %s", code, hdr.Get("Retry-After"), body)
	}
	close(node.hold)
	eventually(t, "a free slot", func() bool {
		code, _, _ := do(t, "POST", base+"/v1/workflows", wf3)
		return code == 202
	})
}

func TestStreamOutlivesTimeouts(t *testing.T) {
	node := newFakeNode()
	gate := make(chan struct{})
	node.gate = gate
	_, base := startServer(t, node, func(c *Config) {
		c.WriteTimeout = 100 * time.Millisecond
		c.ReadTimeout = 300 * time.Millisecond
		c.KeepAlive = 20 * time.Millisecond
	})
	req, _ := http.NewRequest("POST", base+"/v1/workflows", strings.NewReader(wf3))
	req.Header.Set("Accept", MediaSSE)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Release each task only after both timeouts have passed since the
	// stream started; the stream must carry on regardless.
	raw := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(resp.Body); raw <- b }()
	for range 3 {
		time.Sleep(350 * time.Millisecond)
		gate <- struct{}{}
	}
	got := readSSE(t, bytes.NewReader(<-raw))
	if len(got) != 5 || got[4].Name != "done" {
		t.Fatalf("events: %+v", got)
	}
}
