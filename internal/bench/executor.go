package bench

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	_ "embed"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

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
func Executor(c Config) ([]Metric, error) {
	dir, err := os.MkdirTemp("", "ipvm-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// The floors: a raw wazero instantiate+call+close, one Ed25519
	// signature (and, below, a bare badger Get).
	raw, closeRT, err := rawWazero(ctx)
	if err != nil {
		return nil, err
	}
	defer closeRT()
	sign := ed25519Sign()

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
	t := invocation.NewWasm(mod, "add_one", int64(1))
	tc, err := t.CID()
	if err != nil {
		return nil, err
	}
	one := &workflow.Task{Name: "t1", Task: t, CID: tc}
	grant := n.OwnerGrant(&workflow.Workflow{CID: one.CID})
	// A fresh task: metered run, signed receipt, handed to the store's
	// group commit (RunTask with durable=false, as the engine does for
	// each task of a workflow; Sync below makes them durable).
	fresh := func() error {
		_, err := n.RunTask(ctx, one, grant, false)
		return err
	}
	// A memo hit: task CID from a parsed task, the store lookup and the
	// receipt decode, as the engine does before running a pure task.
	memo := func() error {
		c, err := t.CID()
		if err != nil {
			return err
		}
		hit, err := n.Memo(ctx, c)
		if err != nil {
			return err
		}
		if hit == nil {
			return fmt.Errorf("%w: memo miss", ErrMismatch)
		}
		return nil
	}
	// The floor of a memo hit: a bare badger Get (read transaction, Get,
	// ValueCopy) of the same memo entry in the node's own badger, so that
	// both read one database with the same options and contents.
	get := func() error {
		_, err := n.Store().FloorGet(tc)
		return err
	}
	rounds := c.pick(20, 2)
	// The memo hit first, on a task with one stored receipt.
	if err := fresh(); err != nil {
		return nil, err
	}
	if err := n.Sync(ctx); err != nil {
		return nil, err
	}
	memoNs, err := interleave(cpuClock, rounds, c.pick(500, 20), memo, get)
	if err != nil {
		return nil, err
	}
	taskNs, err := interleave(cpuClock, rounds, c.pick(100, 10), fresh, raw, sign)
	if err != nil {
		return nil, err
	}
	if err := n.Sync(ctx); err != nil {
		return nil, err
	}
	freshNs, rawNs, signNs := taskNs[0], taskNs[1], taskNs[2]

	// Tasks per second: a workflow of independent tiny tasks, every
	// receipt durable before the run returns, alternating with the floor
	// run the same way: raw task + signature on one goroutine per core.
	k := c.pick(4000, 200)
	tps, limit := 0.0, 0.0
	cpuTask, cpuFloor := math.Inf(1), math.Inf(1) // CPU per task, best round
	for round := range c.pick(5, 1) {
		var el time.Duration
		c0 := processCPU()
		pprof.Do(ctx, pprof.Labels("bench", "tps"), func(ctx context.Context) {
			_, el, err = runJSON(ctx, n, independentJSON("tps", mod, round*k, k))
		})
		if err != nil {
			return nil, err
		}
		tps = max(tps, float64(k)/el.Seconds())
		cpuTask = min(cpuTask, float64(processCPU()-c0)/float64(k))
		var r float64
		c0 = processCPU()
		pprof.Do(ctx, pprof.Labels("bench", "tps-floor"), func(context.Context) {
			r, err = parallelRate(k, func() error {
				if err := raw(); err != nil {
					return err
				}
				return sign()
			})
		})
		if err != nil {
			return nil, err
		}
		limit = max(limit, r)
		cpuFloor = min(cpuFloor, float64(processCPU()-c0)/float64(k))
	}
	cores := runtime.GOMAXPROCS(0)
	return []Metric{
		atMost("memo_hit_vs_badger_get", "cpu-ns/op", memoNs[0], memoNs[1], 2,
			"task CID + store lookup + receipt decode vs a bare badger Get"),
		atMost("fresh_tiny_task_vs_wazero_plus_sign", "cpu-ns/op", freshNs, rawNs+signNs, 1.5,
			fmt.Sprintf("metered run + signed receipt committed to badger vs raw instantiate+call+close (%.0f ns) + Ed25519 sign (%.0f ns)", rawNs, signNs)),
		atLeast("tasks_per_second_vs_limit", "tasks/s", tps, limit, 0.7,
			fmt.Sprintf("a workflow of %d independent tiny tasks, durable receipts, on %d cores vs raw task + sign on one goroutine per core, best of each (cores/(raw+sign) from the figures above: %.0f/s)", k, cores, float64(cores)/((rawNs+signNs)/1e9))),
		info("tasks_cpu_per_task", "cpu-ns/op", cpuTask, cpuFloor,
			"the tasks/s rounds' process CPU per task (background work, GC and the store's goroutines included), best round of each: steadier than their wall-clock rates on a noisy machine"),
	}, nil
}

// rawWazero is the floor of a tiny task: instantiate a compiled module,
// call add_one, close, with wazero alone (default configuration).
func rawWazero(ctx context.Context) (func() error, func(), error) {
	rt := wazero.NewRuntime(ctx)
	cm, err := rt.CompileModule(ctx, tinyWasm)
	if err != nil {
		rt.Close(ctx)
		return nil, nil, err
	}
	cfg := wazero.NewModuleConfig().WithName("")
	call := func() error {
		m, err := rt.InstantiateModule(ctx, cm, cfg)
		if err != nil {
			return err
		}
		defer m.Close(ctx)
		_, err = m.ExportedFunction("add_one").Call(ctx, 1)
		return err
	}
	return call, func() { rt.Close(ctx) }, nil
}

// ed25519Sign is one Ed25519 signature of a receipt-sized message.
func ed25519Sign() func() error {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := bytes.Repeat([]byte{1}, 300)
	return func() error {
		ed25519.Sign(priv, msg)
		return nil
	}
}

// parallelRate runs op k times on one goroutine per core (GOMAXPROCS)
// and returns the calls per second.
func parallelRate(k int, op func() error) (float64, error) {
	p := runtime.GOMAXPROCS(0)
	errs := make(chan error, p)
	start := time.Now()
	for w := range p {
		go func() {
			var err error
			for i := w; i < k && err == nil; i += p {
				err = op()
			}
			errs <- err
		}()
	}
	var first error
	for range p {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return float64(k) / time.Since(start).Seconds(), first
}
