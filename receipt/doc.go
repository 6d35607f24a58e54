// Package receipt defines the signed record an executor issues for every task
// it runs: which task ran, under which invocation, its outcome, effects and
// metadata. It owns the receipt envelope (encoding, Ed25519 signature, CID)
// and Verify, which every receipt must pass before it is stored, served or
// used.
//
// A receipt is a UCAN 1.0 invocation of /ucan/assert/receipt issued by the
// executor (spec/SPEC.md §4), so go-ucan's invocation.FromSealed reads and
// verifies the same bytes. This package encodes and decodes that envelope
// directly, without go-ipld-prime, because it sits on the hot path of every
// fresh task (Issue) and every memo hit (Decode):
//
//	s, err := receipt.Issue(key, receipt.Receipt{Ran: taskCID, Out: spec.OK(v), Meta: meta})
//	store(s.CID(), s.Bytes())
//	...
//	got, err := receipt.Decode(b) // strict: canonical bytes only
//	err = got.Verify(taskCID)     // ran == taskCID, signature by got.Iss
//
// The package is pure: it does no I/O and starts no goroutines (Issue reads
// random bytes for the nonce when the caller gives none).
package receipt
