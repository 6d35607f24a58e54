package node

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ipvm-go/ipvm/receipt"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/workflow"
)

// startCluster starts k nodes with real libp2p hosts on 127.0.0.1, each
// bootstrapped through the first, and waits until every routing table has
// a peer (clusterWith, with the repo configs as created).
func startCluster(t *testing.T, k int) []*Node { return clusterWith(t, k, nil) }

// waitProvided waits until some node other than from finds a provider for
// each task of wf on the DHT.
func waitProvided(t *testing.T, from, asker *Node, wf *workflow.Workflow) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, task := range wf.Tasks {
		for {
			ps, _ := asker.Network().FindProviders(ctx, task.CID, 1)
			if len(ps) > 0 {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("task %s was never provided", task.Name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestNetworkMemoization: five nodes; A runs a workflow; E, which never saw
// it, runs the same workflow and gets every receipt from the network (zero
// executions on E), verified and stored, so E serves them afterwards; and a
// module added only on A runs on C, fetched by CID (Spec: §11).
func TestNetworkMemoization(t *testing.T) {
	ctx := context.Background()
	nodes := startCluster(t, 5)
	a, c, e := nodes[0], nodes[2], nodes[4]

	wfA := parseFile(t, a, "../examples/hello.json")
	sumA, err := a.Run(ctx, wfA, RunOptions{Grant: a.OwnerGrant(wfA)})
	if err != nil || sumA.Failed != 0 {
		t.Fatalf("A: %v %+v", err, sumA)
	}
	waitProvided(t, a, e, wfA)

	// E has no module and no receipts; the workflow's CIDs are the same.
	sumE, err := e.Run(ctx, wfA, RunOptions{Grant: e.OwnerGrant(wfA)})
	if err != nil {
		t.Fatal(err)
	}
	if e.Executions() != 0 {
		t.Fatalf("E executed %d tasks", e.Executions())
	}
	for i, ev := range sumE.Events {
		if !ev.Cached || ev.From != a.Network().ID().String() {
			t.Errorf("%s: cached %v from %q", ev.Name, ev.Cached, ev.From)
		}
		if !bytes.Equal(ev.Bytes, sumA.Events[i].Bytes) || !spec.Equal(ev.Out.Ok, sumA.Events[i].Out.Ok) {
			t.Errorf("%s: E's receipt differs from A's", ev.Name)
		}
		// Stored on E, verified.
		v, err := e.Receipt(ctx, ev.Task)
		if err != nil || !v.Verified {
			t.Errorf("%s: not stored on E: %v", ev.Name, err)
		}
	}

	// A lookup by task CID on a node that never ran the task falls back
	// to the network (D has run nothing), verified and kept.
	d := nodes[3]
	v, err := d.Receipt(ctx, wfA.Tasks[0].CID)
	if err != nil || !v.Verified || v.From != a.Network().ID().String() || !v.Receipt.Equals(sumA.Events[0].Receipt) {
		t.Fatalf("receipt lookup through the network: %+v, %v", v, err)
	}
	if v2, err := d.Receipt(ctx, wfA.Tasks[0].CID); err != nil || v2.From != "" {
		t.Fatalf("the fetched receipt was not stored on D: %+v, %v", v2, err)
	}
	if d.Executions() != 0 {
		t.Fatal("a lookup executed something")
	}

	// A module added on A runs on C.
	js := `{"tasks":[{"name":"x","args":{"mod":{"/":"` + wfA.Tasks[0].Task.Args["mod"].(fmt.Stringer).String() + `"},"fun":"add","params":[20, 22]}}]}`
	wfC, err := workflow.Parse([]byte(js), workflow.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sumC, err := c.Run(ctx, wfC, RunOptions{Grant: c.OwnerGrant(wfC)})
	if err != nil || sumC.Failed != 0 || !spec.Equal(sumC.Events[0].Out.Ok, int64(42)) {
		t.Fatalf("C: %v %+v", err, sumC)
	}
	if c.Executions() != 1 {
		t.Fatalf("C executed %d tasks", c.Executions())
	}
	if st := c.Network().Stats(); st.BlocksFetched == 0 {
		t.Fatalf("C fetched no block: %+v", st)
	}
}

// TestForgedNetworkReceipts: a receipt served for a task is rejected unless
// it verifies and its issuer is the provider; nothing forged is stored and
// the task runs locally instead.
func TestForgedNetworkReceipts(t *testing.T) {
	ctx := context.Background()
	nodes := startCluster(t, 2)
	a, b := nodes[0], nodes[1]
	wf := parseFile(t, a, "../examples/hello.json")
	if _, err := a.Run(ctx, wf, RunOptions{Grant: a.OwnerGrant(wf)}); err != nil {
		t.Fatal(err)
	}
	good, err := a.Receipt(ctx, wf.Tasks[0].CID)
	if err != nil {
		t.Fatal(err)
	}
	other, err := a.Receipt(ctx, wf.Tasks[1].CID)
	if err != nil {
		t.Fatal(err)
	}
	task := wf.Tasks[0].CID
	stranger, err := OpenRepo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	byStranger, err := receipt.Issue(stranger.Key, receipt.Receipt{Ran: task, Out: spec.OK(int64(2))})
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good.Signed.Bytes())
	flipped[10] ^= 1
	errRcpt, err := receipt.Issue(a.Key(), receipt.Receipt{Ran: task, Out: spec.Fail(spec.Failf("Trap", "x"))})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"bad signature", flipped},
		{"ran of another task", other.Signed.Bytes()},
		{"issuer is not the provider", byStranger.Bytes()},
		{"truncated", good.Signed.Bytes()[:40]},
		{"an error result", errRcpt.Bytes()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := b.verifyRemote(tc.b, task, a.DID())
			if err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if err := b.verifyRemote(good.Signed.Bytes(), task, a.DID()); err != nil {
		t.Fatalf("the genuine receipt was rejected: %v", err)
	}
}
