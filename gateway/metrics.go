package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the gateway's own Prometheus collectors: HTTP requests and
// workflows in flight. The node registers its collectors (tasks run, memo
// hits and misses, task duration, fuel, memory, receipts stored) in the same
// Registry, so GET /metrics serves both. All are safe for concurrent use.
type Metrics struct {
	// HTTPRequests counts responses by "code" and "path" (the route
	// pattern, e.g. "GET /v1/receipts/{cid}", or "unmatched").
	HTTPRequests *prometheus.CounterVec
	// HTTPDuration observes handler time in seconds by "path"; for an SSE
	// stream that is the whole stream, as long as its workflow runs.
	HTTPDuration *prometheus.HistogramVec
	// WorkflowsInFlight is the number of workflows submitted through the
	// gateway that have not finished.
	WorkflowsInFlight prometheus.Gauge
}

// NewMetrics makes the collectors and registers them with reg. It fails
// when reg already holds collectors of the same names.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipvm_http_requests_total", Help: "HTTP responses by status code and route.",
		}, []string{"code", "path"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ipvm_http_request_duration_seconds", Help: "HTTP handler time by route.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 4, 10),
		}, []string{"path"}),
		WorkflowsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ipvm_workflows_in_flight", Help: "Workflows submitted through the gateway and not finished.",
		}),
	}
	for _, c := range []prometheus.Collector{m.HTTPRequests, m.HTTPDuration, m.WorkflowsInFlight} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
