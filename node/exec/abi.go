package exec

import (
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// ABI is a guest calling convention (SPEC §6).
type ABI uint8

// The guest ABIs.
const (
	// ABIAuto detects the ABI from the module (SPEC §6.1).
	ABIAuto ABI = iota
	// ABINumeric calls an export with i32/i64/f32/f64 params and results.
	ABINumeric
	// ABICBOR passes the params as DAG-CBOR bytes in guest memory
	// (guest exports alloc) and reads DAG-CBOR bytes back.
	ABICBOR
	// ABIWASI runs a WASI command (_start): params as DAG-JSON on stdin,
	// result as DAG-JSON on stdout.
	ABIWASI
	// ABIComponent is the subset of the component canonical ABI used by
	// Homestar's modules (cabi_realloc).
	ABIComponent
)

var abiNames = [...]string{"auto", "numeric", "dag-cbor", "wasi", "component"}

// String returns the ABI's name as written in SPEC §6 and in receipts.
func (a ABI) String() string {
	if int(a) < len(abiNames) {
		return abiNames[a]
	}
	return fmt.Sprintf("abi(%d)", uint8(a))
}

// ParseABI parses an ABI name as returned by String ("" is ABIAuto).
func ParseABI(s string) (ABI, error) {
	if s == "" {
		return ABIAuto, nil
	}
	for i, n := range abiNames {
		if n == s {
			return ABI(i), nil
		}
	}
	return ABIAuto, fmt.Errorf("%w: unknown ABI %q", ErrConfig, s)
}

// moduleInfo is what detection and the ABIs need to know about a compiled
// module, computed once per module.
type moduleInfo struct {
	exports      map[string]api.FunctionDefinition
	hasMemory    bool
	importsClock bool // homestar get-current-time
}

// detect applies the rule of SPEC §6.1 to pick the ABI of a call.
func (mi *moduleInfo) detect(fun string) ABI {
	_, hasFun := mi.exports[fun]
	if fun == "_start" || (!hasFun && mi.exports["_start"] != nil && mi.exports[resolveName(mi, fun)] == nil) {
		return ABIWASI
	}
	if mi.exports["cabi_realloc"] != nil {
		return ABIComponent
	}
	if a := mi.exports["alloc"]; a != nil && mi.hasMemory && sig(a) == "i32>i32" {
		if f := mi.exports[fun]; f != nil && sig(f) == "i32,i32>i64" {
			return ABICBOR
		}
	}
	return ABINumeric
}

// resolveName resolves an export name for every ABI: the name as
// given, else with '_' and '-' swapped. It returns "" when neither exists.
func resolveName(mi *moduleInfo, fun string) string {
	if mi.exports[fun] != nil {
		return fun
	}
	for _, alt := range []string{strings.ReplaceAll(fun, "_", "-"), strings.ReplaceAll(fun, "-", "_")} {
		if mi.exports[alt] != nil {
			return alt
		}
	}
	return ""
}

// sig renders a function's core signature as "p1,p2>r1".
func sig(d api.FunctionDefinition) string {
	var b strings.Builder
	for i, t := range d.ParamTypes() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(api.ValueTypeName(t))
	}
	b.WriteByte('>')
	for i, t := range d.ResultTypes() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(api.ValueTypeName(t))
	}
	return b.String()
}
