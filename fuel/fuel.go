package fuel

import (
	"fmt"
)

// GlobalName is the export name of the mutable i64 global that holds the
// fuel left. The host sets it to the budget before a call and reads it after.
const GlobalName = "ipvm_fuel"

// In Refuel mode the rewritten module imports one host function,
// ImportModule.ImportName, of type (i64) -> i64. A charge that takes the
// fuel global below zero calls it with the global's (negative) value and
// stores the result back; if the result is still negative the code executes
// unreachable. The host either refills (returns a value >= 0, see Tank),
// refuses (returns the value unchanged: out of fuel), or ends the call (a
// host error, for a wall-time limit).
const (
	ImportModule = "ipvm_fuel"
	ImportName   = "refuel"
)

// Options tunes Instrument. The zero value is ready to use.
type Options struct {
	// InitialFuel is the initial value of the fuel global, which is all the
	// module's start function (if any) may spend during instantiation; the
	// host sets the task's budget after instantiation. Zero (the default)
	// makes a start function that does any work trap with out of fuel, so
	// set it for modules with a start section.
	InitialFuel int64
	// Refuel makes a charge that goes below zero call the imported host
	// function ImportModule.ImportName instead of trapping at once, so that
	// the host can hand out the budget in slices and check a deadline
	// between them (see Tank). The fuel charged is the same in both modes.
	// The import is appended after the module's own function imports, so
	// every defined function's index grows by one; calls, ref.func,
	// element segments, exports and the start section are renumbered, and
	// the "name" custom section is dropped.
	Refuel bool
}

// Instrument returns module with deterministic fuel metering added: a
// mutable i64 global, exported as GlobalName and appended after every other
// global (so no index shifts), is decremented at each function entry and
// each loop header by the static cost of the instructions that point owns,
// and before each bulk memory or table instruction by a cost proportional
// to its size operand. When the global goes below zero the code executes
// unreachable, so the call traps with the global negative (see Check).
//
// The input must be a core module (version 1) using only the MVP,
// mutable-global import/export, sign-extension, non-trapping float-to-int,
// bulk memory, multi-value and reference-types features; other opcodes give
// ErrUnsupported, broken encodings ErrMalformed. Instrument does not fully
// validate the module: a valid module gives a valid module, an invalid one
// may give an invalid one, which the runtime rejects at compile time.
// Instrument is a pure function of its inputs and safe for concurrent use.
func Instrument(module []byte, opts Options) ([]byte, error) {
	m, err := parseModule(module)
	if err != nil {
		return nil, err
	}
	importedFuncs, importedGlobals, fuelImport, err := m.imports()
	if err != nil {
		return nil, err
	}
	if opts.Refuel && fuelImport {
		return nil, fmt.Errorf("%w: the module imports from %q", ErrNameTaken, ImportModule)
	}
	params, err := m.typeParams()
	if err != nil {
		return nil, err
	}
	funcTypes, err := m.funcTypes()
	if err != nil {
		return nil, err
	}
	fx := funcMap{shift: opts.Refuel, imported: importedFuncs, total: uint64(importedFuncs) + uint64(len(funcTypes))}
	if fx.total >= 1<<32-1 {
		return nil, fmt.Errorf("%w: too many functions", ErrUnsupported)
	}

	// Fuel global, appended at the end of the global index space.
	nglobals, _, err := m.vecCount(secGlobal)
	if err != nil {
		return nil, err
	}
	global := uint64(importedGlobals) + uint64(nglobals)
	if global >= 1<<32-1 {
		return nil, fmt.Errorf("%w: too many globals", ErrUnsupported)
	}
	g, err := rewriteGlobals(m, fx)
	if err != nil {
		return nil, err
	}
	g = append(g, 0x7e, 0x01, 0x42) // mutable i64 = i64.const InitialFuel
	g = appendS64(g, opts.InitialFuel)
	g = append(g, 0x0b)

	// Export it.
	x, err := rewriteExports(m, fx)
	if err != nil {
		return nil, err
	}
	x = appendU32(x, uint32(len(GlobalName)))
	x = append(x, GlobalName...)
	x = append(x, kindGlobal)
	x = appendU32(x, uint32(global))

	// Meter every body.
	e := emitter{global: uint32(global), fx: fx, typeParams: params}
	if opts.Refuel {
		e.refuel, e.refuelOn = importedFuncs, true
	}
	var code []byte
	if i := m.find(secCode); i >= 0 {
		r := m.reader(i)
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		if int(n) != len(funcTypes) {
			return nil, r.errf("code count %d, function count %d", n, len(funcTypes))
		}
		code = appendU32(make([]byte, 0, len(m.sections[i].payload)*2), n)
		for f := 0; f < int(n); f++ {
			size, err := r.u32()
			if err != nil {
				return nil, err
			}
			off := r.off()
			body, err := r.bytes(int(size))
			if err != nil {
				return nil, err
			}
			t := funcTypes[f]
			if int(t) >= len(params) {
				return nil, fmt.Errorf("%w: function %d has type %d of %d", ErrMalformed, f, t, len(params))
			}
			nb, err := instrumentBody(body, off, params[t], e)
			if err != nil {
				return nil, err
			}
			code = appendU32(code, uint32(len(nb)))
			code = append(code, nb...)
		}
		if !r.eof() {
			return nil, r.errf("trailing bytes in code section")
		}
	} else if len(funcTypes) != 0 {
		return nil, fmt.Errorf("%w: %d functions without a code section", ErrMalformed, len(funcTypes))
	}

	if opts.Refuel {
		if err := m.addRefuelImport(importedFuncs); err != nil {
			return nil, err
		}
		if err := m.renumberStartAndElems(fx); err != nil {
			return nil, err
		}
		m.dropNames()
	}
	m.set(secGlobal, g)
	m.set(secExport, x)
	if code != nil {
		m.set(secCode, code)
	}
	return m.encode(), nil
}

// valType checks a value type byte, refusing v128 and GC types.
func valType(r *reader) error {
	t, err := r.byte()
	if err != nil {
		return err
	}
	switch t {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x70, 0x6f:
		return nil
	}
	return fmt.Errorf("%w: value type %#02x at offset %d", ErrUnsupported, t, r.off()-1)
}

// typeParams returns the parameter count of each function type.
func (m *module) typeParams() ([]uint32, error) {
	i := m.find(secType)
	if i < 0 {
		return nil, nil
	}
	r := m.reader(i)
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	var params []uint32
	for ; n > 0; n-- {
		form, err := r.byte()
		if err != nil {
			return nil, err
		}
		if form != 0x60 {
			return nil, fmt.Errorf("%w: type form %#02x at offset %d", ErrUnsupported, form, r.off()-1)
		}
		var np uint32
		for k := 0; k < 2; k++ {
			c, err := r.u32()
			if err != nil {
				return nil, err
			}
			if k == 0 {
				np = c
			}
			for j := uint32(0); j < c; j++ {
				if err := valType(r); err != nil {
					return nil, err
				}
			}
		}
		params = append(params, np)
	}
	if !r.eof() {
		return nil, r.errf("trailing bytes in type section")
	}
	return params, nil
}

// funcTypes returns the type index of each defined function.
func (m *module) funcTypes() ([]uint32, error) {
	i := m.find(secFunction)
	if i < 0 {
		return nil, nil
	}
	r := m.reader(i)
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	if int(n) > len(r.b) {
		return nil, r.errf("function count %d past end", n)
	}
	ts := make([]uint32, 0, n)
	for ; n > 0; n-- {
		t, err := r.u32()
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	if !r.eof() {
		return nil, r.errf("trailing bytes in function section")
	}
	return ts, nil
}
