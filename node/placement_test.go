package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/node/p2p"
	"github.com/ipvm-go/ipvm/receipt"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/workflow"
)

// clusterHost, when set by a test, adjusts the p2p configuration of the
// nodes clusterWith starts.
var clusterHost func(*p2p.Config)

// clusterWith starts k nodes on loopback like startCluster, with each
// repo's config adjusted by cfg first (ids are every node's peer ID, known
// before any opens); node 0 is the bootstrap peer.
func clusterWith(t testing.TB, k int, cfg func(i int, c *Config, ids []string)) []*Node {
	t.Helper()
	var repos []*Repo
	var ids []string
	for range k {
		repo, err := OpenRepo(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		id, err := repo.PeerID()
		if err != nil {
			t.Fatal(err)
		}
		repos, ids = append(repos, repo), append(ids, id.String())
	}
	var nodes []*Node
	var boot []string
	for i, repo := range repos {
		repo.Config.Network.LookupTimeout = Duration(2 * time.Second)
		if cfg != nil {
			cfg(i, &repo.Config, ids)
		}
		n, err := Open(repo, Options{Network: &NetworkOptions{
			Listen:    []string{"/ip4/127.0.0.1/tcp/0"},
			Bootstrap: boot,
			NoMDNS:    true,
			Host:      clusterHost,
		}})
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		t.Cleanup(func() { n.Close() })
		if i == 0 {
			for _, a := range n.Network().Addrs() {
				boot = append(boot, a.String())
			}
		}
		nodes = append(nodes, n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, n := range nodes {
		for n.Network().RoutingTableSize() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("routing tables did not fill")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nodes
}

// paddedModule is exec/testdata/guest.wasm (whose dag-cbor export "echo"
// returns its params) grown to size bytes by a custom section of random
// bytes, so every call gives a new module CID.
func paddedModule(t testing.TB, size int) []byte {
	t.Helper()
	wasm, err := os.ReadFile("exec/testdata/guest.wasm")
	if err != nil {
		t.Fatal(err)
	}
	name := []byte("pad")
	room := size - len(wasm) - 1 - binary.MaxVarintLen32 - 1 - len(name)
	if room < 0 {
		room = 0
	}
	body := binary.AppendUvarint([]byte{byte(len(name))}, 0)[:1]
	body = append(body, name...)
	pad := make([]byte, room)
	_, _ = rand.Read(pad)
	body = append(body, pad...)
	out := append(bytes.Clone(wasm), 0) // custom section id
	out = binary.AppendUvarint(out, uint64(len(body)))
	return append(out, body...)
}

// randomBlob adds size random bytes to n and returns their CID.
func randomBlob(t testing.TB, n *Node, size int) cid.Cid {
	t.Helper()
	b := make([]byte, size)
	_, _ = rand.Read(b)
	c, _, err := n.AddBlob(context.Background(), bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// addBytes adds b to n and returns its CID.
func addBytes(t testing.TB, n *Node, b []byte) cid.Cid {
	t.Helper()
	c, _, err := n.AddBlob(context.Background(), bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitHolders waits until asker finds a provider for every CID.
func waitHolders(t testing.TB, asker *Node, cs ...cid.Cid) {
	t.Helper()
	for _, c := range cs {
		waitHolderCount(t, asker, c, 1)
	}
}

// waitHolderCount waits until asker finds at least k providers of c.
func waitHolderCount(t testing.TB, asker *Node, c cid.Cid, k int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		ps, _ := asker.Network().FindProviders(ctx, c, k)
		if len(ps) >= k {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: %d of %d providers found", c, len(ps), k)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// echoWorkflow is one task running mod's "echo" on a link to input.
func echoWorkflow(t testing.TB, mod, input cid.Cid, meta string) *workflow.Workflow {
	t.Helper()
	if meta == "" {
		meta = "{}"
	}
	js := `{"name":"place","tasks":[{"name":"echo","nonce":"` + rand.Text() + `","args":{"mod":{"/":"` + mod.String() +
		`"},"fun":"echo","params":[{"/":"` + input.String() + `"}]},"meta":` + meta + `}]}`
	wf, err := workflow.Parse([]byte(js), workflow.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return wf
}

// runOne runs a one-task workflow on n and returns its event.
func runOne(t testing.TB, n *Node, wf *workflow.Workflow) Event {
	t.Helper()
	sum, err := n.Run(context.Background(), wf, RunOptions{Grant: n.OwnerGrant(wf)})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Events) != 1 {
		t.Fatalf("events: %+v", sum.Events)
	}
	return sum.Events[0]
}

// placementOf returns the receipt's placement meta after checking the
// receipt verifies for the task with the given issuer.
func placementOf(t testing.TB, ev Event, issuer string) map[string]any {
	t.Helper()
	s, err := receipt.Decode(ev.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyWith(ev.Task, receipt.VerifyOpts{Issuers: []string{issuer}}); err != nil {
		t.Fatalf("receipt does not verify with issuer %s: %v", issuer, err)
	}
	m, _ := s.Meta["placement"].(map[string]any)
	if m == nil {
		t.Fatalf("receipt has no placement meta: %v", s.Meta)
	}
	return m
}

func blockTraffic(n *Node) p2p.Traffic {
	return n.Network().Stats().Traffic[p2p.ProtocolBlock]
}

// TestPlacementBytes: a 50 MB input held by B and a 20 KB module on A →
// the task runs on B (the module moves); a 1 KB input on B → it runs on A
// (the data moves). The bytes moved are read from the transport counters.
func TestPlacementBytes(t *testing.T) {
	nodes := clusterWith(t, 2, nil)
	a, b := nodes[0], nodes[1]
	bID := b.Network().ID().String()

	t.Run("code to data", func(t *testing.T) {
		modBytes := paddedModule(t, 20<<10)
		mod := addBytes(t, a, modBytes)
		input := randomBlob(t, b, 50<<20)
		waitHolders(t, a, input)
		waitHolders(t, b, mod)
		a0, b0 := blockTraffic(a), blockTraffic(b)
		ev := runOne(t, a, echoWorkflow(t, mod, input, ""))
		if !ev.Out.IsOk() || !spec.Equal(ev.Out.Ok, []any{input}) {
			t.Fatalf("result %+v", ev.Out)
		}
		if ev.From != bID {
			t.Fatalf("ran on %q, want B %s", ev.From, bID)
		}
		pm := placementOf(t, ev, b.DID())
		if pm["on"] != bID || pm["moved"] != int64(len(modBytes)) {
			t.Fatalf("placement meta %v", pm)
		}
		a1, b1 := blockTraffic(a), blockTraffic(b)
		modSent, inSent := a1.Out-a0.Out, b1.Out-b0.Out
		t.Logf("block protocol bytes: A sent %d (module %d), B sent %d", modSent, len(modBytes), inSent)
		if modSent < uint64(len(modBytes)) || modSent > uint64(len(modBytes))+8<<10 {
			t.Fatalf("A sent %d block bytes, want the %d-byte module", modSent, len(modBytes))
		}
		if inSent > 1<<10 {
			t.Fatalf("B sent %d block bytes: the input moved", inSent)
		}
	})

	t.Run("data to code", func(t *testing.T) {
		mod := addBytes(t, a, paddedModule(t, 20<<10))
		input := randomBlob(t, b, 1<<10)
		waitHolders(t, a, input)
		a0, b0 := blockTraffic(a), blockTraffic(b)
		inv0 := a.Network().Stats().Traffic[ProtocolInvoke]
		ev := runOne(t, a, echoWorkflow(t, mod, input, ""))
		if !ev.Out.IsOk() || ev.From != "" {
			t.Fatalf("from %q result %+v", ev.From, ev.Out)
		}
		pm := placementOf(t, ev, a.DID())
		if pm["moved"] != int64(1<<10) {
			t.Fatalf("placement meta %v", pm)
		}
		a1, b1 := blockTraffic(a), blockTraffic(b)
		inSent, modSent := b1.Out-b0.Out, a1.Out-a0.Out
		t.Logf("block protocol bytes: B sent %d (input 1024), A sent %d", inSent, modSent)
		if inSent < 1<<10 || inSent > 4<<10 {
			t.Fatalf("B sent %d block bytes, want the 1 KB input", inSent)
		}
		if modSent > 1<<10 {
			t.Fatalf("A sent %d block bytes: the module moved", modSent)
		}
		if inv := a.Network().Stats().Traffic[ProtocolInvoke]; inv != inv0 {
			t.Fatalf("an invocation was sent: %+v", inv)
		}
	})
}
