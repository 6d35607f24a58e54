package bench

import (
	"fmt"

	"github.com/ipvm-go/ipvm/node/placement"
)

// Placement checks placement by advertised sizes (issue 7) over a matrix
// of input sizes (1 KB–100 MB) and module sizes (10 KB–10 MB): the local
// node holds the module, a peer holds the input, and placement.Decide
// chooses where the task runs. Ours is the bytes that choice moves,
// counted from the scenario (the blobs the chosen node lacks), not from
// the scheduler's own estimate; the floor is the better of always
// code-to-data (the module moves) and always data-to-code (the input
// moves). A remote run also moves the invocation and its receipt, about
// remoteOverhead bytes (the node passes the real request size as
// Rules.Overhead), counted on the code-to-data side of both. Goal: ratio
// 1.0 on every row (≤ 1, and it cannot be below).
func Placement(Config) ([]Metric, error) {
	const remoteOverhead = 1000
	const kb, mb = 1000, 1000 * 1000
	inputs := []uint64{1 * kb, 100 * kb, 1 * mb, 10 * mb, 50 * mb, 100 * mb}
	modules := []uint64{10 * kb, 1 * mb, 10 * mb}
	local := placement.Candidate{Peer: "A", Local: true, Holds: map[string]bool{"module": true}}
	peer := placement.Candidate{Peer: "B", Holds: map[string]bool{"input": true}}
	var ms []Metric
	for _, in := range inputs {
		for _, mod := range modules {
			task := placement.Task{Module: placement.Blob{Key: "module", Size: mod}, Inputs: []placement.Blob{{Key: "input", Size: in}}}
			d, err := placement.Decide(task, []placement.Candidate{local, peer}, placement.Rules{Overhead: remoteOverhead})
			if err != nil {
				return nil, err
			}
			var moved uint64
			switch ch := d.Choice(); {
			case ch.Local:
				moved = in // data to code
			case ch.Peer == peer.Peer:
				moved = mod + remoteOverhead // code to data
			default:
				return nil, fmt.Errorf("%w: placement chose %q", ErrMismatch, ch.Peer)
			}
			best := min(in, mod+remoteOverhead)
			ms = append(ms, atMost(fmt.Sprintf("placement_bytes_in_%s_mod_%s", size(in), size(mod)), "bytes",
				float64(moved), float64(best), 1,
				fmt.Sprintf("placement.Decide chose %s; code-to-data moves %d (module + invocation and receipt), data-to-code %d", d.Choice().Peer, mod+remoteOverhead, in)))
		}
	}
	return ms, nil
}

// size prints n bytes as 1KB, 10MB, ...
func size(n uint64) string {
	switch {
	case n >= 1000*1000 && n%(1000*1000) == 0:
		return fmt.Sprintf("%dMB", n/(1000*1000))
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dKB", n/1000)
	}
	return fmt.Sprintf("%dB", n)
}
