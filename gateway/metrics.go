package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus collectors served on GET /metrics. The
// gateway updates HTTPRequests, HTTPDuration and WorkflowsInFlight; the
// node updates the rest. All are safe for concurrent use.
type Metrics struct {
	// TasksRun counts tasks executed (not memo hits), by outcome
	// label "result" = "ok" | "err".
	TasksRun *prometheus.CounterVec
	// MemoHits and MemoMisses count memo table lookups before running a
	// task (a hit from the local store or the network).
	MemoHits   prometheus.Counter
	MemoMisses prometheus.Counter
	// TaskDuration observes the wall time of executed tasks, in seconds.
	TaskDuration prometheus.Histogram
	// FuelUsed counts fuel spent by executed tasks.
	FuelUsed prometheus.Counter
	// MemoryUsed observes the peak guest memory of executed tasks, bytes.
	MemoryUsed prometheus.Histogram
	// ReceiptsStored counts receipts written to the store.
	ReceiptsStored prometheus.Counter

	// HTTPRequests counts responses by "code" and "path" (the route
	// pattern, e.g. "GET /v1/receipts/{cid}", or "unmatched").
	HTTPRequests *prometheus.CounterVec
	// HTTPDuration observes handler time in seconds by "path"; for SSE it
	// is the time to the submission's answer, not the stream's length.
	HTTPDuration *prometheus.HistogramVec
	// WorkflowsInFlight is the number of workflows submitted through the
	// gateway that have not finished.
	WorkflowsInFlight prometheus.Gauge
}

// NewMetrics makes the collectors and registers them with reg. It fails
// when reg already holds collectors of the same names.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		TasksRun: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipvm_tasks_run_total", Help: "Tasks executed (memo misses that ran), by result.",
		}, []string{"result"}),
		MemoHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipvm_memo_hits_total", Help: "Tasks answered from the memo table.",
		}),
		MemoMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipvm_memo_misses_total", Help: "Tasks not found in the memo table.",
		}),
		TaskDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ipvm_task_duration_seconds", Help: "Wall time of executed tasks.",
			Buckets: prometheus.ExponentialBuckets(10e-6, 4, 12),
		}),
		FuelUsed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipvm_fuel_used_total", Help: "Fuel spent by executed tasks.",
		}),
		MemoryUsed: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ipvm_task_memory_bytes", Help: "Peak guest memory of executed tasks.",
			Buckets: prometheus.ExponentialBuckets(64<<10, 4, 9),
		}),
		ReceiptsStored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipvm_receipts_stored_total", Help: "Receipts written to the store.",
		}),
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
	for _, c := range []prometheus.Collector{m.TasksRun, m.MemoHits, m.MemoMisses, m.TaskDuration,
		m.FuelUsed, m.MemoryUsed, m.ReceiptsStored, m.HTTPRequests, m.HTTPDuration, m.WorkflowsInFlight} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
