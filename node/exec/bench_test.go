package exec_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/ipvm-go/ipvm/node/exec"
)

// rawFloor compiles path on a plain wazero runtime and returns a function
// doing one instantiate (+ optional call) + close: the floor the executor
// is measured against.
func rawFloor(b *testing.B, path string, start []string, call string, params ...uint64) func() {
	ctx := context.Background()
	wasm, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	rt := wazero.NewRuntime(ctx)
	b.Cleanup(func() { rt.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	// Stubs of ipvm's blob imports, which the Go-built module links.
	if _, err := rt.NewHostModuleBuilder(exec.HostModule).
		NewFunctionBuilder().WithFunc(func(uint32, uint32) int64 { return 0 }).Export("blob_len").
		NewFunctionBuilder().WithFunc(func(uint32, uint32, uint32, uint32, uint32) uint32 { return 0 }).Export("blob_read").
		Instantiate(ctx); err != nil {
		b.Fatal(err)
	}
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		b.Fatal(err)
	}
	mc := wazero.NewModuleConfig().WithName("").WithStartFunctions(start...)
	return func() {
		m, err := rt.InstantiateModule(ctx, cm, mc)
		if err != nil {
			b.Fatal(err)
		}
		if call != "" {
			if _, err := m.ExportedFunction(call).Call(ctx, params...); err != nil {
				b.Fatal(err)
			}
		}
		m.Close(ctx)
	}
}

// BenchmarkTinyTask: a tiny numeric task, raw wazero instantiate + call +
// close (the floor) beside Executor.Run of the same task.
func BenchmarkTinyTask(b *testing.B) {
	b.Run("raw-wazero", func(b *testing.B) {
		f := rawFloor(b, "../../examples/hello.wasm", nil, "add_one", 1)
		b.ReportAllocs()
		for b.Loop() {
			f()
		}
	})
	for _, tc := range []struct {
		name string
		cfg  exec.Config
	}{
		{"executor", exec.Config{}},
		{"executor-no-wall-stop", exec.Config{NoWallTimeStop: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			blobs := &mapBlobs{}
			mod := blobs.addFile(b, "../../examples/hello.wasm")
			tc.cfg.Blobs = blobs
			ex := newExec(b, tc.cfg)
			req := exec.Request{Module: mod, Function: "add_one", Params: []any{int64(1)}}
			ctx := context.Background()
			if err := ex.Compile(ctx, mod); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				res, _, err := ex.Run(ctx, req)
				if err != nil || res.Err != nil {
					b.Fatal(err, res.Err)
				}
			}
		})
	}
}

// BenchmarkGoModule: instantiating a Go-built (wasip1, c-shared) module,
// raw beside Executor.Run of a small DAG-CBOR task on it.
func BenchmarkGoModule(b *testing.B) {
	b.Run("raw-wazero-instantiate", func(b *testing.B) {
		f := rawFloor(b, "../../examples/pipeline.wasm", []string{"_initialize"}, "")
		b.ReportAllocs()
		for b.Loop() {
			f()
		}
	})
	for _, tc := range []struct {
		name string
		cfg  exec.Config
	}{
		{"executor-dag-cbor-task", exec.Config{}},
		{"executor-dag-cbor-task-no-wall-stop", exec.Config{NoWallTimeStop: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			blobs := &mapBlobs{}
			mod := blobs.addFile(b, "../../examples/pipeline.wasm")
			tc.cfg.Blobs = blobs
			ex := newExec(b, tc.cfg)
			req := exec.Request{Module: mod, Function: "words", Params: []any{"the quick brown fox"}}
			ctx := context.Background()
			if err := ex.Compile(ctx, mod); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				res, _, err := ex.Run(ctx, req)
				if err != nil || res.Err != nil {
					b.Fatal(err, res.Err)
				}
			}
		})
	}
}

// paired alternates a raw floor and Executor.Run in one loop and reports
// each one's mean and their ratio, so that load from other processes on a
// shared machine hits both alike.
func paired(b *testing.B, raw func(), path string, cfg exec.Config, req exec.Request) {
	blobs := &mapBlobs{}
	req.Module = blobs.addFile(b, path)
	cfg.Blobs = blobs
	ex := newExec(b, cfg)
	ctx := context.Background()
	if err := ex.Compile(ctx, req.Module); err != nil {
		b.Fatal(err)
	}
	var rawT, exT time.Duration
	for b.Loop() {
		t0 := time.Now()
		raw()
		t1 := time.Now()
		if res, _, err := ex.Run(ctx, req); err != nil || res.Err != nil {
			b.Fatal(err, res.Err)
		}
		t2 := time.Now()
		rawT += t1.Sub(t0)
		exT += t2.Sub(t1)
	}
	n := float64(b.N)
	b.ReportMetric(float64(rawT.Nanoseconds())/n, "raw-ns/task")
	b.ReportMetric(float64(exT.Nanoseconds())/n, "exec-ns/task")
	b.ReportMetric(float64(exT)/float64(rawT), "exec/raw")
}

// BenchmarkTinyTaskPaired: raw instantiate + add_one + close beside
// Executor.Run(add_one(1)) of hello.wasm.
func BenchmarkTinyTaskPaired(b *testing.B) {
	raw := rawFloor(b, "../../examples/hello.wasm", nil, "add_one", 1)
	for _, tc := range []struct {
		name string
		cfg  exec.Config
	}{{"wall-stop", exec.Config{}}, {"no-wall-stop", exec.Config{NoWallTimeStop: true}}} {
		b.Run(tc.name, func(b *testing.B) {
			paired(b, raw, "../../examples/hello.wasm", tc.cfg, exec.Request{Function: "add_one", Params: []any{int64(1)}})
		})
	}
}

// BenchmarkGoModulePaired: raw instantiate + _initialize + close of the
// Go-built pipeline.wasm beside Executor.Run of its words task.
func BenchmarkGoModulePaired(b *testing.B) {
	raw := rawFloor(b, "../../examples/pipeline.wasm", []string{"_initialize"}, "")
	for _, tc := range []struct {
		name string
		cfg  exec.Config
	}{{"wall-stop", exec.Config{}}, {"no-wall-stop", exec.Config{NoWallTimeStop: true}}} {
		b.Run(tc.name, func(b *testing.B) {
			paired(b, raw, "../../examples/pipeline.wasm", tc.cfg, exec.Request{Function: "words", Params: []any{"the quick brown fox"}})
		})
	}
}
