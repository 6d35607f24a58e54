package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/ipvm-go/ipvm/gateway/loadtest"
	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/node/daemon"
)

// gatewayClients is the number of concurrent keep-alive clients, below
// the gateway's default cap of 64 workflows in flight.
const gatewayClients = 16

// sseAccept asks POST /v1/workflows to stream the receipts and answer
// when the workflow is done.
var sseAccept = http.Header{"Accept": {"text/event-stream"}}

// Gateway measures the HTTP gateway (issue 5): requests per second for
// POST /v1/workflows of an already-memoized 3-task workflow through a real
// daemon (node on a temporary repo with badger, gateway, auth, memo
// hits) vs a plain net/http handler that reads the body and answers the
// same bytes, both over loopback from the same clients, in alternating
// rounds (loadtest.Compare). Goal ≥ 0.5×.
//
// The POST asks for the SSE stream, so a request ends when the node has
// answered every task (three receipts from the memo table, then "done").
// A plain 202 would end before the node's work, which then piles up
// behind the clients until the gateway's in-flight cap answers 429: the
// rate of 202s would measure the gateway, not the node behind it.
func Gateway(c Config) ([]Metric, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ipvm-bench-gw-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	repo, err := node.OpenRepo(dir)
	if err != nil {
		return nil, err
	}
	d, err := daemon.Start(ctx, daemon.Config{Repo: repo, API: "127.0.0.1:0", Grace: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	defer d.Close()
	n := d.Node()
	mod, _, err := n.AddBlob(ctx, bytes.NewReader(tinyWasm))
	if err != nil {
		return nil, err
	}
	body := []byte(fmt.Sprintf(`{"name":"bench-gateway","tasks":[`+
		`{"name":"a","args":{"mod":{"/":"%[1]s"},"fun":"add_one","params":[1]}},`+
		`{"name":"b","args":{"mod":{"/":"%[1]s"},"fun":"add_one","params":[{"await/ok":"a"}]}},`+
		`{"name":"c","args":{"mod":{"/":"%[1]s"},"fun":"add_one","params":[{"await/ok":"b"}]}}]}`, mod))
	// Run it once so that every task is memoized.
	if _, _, err := runJSON(ctx, n, body); err != nil {
		return nil, err
	}
	gwURL := d.URL() + "/v1/workflows"
	answer, err := post(ctx, gwURL, body)
	if err != nil {
		return nil, err
	}
	if again, err := post(ctx, gwURL, body); err != nil || !bytes.Equal(again, answer) {
		return nil, fmt.Errorf("%w: a second POST answered %q, the first %q (%v)", ErrMismatch, again, answer, err)
	}

	// The plain handler reads the body as the gateway does, then answers
	// the same bytes the same way: one write and flush per SSE event, so
	// both sides make the same number of write calls.
	events := bytes.SplitAfter(answer, []byte("\n\n"))
	plain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		for _, ev := range events {
			if len(ev) > 0 {
				_, _ = w.Write(ev)
				_ = rc.Flush()
			}
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: plain, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	plainURL := "http://" + ln.Addr().String() + "/v1/workflows"
	if got, err := post(ctx, plainURL, body); err != nil || !bytes.Equal(got, answer) {
		return nil, fmt.Errorf("%w: plain handler answered %q, %v", ErrMismatch, got, err)
	}

	p, g, err := loadtest.Compare(ctx,
		loadtest.Config{URL: plainURL, Body: body, Header: sseAccept, Want: http.StatusOK},
		loadtest.Config{URL: gwURL, Body: body, Header: sseAccept, Want: http.StatusOK},
		loadtest.Config{Clients: gatewayClients, Duration: time.Duration(c.pick(700, 100)) * time.Millisecond},
		c.pick(10, 1))
	if err != nil {
		return nil, err
	}
	if ex := n.Executions(); ex != 3 {
		return nil, fmt.Errorf("%w: %d executions, want the warm-up's 3 (every POST a memo hit)", ErrMismatch, ex)
	}
	return []Metric{
		atLeast("gateway_post_memoized_vs_plain_http", "req/s", g.PerSecond(), p.PerSecond(), 0.5,
			fmt.Sprintf("POST /v1/workflows (SSE: 3 receipts then done) of a memoized 3-task workflow through a real daemon vs a plain net/http handler answering the same %d bytes, one flush per event as the gateway; %d keep-alive clients, alternating rounds", len(answer), gatewayClients)),
	}, nil
}

// post sends body asking for the SSE stream and returns the answer,
// which must be 200.
func post(ctx context.Context, url string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = sseAccept.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: POST %s: %d %s", ErrMismatch, url, resp.StatusCode, b)
	}
	return b, nil
}
