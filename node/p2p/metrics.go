package p2p

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports the host's Stats as Prometheus counters (prefix
// ipvm_p2p_), for the node's /metrics registry:
//
//	reg.MustRegister(h.Collector())
func (n *Host) Collector() prometheus.Collector { return collector{n} }

type collector struct{ n *Host }

var (
	descReceipts = prometheus.NewDesc("ipvm_p2p_receipts_total",
		"Receipts over the network by result (fetched, rejected, served).", []string{"result"}, nil)
	descBlocks = prometheus.NewDesc("ipvm_p2p_blocks_total",
		"Blocks over the network by result (fetched, rejected, served).", []string{"result"}, nil)
	descProvides = prometheus.NewDesc("ipvm_p2p_provides_total",
		"DHT provides by result (done, failed, dropped).", []string{"result"}, nil)
	descFaults = prometheus.NewDesc("ipvm_p2p_peer_faults_total",
		"Peer misbehaviour handled, by kind (framing, penalised, disconnected, streams_refused).", []string{"kind"}, nil)
	descBytes = prometheus.NewDesc("ipvm_p2p_bytes_total",
		"Bytes on ipvm protocol streams by protocol and direction.", []string{"protocol", "direction"}, nil)
	descPeers = prometheus.NewDesc("ipvm_p2p_peers",
		"Connected peers.", nil, nil)
)

// Describe sends the metric descriptions.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReceipts, descBlocks, descProvides, descFaults, descBytes, descPeers} {
		ch <- d
	}
}

// Collect sends the current values.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.n.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(descReceipts, s.ReceiptsFetched, "fetched")
	counter(descReceipts, s.ReceiptsRejected, "rejected")
	counter(descReceipts, s.ReceiptsServed, "served")
	counter(descBlocks, s.BlocksFetched, "fetched")
	counter(descBlocks, s.BlocksRejected, "rejected")
	counter(descBlocks, s.BlocksServed, "served")
	counter(descProvides, s.Provided, "done")
	counter(descProvides, s.ProvideFailed, "failed")
	counter(descProvides, s.ProvideDropped, "dropped")
	counter(descFaults, s.FramingFaults, "framing")
	counter(descFaults, s.PeersPenalised, "penalised")
	counter(descFaults, s.PeersDisconnect, "disconnected")
	counter(descFaults, s.StreamsRefused, "streams_refused")
	for p, t := range s.Traffic {
		counter(descBytes, t.In, string(p), "in")
		counter(descBytes, t.Out, string(p), "out")
	}
	ch <- prometheus.MustNewConstMetric(descPeers, prometheus.GaugeValue, float64(len(c.n.h.Network().Peers())))
}
