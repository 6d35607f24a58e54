package node

import (
	"context"
	"errors"
	"math"
	"sync"

	"github.com/ipfs/go-cid"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/ipvm-go/ipvm/fuel"
	"github.com/ipvm-go/ipvm/node/exec"
)

// startFuel is what a module's start section may spend during
// instantiation, before the task's own budget is set.
const startFuel = 10_000_000_000

// FuelMeter meters every task with deterministic fuel (package fuel) and
// stops it at its wall-time limit: modules are instrumented once per module
// CID in fuel's Refuel mode, and the task's budget is handed to the
// instance a slice at a time through the refuel host function, which checks
// the run's context (its deadline) before each new slice. The fuel used is
// the same as with the whole budget in the global; the deadline check costs
// one host call per slice, so the executor can run without wazero's
// close-on-context-done (exec.Config.NoWallTimeStop).
type FuelMeter struct {
	slice int64

	mu     sync.Mutex
	tanks  map[api.Module]*fuel.Tank // instances between Start and Used
	starts map[api.Module]*fuel.Tank // start sections running, before Start
}

var _ exec.HostMeter = (*FuelMeter)(nil)

// DefaultMeter returns the fuel meter nodes run with by default.
func DefaultMeter() exec.Meter { return NewFuelMeter(fuel.DefaultSlice) }

// NewFuelMeter returns a fuel meter that hands out slice fuel between two
// deadline checks (below 1: fuel.DefaultSlice).
func NewFuelMeter(slice int64) *FuelMeter {
	if slice < 1 {
		slice = fuel.DefaultSlice
	}
	return &FuelMeter{slice: slice, tanks: map[api.Module]*fuel.Tank{}, starts: map[api.Module]*fuel.Tank{}}
}

// stopsAtDeadline reports whether meter ends a runaway guest at its
// wall-time limit by itself, so that the executor needs no
// close-on-context-done.
func stopsAtDeadline(meter exec.Meter) bool {
	fm, ok := meter.(*FuelMeter)
	return ok && fm != nil
}

// Instrument implements exec.Meter.
func (m *FuelMeter) Instrument(_ cid.Cid, wasm []byte) ([]byte, error) {
	return fuel.Instrument(wasm, fuel.Options{Refuel: true})
}

// InstantiateHost implements exec.HostMeter: it adds the refuel import.
func (m *FuelMeter) InstantiateHost(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder(fuel.ImportModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(m.refuel), []api.ValueType{api.ValueTypeI64}, []api.ValueType{api.ValueTypeI64}).
		WithParameterNames("fuel").Export(fuel.ImportName).
		Instantiate(ctx)
	return err
}

// refuel is the refuel import: it gives the instance its next slice, or
// refuses it (out of fuel, deterministic), or, when the run's context has
// ended (its wall-time limit), ends the call with the exit code wazero's
// close-on-context-done would use. A start section, which runs before
// Start, spends from a tank of startFuel of its own.
func (m *FuelMeter) refuel(ctx context.Context, mod api.Module, stack []uint64) {
	m.mu.Lock()
	t := m.tanks[mod]
	if t == nil {
		if t = m.starts[mod]; t == nil {
			t = fuel.NewTank(startFuel, m.slice)
			m.starts[mod] = t
		}
	}
	m.mu.Unlock()
	v := t.Refuel(int64(stack[0]))
	stack[0] = uint64(v)
	if v < 0 {
		return // out of fuel: the guest traps
	}
	if err := ctx.Err(); err != nil {
		// Keep the global's value right for Used, then end the call.
		if g, gerr := global(mod); gerr == nil {
			g.Set(uint64(v))
		}
		code := sys.ExitCodeDeadlineExceeded
		if errors.Is(err, context.Canceled) {
			code = sys.ExitCodeContextCanceled
		}
		panic(sys.NewExitError(code))
	}
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
	t := fuel.NewTank(int64(min(budget, math.MaxInt64)), m.slice)
	g.Set(uint64(t.Start()))
	m.mu.Lock()
	m.tanks[mod] = t
	// A start section's tank ends here, or with its instance when the
	// instantiation failed.
	delete(m.starts, mod)
	for k := range m.starts {
		if k.IsClosed() {
			delete(m.starts, k)
		}
	}
	m.mu.Unlock()
	return nil
}

// Used implements exec.Meter.
func (m *FuelMeter) Used(_ context.Context, mod api.Module) (uint64, bool) {
	m.mu.Lock()
	t, ok := m.tanks[mod]
	delete(m.tanks, mod)
	m.mu.Unlock()
	g, err := global(mod)
	if !ok || err != nil {
		return 0, false
	}
	return uint64(t.Used(fuel.Remaining(g))), t.Exhausted()
}
