package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/ucan"
)

func blobCases() []Case {
	return []Case{
		{ID: "blob.raw-cid", Section: "§9.1", Title: "a blob of one chunk is named CIDv1(raw, sha2-256(bytes))", run: caseBlobRawCID},
		{ID: "blob.empty", Section: "§9.1", Title: "the empty blob is bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", run: caseBlobEmpty},
		{ID: "blob.roundtrip", Section: "§9.2", Title: "GET /v1/blobs/{cid} gives the bytes back, as an immutable sandboxed octet-stream", run: caseBlobRoundtrip},
		{ID: "blob.multi-chunk", Section: "§9.1", Title: "a 600 000-byte blob is a balanced dag-pb file (bafybei…) that reads back whole", run: caseBlobChunked},
		{ID: "blob.unknown", Section: "§10", Title: "an unknown blob CID: 404", run: caseBlobUnknown},
	}
}

func caseBlobRawCID(ctx context.Context, s *suite) error {
	b := []byte(fmt.Sprintf("conformance blob %d", s.salt))
	c, err := s.putBlob(ctx, b)
	if err != nil {
		return err
	}
	if want := spec.Sum(cid.Raw, b).String(); c != want {
		return fmt.Errorf("blob CID %s, want %s", c, want)
	}
	return nil
}

func caseBlobEmpty(ctx context.Context, s *suite) error {
	c, err := s.putBlob(ctx, nil)
	if err != nil {
		return err
	}
	if c != "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku" {
		return fmt.Errorf("empty blob CID %s", c)
	}
	return nil
}

func caseBlobRoundtrip(ctx context.Context, s *suite) error {
	b := []byte(fmt.Sprintf("round trip %d", s.salt))
	up, err := s.do(ctx, http.MethodPost, "/v1/blobs", bytes.NewReader(b), map[string]string{"Content-Type": "application/octet-stream"})
	if err != nil {
		return err
	}
	if err := wantStatus(up, http.StatusCreated); err != nil {
		return err
	}
	var created struct {
		CID string `json:"cid"`
	}
	if err := json.Unmarshal(up.body, &created); err != nil {
		return err
	}
	c := created.CID
	if loc := up.header.Get("Location"); loc != "/v1/blobs/"+c {
		return fmt.Errorf("POST /v1/blobs: Location %q, want /v1/blobs/%s", loc, c)
	}
	r, err := s.get(ctx, "/v1/blobs/"+c, nil)
	if err != nil {
		return err
	}
	if r.status != http.StatusOK || !bytes.Equal(r.body, b) {
		return fmt.Errorf("GET /v1/blobs/%s: %s, want the %d bytes uploaded", c, r, len(b))
	}
	if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
		return fmt.Errorf("Content-Type %q", ct)
	}
	if !strings.Contains(r.header.Get("Cache-Control"), "immutable") {
		return fmt.Errorf("Cache-Control %q is not immutable", r.header.Get("Cache-Control"))
	}
	if !strings.Contains(r.header.Get("Content-Security-Policy"), "sandbox") {
		return fmt.Errorf("Content-Security-Policy %q lacks sandbox", r.header.Get("Content-Security-Policy"))
	}
	return nil
}

func caseBlobChunked(ctx context.Context, s *suite) error {
	b := make([]byte, 600000)
	for i := range b {
		b[i] = byte(i*7 + int(s.salt))
	}
	c, err := s.putBlob(ctx, b)
	if err != nil {
		return err
	}
	pc, err := cid.Decode(c)
	if err != nil {
		return err
	}
	if pc.Prefix().Codec != cid.DagProtobuf || pc.Version() != 1 || !strings.HasPrefix(c, "bafybei") {
		return fmt.Errorf("a three-chunk blob is named %s, want a CIDv1 dag-pb (UnixFS) root", c)
	}
	r, err := s.get(ctx, "/v1/blobs/"+c, nil)
	if err != nil {
		return err
	}
	if r.status != http.StatusOK || !bytes.Equal(r.body, b) {
		return fmt.Errorf("GET /v1/blobs/%s: status %d, %d bytes, want the %d bytes uploaded", c, r.status, len(r.body), len(b))
	}
	// The leaves are raw blocks of 256 KiB (§9.1): the node serves each
	// leaf as a blob too (§9.4).
	leaf := spec.Sum(cid.Raw, b[:262144])
	r, err = s.get(ctx, "/v1/blobs/"+leaf.String(), nil)
	if err != nil {
		return err
	}
	if r.status != http.StatusOK || !bytes.Equal(r.body, b[:262144]) {
		return fmt.Errorf("the first 256 KiB raw leaf %s: status %d, %d bytes", leaf, r.status, len(r.body))
	}
	return nil
}

func caseBlobUnknown(ctx context.Context, s *suite) error {
	c := spec.Sum(cid.Raw, []byte(fmt.Sprintf("unknown %d", s.salt)))
	r, err := s.get(ctx, "/v1/blobs/"+c.String(), nil)
	if err != nil {
		return err
	}
	return wantStatus(r, http.StatusNotFound)
}

func httpCases() []Case {
	return []Case{
		{ID: "http.healthz", Section: "§10", Title: "GET /healthz: 200 {\"status\": \"ok\"}", run: caseHealthz},
		{ID: "http.openapi", Section: "§10", Title: "GET /openapi.json is an OpenAPI 3.1 document naming every /v1 route", run: caseOpenAPI},
		{ID: "http.metrics-move", Section: "§10", Title: "GET /metrics is Prometheus text; task and HTTP counters move with use", run: caseMetrics},
		{ID: "http.id", Section: "§10", Title: "GET /v1/id names the node's did:key and version", run: caseID},
		{ID: "http.offers", Section: "§10", Title: "GET /v1/offers answers 200 JSON", run: caseOffers},
		{ID: "http.submit-202", Section: "§10", Title: "a JSON POST is 202 with Location /v1/workflows/{cid} and {workflow, tasks}", run: caseSubmit202},
		{ID: "http.sse-framing", Section: "§10", Title: "the event stream: workflow, one receipt per task, done with counts; ids from 1", run: caseSSE},
		{ID: "http.workflows-list", Section: "§10", Title: "GET /v1/workflows lists recent submissions, newest first", run: caseWorkflowsList},
		{ID: "http.malformed-json", Section: "§10", Title: "a body that is not JSON: 400 with a JSON error body", run: caseMalformedJSON},
		{ID: "http.bad-cid", Section: "§10", Title: "a path segment that is not a CID: 400 BadCID", run: caseBadCID},
		{ID: "http.unknown-cid", Section: "§10", Title: "an unknown receipt or workflow CID: 404 NotFound", run: caseUnknownCID},
		{ID: "http.ipfs-url-cid", Section: "§10", Title: "a {cid} path segment also accepts ipfs://CID", run: caseIPFSURL},
		{ID: "http.too-large", Section: "§10", Title: "a workflow body over 8 MiB: 413 TooLarge", run: caseTooLarge},
		{ID: "http.not-acceptable", Section: "§10", Title: "an Accept that allows neither JSON nor an event stream: 406", run: caseNotAcceptable},
		{ID: "http.bad-accept", Section: "§10", Title: "an Accept header that does not parse: 400", run: caseBadAccept},
		{ID: "http.accept-q-zero", Section: "§10", Title: "text/event-stream;q=0 with application/json: a 202 JSON answer, not a stream", run: caseAcceptQZero},
		{ID: "http.stream-error-first", Section: "§10", Title: "a bad body with Accept: text/event-stream is a 400 JSON error, before any stream", run: caseStreamErrorFirst},
		{ID: "http.receipt-dag-json", Section: "§10", Title: "Accept: application/vnd.ipld.dag-json gets the receipt view in that media type", run: caseReceiptDagJSON},
		{ID: "http.header-too-large", Section: "§10", Title: "request headers over 64 KiB: 431", run: caseHeaderTooLarge},
		{ID: "http.method-not-allowed", Section: "§10", Title: "DELETE /v1/workflows: 405", run: caseMethod},
	}
}

func caseHealthz(ctx context.Context, s *suite) error {
	var h struct {
		Status string `json:"status"`
	}
	if err := s.getJSON(ctx, "/healthz", &h); err != nil {
		return err
	}
	if h.Status != "ok" {
		return fmt.Errorf("status %q", h.Status)
	}
	return nil
}

func caseOpenAPI(ctx context.Context, s *suite) error {
	var doc struct {
		OpenAPI string                     `json:"openapi"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	if err := s.getJSON(ctx, "/openapi.json", &doc); err != nil {
		return err
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		return fmt.Errorf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	var missing []string
	for _, p := range []string{"/v1/workflows", "/v1/workflows/{cid}", "/v1/receipts/{cid}", "/v1/blobs", "/v1/blobs/{cid}", "/v1/offers", "/v1/id", "/v1/peers", "/healthz", "/metrics"} {
		if _, ok := doc.Paths[p]; !ok {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("paths missing from the document: %s", strings.Join(missing, ", "))
	}
	return nil
}

func caseMetrics(ctx context.Context, s *suite) error {
	tasks0, err := s.metric(ctx, "ipvm_tasks_run_total", "")
	if err != nil {
		return err
	}
	http0, err := s.metric(ctx, "ipvm_http_requests_total", "")
	if err != nil {
		return err
	}
	receipts0, err := s.metric(ctx, "ipvm_receipts_stored_total", "")
	if err != nil {
		return err
	}
	if _, err := s.run(ctx, workflow("metrics", with(wasm("t", s.guest, "add_one", s.n(80)), "nonce", s.nonce("metrics"))), ""); err != nil {
		return err
	}
	tasks1, err := s.metric(ctx, "ipvm_tasks_run_total", "")
	if err != nil {
		return err
	}
	http1, err := s.metric(ctx, "ipvm_http_requests_total", "")
	if err != nil {
		return err
	}
	receipts1, err := s.metric(ctx, "ipvm_receipts_stored_total", "")
	if err != nil {
		return err
	}
	if tasks1-tasks0 != 1 || http1 <= http0 || receipts1-receipts0 != 1 {
		return fmt.Errorf("after one task: tasks run +%v (want 1), HTTP requests +%v (want > 0), receipts stored +%v (want 1)", tasks1-tasks0, http1-http0, receipts1-receipts0)
	}
	return nil
}

func caseID(ctx context.Context, s *suite) error {
	var id struct {
		DID     string `json:"did"`
		Version string `json:"version"`
	}
	if err := s.getJSON(ctx, "/v1/id", &id); err != nil {
		return err
	}
	if _, err := ucan.PublicKeyFromDID(id.DID); err != nil {
		return fmt.Errorf("did %q: %w", id.DID, err)
	}
	if id.Version == "" {
		return fmt.Errorf("no version")
	}
	return nil
}

func caseOffers(ctx context.Context, s *suite) error {
	var v any
	return s.getJSON(ctx, "/v1/offers", &v)
}

func caseSubmit202(ctx context.Context, s *suite) error {
	r, err := s.post(ctx, workflow("submit", wasm("a", s.guest, "add_one", s.n(81)), wasm("b", s.guest, "add_one", obj{"await/ok": "a"})), "")
	if err != nil {
		return err
	}
	if err := wantStatus(r, http.StatusAccepted); err != nil {
		return err
	}
	var sb submitted
	if err := json.Unmarshal(r.body, &sb); err != nil {
		return err
	}
	if loc := r.header.Get("Location"); loc != "/v1/workflows/"+sb.Workflow {
		return fmt.Errorf("Location %q, want /v1/workflows/%s", loc, sb.Workflow)
	}
	if len(sb.Tasks) != 2 || sb.Tasks[0].Name != "a" || sb.Tasks[1].Name != "b" {
		return fmt.Errorf("tasks %+v, want a and b in file order", sb.Tasks)
	}
	for _, t := range sb.Tasks {
		if err := isIpvmCID(t.Task); err != nil {
			return err
		}
	}
	return nil
}

func caseSSE(ctx context.Context, s *suite) error {
	st, err := s.run(ctx, workflow("sse",
		wasm("a", s.guest, "add_one", s.n(82)),
		wasm("b", s.guest, "add_one", obj{"await/ok": "a"}),
		with(wasm("c", s.guest, "trap"), "nonce", s.nonce("sse")),
	), "")
	if err != nil {
		return err // run checks framing, order and ids
	}
	if len(st.events) != 5 || len(st.receipts) != 3 {
		return fmt.Errorf("%d events with %d receipts, want workflow + 3 receipts + done", len(st.events), len(st.receipts))
	}
	d := st.done
	if d.Workflow != st.workflow.Workflow || d.Tasks != 3 || d.Ok != 2 || d.Failed != 1 {
		return fmt.Errorf("done %+v, want workflow %s, tasks 3, ok 2, failed 1", *d, st.workflow.Workflow)
	}
	// b awaits a, so a's receipt comes first.
	pos := map[string]int{}
	for i, e := range st.events {
		if e.name == "receipt" {
			var re receiptEvent
			_ = json.Unmarshal([]byte(e.data), &re)
			pos[re.Name] = i
		}
	}
	if pos["a"] > pos["b"] {
		return fmt.Errorf("receipt of b (awaits a) came before a's")
	}
	for _, t := range st.workflow.Tasks {
		re, err := st.ev(t.Name)
		if err != nil {
			return err
		}
		if re.Task != t.Task {
			return fmt.Errorf("receipt event of %q names task %s, the workflow event %s", t.Name, re.Task, t.Task)
		}
	}
	return nil
}

func caseWorkflowsList(ctx context.Context, s *suite) error {
	sb, err := s.submit(ctx, workflow("list", wasm("t", s.guest, "add_one", s.n(83))), "")
	if err != nil {
		return err
	}
	var l struct {
		Workflows []struct {
			Workflow string `json:"workflow"`
		} `json:"workflows"`
	}
	if err := s.getJSON(ctx, "/v1/workflows", &l); err != nil {
		return err
	}
	if len(l.Workflows) == 0 || l.Workflows[0].Workflow != sb.Workflow {
		return fmt.Errorf("the newest listed workflow is not the one just submitted (%s): %+v", sb.Workflow, l.Workflows)
	}
	return nil
}

func caseMalformedJSON(ctx context.Context, s *suite) error {
	for _, body := range []string{`{"tasks": [`, `not json`, `{"tasks": [], "tasks": []}`} {
		r, err := s.post(ctx, []byte(body), "")
		if err != nil {
			return err
		}
		if err := wantStatus(r, http.StatusBadRequest); err != nil {
			return fmt.Errorf("body %q: %w", body, err)
		}
	}
	return nil
}

func caseBadCID(ctx context.Context, s *suite) error {
	for _, p := range []string{"/v1/receipts/not-a-cid", "/v1/workflows/not-a-cid", "/v1/blobs/bafyNOPE"} {
		r, err := s.get(ctx, p, nil)
		if err != nil {
			return err
		}
		if err := wantStatus(r, http.StatusBadRequest, "BadCID"); err != nil {
			return fmt.Errorf("GET %s: %w", p, err)
		}
	}
	return nil
}

func caseUnknownCID(ctx context.Context, s *suite) error {
	c := spec.SumCBOR([]byte(fmt.Sprintf("unknown %d", s.salt)))
	for _, p := range []string{"/v1/receipts/", "/v1/workflows/"} {
		r, err := s.get(ctx, p+c.String(), nil)
		if err != nil {
			return err
		}
		if err := wantStatus(r, http.StatusNotFound, "NotFound"); err != nil {
			return fmt.Errorf("GET %s: %w", p+c.String(), err)
		}
	}
	return nil
}

func caseIPFSURL(ctx context.Context, s *suite) error {
	_, re, err := s.oneRun(ctx, "ipfs-url", wasm("t", s.guest, "add_one", s.n(84)))
	if err != nil {
		return err
	}
	a, _, err := s.receiptBytes(ctx, re.Receipt)
	if err != nil {
		return err
	}
	// One path segment: the slashes are escaped (a literal "//" is
	// cleaned away by HTTP routers before any handler sees it).
	b, _, err := s.receiptBytes(ctx, url.PathEscape("ipfs://"+re.Receipt))
	if err != nil {
		return err
	}
	if !bytes.Equal(a, b) {
		return fmt.Errorf("ipfs://%s gives other bytes", re.Receipt)
	}
	return nil
}

func caseTooLarge(ctx context.Context, s *suite) error {
	body := bytes.Repeat([]byte(" "), 9<<20)
	r, err := s.post(ctx, body, "")
	if err != nil {
		return err
	}
	return wantStatus(r, http.StatusRequestEntityTooLarge, "TooLarge")
}

func caseNotAcceptable(ctx context.Context, s *suite) error {
	body := workflow("accept", wasm("t", s.guest, "add_one", s.n(85)))
	r, err := s.do(ctx, http.MethodPost, "/v1/workflows", bytes.NewReader(body), map[string]string{"Content-Type": "application/json", "Accept": "image/png"})
	if err != nil {
		return err
	}
	return wantStatus(r, http.StatusNotAcceptable, "NotAcceptable")
}

func caseMethod(ctx context.Context, s *suite) error {
	r, err := s.do(ctx, http.MethodDelete, "/v1/workflows", nil, nil)
	if err != nil {
		return err
	}
	return wantStatus(r, http.StatusMethodNotAllowed)
}

func netCases() []Case {
	return []Case{
		{ID: "net.did-from-peer-id", Section: "§11", Title: "the node's did:key is derived from its libp2p peer ID's Ed25519 key", run: caseDIDFromPeer},
		{ID: "net.peers", Section: "§11.6", Title: "GET /v1/peers: {peers: [{id, addrs?, did?}]}, each did derived from its id", run: casePeers},
	}
}

// didOfPeer derives a peer's did:key from its peer ID (§11).
func didOfPeer(id string) (string, error) {
	pid, err := peer.Decode(id)
	if err != nil {
		return "", fmt.Errorf("peer ID %q: %w", id, err)
	}
	pub, err := pid.ExtractPublicKey()
	if err != nil {
		return "", fmt.Errorf("peer ID %q holds no public key: %w", id, err)
	}
	raw, err := pub.Raw()
	if err != nil || len(raw) != 32 {
		return "", fmt.Errorf("peer ID %q is not an Ed25519 key", id)
	}
	return ucan.DIDFromPublicKey(raw), nil
}

func caseDIDFromPeer(ctx context.Context, s *suite) error {
	var id struct {
		DID    string `json:"did"`
		PeerID string `json:"peer_id"`
	}
	if err := s.getJSON(ctx, "/v1/id", &id); err != nil {
		return err
	}
	if id.PeerID == "" {
		return fmt.Errorf("GET /v1/id has no peer_id")
	}
	did, err := didOfPeer(id.PeerID)
	if err != nil {
		return err
	}
	if did != id.DID {
		return fmt.Errorf("peer %s derives %s, the node says %s", id.PeerID, did, id.DID)
	}
	return nil
}

func casePeers(ctx context.Context, s *suite) error {
	var p struct {
		Peers *[]struct {
			ID  string `json:"id"`
			DID string `json:"did"`
		} `json:"peers"`
	}
	if err := s.getJSON(ctx, "/v1/peers", &p); err != nil {
		return err
	}
	if p.Peers == nil {
		return fmt.Errorf("no peers list (want [] when alone)")
	}
	for _, x := range *p.Peers {
		if x.DID == "" {
			continue
		}
		did, err := didOfPeer(x.ID)
		if err != nil {
			return err
		}
		if did != x.DID {
			return fmt.Errorf("peer %s listed with did %s, derives %s", x.ID, x.DID, did)
		}
	}
	return nil
}

func caseBadAccept(ctx context.Context, s *suite) error {
	body := workflow("bad-accept", wasm("t", s.guest, "add_one", s.n(86)))
	r, err := s.do(ctx, http.MethodPost, "/v1/workflows", bytes.NewReader(body), map[string]string{"Content-Type": "application/json", "Accept": "text/event-stream;q=banana"})
	if err != nil {
		return err
	}
	return wantStatus(r, http.StatusBadRequest)
}

func caseAcceptQZero(ctx context.Context, s *suite) error {
	body := workflow("accept-q0", wasm("t", s.guest, "add_one", s.n(87)))
	r, err := s.do(ctx, http.MethodPost, "/v1/workflows", bytes.NewReader(body), map[string]string{"Content-Type": "application/json", "Accept": "text/event-stream;q=0, application/json"})
	if err != nil {
		return err
	}
	if err := wantStatus(r, http.StatusAccepted); err != nil {
		return err
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("Content-Type %q, want application/json", ct)
	}
	return nil
}

func caseStreamErrorFirst(ctx context.Context, s *suite) error {
	r, err := s.do(ctx, http.MethodPost, "/v1/workflows", strings.NewReader(`{"tasks": "no"}`), map[string]string{"Content-Type": "application/json", "Accept": "text/event-stream"})
	if err != nil {
		return err
	}
	return wantStatus(r, http.StatusBadRequest)
}

func caseReceiptDagJSON(ctx context.Context, s *suite) error {
	_, re, err := s.oneRun(ctx, "dag-json", wasm("t", s.guest, "add_one", s.n(88)))
	if err != nil {
		return err
	}
	r, err := s.get(ctx, "/v1/receipts/"+re.Receipt, map[string]string{"Accept": "application/vnd.ipld.dag-json"})
	if err != nil {
		return err
	}
	if r.status != http.StatusOK {
		return fmt.Errorf("GET /v1/receipts/%s: %s", re.Receipt, r)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.ipld.dag-json") {
		return fmt.Errorf("Content-Type %q, want application/vnd.ipld.dag-json", ct)
	}
	if _, err := spec.DecodeJSON(r.body, spec.Limits{}); err != nil {
		return fmt.Errorf("the view is not DAG-JSON: %w", err)
	}
	if h := r.header.Get("X-Ipvm-Receipt"); h != re.Receipt {
		return fmt.Errorf("X-Ipvm-Receipt %q, want %s", h, re.Receipt)
	}
	return nil
}

func caseHeaderTooLarge(ctx context.Context, s *suite) error {
	r, err := s.get(ctx, "/healthz", map[string]string{"X-Conformance-Padding": strings.Repeat("p", 80<<10)})
	if err != nil {
		return err
	}
	if r.status != http.StatusRequestHeaderFieldsTooLarge {
		return fmt.Errorf("want 431, got %s", r)
	}
	return nil
}
