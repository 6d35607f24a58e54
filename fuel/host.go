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

// DefaultSlice is the fuel a Tank hands out at a time: about a millisecond
// of the tightest loop, so a host that checks a deadline on every refuel
// stops a runaway guest within a few milliseconds of it, while the host
// call costs nothing measurable.
const DefaultSlice = 1 << 20

// Tank is the host side of Refuel mode for one call: it holds the call's
// budget and hands it to the fuel global a slice at a time, through the
// refuel import (ImportModule.ImportName). Fuel used is the same as with the
// whole budget in the global (Options.Refuel off): the guest is charged the
// same amounts, and runs out exactly when the budget cannot cover a charge.
// A Tank serves one call of one instance at a time; it is not safe for
// concurrent use.
type Tank struct {
	budget    int64 // the call's budget
	granted   int64 // fuel put into the global so far
	slice     int64
	exhausted bool
}

// NewTank returns a tank for a call with the given budget, handed out
// slice at a time (values below 1 mean DefaultSlice; a negative budget is
// zero).
func NewTank(budget, slice int64) *Tank {
	if slice < 1 {
		slice = DefaultSlice
	}
	return &Tank{budget: max(budget, 0), slice: slice}
}

// Start returns the value to store in the fuel global before the call: the
// first slice.
func (t *Tank) Start() int64 {
	t.granted = min(t.slice, t.budget)
	t.exhausted = false
	return t.granted
}

// Refuel is the refuel import: v is the fuel global's value after a charge
// took it below zero. It returns the global's new value: v plus the next
// slice (at least what the charge lacked, at most what is left of the
// budget), or v itself, still negative, when what is left of the budget
// cannot pay the charge; the guest then traps and Exhausted reports true.
func (t *Tank) Refuel(v int64) int64 {
	if v >= 0 {
		return v
	}
	left := t.budget - t.granted
	if v < -left { // the charge needs more than the budget has left
		t.exhausted = true
		return v
	}
	add := min(left, -v+t.slice)
	t.granted += add
	return v + add
}

// Exhausted reports whether the call ran out of fuel: Refuel refused a
// charge.
func (t *Tank) Exhausted() bool { return t.exhausted }

// Used returns the fuel the call spent given the global's value v after
// it: the whole budget when it ran out, otherwise what was charged.
func (t *Tank) Used(v int64) int64 {
	if t.exhausted {
		return t.budget
	}
	return min(t.granted-v, t.budget)
}

// Check maps the error of a call to ErrOutOfFuel when the call ran out of
// fuel, and returns any other error (nil included) unchanged.
func (t *Tank) Check(callErr error) error {
	if callErr == nil || !t.exhausted {
		return callErr
	}
	return fmt.Errorf("%w: %v", ErrOutOfFuel, callErr)
}
