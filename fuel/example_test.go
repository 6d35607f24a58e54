package fuel_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/ipvm-go/ipvm/fuel"
)

// Example meters two calls with wazero directly: one that finishes within
// its budget and a runaway loop that is stopped.
func Example() {
	ctx := context.Background()
	wasm, err := os.ReadFile("testdata/wat/loops.wasm")
	if err != nil {
		panic(err)
	}
	// Instrument once per module (cache it by the module's CID; the CID
	// stays the original's).
	metered, err := fuel.Instrument(wasm, fuel.Options{})
	if err != nil {
		panic(err)
	}
	rt := wazero.NewRuntime(ctx) // no WithCloseOnContextDone needed
	defer rt.Close(ctx)
	mod, err := rt.Instantiate(ctx, metered)
	if err != nil {
		panic(err)
	}
	g := mod.ExportedGlobal(fuel.GlobalName).(api.MutableGlobal)

	const budget = 1_000_000
	fuel.SetBudget(g, budget)
	res, err := mod.ExportedFunction("sum").Call(ctx, 1000)
	err = fuel.Check(g, err)
	fmt.Println("sum(1000) =", res[0], "err:", err, "fuel used:", fuel.Used(budget, g))

	fuel.SetBudget(g, budget)
	_, err = mod.ExportedFunction("spin").Call(ctx, 0) // 2^32 iterations
	err = fuel.Check(g, err)
	fmt.Println("spin: out of fuel:", errors.Is(err, fuel.ErrOutOfFuel), "fuel used:", fuel.Used(budget, g))
	fmt.Println("cost table:", fuel.CostTableVersion)
	// Output:
	// sum(1000) = 499500 err: <nil> fuel used: 15016
	// spin: out of fuel: true fuel used: 1000000
	// cost table: ipvm-fuel-v1
}

// tankKey carries a call's Tank to the refuel host function.
type tankKey struct{}

// Example_refuel meters a runaway loop in Refuel mode: the host hands out
// the budget a slice at a time and could check a deadline in between.
func Example_refuel() {
	ctx := context.Background()
	wasm, err := os.ReadFile("testdata/wat/loops.wasm")
	if err != nil {
		panic(err)
	}
	metered, err := fuel.Instrument(wasm, fuel.Options{Refuel: true})
	if err != nil {
		panic(err)
	}
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	refuels := 0
	_, err = rt.NewHostModuleBuilder(fuel.ImportModule).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, v int64) int64 {
		refuels++ // a node checks ctx.Err() here and ends the call past its deadline
		return ctx.Value(tankKey{}).(*fuel.Tank).Refuel(v)
	}).Export(fuel.ImportName).
		Instantiate(ctx)
	if err != nil {
		panic(err)
	}
	mod, err := rt.Instantiate(ctx, metered)
	if err != nil {
		panic(err)
	}
	g := mod.ExportedGlobal(fuel.GlobalName).(api.MutableGlobal)

	tank := fuel.NewTank(1_000_000, 100_000) // budget, slice
	g.Set(uint64(tank.Start()))
	_, err = mod.ExportedFunction("spin").Call(context.WithValue(ctx, tankKey{}, tank), 0)
	err = tank.Check(err)
	fmt.Println("out of fuel:", errors.Is(err, fuel.ErrOutOfFuel), "fuel used:", tank.Used(fuel.Remaining(g)), "refuels:", refuels)
	// Output:
	// out of fuel: true fuel used: 1000000 refuels: 10
}
