// Package invocation defines the Task, the unit of content-addressed work
// ({sub, cmd, args, nonce}), its canonical DAG-CBOR encoding and its CID,
// which is the memoization key of the whole system.
//
// The package is pure: it does no I/O and starts no goroutines.
package invocation
