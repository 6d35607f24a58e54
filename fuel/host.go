package fuel

import "fmt"

// Global is the part of the exported fuel global the host helpers use.
// wazero's api.MutableGlobal satisfies it:
//
//	g, ok := mod.ExportedGlobal(fuel.GlobalName).(api.MutableGlobal)
type Global interface {
	// Get returns the global's bits.
	Get() uint64
	// Set stores the global's bits.
	Set(v uint64)
}

// SetBudget stores budget (clamped at zero) as the fuel left. Call it
// before each call into the instance.
func SetBudget(g Global, budget int64) {
	g.Set(uint64(max(budget, 0)))
}

// Remaining returns the fuel left; it is negative after an out-of-fuel trap.
func Remaining(g Global) int64 {
	return int64(g.Get())
}

// Used returns the fuel spent by a call given the budget set before it and
// the global read after it. Out of fuel spends the whole budget.
func Used(budget int64, g Global) int64 {
	budget = max(budget, 0)
	rem := Remaining(g)
	if rem < 0 {
		return budget
	}
	return budget - rem
}

// Check maps the error of a call into an instrumented instance to
// ErrOutOfFuel when the call trapped with the fuel global negative, and
// returns any other error (nil included) unchanged.
func Check(g Global, callErr error) error {
	if callErr == nil || Remaining(g) >= 0 {
		return callErr
	}
	return fmt.Errorf("%w: %v", ErrOutOfFuel, callErr)
}
