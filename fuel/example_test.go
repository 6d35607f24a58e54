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
