package main

import (
	"github.com/ipvm-go/ipvm/node/exec"
)

// defaultMeter is the fuel meter the CLI's embedded node runs with: nil
// means the node's default (deterministic fuel).
func defaultMeter() exec.Meter { return nil }
