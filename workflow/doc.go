// Package workflow parses workflow JSON (ipvm's native format and Homestar's),
// validates it (names, promises, cycles, size caps) and resolves it to a DAG
// of tasks with their CIDs.
//
// The package is pure: it does no I/O and starts no goroutines.
package workflow
