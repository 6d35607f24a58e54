package conformance

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/receipt"
)

//go:embed testdata/*.wasm testdata/vectors.json
var testdata embed.FS

// maxBody bounds what the suite reads of any answer.
const maxBody = 64 << 20

// response is an HTTP answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) String() string {
	b := r.body
	if len(b) > 300 {
		b = append(b[:300:300], "…"...)
	}
	return fmt.Sprintf("%d %s", r.status, strings.TrimSpace(string(b)))
}

// errorBody is the gateway's JSON error (§10).
type errorBody struct {
	Error string `json:"error"`
	Name  string `json:"name"`
}

// do sends a request and reads the whole answer.
func (s *suite) do(ctx context.Context, method, path string, body io.Reader, header map[string]string) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func (s *suite) get(ctx context.Context, path string, header map[string]string) (*response, error) {
	return s.do(ctx, http.MethodGet, path, nil, header)
}

// getJSON GETs path and decodes a 200 JSON answer into v.
func (s *suite) getJSON(ctx context.Context, path string, v any) error {
	r, err := s.get(ctx, path, nil)
	if err != nil {
		return err
	}
	if r.status != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, r)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		return fmt.Errorf("GET %s: not JSON: %w", path, err)
	}
	return nil
}

// putBlob uploads b and returns the CID the node names it by.
func (s *suite) putBlob(ctx context.Context, b []byte) (string, error) {
	r, err := s.do(ctx, http.MethodPost, "/v1/blobs", bytes.NewReader(b), map[string]string{"Content-Type": "application/octet-stream"})
	if err != nil {
		return "", err
	}
	if r.status != http.StatusCreated {
		return "", fmt.Errorf("POST /v1/blobs: want 201, got %s", r)
	}
	var body struct {
		CID  string `json:"cid"`
		Size uint64 `json:"size"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		return "", fmt.Errorf("POST /v1/blobs: %w", err)
	}
	if body.Size != uint64(len(b)) {
		return "", fmt.Errorf("POST /v1/blobs: size %d, want %d", body.Size, len(b))
	}
	return body.CID, nil
}

// submitted is the 202 answer to POST /v1/workflows.
type submitted struct {
	Workflow string `json:"workflow"`
	Tasks    []struct {
		Name string `json:"name"`
		Task string `json:"task"`
	} `json:"tasks"`
}

func (sb *submitted) task(name string) string {
	for _, t := range sb.Tasks {
		if t.Name == name {
			return t.Task
		}
	}
	return ""
}

// post submits a workflow body without waiting for it, with an optional
// bearer token.
func (s *suite) post(ctx context.Context, body []byte, token string) (*response, error) {
	h := map[string]string{"Content-Type": "application/json", "Accept": "application/json"}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return s.do(ctx, http.MethodPost, "/v1/workflows", bytes.NewReader(body), h)
}

// submit posts a workflow that must be accepted (202) and returns its
// answer.
func (s *suite) submit(ctx context.Context, body []byte, token string) (*submitted, error) {
	r, err := s.post(ctx, body, token)
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusAccepted {
		return nil, fmt.Errorf("POST /v1/workflows: want 202, got %s", r)
	}
	var sb submitted
	if err := json.Unmarshal(r.body, &sb); err != nil {
		return nil, fmt.Errorf("POST /v1/workflows: %w", err)
	}
	return &sb, nil
}

// sseEvent is one event of a stream.
type sseEvent struct {
	name string
	id   string
	data string
}

// receiptEvent is the data of a "receipt" event (§10).
type receiptEvent struct {
	Name    string          `json:"name"`
	Task    string          `json:"task"`
	Receipt string          `json:"receipt"`
	Out     json.RawMessage `json:"out"`
	Cached  bool            `json:"cached"`
}

// doneEvent is the data of the "done" event (§10).
type doneEvent struct {
	Workflow string `json:"workflow"`
	Tasks    int    `json:"tasks"`
	Ok       int    `json:"ok"`
	Failed   int    `json:"failed"`
	Cached   int    `json:"cached"`
}

// stream is a workflow run through the event stream.
type stream struct {
	events   []sseEvent
	workflow submitted
	receipts map[string]receiptEvent
	done     *doneEvent
}

// ev returns the receipt event of the task named name.
func (st *stream) ev(name string) (receiptEvent, error) {
	e, ok := st.receipts[name]
	if !ok {
		return e, fmt.Errorf("no receipt event for task %q (stream: %d events)", name, len(st.events))
	}
	return e, nil
}

// run posts a workflow with Accept: text/event-stream and reads the
// stream to its end. It fails unless the stream is well formed and ends
// with "done".
func (s *suite) run(ctx context.Context, body []byte, token string) (*stream, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/v1/workflows", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("POST /v1/workflows (event stream): want 200, got %d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return nil, fmt.Errorf("event stream Content-Type %q", ct)
	}
	evs, err := readSSE(resp.Body)
	if err != nil {
		return nil, err
	}
	st := &stream{events: evs, receipts: map[string]receiptEvent{}}
	for i, e := range evs {
		if e.id != strconv.Itoa(i+1) {
			return st, fmt.Errorf("event %d (%s) has id %q, want %d", i+1, e.name, e.id, i+1)
		}
		switch e.name {
		case "workflow":
			if i != 0 {
				return st, fmt.Errorf("workflow event at position %d, want first", i+1)
			}
			if err := json.Unmarshal([]byte(e.data), &st.workflow); err != nil {
				return st, fmt.Errorf("workflow event: %w", err)
			}
		case "receipt":
			var re receiptEvent
			if err := json.Unmarshal([]byte(e.data), &re); err != nil {
				return st, fmt.Errorf("receipt event: %w", err)
			}
			if _, dup := st.receipts[re.Name]; dup {
				return st, fmt.Errorf("two receipt events for task %q", re.Name)
			}
			st.receipts[re.Name] = re
		case "done":
			if i != len(evs)-1 {
				return st, fmt.Errorf("done event at position %d of %d, want last", i+1, len(evs))
			}
			st.done = new(doneEvent)
			if err := json.Unmarshal([]byte(e.data), st.done); err != nil {
				return st, fmt.Errorf("done event: %w", err)
			}
		case "error":
			return st, fmt.Errorf("error event: %s", e.data)
		default:
			return st, fmt.Errorf("unknown event %q", e.name)
		}
	}
	if st.done == nil {
		return st, fmt.Errorf("stream ended without a done event (%d events)", len(evs))
	}
	if len(evs) == 0 || evs[0].name != "workflow" {
		return st, fmt.Errorf("stream does not start with a workflow event")
	}
	return st, nil
}

// readSSE parses an event stream: "field: value" lines, events ended by
// a blank line, ":" comment lines skipped.
func readSSE(r io.Reader) ([]sseEvent, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxBody))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var out []sseEvent
	var cur sseEvent
	have := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if have {
				out = append(out, cur)
			}
			cur, have = sseEvent{}, false
		case strings.HasPrefix(line, ":"):
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			have = true
			switch field {
			case "event":
				cur.name = value
			case "id":
				cur.id = value
			case "data":
				if cur.data != "" {
					return out, fmt.Errorf("event %q has more than one data line", cur.name)
				}
				cur.data = value
			default:
				return out, fmt.Errorf("unknown event stream field %q", field)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return out, err
	}
	if have {
		return out, fmt.Errorf("event stream ends inside an event (no blank line after %q)", cur.name)
	}
	return out, nil
}

// receiptBytes fetches the signed bytes of a receipt by receipt or task
// CID, checking the media type and the X-Ipvm-Receipt header.
func (s *suite) receiptBytes(ctx context.Context, c string) ([]byte, string, error) {
	r, err := s.get(ctx, "/v1/receipts/"+c, map[string]string{"Accept": "application/vnd.ipld.dag-cbor"})
	if err != nil {
		return nil, "", err
	}
	if r.status != http.StatusOK {
		return nil, "", fmt.Errorf("GET /v1/receipts/%s: %s", c, r)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.ipld.dag-cbor") {
		return nil, "", fmt.Errorf("GET /v1/receipts/%s: Content-Type %q, want application/vnd.ipld.dag-cbor", c, ct)
	}
	return r.body, r.header.Get("X-Ipvm-Receipt"), nil
}

// verifiedReceipt fetches a receipt by its CID, checks that the bytes
// hash to that CID, decodes them strictly and verifies the signature
// and that it names task: the suite's own check, not the node's.
func (s *suite) verifiedReceipt(ctx context.Context, receiptCID, task string) (*receipt.Signed, error) {
	b, _, err := s.receiptBytes(ctx, receiptCID)
	if err != nil {
		return nil, err
	}
	rc, err := cid.Decode(receiptCID)
	if err != nil {
		return nil, fmt.Errorf("receipt CID %q: %w", receiptCID, err)
	}
	if err := checkCID(rc, b); err != nil {
		return nil, fmt.Errorf("receipt %s: %w", receiptCID, err)
	}
	sig, err := receipt.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("receipt %s does not decode: %w", receiptCID, err)
	}
	tc, err := cid.Decode(task)
	if err != nil {
		return nil, fmt.Errorf("task CID %q: %w", task, err)
	}
	if err := sig.Verify(tc); err != nil {
		return nil, fmt.Errorf("receipt %s does not verify: %w", receiptCID, err)
	}
	return sig, nil
}
