package placement

import (
	"errors"
	"strings"
	"testing"
)

func holds(keys ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func TestDecide(t *testing.T) {
	const kb, mb = 1 << 10, 1 << 20
	mod := Blob{"mod", 20 * kb}
	a := Candidate{Peer: "A", Local: true, Holds: holds("mod"), Labels: map[string]string{"region": "us"}}
	b := Candidate{Peer: "B", Holds: holds("in"), Labels: map[string]string{"region": "eu"}}
	c := Candidate{Peer: "C", Holds: holds("in", "mod"), Labels: map[string]string{"region": "eu", "gpu": "yes"}}
	for _, tc := range []struct {
		name   string
		task   Task
		cands  []Candidate
		rules  Rules
		want   string // chosen peer
		order  string // full order, when checked
		errHas string
	}{
		{name: "large input: code to data", task: Task{Module: mod, Inputs: []Blob{{"in", 50 * mb}}}, cands: []Candidate{a, b}, want: "B"},
		{name: "small input: data to code", task: Task{Module: mod, Inputs: []Blob{{"in", kb}}}, cands: []Candidate{a, b}, want: "A"},
		{name: "tie goes local", task: Task{Module: Blob{"mod", kb}, Inputs: []Blob{{"in", kb}}}, cands: []Candidate{b, a}, want: "A", order: "A,B"},
		{name: "overhead breaks a near tie", task: Task{Module: Blob{"mod", kb}, Inputs: []Blob{{"in", kb + 10}}}, cands: []Candidate{a, b}, rules: Rules{Overhead: 100}, want: "A"},
		{name: "holder of all wins", task: Task{Module: mod, Inputs: []Blob{{"in", 5 * mb}}}, cands: []Candidate{a, b, c}, want: "C", order: "C,B,A"},
		{name: "pin local", task: Task{Module: mod, Inputs: []Blob{{"in", 50 * mb}}, On: Local}, cands: []Candidate{a, b}, want: "A", order: "A"},
		{name: "pin peer", task: Task{Module: mod, Inputs: []Blob{{"in", kb}}, On: "B"}, cands: []Candidate{a, b}, want: "B", order: "B"},
		{name: "pin unknown peer", task: Task{Module: mod, On: "Z"}, cands: []Candidate{a, b}, errHas: `pinned "on": "Z", which is not a known peer`},
		{name: "labels", task: Task{Module: mod, Labels: map[string]string{"region": "eu"}}, cands: []Candidate{a, b, c}, want: "C", order: "C,B"},
		{name: "labels none match", task: Task{Module: mod, Labels: map[string]string{"region": "mars"}}, cands: []Candidate{a, b, c}, errHas: "label region=mars not matched"},
		{name: "block list", task: Task{Module: mod, Inputs: []Blob{{"in", 50 * mb}}}, cands: []Candidate{a, b}, rules: Rules{BlockPeers: []string{"B"}}, want: "A", order: "A"},
		{name: "pinned to a blocked peer", task: Task{Module: mod, On: "B"}, cands: []Candidate{a, b}, rules: Rules{BlockPeers: []string{"B"}}, errHas: "block list"},
		{name: "unfit candidate", task: Task{Module: mod, Inputs: []Blob{{"in", 50 * mb}}}, cands: []Candidate{a, {Peer: "B", Holds: holds("in"), Unfit: "offers 1 MB of memory"}}, want: "A", order: "A"},
		{name: "only candidate unfit", task: Task{Module: mod, On: "B"}, cands: []Candidate{a, {Peer: "B", Unfit: "offers 1 MB of memory"}}, errHas: "offers 1 MB of memory"},
		{name: "local is never blocked by peer list", task: Task{Module: mod}, cands: []Candidate{a}, rules: Rules{BlockPeers: []string{"A"}}, want: "A"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Decide(tc.task, tc.cands, tc.rules)
			if tc.errHas != "" {
				if !errors.Is(err, ErrUnsatisfiable) || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err %v, want %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Choice().Peer; got != tc.want {
				t.Fatalf("chose %s, want %s (%+v)", got, tc.want, d.All)
			}
			if tc.order != "" {
				var ps []string
				for _, c := range d.Order {
					ps = append(ps, c.Peer)
				}
				if got := strings.Join(ps, ","); got != tc.order {
					t.Fatalf("order %s, want %s", got, tc.order)
				}
			}
			if len(d.All) != len(tc.cands) {
				t.Fatalf("all has %d, want %d", len(d.All), len(tc.cands))
			}
		})
	}
}

// TestDecideMatrix: over input sizes 1 KB–100 MB and module sizes 10 KB–10
// MB, the estimate of the choice equals the better of always-code-to-data
// and always-data-to-code.
func TestDecideMatrix(t *testing.T) {
	a := Candidate{Peer: "A", Local: true, Holds: holds("mod")}
	b := Candidate{Peer: "B", Holds: holds("in")}
	for _, in := range []uint64{1 << 10, 1 << 20, 50 << 20, 100 << 20} {
		for _, mod := range []uint64{10 << 10, 1 << 20, 10 << 20} {
			d, err := Decide(Task{Module: Blob{"mod", mod}, Inputs: []Blob{{"in", in}}}, []Candidate{a, b}, Rules{})
			if err != nil {
				t.Fatal(err)
			}
			best := min(in, mod)
			if d.Choice().Bytes != best {
				t.Errorf("in %d mod %d: chose %d bytes, best %d", in, mod, d.Choice().Bytes, best)
			}
		}
	}
}
