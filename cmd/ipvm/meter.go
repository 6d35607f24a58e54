package main

import (
	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/node/exec"
)

// defaultMeter is the fuel meter the CLI's embedded node runs with.
func defaultMeter() exec.Meter { return node.DefaultMeter() }
