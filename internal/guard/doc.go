// Package guard holds tests that keep the project's shape: every package
// has a doc comment, and the pure packages import no I/O, network, storage
// or Wasm runtime.
package guard
