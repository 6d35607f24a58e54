// Package ucan owns identities (Ed25519 keys and their did:key), UCAN 1.0
// delegations and invocations, and the validation of a proof chain from a
// subject to an invoker. It wraps go-ucan, adding the checks go-ucan does not
// make on its own.
package ucan
