package fuel

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestSpecCostTable keeps the cost table of spec/SPEC.md §8.4 and the
// constants of cost.go in step, and checks opCost against both on one
// opcode of each class.
// Spec: §8.4.
func TestSpecCostTable(t *testing.T) {
	b, err := os.ReadFile("../spec/SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "### 8.4 Cost table (`"+CostTableVersion+"`)")
	if i < 0 {
		t.Fatalf("SPEC.md has no §8.4 for %s", CostTableVersion)
	}
	s = s[i:]
	if j := strings.Index(s[1:], "\n###"); j >= 0 {
		s = s[:j+1]
	}
	// class -> (constant, a representative one-byte opcode or -1)
	want := map[string]struct {
		cost int64
		op   int
	}{
		"structural":         {CostStructural, 0x02},
		"control":            {CostControl, 0x0c},
		"call":               {CostCall, 0x10},
		"indirect call":      {CostCallIndirect, 0x11},
		"parametric":         {CostParametric, 0x1a},
		"variable":           {CostVariable, 0x20},
		"table access":       {CostTableAccess, 0x25},
		"memory access":      {CostMemory, 0x28},
		"size":               {CostMemorySize, 0x3f},
		"constant":           {CostConst, 0x42},
		"integer":            {CostInt, 0x6a},
		"integer division":   {CostIntDiv, 0x6d},
		"float":              {CostFloat, 0x92},
		"float division":     {CostFloatDiv, 0xa3},
		"conversion":         {CostConvert, 0xa7},
		"reference":          {CostRef, 0xd2},
		"drop segment":       {CostDrop, -1},
		"bulk (static part)": {CostBulk, 0x40},
	}
	seen := 0
	for _, line := range strings.Split(s, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 5 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") || strings.TrimSpace(cells[1]) == "class" {
			continue
		}
		class := strings.TrimSpace(cells[1])
		cost, err := strconv.ParseInt(strings.TrimSpace(cells[3]), 10, 64)
		if err != nil {
			t.Fatalf("row %q: %v", line, err)
		}
		w, ok := want[class]
		if !ok {
			t.Errorf("SPEC.md class %q unknown to the code", class)
			continue
		}
		seen++
		if cost != w.cost {
			t.Errorf("class %q: SPEC.md says %d, cost.go %d", class, cost, w.cost)
		}
		if w.op >= 0 && opCost(byte(w.op)) != cost {
			t.Errorf("class %q: opCost(%#02x) = %d, SPEC.md %d", class, w.op, opCost(byte(w.op)), cost)
		}
	}
	if seen != len(want) {
		t.Errorf("SPEC.md §8.4 has %d of the %d classes", seen, len(want))
	}
	for sub, c := range map[uint32]int64{0: CostConvert, 9: CostDrop, 11: CostBulk, 16: CostMemorySize, 17: CostBulk} {
		if got, _ := fcCost(sub); got != c {
			t.Errorf("fcCost(%d) = %d, want %d", sub, got, c)
		}
	}
}
