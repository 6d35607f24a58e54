// Package fuel adds deterministic fuel metering to WebAssembly core modules.
//
// Instrument rewrites a module so that a mutable i64 global, exported as
// GlobalName, is charged at every function entry and loop header by the
// static cost of the code that point owns, and before each bulk memory or
// table instruction by its size operand; the module traps when the global
// goes below zero. The cost table (CostTableVersion, the Cost* constants) is
// normative and part of spec/SPEC.md §8, so every node counts the same fuel
// for the same task.
//
// The package is pure Go on the standard library: it parses and re-encodes
// the binary itself, keeping every section it does not rewrite byte for
// byte. The host side works with any runtime that exposes the exported
// global; with wazero:
//
//	metered, err := fuel.Instrument(wasm, fuel.Options{})
//	mod, err := rt.InstantiateWithConfig(ctx, metered, cfg)
//	g := mod.ExportedGlobal(fuel.GlobalName).(api.MutableGlobal)
//	fuel.SetBudget(g, budget)
//	_, err = mod.ExportedFunction("run").Call(ctx)
//	err = fuel.Check(g, err)          // errors.Is(err, fuel.ErrOutOfFuel)
//	used := fuel.Used(budget, g)
//
// With Options.Refuel the module instead imports ImportModule.ImportName,
// which a charge calls when the global goes below zero; the host answers it
// from a Tank that hands out the budget a slice at a time, so it can also
// check a deadline between slices (the ipvm node's wall-time guard). The
// fuel charged is the same in both modes.
package fuel
