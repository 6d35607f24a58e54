package bench

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	_ "embed"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/tetratelabs/wazero"

	"github.com/ipvm-go/ipvm/invocation"
	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/workflow"
)

// tinyWasm is examples/hello.wasm: add_one(i32) -> i32 and friends.
//
//go:embed tiny.wasm
var tinyWasm []byte

// Executor measures the memo hit, a fresh tiny task and tasks per second
// (issue 3's goals).
func Executor() ([]Metric, error) {
	dir, err := os.MkdirTemp("", "ipvm-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// The floors.
	getNs, err := badgerGetNs(dir + "/badger")
	if err != nil {
		return nil, err
	}
	rawNs, err := rawWazeroNs()
	if err != nil {
		return nil, err
	}
	signNs := ed25519SignNs()

	// Our node, memo off for the fresh-task figures.
	repo, err := node.OpenRepo(dir + "/repo")
	if err != nil {
		return nil, err
	}
	n, err := node.Open(repo, node.Options{NoMemo: true})
	if err != nil {
		return nil, err
	}
	defer n.Close()
	mod, _, err := n.AddBlob(ctx, bytes.NewReader(tinyWasm))
	if err != nil {
		return nil, err
	}
	task := func(i int) *workflow.Task {
		t := invocation.NewWasm(mod, "add_one", int64(i))
		c, _ := t.CID()
		return &workflow.Task{Name: fmt.Sprint("t", i), Task: t, CID: c}
	}
	one := task(1)
	wf := &workflow.Workflow{CID: one.CID}
	grant := n.OwnerGrant(wf)
	var runErr error
	freshNs := nsPerOp(func(b *testing.B) {
		for b.Loop() {
			if _, err := n.RunTask(ctx, one, grant, false); err != nil {
				runErr = err
			}
		}
		runErr = n.Sync(ctx)
	})
	if runErr != nil {
		return nil, runErr
	}

	// Memo hit: task CID from a parsed task, the store lookup and the
	// receipt decode, as the engine does before running a pure task.
	parsed := one.Task
	memoNs := nsPerOp(func(b *testing.B) {
		for b.Loop() {
			c, err := parsed.CID()
			if err != nil {
				runErr = err
				return
			}
			hit, err := n.Memo(ctx, c)
			if err != nil || hit == nil {
				runErr = fmt.Errorf("memo miss: %v", err)
				return
			}
		}
	})
	if runErr != nil {
		return nil, runErr
	}

	// Tasks per second: a workflow of independent tiny tasks, every
	// receipt durable before the run returns.
	tps, err := tasksPerSecond(ctx, n, mod, 4000)
	if err != nil {
		return nil, err
	}
	cores := float64(runtime.GOMAXPROCS(0))
	limit := cores / ((rawNs + signNs) / 1e9)
	return []Metric{
		atMost("memo_hit_vs_badger_get", "ns/op", memoNs, getNs, 2,
			"task CID + store lookup + receipt decode vs a bare badger Get"),
		atMost("fresh_tiny_task_vs_wazero_plus_sign", "ns/op", freshNs, rawNs+signNs, 1.5,
			fmt.Sprintf("metered run + signed receipt committed to badger vs raw instantiate+call+close (%.0f ns) + Ed25519 sign (%.0f ns)", rawNs, signNs)),
		atLeast("tasks_per_second_vs_limit", "tasks/s", tps, limit, 0.7,
			fmt.Sprintf("independent tiny tasks, durable receipts, on %d cores vs cores/(raw task + sign)", int(cores))),
	}, nil
}

// badgerGetNs is the floor of a memo hit: a bare badger Get of a 300-byte
// value, in a badger of its own.
func badgerGetNs(dir string) (float64, error) {
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	key := []byte("t/bafyreib5cvwbu7oqkg4nm3kjfilisnz7t6uiw5mhu4iqtoitzguus5t2oq")
	val := bytes.Repeat([]byte{7}, 300)
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set(key, val) }); err != nil {
		return 0, err
	}
	var getErr error
	ns := nsPerOp(func(b *testing.B) {
		for b.Loop() {
			getErr = db.View(func(txn *badger.Txn) error {
				it, err := txn.Get(key)
				if err != nil {
					return err
				}
				_, err = it.ValueCopy(nil)
				return err
			})
		}
	})
	return ns, getErr
}

// rawWazeroNs is the floor of a tiny task: instantiate a compiled module,
// call add_one, close, with wazero alone.
func rawWazeroNs() (float64, error) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, tinyWasm)
	if err != nil {
		return 0, err
	}
	cfg := wazero.NewModuleConfig().WithName("")
	var callErr error
	ns := nsPerOp(func(b *testing.B) {
		for b.Loop() {
			m, err := rt.InstantiateModule(ctx, cm, cfg)
			if err != nil {
				callErr = err
				return
			}
			if _, err := m.ExportedFunction("add_one").Call(ctx, 1); err != nil {
				callErr = err
			}
			m.Close(ctx)
		}
	})
	return ns, callErr
}

// ed25519SignNs is one Ed25519 signature of a receipt-sized message.
func ed25519SignNs() float64 {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := bytes.Repeat([]byte{1}, 300)
	return nsPerOp(func(b *testing.B) {
		for b.Loop() {
			ed25519.Sign(priv, msg)
		}
	})
}

// tasksPerSecond runs a workflow of k independent tiny tasks and returns
// tasks per second, the best of three runs.
func tasksPerSecond(ctx context.Context, n *node.Node, mod interface{ String() string }, k int) (float64, error) {
	best := 0.0
	for round := range 3 {
		var b bytes.Buffer
		b.WriteString(`{"name":"tps","tasks":[`)
		for i := range k {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"name":"t%d","args":{"mod":{"/":"%s"},"fun":"add_one","params":[%d]}}`, i, mod.String(), round*k+i)
		}
		b.WriteString(`]}`)
		wf, err := workflow.Parse(b.Bytes(), workflow.ParseOptions{})
		if err != nil {
			return 0, err
		}
		start := time.Now()
		sum, err := n.Run(ctx, wf, node.RunOptions{Grant: n.OwnerGrant(wf)})
		if err != nil {
			return 0, err
		}
		el := time.Since(start)
		if sum.Failed != 0 || len(sum.Events) != k {
			return 0, fmt.Errorf("tasks/s run: %d failed of %d", sum.Failed, len(sum.Events))
		}
		best = max(best, float64(k)/el.Seconds())
	}
	return best, nil
}

