package gateway

import (
	"context"
	"embed"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed openapi.json
var openAPI []byte

//go:embed dashboard
var dashboardFS embed.FS

// Server is the HTTP gateway in front of a Node. Its methods are safe for
// concurrent use. It owns the goroutines that drain submitted workflows'
// events; they end when the node closes each workflow's Events channel.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	handler http.Handler
	srv     *http.Server
	slots   chan struct{} // one token per workflow in flight
	recent  *recentList
	prom    http.Handler

	drains   sync.WaitGroup
	streams  sync.WaitGroup // open SSE streams
	closing  atomic.Bool
	done     chan struct{} // closed by stop: SSE streams end, drains go on
	stopOnce sync.Once
	served   atomic.Bool
}

// route is one entry of the mux; the OpenAPI test checks the document
// against this table and the mux against the document.
type route struct {
	pattern string // net/http pattern, "METHOD /path"
	handler func(*Server, http.ResponseWriter, *http.Request)
}

var routes = []route{
	{"POST /v1/workflows", (*Server).postWorkflow},
	{"GET /v1/workflows", (*Server).listWorkflows},
	{"GET /v1/workflows/{cid}", (*Server).getWorkflow},
	{"GET /v1/receipts/{cid}", (*Server).getReceipt},
	{"POST /v1/blobs", (*Server).postBlob},
	{"GET /v1/blobs/{cid}", (*Server).getBlob},
	{"POST /v1/revocations/{cid}", (*Server).postRevocation},
	{"GET /v1/offers", (*Server).getOffers},
	{"GET /v1/peers", (*Server).getPeers},
	{"GET /v1/id", (*Server).getID},
	{"GET /healthz", (*Server).healthz},
	{"GET /metrics", (*Server).metrics},
	{"GET /openapi.json", (*Server).openapi},
	{"GET /{$}", (*Server).dashboard},
	{"GET /static/{file}", (*Server).static},
}

// New makes a Server from cfg (see Config for defaults). It does not
// listen: call Serve, or mount Handler in a server of your own.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		mux:    http.NewServeMux(),
		slots:  make(chan struct{}, cfg.MaxInFlight),
		recent: newRecentList(cfg.Recent),
		done:   make(chan struct{}),
		prom:   promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}),
	}
	for _, rt := range routes {
		h := rt.handler
		s.mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) { h(s, w, r) })
	}
	s.handler = s.middleware(http.HandlerFunc(s.route))
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slogToLog(cfg),
	}
	return s, nil
}

// Handler returns the gateway's handler (routes, recovery, metrics), for
// tests or for mounting in another server. Timeouts are then that
// server's business.
func (s *Server) Handler() http.Handler { return s.handler }

// Metrics returns the collectors the node updates.
func (s *Server) Metrics() *Metrics { return s.cfg.Metrics }

// Serve accepts connections on ln until ctx is done (then it calls Close),
// or Shutdown or Close is called; it then returns nil. It returns
// ErrClosed when the server was already stopped, and other errors from
// accepting. Serve may be called once.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.closing.Load() || !s.served.CompareAndSwap(false, true) {
		ln.Close()
		return ErrClosed
	}
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	err := s.srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops the server gracefully: new submissions get 503, the
// listener closes, and it waits until every request, open SSE streams
// included, has finished (a stream ends when its workflow does), and until
// every submitted workflow's events are drained, or until ctx is done. On
// ctx expiry open streams are cut and ctx's error is returned. Call it
// while the node drains its tasks (or with a deadline), since streams wait
// for the node.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	err := s.srv.Shutdown(ctx)
	s.stop()
	drained := make(chan struct{})
	go func() { s.drains.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// Close stops the server at once: SSE streams end with an "error" event
// (given up to a second to write it), then listeners and connections
// close. Workflows keep running in the node; their events are still
// drained in the background. Close is idempotent and returns nil.
func (s *Server) Close() error {
	s.closing.Store(true)
	s.stop()
	return nil
}

// stop ends SSE streams, gives them up to a second to write their last
// event, then closes the listener and every connection.
func (s *Server) stop() {
	s.stopOnce.Do(func() {
		close(s.done)
		ended := make(chan struct{})
		go func() { s.streams.Wait(); close(ended) }()
		t := time.NewTimer(time.Second)
		defer t.Stop()
		select {
		case <-ended:
		case <-t.C:
		}
		s.srv.Close()
	})
}

// route dispatches through the mux, answering unmatched requests (404,
// 405 with Allow) with the gateway's JSON error body.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	probe := &statusProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	switch probe.status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", probe.header.Get("Allow"))
		writeError(w, probe.status, "MethodNotAllowed", r.Method+" not allowed on "+r.URL.Path)
	case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		w.Header().Set("Location", probe.header.Get("Location"))
		w.WriteHeader(probe.status)
	default:
		writeError(w, http.StatusNotFound, "NotFound", "no route for "+r.Method+" "+r.URL.Path)
	}
}

// statusProbe records what the mux's own 404/405/redirect handler would
// write, so route can answer in JSON instead.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(code int)        { p.status = code }

// openapi serves the embedded OpenAPI document.
func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	s.prom.ServeHTTP(w, r)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if s.closing.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "stopping"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// retryAfter is the Retry-After header value in whole seconds.
func (s *Server) retryAfter() string {
	secs := int((s.cfg.RetryAfter + time.Second - 1) / time.Second)
	return itoa(secs)
}
