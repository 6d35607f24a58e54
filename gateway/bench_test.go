package gateway

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/ipvm-go/ipvm/gateway/loadtest"
)

// memoNode answers every submission of a known workflow at once from a
// map, as a node does for a workflow whose tasks are all memoized.
type memoNode struct {
	*fakeNode
	known map[string]memoAnswer
}

type memoAnswer struct {
	sub    Submission
	events []TaskEvent
}

func (m *memoNode) Submit(ctx context.Context, body []byte, a Auth) (*Submission, error) {
	ans, ok := m.known[string(body)]
	if !ok {
		return m.fakeNode.Submit(ctx, body, a)
	}
	ch := make(chan TaskEvent, len(ans.events))
	for _, ev := range ans.events {
		ch <- ev
	}
	close(ch)
	sub := ans.sub
	sub.Events = ch
	return &sub, nil
}

// newMemoNode runs wf once on a fake node and remembers its answer.
func newMemoNode(tb testing.TB, wf string) *memoNode {
	f := newFakeNode()
	sub, err := f.Submit(context.Background(), []byte(wf), Auth{Loopback: true})
	if err != nil {
		tb.Fatal(err)
	}
	var evs []TaskEvent
	for ev := range sub.Events {
		ev.Cached = true
		evs = append(evs, ev)
	}
	sub.Events = nil
	return &memoNode{fakeNode: f, known: map[string]memoAnswer{wf: {sub: *sub, events: evs}}}
}

// BenchmarkPostMemoized compares POST /v1/workflows of an already-memoized
// workflow through the gateway (fake node answering from a map) with a
// plain net/http handler that returns the same bytes, both over loopback
// with 64 concurrent keep-alive clients. The goal is gateway ≥ 0.5× plain.
func BenchmarkPostMemoized(b *testing.B) {
	node := newMemoNode(b, wf3)
	_, base := startServer(b, node, func(c *Config) { c.MaxInFlight = 1024 })
	code, _, answer := do(b, "POST", base+"/v1/workflows", wf3)
	if code != http.StatusAccepted {
		b.Fatalf("warm-up POST: %d %s", code, answer)
	}

	plain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body as the gateway does, then answer the same bytes.
		buf := make([]byte, 4096)
		for {
			if _, err := r.Body.Read(buf); err != nil {
				break
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		w.Write(answer)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: plain}
	go srv.Serve(ln)
	defer srv.Close()

	plainURL, gatewayURL := "http://"+ln.Addr().String()+"/v1/workflows", base+"/v1/workflows"
	run := func(b *testing.B, url string, n int64) loadtest.Result {
		res, err := loadtest.Run(context.Background(), loadtest.Config{
			URL: url, Body: []byte(wf3), Clients: 64, Requests: n, Want: http.StatusAccepted,
		})
		if err != nil {
			b.Fatal(err)
		}
		return res
	}
	for _, tc := range []struct{ name, url string }{{"plain", plainURL}, {"gateway", gatewayURL}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportMetric(run(b, tc.url, int64(b.N)).PerSecond(), "req/s")
		})
	}
	// Interleaved rounds, so that load from elsewhere on the machine falls
	// on both sides alike; reports both rates and their ratio.
	b.Run("ratio", func(b *testing.B) {
		const rounds = 10
		body := []byte(wf3)
		p, g, err := loadtest.Compare(context.Background(),
			loadtest.Config{URL: plainURL, Body: body, Want: http.StatusAccepted},
			loadtest.Config{URL: gatewayURL, Body: body, Want: http.StatusAccepted},
			loadtest.Config{Clients: 64, Requests: max(int64(b.N)/rounds, 64)}, rounds)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(p.PerSecond(), "plain-req/s")
		b.ReportMetric(g.PerSecond(), "gateway-req/s")
		b.ReportMetric(g.PerSecond()/p.PerSecond(), "ratio")
	})
}
