// Package conformance is a black-box suite that checks a node against
// spec/SPEC.md through its public interfaces only.
package conformance
