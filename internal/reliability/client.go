package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/receipt"
	"github.com/ipvm-go/ipvm/spec"
)

// Ack is a receipt the gateway reported to the client: the task and the
// receipt CID, and (when the client fetched them while the daemon ran)
// the signed bytes it served then.
type Ack struct {
	Task    cid.Cid
	Receipt cid.Cid
	Bytes   []byte
}

// Client talks to one gateway.
type Client struct {
	Base string
	HTTP *http.Client
}

// NewClient returns a client for the gateway at base with its own
// keep-alive pool.
//
// conns bounds the idle connections kept, not the open ones: a worker
// reading an event stream fetches each receipt on a second connection while
// the stream's stays open, so a cap of conns on open connections deadlocks
// as soon as every worker is inside a stream at once.
func NewClient(base string, conns int) *Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 2 * conns, DisableCompression: true}
	return &Client{Base: base, HTTP: &http.Client{Transport: tr}}
}

// Close drops the client's idle connections.
func (c *Client) Close() { c.HTTP.CloseIdleConnections() }

// AddBlob uploads b and returns its CID.
func (c *Client) AddBlob(ctx context.Context, b []byte) (cid.Cid, error) {
	resp, err := c.do(ctx, http.MethodPost, "/v1/blobs", b, nil)
	if err != nil {
		return cid.Undef, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return cid.Undef, statusErr(resp)
	}
	var out struct{ CID string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return cid.Undef, err
	}
	return spec.ParseCID(out.CID)
}

// Accepted is the gateway's answer to a submission.
type Accepted struct {
	Workflow string `json:"workflow"`
	Tasks    []struct {
		Name string `json:"name"`
		Task string `json:"task"`
	} `json:"tasks"`
}

// Submit posts a workflow for a 202 answer. A 429 is ErrBusy, with the
// Retry-After the gateway asked for.
func (c *Client) Submit(ctx context.Context, wf []byte) (*Accepted, time.Duration, error) {
	resp, err := c.do(ctx, http.MethodPost, "/v1/workflows", wf, map[string]string{"Content-Type": "application/json"})
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests {
		io.Copy(io.Discard, resp.Body)
		return nil, retryAfter(resp), ErrBusy
	}
	if resp.StatusCode != http.StatusAccepted {
		return nil, 0, statusErr(resp)
	}
	var a Accepted
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return nil, 0, err
	}
	return &a, 0, nil
}

// ReceiptEvent is an SSE receipt event.
type ReceiptEvent struct {
	Name    string          `json:"name"`
	Task    string          `json:"task"`
	Receipt string          `json:"receipt"`
	Out     json.RawMessage `json:"out"`
	Cached  bool            `json:"cached"`
}

// SubmitStream posts a workflow asking for the event stream and calls
// onReceipt for each receipt event as it arrives. It returns the workflow
// event's body once the stream ends with done, ErrBusy on a 429, or the
// error that cut the stream.
func (c *Client) SubmitStream(ctx context.Context, wf []byte, onReceipt func(ReceiptEvent)) (*Accepted, time.Duration, error) {
	resp, err := c.do(ctx, http.MethodPost, "/v1/workflows", wf, map[string]string{
		"Content-Type": "application/json", "Accept": "text/event-stream"})
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests {
		io.Copy(io.Discard, resp.Body)
		return nil, retryAfter(resp), ErrBusy
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, statusErr(resp)
	}
	var acc *Accepted
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var name string
	var data []byte
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			switch name {
			case "workflow":
				acc = new(Accepted)
				if err := json.Unmarshal(data, acc); err != nil {
					return nil, 0, err
				}
			case "receipt":
				var ev ReceiptEvent
				if err := json.Unmarshal(data, &ev); err != nil {
					return acc, 0, err
				}
				onReceipt(ev)
			case "done":
				return acc, 0, nil
			case "error":
				return acc, 0, fmt.Errorf("stream error event: %s", data)
			}
			name, data = "", nil
		case strings.HasPrefix(line, "event:"):
			name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")...)
		}
	}
	if err := sc.Err(); err != nil {
		return acc, 0, err
	}
	return acc, 0, io.ErrUnexpectedEOF
}

// TaskState is one task's line in GET /v1/workflows/{cid}.
type TaskState struct {
	Name    string `json:"name"`
	Task    string `json:"task"`
	State   string `json:"state"`
	Receipt string `json:"receipt"`
}

// WorkflowState is GET /v1/workflows/{cid}.
type WorkflowState struct {
	Workflow string      `json:"workflow"`
	Done     bool        `json:"done"`
	Tasks    []TaskState `json:"tasks"`
}

// Workflow fetches a workflow's state.
func (c *Client) Workflow(ctx context.Context, wf string) (*WorkflowState, error) {
	resp, err := c.do(ctx, http.MethodGet, "/v1/workflows/"+wf, nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, statusErr(resp)
	}
	var s WorkflowState
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

// ReceiptBytes fetches the signed DAG-CBOR bytes of a receipt by receipt
// CID or task CID, and the receipt CID the gateway names in
// X-Ipvm-Receipt.
func (c *Client) ReceiptBytes(ctx context.Context, key cid.Cid) ([]byte, string, error) {
	resp, err := c.do(ctx, http.MethodGet, "/v1/receipts/"+key.String(), nil, map[string]string{
		"Accept": "application/vnd.ipld.dag-cbor"})
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", statusErr(resp)
	}
	b, err := io.ReadAll(resp.Body)
	return b, resp.Header.Get("X-Ipvm-Receipt"), err
}

// Check fetches an acknowledged receipt by receipt CID and by task CID and
// reports whether it is lost (not served) or corrupt (served, but the
// bytes differ from those acknowledged, do not hash to the receipt CID,
// or do not decode and verify for the task). err is a transport error.
func (c *Client) Check(ctx context.Context, a Ack) (lost, corrupt bool, detail string, err error) {
	byRcpt, _, err := c.ReceiptBytes(ctx, a.Receipt)
	if err != nil {
		if isStatus(err, http.StatusNotFound) {
			return true, false, "not found by receipt CID", nil
		}
		return false, false, "", err
	}
	byTask, named, err := c.ReceiptBytes(ctx, a.Task)
	if err != nil {
		if isStatus(err, http.StatusNotFound) {
			return true, false, "not found by task CID", nil
		}
		return false, false, "", err
	}
	switch {
	case a.Bytes != nil && !bytes.Equal(byRcpt, a.Bytes):
		return false, true, "bytes differ from those served before the kill", nil
	case !bytes.Equal(byRcpt, byTask):
		return false, true, fmt.Sprintf("by task CID the gateway serves %s", named), nil
	}
	if !spec.SumCBOR(byRcpt).Equals(a.Receipt) {
		return false, true, "bytes do not hash to the receipt CID", nil
	}
	s, err := receipt.Decode(byRcpt)
	if err != nil {
		return false, true, "decode: " + err.Error(), nil
	}
	if err := s.Verify(a.Task); err != nil {
		return false, true, "verify: " + err.Error(), nil
	}
	return false, false, "", nil
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, hdr map[string]string) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, r)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return c.HTTP.Do(req)
}

type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%v %d: %s", ErrStatus, e.code, e.body)
}

func (e *statusError) Unwrap() error { return ErrStatus }

func statusErr(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return &statusError{code: resp.StatusCode, body: strings.TrimSpace(string(b))}
}

func isStatus(err error, code int) bool {
	var se *statusError
	return errors.As(err, &se) && se.code == code
}

func retryAfter(resp *http.Response) time.Duration {
	s, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || s <= 0 {
		return 100 * time.Millisecond
	}
	return time.Duration(s) * time.Second
}

// SmallWorkflow returns a small workflow whose tasks all execute (their params
// derive from seed, so no two seeds share a task): k independent adds and
// one that awaits the first, on the module mod (examples/hello.wasm).
func SmallWorkflow(mod cid.Cid, seed int64, k int) []byte {
	var b strings.Builder
	m := mod.String()
	fmt.Fprintf(&b, `{"name":"w%d","tasks":[`, seed)
	for i := range k {
		fmt.Fprintf(&b, `{"name":"t%d","args":{"mod":{"/":"%s"},"fun":"add","params":[%d,%d]}},`, i, m, seed, i)
	}
	fmt.Fprintf(&b, `{"name":"chain","args":{"mod":{"/":"%s"},"fun":"add","params":[{"await/ok":"t0"},%d]}}]}`, m, seed)
	return []byte(b.String())
}
