package node

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipvm-go/ipvm/node/exec"
	"github.com/ipvm-go/ipvm/spec"
)

// Metrics are the node's Prometheus collectors. Register them with
// Register; the gateway serves the registry at /metrics.
type Metrics struct {
	TasksRun       *prometheus.CounterVec // by outcome: ok or the error name
	MemoHits       prometheus.Counter
	MemoMisses     prometheus.Counter
	TaskDuration   prometheus.Histogram
	FuelUsed       prometheus.Counter
	MemoryPeak     prometheus.Histogram
	ReceiptsStored prometheus.Counter
	NetReceipts    *prometheus.CounterVec // receipts from peers, by outcome: accepted or rejected
}

func newMetrics() *Metrics {
	return &Metrics{
		TasksRun: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipvm_tasks_run_total", Help: "Wasm tasks executed, by outcome (ok or the error name).",
		}, []string{"outcome"}),
		MemoHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipvm_memo_hits_total", Help: "Tasks answered from the memo table without executing.",
		}),
		MemoMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipvm_memo_misses_total", Help: "Pure tasks looked up in the memo table and not found.",
		}),
		TaskDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ipvm_task_duration_seconds", Help: "Wall time of executed tasks.",
			Buckets: prometheus.ExponentialBuckets(10e-6, 4, 12),
		}),
		FuelUsed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipvm_fuel_used_total", Help: "Fuel used by executed tasks.",
		}),
		MemoryPeak: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ipvm_task_memory_bytes", Help: "Peak linear memory of executed tasks.",
			Buckets: prometheus.ExponentialBuckets(64<<10, 4, 10),
		}),
		ReceiptsStored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipvm_receipts_stored_total", Help: "Receipts signed or verified and stored.",
		}),
		NetReceipts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipvm_network_receipts_total", Help: "Receipts fetched from peers, by outcome.",
		}, []string{"outcome"}),
	}
}

// Register adds the collectors to reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.TasksRun, m.MemoHits, m.MemoMisses, m.TaskDuration, m.FuelUsed, m.MemoryPeak, m.ReceiptsStored, m.NetReceipts} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *Metrics) observeRun(out spec.Result, st exec.Stats) {
	outcome := "ok"
	if out.Err != nil {
		outcome = out.Err.Name
	}
	m.TasksRun.WithLabelValues(outcome).Inc()
	m.TaskDuration.Observe(st.Duration.Seconds())
	m.FuelUsed.Add(float64(st.Fuel))
	m.MemoryPeak.Observe(float64(st.PeakMemoryBytes))
}
