//go:build !linux

package fuel

import "time"

// threadCPU is not available here; the side-by-side benchmark then reports
// wall time only.
func threadCPU() time.Duration { return 0 }
