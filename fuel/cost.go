package fuel

// CostTableVersion names the cost table and charging algorithm below. Two
// nodes that agree on it compute the same fuel for the same task; any change
// to a cost or to where charges are inserted gets a new version.
const CostTableVersion = "ipvm-fuel-v1"

// The cost table, one constant per opcode class (spec/SPEC.md §8).
const (
	// CostStructural is charged for nop, block, loop, else and end.
	CostStructural = 0
	// CostControl is charged for unreachable, if, br, br_if, br_table and
	// return.
	CostControl = 1
	// CostCall is charged for call.
	CostCall = 4
	// CostCallIndirect is charged for call_indirect.
	CostCallIndirect = 6
	// CostParametric is charged for drop, select and typed select.
	CostParametric = 1
	// CostVariable is charged for local.get/set/tee and global.get/set.
	CostVariable = 1
	// CostTableAccess is charged for table.get and table.set.
	CostTableAccess = 2
	// CostMemory is charged for every load and store.
	CostMemory = 2
	// CostMemorySize is charged for memory.size and table.size.
	CostMemorySize = 1
	// CostConst is charged for i32/i64/f32/f64.const.
	CostConst = 1
	// CostInt is charged for integer tests, comparisons and arithmetic
	// (except division and remainder) and for sign-extension.
	CostInt = 1
	// CostIntDiv is charged for integer division and remainder.
	CostIntDiv = 8
	// CostFloat is charged for float comparisons and arithmetic (except
	// division and square root).
	CostFloat = 2
	// CostFloatDiv is charged for float division and square root.
	CostFloatDiv = 8
	// CostConvert is charged for conversions, truncations (trapping and
	// saturating), promotions, demotions and reinterpretations.
	CostConvert = 2
	// CostRef is charged for ref.null, ref.is_null and ref.func.
	CostRef = 1
	// CostDrop is charged for data.drop and elem.drop.
	CostDrop = 1
	// CostBulk is the fixed part of memory.init, memory.copy, memory.fill,
	// memory.grow, table.init, table.copy, table.fill and table.grow.
	CostBulk = 8
	// BytesPerFuel is the dynamic part of memory.init, memory.copy and
	// memory.fill: one fuel per BytesPerFuel bytes of the size operand,
	// rounded down.
	BytesPerFuel = 64
	// FuelPerPage is the dynamic part of memory.grow: FuelPerPage fuel per
	// 64 KiB page asked for, whether or not the grow succeeds
	// (65536/BytesPerFuel).
	FuelPerPage = 1024
	// FuelPerElement is the dynamic part of table.init, table.copy,
	// table.fill and table.grow: one fuel per table element.
	FuelPerElement = 1
)

// dynamic says how an instruction's size operand is charged.
type dynamic uint8

const (
	dynNone  dynamic = iota
	dynBytes         // n / BytesPerFuel
	dynPages         // n * FuelPerPage
	dynElems         // n * FuelPerElement
)

// opCost returns the static cost of the one-byte opcode op.
func opCost(op byte) int64 {
	switch {
	case op == 0x01, op == 0x02, op == 0x03, op == 0x05, op == 0x0b:
		return CostStructural
	case op == 0x00, op == 0x04, op >= 0x0c && op <= 0x0f:
		return CostControl
	case op == 0x10:
		return CostCall
	case op == 0x11:
		return CostCallIndirect
	case op >= 0x1a && op <= 0x1c:
		return CostParametric
	case op >= 0x20 && op <= 0x24:
		return CostVariable
	case op == 0x25, op == 0x26:
		return CostTableAccess
	case op >= 0x28 && op <= 0x3e:
		return CostMemory
	case op == 0x3f:
		return CostMemorySize
	case op == 0x40:
		return CostBulk
	case op >= 0x41 && op <= 0x44:
		return CostConst
	case op >= 0x6d && op <= 0x70, op >= 0x7f && op <= 0x82:
		return CostIntDiv
	case op >= 0x45 && op <= 0x5a, op >= 0x67 && op <= 0x8a, op >= 0xc0 && op <= 0xc4:
		return CostInt
	case op == 0x91, op == 0x95, op == 0x9f, op == 0xa3:
		return CostFloatDiv
	case op >= 0x5b && op <= 0x66, op >= 0x8b && op <= 0xa6:
		return CostFloat
	case op >= 0xa7 && op <= 0xbf:
		return CostConvert
	case op >= 0xd0 && op <= 0xd2:
		return CostRef
	}
	return 0
}

// fcCost returns the static cost and dynamic charge of the 0xFC-prefixed
// opcode sub.
func fcCost(sub uint32) (int64, dynamic) {
	switch {
	case sub <= 7:
		return CostConvert, dynNone
	case sub == 8, sub == 10, sub == 11:
		return CostBulk, dynBytes
	case sub == 9, sub == 13:
		return CostDrop, dynNone
	case sub == 12, sub == 14, sub == 15, sub == 17:
		return CostBulk, dynElems
	case sub == 16:
		return CostMemorySize, dynNone
	}
	return 0, dynNone
}
