// Package bench holds the project's performance metrics: each is measured
// side by side with its floor (the bare library call it is built on) in the
// same process, and reported as a ratio with its goal. `ipvm bench` and
// `go test -bench` in this package run them.
package bench
