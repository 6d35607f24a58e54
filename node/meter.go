package node

import (
	"context"
	"errors"
	"math"
	"sync"

	"github.com/ipfs/go-cid"
	"github.com/tetratelabs/wazero/api"

	"github.com/ipvm-go/ipvm/fuel"
	"github.com/ipvm-go/ipvm/node/exec"
)

// initialFuel is what a module's start section may spend during
// instantiation, before the task's own budget is set.
const initialFuel = 10_000_000_000

// FuelMeter meters every task with deterministic fuel (package fuel): the
// module is instrumented once per module CID, the task's budget is set in
// the exported fuel global before the call and the fuel used read after it.
type FuelMeter struct {
	mu      sync.Mutex
	budgets map[api.Module]int64
}

var _ exec.Meter = (*FuelMeter)(nil)

// DefaultMeter returns the fuel meter nodes run with by default.
func DefaultMeter() exec.Meter { return &FuelMeter{budgets: map[api.Module]int64{}} }

// Instrument implements exec.Meter.
func (m *FuelMeter) Instrument(_ cid.Cid, wasm []byte) ([]byte, error) {
	return fuel.Instrument(wasm, fuel.Options{InitialFuel: initialFuel})
}

// errNoFuelGlobal means an instance lacks the global Instrument adds.
var errNoFuelGlobal = errors.New("node: instrumented module has no fuel global")

func global(mod api.Module) (api.MutableGlobal, error) {
	g, ok := mod.ExportedGlobal(fuel.GlobalName).(api.MutableGlobal)
	if !ok {
		return nil, errNoFuelGlobal
	}
	return g, nil
}

// Start implements exec.Meter.
func (m *FuelMeter) Start(_ context.Context, mod api.Module, budget uint64) error {
	g, err := global(mod)
	if err != nil {
		return err
	}
	b := int64(min(budget, math.MaxInt64))
	fuel.SetBudget(g, b)
	m.mu.Lock()
	m.budgets[mod] = b
	m.mu.Unlock()
	return nil
}

// Used implements exec.Meter.
func (m *FuelMeter) Used(_ context.Context, mod api.Module) (uint64, bool) {
	m.mu.Lock()
	b, ok := m.budgets[mod]
	delete(m.budgets, mod)
	m.mu.Unlock()
	g, err := global(mod)
	if !ok || err != nil {
		return 0, false
	}
	return uint64(fuel.Used(b, g)), fuel.Remaining(g) < 0
}
