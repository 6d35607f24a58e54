package fuel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
)

// validates compiles b with wazero's interpreter (CoreFeaturesV2), which
// runs the full validation, and closes the result. A wazero panic counts as
// invalid: wazero v1.12.0 panics on some invalid modules (a function whose
// type index is out of range, called from another function; see the seed
// f4eb7840483abb47).
func validates(rt wazero.Runtime, b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("wazero panic: %v", r)
		}
	}()
	ctx := context.Background()
	c, err := rt.CompileModule(ctx, b)
	if err != nil {
		return err
	}
	return c.Close(ctx)
}

// FuzzInstrument feeds Instrument arbitrary bytes, in both modes, seeded with the small
// modules of the corpus (testdata/fuzz/FuzzInstrument holds the committed
// seeds). Instrument must not panic; a valid module it accepts comes out
// valid; every refusal wraps one of the package's sentinels. (An invalid module may come out valid or not: Instrument is
// not a validator, and wazero itself has quirks there, e.g. it refuses an
// empty-named custom section only at the very end of a module.)
func FuzzInstrument(f *testing.F) {
	files, _ := filepath.Glob("testdata/wat/*.wasm")
	files = append(files, filepath.Join(homestarDir, "example_add.wasm"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	f.Fuzz(func(t *testing.T, b []byte) {
		var inErr error
		checked := false
		for _, opts := range []Options{{InitialFuel: 1000}, {InitialFuel: 1000, Refuel: true}} {
			out, err := Instrument(b, opts)
			if err != nil {
				// Refusals are not checked against wazero here: on some
				// broken inputs (a type with 3e9 parameters) wazero
				// allocates for the count and the worker hangs. The corpus
				// tests check that real modules are accepted.
				if out != nil {
					t.Fatal("output with an error")
				}
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrNameTaken) {
					t.Fatalf("error without a sentinel: %v", err)
				}
				continue
			}
			if !checked {
				inErr, checked = validates(rt, b), true
			}
			outErr := validates(rt, out)
			if inErr == nil && outErr != nil {
				t.Fatalf("Refuel=%v: valid module came out invalid: %v", opts.Refuel, outErr)
			}
		}
	})
}
