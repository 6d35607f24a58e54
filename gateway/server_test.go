package gateway

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestConfigDefaults(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, ErrConfig) {
		t.Errorf("New without node: %v", err)
	}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Node: newFakeNode(), Metrics: m}); !errors.Is(err, ErrConfig) {
		t.Errorf("Metrics without Registry: %v", err)
	}
	s, err := New(Config{Node: newFakeNode()})
	if err != nil {
		t.Fatal(err)
	}
	c := s.cfg
	if c.MaxWorkflowBytes != 8<<20 || c.MaxBlobBytes != 64<<20 || c.MaxJSONDepth != 64 || c.MaxInFlight != 64 ||
		c.WriteTimeout != 30*time.Second || s.srv.ReadHeaderTimeout != 5*time.Second || s.srv.IdleTimeout != 120*time.Second {
		t.Errorf("defaults: %+v", c)
	}
	if s.Close() != nil || s.Close() != nil {
		t.Error("Close not idempotent")
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := s.Serve(context.Background(), ln); !errors.Is(err, ErrClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
}

// TestCloseEndsStreams: an open SSE stream gets an "error" event when the
// gateway closes, Serve returns nil, and the workflow's events are still
// drained once the node finishes.
func TestCloseEndsStreams(t *testing.T) {
	node := newFakeNode()
	node.hold = make(chan struct{})
	s, err := New(Config{Node: node})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background(), ln) }()
	req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/v1/workflows", strings.NewReader(wf3))
	req.Header.Set("Accept", MediaSSE)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for events := 0; events < 4; { // workflow + 3 receipts, then the node holds
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\n" {
			events++
		}
	}
	s.Close()
	rest := readSSE(t, br)
	if len(rest) != 1 || rest[0].Name != "error" || decode[errorBody](t, []byte(rest[0].Data)).Name != "Stopped" {
		t.Errorf("after Close: %+v", rest)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	close(node.hold)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown after the node finished: %v", err)
	}
	if st := s.recent.list(); len(st) != 1 || !st[0].Done {
		t.Errorf("recent after drain: %+v", st)
	}
}

// TestShutdownWaitsForStream: Shutdown lets an open stream finish and
// refuses new submissions meanwhile.
func TestShutdownWaitsForStream(t *testing.T) {
	node := newFakeNode()
	gate := make(chan struct{})
	node.gate = gate
	s, base := startServer(t, node, nil)
	req, _ := http.NewRequest("POST", base+"/v1/workflows", strings.NewReader(wf3))
	req.Header.Set("Accept", MediaSSE)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	eventually(t, "closing flag", s.closing.Load)
	rec := &recorder{ResponseWriter: newProbeWriter()}
	r, _ := http.NewRequest("POST", "/v1/workflows", strings.NewReader(wf3))
	r.RemoteAddr = "127.0.0.1:1"
	s.Handler().ServeHTTP(rec, r)
	if rec.status != http.StatusServiceUnavailable {
		t.Errorf("submit while shutting down: %d", rec.status)
	}
	for range 3 {
		gate <- struct{}{}
	}
	evs := readSSE(t, resp.Body)
	if len(evs) != 5 || evs[4].Name != "done" {
		t.Errorf("stream during shutdown: %+v", evs)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
