// Package bench holds the project's performance metrics, the goals the
// issues state as ratios: each figure is measured side by side with its
// floor (the bare library call or plain program it is built on) in the
// same process, and reported as a Metric with its ratio and goal.
// `ipvm bench` (and scripts/bench) runs every Suite in Suites and prints
// one line per metric; TestSuites runs them in a reduced form.
//
// The suites: datamodel (receipt sign and verify vs Ed25519), executor
// (memo hit vs badger Get, fresh tiny task vs raw wazero + sign, tasks/s),
// fuel (metered vs unmetered vs close-on-context-done), ucan (3-deep chain
// vs go-ucan decode+verify), gateway (a real daemon vs a plain net/http
// handler), network (remote receipt on ten libp2p hosts vs raw DHT find +
// stream) and placement (bytes moved vs the better fixed strategy).
//
// Pairs are interleaved (ours, floor, ours, floor, …) so that load from
// elsewhere on a shared machine falls on both alike; single-threaded pairs
// are timed in process CPU time, the others in wall time. The suites are
// written against the packages' public APIs: the packages' own
// go test -bench benchmarks stay where they are, since those packages'
// in-package tests cannot import this package without an import cycle.
package bench
