package fuel

import (
	"bytes"
	"fmt"
)

// Section ids of the core module format.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
)

// Import and export kinds.
const (
	kindFunc   = 0
	kindTable  = 1
	kindMemory = 2
	kindGlobal = 3
)

var header = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// section is one section of a module, its payload kept as it was read.
type section struct {
	id      byte
	payload []byte
	off     int // offset of payload in the module
}

// module is a core module split into sections. Only the sections the
// instrumenter rewrites are decoded further.
type module struct {
	sections []section
}

// order ranks the non-custom sections in the order the binary format
// requires them (the data count section sits between element and code).
func order(id byte) int {
	switch id {
	case secDataCount:
		return 10
	case secCode:
		return 11
	case secData:
		return 12
	default:
		return int(id)
	}
}

// parseModule splits b into sections, checking the header, the section ids
// and their order. Section payloads alias b.
func parseModule(b []byte) (*module, error) {
	if len(b) < len(header) || !bytes.Equal(b[:4], header[:4]) {
		return nil, fmt.Errorf("%w: not a Wasm binary", ErrMalformed)
	}
	if !bytes.Equal(b[4:8], header[4:]) {
		return nil, fmt.Errorf("%w: binary version %x (only core modules, version 1)", ErrUnsupported, b[4:8])
	}
	r := &reader{b: b, pos: len(header)}
	m := &module{}
	last := 0
	for !r.eof() {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		if id > secDataCount {
			return nil, fmt.Errorf("%w: section id %d at offset %d", ErrUnsupported, id, r.off()-1)
		}
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		off := r.off()
		p, err := r.bytes(int(n))
		if err != nil {
			return nil, err
		}
		if id != secCustom {
			if order(id) <= last {
				return nil, fmt.Errorf("%w: section %d out of order at offset %d", ErrMalformed, id, off)
			}
			last = order(id)
		}
		m.sections = append(m.sections, section{id: id, payload: p, off: off})
	}
	return m, nil
}

// find returns the index of the section with the given id, or -1.
func (m *module) find(id byte) int {
	for i, s := range m.sections {
		if s.id == id {
			return i
		}
	}
	return -1
}

// set replaces the payload of section id, inserting the section at its
// place in the order when the module has none.
func (m *module) set(id byte, payload []byte) {
	if i := m.find(id); i >= 0 {
		m.sections[i].payload = payload
		return
	}
	at := len(m.sections)
	for i, s := range m.sections {
		if s.id != secCustom && order(s.id) > order(id) {
			at = i
			break
		}
	}
	m.sections = append(m.sections, section{})
	copy(m.sections[at+1:], m.sections[at:])
	m.sections[at] = section{id: id, payload: payload}
}

// encode writes the module back out.
func (m *module) encode() []byte {
	n := len(header)
	for _, s := range m.sections {
		n += 6 + len(s.payload)
	}
	out := make([]byte, 0, n)
	out = append(out, header...)
	for _, s := range m.sections {
		out = append(out, s.id)
		out = appendU32(out, uint32(len(s.payload)))
		out = append(out, s.payload...)
	}
	return out
}

// reader returns a reader over section i's payload.
func (m *module) reader(i int) *reader {
	s := m.sections[i]
	return &reader{b: s.payload, base: s.off}
}

// imports counts the imported functions and globals, checking each entry's
// shape, and reports whether any import comes from ImportModule.
func (m *module) imports() (funcs, globals uint32, fuelImport bool, err error) {
	i := m.find(secImport)
	if i < 0 {
		return 0, 0, false, nil
	}
	r := m.reader(i)
	n, err := r.u32()
	if err != nil {
		return 0, 0, false, err
	}
	for ; n > 0; n-- {
		mod, err := r.name()
		if err != nil {
			return 0, 0, false, err
		}
		fuelImport = fuelImport || mod == ImportModule
		if _, err := r.name(); err != nil {
			return 0, 0, false, err
		}
		kind, err := r.byte()
		if err != nil {
			return 0, 0, false, err
		}
		switch kind {
		case kindFunc:
			if _, err := r.u32(); err != nil {
				return 0, 0, false, err
			}
			funcs++
		case kindTable:
			if _, err := r.byte(); err != nil {
				return 0, 0, false, err
			}
			if err := r.limits(); err != nil {
				return 0, 0, false, err
			}
		case kindMemory:
			if err := r.limits(); err != nil {
				return 0, 0, false, err
			}
		case kindGlobal:
			if _, err := r.bytes(2); err != nil {
				return 0, 0, false, err
			}
			globals++
		default:
			return 0, 0, false, fmt.Errorf("%w: import kind %d at offset %d", ErrUnsupported, kind, r.off()-1)
		}
	}
	if !r.eof() {
		return 0, 0, false, r.errf("trailing bytes in import section")
	}
	return funcs, globals, fuelImport, nil
}

// limits skips a limits entry, refusing shared memories and memory64.
func (r *reader) limits() error {
	flag, err := r.byte()
	if err != nil {
		return err
	}
	if flag > 1 {
		return fmt.Errorf("%w: limits flag %#x (shared memory or memory64) at offset %d", ErrUnsupported, flag, r.off()-1)
	}
	if _, err := r.u32(); err != nil {
		return err
	}
	if flag == 1 {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

// vecCount reads the element count at the start of section id, or 0 when
// the module has none; rest is the payload after the count.
func (m *module) vecCount(id byte) (n uint32, rest []byte, err error) {
	i := m.find(id)
	if i < 0 {
		return 0, nil, nil
	}
	r := m.reader(i)
	n, err = r.u32()
	if err != nil {
		return 0, nil, err
	}
	return n, r.b[r.pos:], nil
}
