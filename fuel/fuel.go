package fuel

import (
	"fmt"
)

// GlobalName is the export name of the mutable i64 global that holds the
// fuel left. The host sets it to the budget before a call and reads it after.
const GlobalName = "ipvm_fuel"

// Options tunes Instrument. The zero value is ready to use.
type Options struct {
	// InitialFuel is the initial value of the fuel global, which is all the
	// module's start function (if any) may spend during instantiation; the
	// host sets the task's budget after instantiation. Zero (the default)
	// makes a start function that does any work trap with out of fuel, so
	// set it for modules with a start section.
	InitialFuel int64
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
	_, importedGlobals, err := m.imports()
	if err != nil {
		return nil, err
	}
	params, err := m.typeParams()
	if err != nil {
		return nil, err
	}
	funcTypes, err := m.funcTypes()
	if err != nil {
		return nil, err
	}

	// Fuel global, appended at the end of the global index space.
	nglobals, rest, err := m.vecCount(secGlobal)
	if err != nil {
		return nil, err
	}
	if err := checkGlobals(m, nglobals); err != nil {
		return nil, err
	}
	global := uint64(importedGlobals) + uint64(nglobals)
	if global >= 1<<32-1 {
		return nil, fmt.Errorf("%w: too many globals", ErrUnsupported)
	}
	g := appendU32(nil, nglobals+1)
	g = append(g, rest...)
	g = append(g, 0x7e, 0x01, 0x42) // mutable i64 = i64.const InitialFuel
	g = appendS64(g, opts.InitialFuel)
	g = append(g, 0x0b)

	// Export it.
	names, err := m.exportNames()
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if n == GlobalName {
			return nil, fmt.Errorf("%w: %q", ErrNameTaken, GlobalName)
		}
	}
	nexports, rest, err := m.vecCount(secExport)
	if err != nil {
		return nil, err
	}
	x := appendU32(nil, nexports+1)
	x = append(x, rest...)
	x = appendU32(x, uint32(len(GlobalName)))
	x = append(x, GlobalName...)
	x = append(x, kindGlobal)
	x = appendU32(x, uint32(global))

	// Meter every body.
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
			nb, err := instrumentBody(body, off, params[t], uint32(global))
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

// checkGlobals walks the n entries of the global section so that the
// appended fuel global lands where the count says.
func checkGlobals(m *module, n uint32) error {
	i := m.find(secGlobal)
	if i < 0 {
		return nil
	}
	r := m.reader(i)
	if _, err := r.u32(); err != nil {
		return err
	}
	for ; n > 0; n-- {
		if err := valType(r); err != nil {
			return err
		}
		if _, err := r.byte(); err != nil {
			return err
		}
		if err := constExpr(r); err != nil {
			return err
		}
	}
	if !r.eof() {
		return r.errf("trailing bytes in global section")
	}
	return nil
}

// constExpr skips a constant expression up to and including its end.
func constExpr(r *reader) error {
	for {
		at := r.off()
		op, err := r.byte()
		if err != nil {
			return err
		}
		switch op {
		case 0x0b:
			return nil
		case 0x41:
			_, err = r.signed(32)
		case 0x42:
			_, err = r.signed(64)
		case 0x43:
			_, err = r.bytes(4)
		case 0x44:
			_, err = r.bytes(8)
		case 0x23, 0xd2:
			_, err = r.u32()
		case 0xd0:
			_, err = r.byte()
		default:
			return fmt.Errorf("%w: unsupported opcode %#02x in constant expression at offset %d", ErrUnsupported, op, at)
		}
		if err != nil {
			return err
		}
	}
}
