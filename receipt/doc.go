// Package receipt defines the signed record an executor issues for every task
// it runs: which task ran, under which invocation, its outcome, effects and
// metadata. It owns the receipt envelope (encoding, Ed25519 signature, CID)
// and Verify, which every receipt must pass before it is stored, served or
// used.
//
// The package is pure: it does no I/O and starts no goroutines.
package receipt
