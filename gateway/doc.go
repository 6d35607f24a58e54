// Package gateway serves a node over HTTP: workflows, receipts, blobs,
// offers, health, metrics, the OpenAPI document and the dashboard.
//
// The gateway knows the node only through the small Node interface defined
// here; the node package implements it and tests use a fake. Errors from
// the node choose the HTTP status through the sentinels in errors.go
// (ErrBadRequest, ErrUnauthorized, ErrForbidden, ErrNotFound, ErrBusy,
// ErrStopped) or the StatusError interface; spec/SPEC.md §10 describes
// every endpoint, body and status.
//
// Wiring it in a daemon:
//
//	reg := prometheus.NewRegistry()          // the node registers its metrics here too
//	gw, err := gateway.New(gateway.Config{Node: n, Registry: reg, Logger: log})
//	if err != nil { ... }
//	ln, err := net.Listen("tcp", "127.0.0.1:5080")
//	go gw.Serve(ctx, ln)                     // returns nil after Shutdown or Close
//	...
//	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
//	gw.Shutdown(shutdownCtx)                 // refuses new work, lets streams finish
//
// Then, from a shell:
//
//	curl -X POST --data-binary @workflow.json http://127.0.0.1:5080/v1/workflows
//	curl -N -H 'Accept: text/event-stream' --data-binary @workflow.json http://127.0.0.1:5080/v1/workflows
//	curl http://127.0.0.1:5080/v1/receipts/<receipt or task CID>
//	curl -H 'Accept: application/vnd.ipld.dag-cbor' -o r.cbor http://127.0.0.1:5080/v1/receipts/<cid>
//	curl --data-binary @add.wasm http://127.0.0.1:5080/v1/blobs
//
// Subpackage loadtest measures request rates, for the benchmarks.
package gateway
