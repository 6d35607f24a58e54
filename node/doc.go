// Package node is the ipvm daemon core: it owns the executor, the store, the
// workflow engine and (later) the libp2p host, and every goroutine they run.
package node
