package fuel

import "fmt"

// insert is a piece of metering code to splice into a body before the
// original byte at pos.
type insert struct {
	pos  int     // offset in the body
	cost int64   // static charge, for dyn == dynNone
	dyn  dynamic // dynamic charge of the instruction at pos
	end  int     // > 0: replace body[pos:end] (a function index or label) by idx
	idx  uint32
	wrap wrapPart // a part of a loop's wrapping (Refuel mode)
	bt   []byte   // wrapOpen: the loop's block type
	loop int      // wrapTail: index in the inserts of the loop's header charge
}

// wrapPart names the pieces of Refuel mode's loop wrapping. A loop whose
// header charge may call the refuel import would have a call inside its
// body, and wazero's register allocator then spills the loop's live values
// on every iteration. So the header charge branches out of the loop
// instead, to a refuel call after it, and comes back in through an outer
// loop:
//
//	block bt                 ;; $exit
//	  loop bt                ;; $retry
//	    block                ;; $cold
//	      loop bt            ;; the original loop
//	        <charge C>; br_if $cold if negative
//	        ...              ;; labels outside the loop +3
//	      end
//	      br $exit
//	    end
//	    <refuel, trap if still negative>; fuel += C; br $retry
//	  end
//	end
//
// Re-entering the loop charges C again, hence the refund. Only loops
// without parameters are wrapped (others call from inside, as before).
type wrapPart uint8

const (
	wrapNone   wrapPart = iota
	wrapOpen            // block bt; loop bt; block, before the loop
	wrapHeader          // the header charge, branching out
	wrapTail            // after the loop's end
)

// frame kinds of the control stack.
const (
	frameBlock = iota
	frameLoop
	frameIf
)

// frame is one entry of the control stack while scanning a body.
type frame struct {
	kind    int
	owner   int  // index in inserts of the charge that pays for this frame's instructions
	wrapped bool // a loop wrapped in three more labels (wrapPart)
}

// scanBody decodes the instructions of one function body (after its local
// declarations) and returns where to put charges: one at the start and one
// at the start of each loop body, each charging the static cost of the
// instructions it owns (those not inside a nested loop), plus one dynamic
// charge before each bulk instruction. r covers exactly the expression.
// Function indices (call, ref.func) are checked and, in Refuel mode,
// renumbered through e.fx; global indices must be below the fuel global's,
// so the guest's own code cannot touch it.
func scanBody(r *reader, e emitter) ([]insert, error) {
	ins := []insert{{pos: r.pos}}
	stack := []frame{{kind: frameBlock, owner: 0}}
	for {
		if r.eof() {
			return nil, r.errf("function body without end")
		}
		at := r.pos
		op, err := r.byte()
		if err != nil {
			return nil, err
		}
		top := &stack[len(stack)-1]
		cost := opCost(op)
		dyn := dynNone
		switch op {
		case 0x00, 0x01, 0x0f, 0x1a, 0x1b, 0xd1:
			// No immediates.
		case 0x02, 0x03, 0x04: // block, loop, if
			btStart := r.pos
			bt, err := r.signed(33)
			if err != nil {
				return nil, err
			}
			if bt < 0 && !blockValType(bt) {
				// 0x63/0x64 (typed function references) take a heap type
				// after them, which a charge inserted here would split.
				return nil, fmt.Errorf("%w: block type %#02x at offset %d", ErrUnsupported, byte(bt)&0x7f, r.off()-1)
			}
			ins[top.owner].cost += cost
			switch op {
			case 0x02:
				stack = append(stack, frame{kind: frameBlock, owner: top.owner})
			case 0x04:
				stack = append(stack, frame{kind: frameIf, owner: top.owner})
			case 0x03:
				wrapped := e.refuelOn && (bt < 0 || bt < int64(len(e.typeParams)) && e.typeParams[bt] == 0)
				header := insert{pos: r.pos}
				if wrapped {
					ins = append(ins, insert{pos: at, wrap: wrapOpen, bt: r.b[btStart:r.pos]})
					header.wrap = wrapHeader
				}
				ins = append(ins, header)
				stack = append(stack, frame{kind: frameLoop, owner: len(ins) - 1, wrapped: wrapped})
			}
			continue
		case 0x05: // else
			if top.kind != frameIf {
				return nil, r.errf("else outside if")
			}
		case 0x0b: // end
			closed := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				if !r.eof() {
					return nil, r.errf("code after function end")
				}
				return ins, nil
			}
			ins[stack[len(stack)-1].owner].cost += cost
			if closed.wrapped {
				ins = append(ins, insert{pos: r.pos, wrap: wrapTail, loop: closed.owner})
			}
			continue
		case 0x10, 0xd2: // call, ref.func
			x, err := r.u32()
			if err != nil {
				return nil, err
			}
			if uint64(x) >= e.fx.total {
				return nil, fmt.Errorf("%w: function index %d of %d at offset %d", ErrMalformed, x, e.fx.total, r.base+at)
			}
			if e.fx.shift && x >= e.fx.imported {
				ins = append(ins, insert{pos: at + 1, end: r.pos, idx: x + 1})
			}
		case 0x23, 0x24: // global.get, global.set
			g, err := r.u32()
			if err != nil {
				return nil, err
			}
			if g >= e.global {
				return nil, fmt.Errorf("%w: global index %d of %d at offset %d", ErrMalformed, g, e.global, r.base+at)
			}
		case 0x0c, 0x0d: // br, br_if
			if ins, err = relabel(r, stack, ins); err != nil {
				return nil, err
			}
		case 0x20, 0x21, 0x22, 0x25, 0x26:
			// One index.
			if _, err := r.u32(); err != nil {
				return nil, err
			}
		case 0x0e: // br_table
			n, err := r.u32()
			if err != nil {
				return nil, err
			}
			for i := uint64(0); i <= uint64(n); i++ {
				if ins, err = relabel(r, stack, ins); err != nil {
					return nil, err
				}
			}
		case 0x11: // call_indirect type table
			if _, err := r.u32(); err != nil {
				return nil, err
			}
			if _, err := r.u32(); err != nil {
				return nil, err
			}
		case 0x1c: // select t*
			n, err := r.u32()
			if err != nil {
				return nil, err
			}
			if _, err := r.bytes(int(n)); err != nil {
				return nil, err
			}
		case 0x3f, 0x40: // memory.size, memory.grow
			if _, err := r.u32(); err != nil {
				return nil, err
			}
			if op == 0x40 {
				dyn = dynPages
			}
		case 0x41:
			if _, err := r.signed(32); err != nil {
				return nil, err
			}
		case 0x42:
			if _, err := r.signed(64); err != nil {
				return nil, err
			}
		case 0x43:
			if _, err := r.bytes(4); err != nil {
				return nil, err
			}
		case 0x44:
			if _, err := r.bytes(8); err != nil {
				return nil, err
			}
		case 0xd0: // ref.null t
			if _, err := r.byte(); err != nil {
				return nil, err
			}
		case 0xfc:
			sub, err := r.u32()
			if err != nil {
				return nil, err
			}
			c, d := fcCost(sub)
			cost, dyn = c, d
			switch sub {
			case 0, 1, 2, 3, 4, 5, 6, 7:
			case 9, 11, 13, 15, 16, 17: // one immediate
				if _, err := r.u32(); err != nil {
					return nil, err
				}
			case 8, 10, 12, 14: // two immediates
				if _, err := r.u32(); err != nil {
					return nil, err
				}
				if _, err := r.u32(); err != nil {
					return nil, err
				}
			default:
				return nil, fmt.Errorf("%w: unsupported opcode 0xfc %d at offset %d", ErrUnsupported, sub, r.base+at)
			}
		default:
			switch {
			case op >= 0x28 && op <= 0x3e: // memarg
				if _, err := r.u32(); err != nil {
					return nil, err
				}
				if _, err := r.u32(); err != nil {
					return nil, err
				}
			case op >= 0x45 && op <= 0xc4:
				// Numeric, no immediates.
			default:
				return nil, fmt.Errorf("%w: unsupported opcode %#02x at offset %d", ErrUnsupported, op, r.base+at)
			}
		}
		ins[top.owner].cost += cost
		if dyn != dynNone {
			ins = append(ins, insert{pos: at, dyn: dyn})
		}
	}
}

// relabel reads a branch's label and, when the branch leaves wrapped loops
// (wrapPart), adds their three labels each to it.
func relabel(r *reader, stack []frame, ins []insert) ([]insert, error) {
	at := r.pos
	d, err := r.u32()
	if err != nil || uint64(d) >= uint64(len(stack)) {
		return ins, err // an invalid label stays invalid
	}
	add := uint32(0)
	for i := len(stack) - 1; i > len(stack)-1-int(d); i-- {
		if stack[i].wrapped {
			add += 3
		}
	}
	if add > 0 {
		ins = append(ins, insert{pos: at, end: r.pos, idx: d + add})
	}
	return ins, nil
}

// emitter builds the metering code for one function.
type emitter struct {
	global   uint32  // index of the fuel global
	tmp      uint32  // index of the i64 scratch local
	size     uint32  // index of the i32 scratch local (bulk instructions only)
	fx       funcMap // function renumbering
	refuelOn bool    // Refuel mode
	refuel   uint32  // index of the refuel import
	// typeParams is the parameter count of each type, for loop block types.
	typeParams []uint32
}

// appendCharge appends code that takes the i64 on top of the stack from the
// fuel global and traps if the result is negative:
//
//	global.get fuel; <cost>; i64.sub; local.tee tmp; global.set fuel
//	local.get tmp; i64.const 0; i64.lt_s; if; unreachable; end
//
// In Refuel mode the host is asked first, and the trap comes only if the
// value it returns is still negative:
//
//	global.get fuel; <cost>; i64.sub; local.tee tmp; global.set fuel
//	local.get tmp; i64.const 0; i64.lt_s
//	if
//	  local.get tmp; call refuel; local.tee tmp; global.set fuel
//	  local.get tmp; i64.const 0; i64.lt_s; if; unreachable; end
//	end
func (e emitter) appendCharge(b []byte, cost []byte) []byte {
	b = append(b, 0x23) // global.get fuel
	b = appendU32(b, e.global)
	b = append(b, cost...)
	b = append(b, 0x7d, 0x22) // i64.sub, local.tee tmp
	b = appendU32(b, e.tmp)
	b = append(b, 0x24) // global.set fuel
	b = appendU32(b, e.global)
	b = e.appendTrapIfNegative(b)
	if !e.refuelOn {
		return b
	}
	// Replace the unreachable inside the if by the refuel call and a
	// second check.
	b = b[:len(b)-2]
	b = append(b, 0x20) // local.get tmp
	b = appendU32(b, e.tmp)
	b = append(b, 0x10) // call refuel
	b = appendU32(b, e.refuel)
	b = append(b, 0x22) // local.tee tmp
	b = appendU32(b, e.tmp)
	b = append(b, 0x24) // global.set fuel
	b = appendU32(b, e.global)
	b = e.appendTrapIfNegative(b)
	return append(b, 0x0b) // end
}

// appendHeader appends a wrapped loop's header charge of c, which leaves
// for the refuel call after the loop when the fuel goes negative:
//
//	global.get fuel; i64.const c; i64.sub; local.tee tmp; global.set fuel
//	local.get tmp; i64.const 0; i64.lt_s; br_if $cold
func (e emitter) appendHeader(b []byte, c int64) []byte {
	b = append(b, 0x23) // global.get fuel
	b = appendU32(b, e.global)
	b = append(b, 0x42) // i64.const c
	b = appendS64(b, c)
	b = append(b, 0x7d, 0x22) // i64.sub, local.tee tmp
	b = appendU32(b, e.tmp)
	b = append(b, 0x24) // global.set fuel
	b = appendU32(b, e.global)
	b = append(b, 0x20) // local.get tmp
	b = appendU32(b, e.tmp)
	return append(b,
		0x42, 0x00, // i64.const 0
		0x53,       // i64.lt_s
		0x0d, 0x01, // br_if $cold
	)
}

// appendTail appends what follows a wrapped loop whose header charges c:
//
//	br $exit; end
//	local.get tmp; call refuel; local.tee tmp; i64.const 0; i64.lt_s
//	if; unreachable; end
//	local.get tmp; i64.const c; i64.add; global.set fuel
//	br $retry; end; end
func (e emitter) appendTail(b []byte, c int64) []byte {
	b = append(b, 0x0c, 0x02, 0x0b) // br $exit; end
	b = append(b, 0x20)             // local.get tmp
	b = appendU32(b, e.tmp)
	b = append(b, 0x10) // call refuel
	b = appendU32(b, e.refuel)
	b = append(b, 0x22) // local.tee tmp
	b = appendU32(b, e.tmp)
	b = append(b,
		0x42, 0x00, // i64.const 0
		0x53,       // i64.lt_s
		0x04, 0x40, // if
		0x00, // unreachable
		0x0b, // end
		0x20, // local.get tmp
	)
	b = appendU32(b, e.tmp)
	b = append(b, 0x42) // i64.const c
	b = appendS64(b, c)
	b = append(b, 0x7c, 0x24) // i64.add; global.set fuel
	b = appendU32(b, e.global)
	return append(b, 0x0c, 0x00, 0x0b, 0x0b) // br $retry; end; end
}

// appendTrapIfNegative appends
//
//	local.get tmp; i64.const 0; i64.lt_s; if; unreachable; end
func (e emitter) appendTrapIfNegative(b []byte) []byte {
	b = append(b, 0x20) // local.get tmp
	b = appendU32(b, e.tmp)
	return append(b,
		0x42, 0x00, // i64.const 0
		0x53,       // i64.lt_s
		0x04, 0x40, // if
		0x00, // unreachable
		0x0b, // end
	)
}

// appendStatic appends a charge of c.
func (e emitter) appendStatic(b []byte, c int64) []byte {
	return e.appendCharge(b, appendS64([]byte{0x42}, c)) // i64.const c
}

// appendDynamic appends code that charges for the i32 size operand on top
// of the stack, leaving it in place.
func (e emitter) appendDynamic(b []byte, d dynamic) []byte {
	b = append(b, 0x21) // local.set size
	b = appendU32(b, e.size)
	cost := append([]byte{0x20}, appendU32(nil, e.size)...) // local.get size
	cost = append(cost, 0xad)                               // i64.extend_i32_u
	switch d {
	case dynBytes:
		cost = append(cost, 0x42, 0x06, 0x88) // i64.const 6; i64.shr_u (BytesPerFuel = 64)
	case dynPages:
		cost = append(cost, 0x42, 0x0a, 0x86) // i64.const 10; i64.shl (FuelPerPage = 1024)
	case dynElems:
		// FuelPerElement = 1.
	}
	b = e.appendCharge(b, cost)
	b = append(b, 0x20) // local.get size
	return appendU32(b, e.size)
}

// instrumentBody rewrites one function body (the bytes after its size).
// nparams is the function's parameter count; base is the body's offset in
// the module.
func instrumentBody(body []byte, base int, nparams uint32, e emitter) ([]byte, error) {
	r := &reader{b: body, base: base}
	groups, err := r.u32()
	if err != nil {
		return nil, err
	}
	declStart := r.pos
	nlocals := uint64(nparams)
	for i := uint32(0); i < groups; i++ {
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		t, err := r.byte()
		if err != nil {
			return nil, err
		}
		switch t {
		case 0x7f, 0x7e, 0x7d, 0x7c, 0x70, 0x6f:
		default:
			return nil, fmt.Errorf("%w: local type %#02x at offset %d", ErrUnsupported, t, r.off()-1)
		}
		nlocals += uint64(n)
		if nlocals > maxLocals {
			return nil, fmt.Errorf("%w: more than %d locals in body at offset %d", ErrUnsupported, maxLocals, base)
		}
	}
	declEnd := r.pos
	ins, err := scanBody(r, e)
	if err != nil {
		return nil, err
	}
	charged, dyn, patched := false, false, false
	for _, in := range ins {
		charged = charged || in.cost > 0 || in.dyn != dynNone || in.wrap != wrapNone
		dyn = dyn || in.dyn != dynNone
		patched = patched || in.end > 0
	}
	if !charged && !patched {
		return body, nil
	}
	// Scratch locals go after every existing one, so no index shifts.
	e.tmp, e.size = uint32(nlocals), uint32(nlocals)+1
	out := make([]byte, 0, len(body)+len(ins)*32+8)
	if !charged {
		out = append(out, body[:declEnd]...)
	} else if dyn {
		out = appendU32(out, groups+2)
		out = append(out, body[declStart:declEnd]...)
		out = append(out, 0x01, 0x7e, 0x01, 0x7f) // i64 tmp, i32 size
	} else {
		out = appendU32(out, groups+1)
		out = append(out, body[declStart:declEnd]...)
		out = append(out, 0x01, 0x7e) // i64 tmp
	}
	prev := declEnd
	for _, in := range ins {
		out = append(out, body[prev:in.pos]...)
		prev = in.pos
		switch {
		case in.end > 0:
			out = appendU32(out, in.idx)
			prev = in.end
		case in.wrap == wrapOpen:
			out = append(append(out, 0x02), in.bt...) // block bt
			out = append(append(out, 0x03), in.bt...) // loop bt
			out = append(out, 0x02, 0x40)             // block
		case in.wrap == wrapHeader:
			if in.cost > 0 {
				out = e.appendHeader(out, in.cost)
			}
		case in.wrap == wrapTail:
			out = e.appendTail(out, ins[in.loop].cost)
		case in.dyn != dynNone:
			out = e.appendDynamic(out, in.dyn)
		case in.cost > 0:
			out = e.appendStatic(out, in.cost)
		}
	}
	return append(out, body[prev:]...), nil
}

// maxLocals bounds the parameters and locals of one function. The format
// allows 2^32-1; real compilers stay far below, and the bound keeps a hostile
// module from making the compiler allocate gigabytes.
const maxLocals = 50000 - 2

// blockValType reports whether bt, a negative block type read as s33, is
// empty (0x40) or a value type of the supported proposals: i32, i64,
// f32, f64, funcref, externref.
func blockValType(bt int64) bool {
	switch bt {
	case -0x40, -1, -2, -3, -4, -0x10, -0x11:
		return true
	}
	return false
}
