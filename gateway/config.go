package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Server. Every zero value means the default given.
type Config struct {
	// Node serves the requests. Required.
	Node Node

	// Registry receives the gateway's metrics and is what GET /metrics
	// serves, so the node can register its own collectors in it too.
	// Default: a new registry.
	Registry *prometheus.Registry
	// Metrics are the gateway's own collectors (HTTP requests, workflows
	// in flight). When set, they must have been made by NewMetrics with
	// Registry. Default: NewMetrics(Registry).
	Metrics *Metrics

	// Logger receives request failures and recovered panics. Default:
	// discard.
	Logger *slog.Logger

	// MaxWorkflowBytes caps a workflow body (POST /v1/workflows); larger
	// bodies get 413. Default 8 MiB.
	MaxWorkflowBytes int64
	// MaxBlobBytes caps a blob upload (POST /v1/blobs). Default 64 MiB.
	MaxBlobBytes int64
	// MaxJSONDepth caps the nesting of arrays and objects in a workflow
	// body, checked before the node parses it; deeper bodies get 400.
	// Default 64.
	MaxJSONDepth int
	// MaxInFlight caps the workflows submitted through this gateway that
	// have not finished; when full, POST /v1/workflows gets 429 with
	// Retry-After. Default 64.
	MaxInFlight int
	// RetryAfter is the Retry-After given with a 429, rounded up to whole
	// seconds. Default 1s.
	RetryAfter time.Duration
	// Recent is how many recent submissions the gateway remembers for
	// GET /v1/workflows and the dashboard. Default 50.
	Recent int

	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are set
	// on the http.Server. An SSE stream extends its write deadline by
	// WriteTimeout before every event and lifts the read deadline once the
	// body is read, so streams may outlive both. Defaults: 5s, 30s, 30s,
	// 120s.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// MaxHeaderBytes caps request headers. Default 64 KiB.
	MaxHeaderBytes int
	// KeepAlive is the interval of SSE comment lines sent while no event
	// is due, so proxies and clients see the stream alive. Default 15s.
	KeepAlive time.Duration
}

func (c Config) withDefaults() (Config, error) {
	if c.Node == nil {
		return c, fmt.Errorf("%w: Node is nil", ErrConfig)
	}
	if c.Registry == nil {
		if c.Metrics != nil {
			return c, fmt.Errorf("%w: Metrics set without its Registry", ErrConfig)
		}
		c.Registry = prometheus.NewRegistry()
	}
	if c.Metrics == nil {
		m, err := NewMetrics(c.Registry)
		if err != nil {
			return c, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		c.Metrics = m
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	def := func(p *int64, v int64) {
		if *p <= 0 {
			*p = v
		}
	}
	defI := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	defD := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&c.MaxWorkflowBytes, 8<<20)
	def(&c.MaxBlobBytes, 64<<20)
	defI(&c.MaxJSONDepth, 64)
	defI(&c.MaxInFlight, 64)
	defI(&c.Recent, 50)
	defI(&c.MaxHeaderBytes, 64<<10)
	defD(&c.RetryAfter, time.Second)
	defD(&c.ReadHeaderTimeout, 5*time.Second)
	defD(&c.ReadTimeout, 30*time.Second)
	defD(&c.WriteTimeout, 30*time.Second)
	defD(&c.IdleTimeout, 120*time.Second)
	defD(&c.KeepAlive, 15*time.Second)
	return c, nil
}
