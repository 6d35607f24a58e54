package node

import "github.com/ipvm-go/ipvm/node/exec"

// DefaultMeter returns the fuel meter nodes run with by default.
func DefaultMeter() exec.Meter { return nil }
