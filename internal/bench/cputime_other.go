//go:build !unix

package bench

import "time"

// processCPU falls back to wall time where getrusage is missing.
func processCPU() time.Duration { return wallClock() }
