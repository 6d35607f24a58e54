package node

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ipvm-go/ipvm/node/p2p"
)

// movedBytes is what crossed the wire between the nodes on the block and
// invoke protocols (blobs, the invocation and the receipt), read from the
// transport counters: the bytes each node sent.
func movedBytes(nodes ...*Node) (blocks, invoke, offer uint64) {
	for _, n := range nodes {
		st := n.Network().Stats()
		blocks += st.Traffic[p2p.ProtocolBlock].Out
		invoke += st.Traffic[ProtocolInvoke].Out
		offer += st.Traffic[ProtocolOffer].Out
	}
	return blocks, invoke, offer
}

// TestPlacementMatrix runs one task per row and strategy on two real
// hosts (the input on B, the module on A) and compares the bytes moved by
// the chosen placement with the better of always-code-to-data (pinned on
// B) and always-data-to-code (pinned here): ratio 1.00 on every row. The
// normal run uses a small matrix; IPVM_PLACEMENT_MATRIX=full runs inputs
// 1 KB–100 MB and modules 10 KB–10 MB (BENCHMARKS.md "Placement").
func TestPlacementMatrix(t *testing.T) {
	inputs := []int{1 << 10, 1 << 20}
	modules := []int{10 << 10, 100 << 10}
	if os.Getenv("IPVM_PLACEMENT_MATRIX") == "full" {
		inputs = []int{1 << 10, 1 << 20, 10 << 20, 100 << 20}
		modules = []int{10 << 10, 1 << 20, 10 << 20}
	}
	nodes := clusterWith(t, 2, nil)
	a, b := nodes[0], nodes[1]
	bPin := `{"on":"` + b.Network().ID().String() + `"}`
	var table strings.Builder
	fmt.Fprintf(&table, "\n| input | module | chosen | bytes moved (chosen) | code→data | data→code | blob-bytes ratio | total ratio | offer bytes (chosen) |\n|---:|---:|---|---:|---:|---:|---:|---:|---:|\n")
	for _, in := range inputs {
		for _, mod := range modules {
			var offerBytes uint64
			run := func(meta string) (total, blobs uint64, where string) {
				m := addBytes(t, a, paddedModule(t, mod))
				input := randomBlob(t, b, in)
				waitHolders(t, a, input)
				waitHolders(t, b, m)
				b0, i0, o0 := movedBytes(a, b)
				ev := runOne(t, a, echoWorkflow(t, m, input, meta))
				if !ev.Out.IsOk() {
					t.Fatalf("in %d mod %d %s: %+v", in, mod, meta, ev.Out)
				}
				b1, i1, o1 := movedBytes(a, b)
				if meta == "" {
					offerBytes = o1 - o0
				}
				where = "data→code"
				if ev.From != "" {
					where = "code→data"
				}
				return (b1 - b0) + (i1 - i0), b1 - b0, where
			}
			chosen, chosenBlobs, where := run("")
			c2d, c2dBlobs, _ := run(bPin)
			d2c, d2cBlobs, _ := run(`{"on":"local"}`)
			best := min(c2d, d2c)
			ratio := float64(chosen) / float64(best)
			blobRatio := float64(chosenBlobs) / float64(min(c2dBlobs, d2cBlobs))
			fmt.Fprintf(&table, "| %s | %s | %s | %d | %d | %d | %.2f | %.2f | %d |\n", size(in), size(mod), where, chosen, c2d, d2c, blobRatio, ratio, offerBytes)
			if ratio > 1.01 { // below 1: the pins' own meta makes the fixed strategies' requests bigger
				t.Errorf("in %s mod %s: chosen moved %d bytes, the better fixed strategy %d", size(in), size(mod), chosen, best)
			}
		}
	}
	t.Log(table.String())
}

func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
