package fuel

import (
	"fmt"
)

// funcMap renumbers function indices in Refuel mode, where the refuel
// import is appended after the module's own function imports: indices
// below imported stay, the others grow by one. With shift false it only
// checks indices.
type funcMap struct {
	shift    bool
	imported uint32 // function imports of the original module
	total    uint64 // functions of the original module, imports included
}

// patcher copies a section payload, replacing the function indices it is
// told about and keeping every other byte as it was.
type patcher struct {
	fx   funcMap
	b    []byte // the payload read
	from int    // b[from:] is not copied yet
	out  []byte
}

// funcIdx reads a function index at r (a reader over p.b) and renumbers it.
func (p *patcher) funcIdx(r *reader) error {
	at := r.pos
	x, err := r.u32()
	if err != nil {
		return err
	}
	if uint64(x) >= p.fx.total {
		return fmt.Errorf("%w: function index %d of %d at offset %d", ErrMalformed, x, p.fx.total, r.base+at)
	}
	if p.fx.shift && x >= p.fx.imported {
		p.out = append(p.out, p.b[p.from:at]...)
		p.out = appendU32(p.out, x+1)
		p.from = r.pos
	}
	return nil
}

// finish returns the payload with the replacements.
func (p *patcher) finish() []byte { return append(p.out, p.b[p.from:]...) }

// constExpr walks a constant expression up to and including its end,
// renumbering ref.func.
func (p *patcher) constExpr(r *reader) error {
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
		case 0x23:
			_, err = r.u32()
		case 0xd2:
			err = p.funcIdx(r)
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

// grow starts copying section id, a vector, with its count one higher for
// an entry the caller appends; r is nil when the module has no such
// section (p.out is then a vector of one).
func (m *module) grow(id byte, fx funcMap) (r *reader, p *patcher, n uint32, err error) {
	i := m.find(id)
	if i < 0 {
		return nil, &patcher{out: appendU32(nil, 1)}, 0, nil
	}
	r = m.reader(i)
	if n, err = r.u32(); err != nil {
		return nil, &patcher{}, 0, err
	}
	return r, &patcher{fx: fx, b: r.b, from: r.pos, out: appendU32(nil, n+1)}, n, nil
}

// rewriteGlobals returns the global section's payload with its count one
// higher and ref.func initializers renumbered, ready for the fuel global
// to be appended.
func rewriteGlobals(m *module, fx funcMap) ([]byte, error) {
	r, p, n, err := m.grow(secGlobal, fx)
	if r == nil || err != nil {
		return p.out, err
	}
	for ; n > 0; n-- {
		if err := valType(r); err != nil {
			return nil, err
		}
		if _, err := r.byte(); err != nil {
			return nil, err
		}
		if err := p.constExpr(r); err != nil {
			return nil, err
		}
	}
	if !r.eof() {
		return nil, r.errf("trailing bytes in global section")
	}
	return p.finish(), nil
}

// rewriteExports returns the export section's payload with its count one
// higher and function exports renumbered, refusing GlobalName.
func rewriteExports(m *module, fx funcMap) ([]byte, error) {
	r, p, n, err := m.grow(secExport, fx)
	if r == nil || err != nil {
		return p.out, err
	}
	for ; n > 0; n-- {
		name, err := r.name()
		if err != nil {
			return nil, err
		}
		if name == GlobalName {
			return nil, fmt.Errorf("%w: %q", ErrNameTaken, GlobalName)
		}
		kind, err := r.byte()
		if err != nil {
			return nil, err
		}
		switch {
		case kind > kindGlobal:
			return nil, fmt.Errorf("%w: export kind %d at offset %d", ErrUnsupported, kind, r.off()-1)
		case kind == kindFunc:
			err = p.funcIdx(r)
		default:
			_, err = r.u32()
		}
		if err != nil {
			return nil, err
		}
	}
	if !r.eof() {
		return nil, r.errf("trailing bytes in export section")
	}
	return p.finish(), nil
}

// addRefuelImport appends the type (i64) -> i64 to the type section and the
// import ImportModule.ImportName of that type after the other imports; the
// import gets function index imported.
func (m *module) addRefuelImport(imported uint32) error {
	ntypes, rest, err := m.vecCount(secType)
	if err != nil {
		return err
	}
	if ntypes >= 1<<32-2 {
		return fmt.Errorf("%w: too many types", ErrUnsupported)
	}
	t := appendU32(nil, ntypes+1)
	t = append(t, rest...)
	t = append(t, 0x60, 0x01, 0x7e, 0x01, 0x7e)

	nimports, rest, err := m.vecCount(secImport)
	if err != nil {
		return err
	}
	if nimports >= 1<<32-2 {
		return fmt.Errorf("%w: too many imports", ErrUnsupported)
	}
	// Imports keep their order, and only function imports take function
	// indices, so appending the new one at the end gives it index imported.
	im := appendU32(nil, nimports+1)
	im = append(im, rest...)
	im = appendU32(im, uint32(len(ImportModule)))
	im = append(im, ImportModule...)
	im = appendU32(im, uint32(len(ImportName)))
	im = append(im, ImportName...)
	im = append(im, kindFunc)
	im = appendU32(im, ntypes)

	m.set(secType, t)
	m.set(secImport, im)
	return nil
}

// renumberStartAndElems renumbers the start function and the functions of
// every element segment.
func (m *module) renumberStartAndElems(fx funcMap) error {
	if i := m.find(secStart); i >= 0 {
		r := m.reader(i)
		p := &patcher{fx: fx, b: r.b}
		if err := p.funcIdx(r); err != nil {
			return err
		}
		if !r.eof() {
			return r.errf("trailing bytes in start section")
		}
		m.sections[i].payload = p.finish()
	}
	i := m.find(secElement)
	if i < 0 {
		return nil
	}
	r := m.reader(i)
	n, err := r.u32()
	if err != nil {
		return err
	}
	p := &patcher{fx: fx, b: r.b}
	for ; n > 0; n-- {
		flags, err := r.u32()
		if err != nil {
			return err
		}
		if flags > 7 {
			return fmt.Errorf("%w: element segment flags %d at offset %d", ErrUnsupported, flags, r.off()-1)
		}
		if flags&3 == 2 { // explicit table index
			if _, err := r.u32(); err != nil {
				return err
			}
		}
		if flags&1 == 0 { // active: offset
			if err := p.constExpr(r); err != nil {
				return err
			}
		}
		if flags&3 != 0 { // elemkind or reftype
			if _, err := r.byte(); err != nil {
				return err
			}
		}
		count, err := r.u32()
		if err != nil {
			return err
		}
		for ; count > 0; count-- {
			if flags&4 == 0 {
				err = p.funcIdx(r)
			} else {
				err = p.constExpr(r)
			}
			if err != nil {
				return err
			}
		}
	}
	if !r.eof() {
		return r.errf("trailing bytes in element section")
	}
	m.sections[i].payload = p.finish()
	return nil
}

// dropNames removes the "name" custom section, whose function indices
// would be off by one after the refuel import.
func (m *module) dropNames() {
	kept := m.sections[:0]
	for _, s := range m.sections {
		if s.id == secCustom {
			r := &reader{b: s.payload}
			if name, err := r.name(); err == nil && name == "name" {
				continue
			}
		}
		kept = append(kept, s)
	}
	m.sections = kept
}
