package exec_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/node/exec"
	"github.com/ipvm-go/ipvm/spec"
)

// mapBlobs is a map-backed exec.Blobs (the interface exec defines for its
// store), safe for concurrent use; it counts Gets.
type mapBlobs struct {
	mu   sync.Mutex
	m    map[cid.Cid][]byte
	gets int
}

func (b *mapBlobs) Get(_ context.Context, c cid.Cid) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gets++
	v, ok := b.m[c]
	if !ok {
		return nil, fmt.Errorf("blob %s not found", c)
	}
	return v, nil
}

// add stores bytes under their raw CID.
func (b *mapBlobs) add(data []byte) cid.Cid {
	c := spec.Sum(spec.CodecRaw, data)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = make(map[cid.Cid][]byte)
	}
	b.m[c] = data
	return c
}

func (b *mapBlobs) addFile(t testing.TB, path string) cid.Cid {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b.add(data)
}

const homestarDir = "../../../shared/vectors/homestar"

func newExec(t testing.TB, cfg exec.Config) *exec.Executor {
	t.Helper()
	ex, err := exec.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ex.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return ex
}

func run(t testing.TB, ex *exec.Executor, mod cid.Cid, fun string, lim exec.Limits, params ...any) (spec.Result, exec.Stats) {
	t.Helper()
	res, st, err := ex.Run(context.Background(), exec.Request{Module: mod, Function: fun, Params: params, Limits: lim})
	if err != nil {
		t.Fatalf("Run(%s): executor error %v", fun, err)
	}
	return res, st
}

func TestNumeric(t *testing.T) {
	blobs := &mapBlobs{}
	hello := blobs.addFile(t, "../../examples/hello.wasm")
	guest := blobs.addFile(t, "testdata/guest.wasm")
	ex := newExec(t, exec.Config{Blobs: blobs})
	tests := []struct {
		name   string
		mod    cid.Cid
		fun    string
		params []any
		want   any
	}{
		{"add_one", hello, "add_one", []any{int64(1)}, int64(2)},
		{"add_one negative", hello, "add_one", []any{int64(-5)}, int64(-4)},
		{"add_one wraps", hello, "add_one", []any{int64(2147483647)}, int64(-2147483648)},
		{"add i64", hello, "add", []any{int64(1) << 40, int64(2)}, int64(1)<<40 + 2},
		{"scale f64", hello, "scale", []any{2.5, int64(4)}, 10.0},
		{"divmod multi", hello, "divmod", []any{int64(17), int64(5)}, []any{int64(3), int64(2)}},
		{"add-one dash", hello, "add-one", []any{int64(41)}, int64(42)},
		{"pair i64 f32", guest, "pair", []any{int64(-7), 0.5}, []any{int64(-7), 0.5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, st := run(t, ex, tc.mod, tc.fun, exec.Limits{}, tc.params...)
			if res.Err != nil {
				t.Fatalf("error result %v", res.Err)
			}
			if !spec.Equal(res.Ok, tc.want) {
				t.Fatalf("got %#v, want %#v", res.Ok, tc.want)
			}
			if st.ABI != exec.ABINumeric || st.Impure {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestFailures is the failure table: each bad task yields an error result
// with the right name, while a good task on the same executor, run between
// them and concurrently, still succeeds.
func TestFailures(t *testing.T) {
	blobs := &mapBlobs{}
	guest := blobs.addFile(t, "testdata/guest.wasm")
	bad := blobs.add([]byte("\x00asm\x01\x00\x00\x00\x05garbage"))
	missing := spec.Sum(spec.CodecRaw, []byte("no such module"))
	ex := newExec(t, exec.Config{Blobs: blobs, MaxTime: time.Minute, MaxMemoryPages: 1024})
	short := exec.Limits{Time: 200 * time.Millisecond}
	tests := []struct {
		name   string
		mod    cid.Cid
		fun    string
		lim    exec.Limits
		params []any
		want   string
	}{
		{"loop forever", guest, "loop", short, nil, spec.ErrNameTimeout},
		{"grow memory", guest, "grow", exec.Limits{MemoryBytes: 4 << 20}, nil, spec.ErrNameMemoryLimit},
		{"grow memory node cap", guest, "grow", exec.Limits{}, nil, spec.ErrNameMemoryLimit},
		{"recurse", guest, "recurse", exec.Limits{}, []any{int64(0)}, spec.ErrNameTrap},
		{"trap", guest, "trap", exec.Limits{}, nil, spec.ErrNameTrap},
		{"divide by zero", guest, "div", exec.Limits{}, []any{int64(1), int64(0)}, spec.ErrNameTrap},
		{"missing export", guest, "nope", exec.Limits{}, nil, spec.ErrNameMissingExport},
		{"too few args", guest, "add_one", exec.Limits{}, nil, spec.ErrNameBadArgs},
		{"string arg", guest, "add_one", exec.Limits{}, []any{"1"}, spec.ErrNameBadArgs},
		{"float to i32", guest, "add_one", exec.Limits{}, []any{1.5}, spec.ErrNameBadArgs},
		{"i32 range", guest, "add_one", exec.Limits{}, []any{int64(1) << 33}, spec.ErrNameBadArgs},
		{"NaN result", guest, "nan", exec.Limits{}, nil, spec.ErrNameBadOutput},
		{"bad module", bad, "add_one", exec.Limits{}, []any{int64(1)}, spec.ErrNameBadModule},
		{"missing module", missing, "add_one", exec.Limits{}, []any{int64(1)}, spec.ErrNameBlobNotFound},
		{"cbor output too large", guest, "huge", exec.Limits{OutputBytes: 1024}, []any{"x"}, spec.ErrNameOutputTooLarge},
		{"cbor garbage", guest, "garbage", exec.Limits{}, []any{"x"}, spec.ErrNameBadOutput},
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var goodRuns, goodFails int
	wg.Add(1)
	go func() { // good tasks all along
		defer wg.Done()
		for i := int64(0); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			res, _, err := ex.Run(context.Background(), exec.Request{Module: guest, Function: "add_one", Params: []any{i}})
			goodRuns++
			if err != nil || res.Err != nil || !spec.Equal(res.Ok, i+1) {
				goodFails++
			}
		}
	}()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := run(t, ex, tc.mod, tc.fun, tc.lim, tc.params...)
			if res.Err == nil {
				t.Fatalf("got ok %#v, want %s", res.Ok, tc.want)
			}
			if res.Err.Name != tc.want {
				t.Fatalf("got %s (%s), want %s", res.Err.Name, res.Err.Message, tc.want)
			}
			t.Logf("%s: %s", res.Err.Name, res.Err.Message)
			res, _ = run(t, ex, guest, "add_one", exec.Limits{}, int64(1))
			if res.Err != nil || !spec.Equal(res.Ok, int64(2)) {
				t.Fatalf("good task after %s: %+v", tc.name, res)
			}
		})
	}
	close(stop)
	wg.Wait()
	if goodRuns == 0 || goodFails != 0 {
		t.Fatalf("concurrent good tasks: %d runs, %d failed", goodRuns, goodFails)
	}
}

func TestCBOR(t *testing.T) {
	blobs := &mapBlobs{}
	guest := blobs.addFile(t, "testdata/guest.wasm")
	ex := newExec(t, exec.Config{Blobs: blobs})
	link := spec.Sum(spec.CodecRaw, []byte("x"))
	params := []any{"hello", int64(-3), 1.5, []byte{1, 2}, link, map[string]any{"a": []any{nil, true}}}
	res, st := run(t, ex, guest, "echo", exec.Limits{}, params...)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if st.ABI != exec.ABICBOR {
		t.Errorf("ABI %v, want dag-cbor", st.ABI)
	}
	if !spec.Equal(res.Ok, params) {
		t.Fatalf("echo: got %#v", res.Ok)
	}
}

func TestCacheAndClose(t *testing.T) {
	blobs := &mapBlobs{}
	hello := blobs.addFile(t, "../../examples/hello.wasm")
	guest := blobs.addFile(t, "testdata/guest.wasm")
	dir := t.TempDir()
	ex, err := exec.New(exec.Config{Blobs: blobs, CacheDir: dir, MaxCachedModules: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, st := run(t, ex, hello, "add_one", exec.Limits{}, int64(1))
	if !st.Compiled {
		t.Error("first run did not compile")
	}
	_, st = run(t, ex, hello, "add_one", exec.Limits{}, int64(1))
	if st.Compiled {
		t.Error("second run compiled again")
	}
	if blobs.gets != 1 {
		t.Errorf("module fetched %d times, want 1", blobs.gets)
	}
	if c := ex.Counts(); c.Runs != 2 || c.Compiles != 1 {
		t.Errorf("counts %+v, want 2 runs, 1 compile", c)
	}
	// A second module evicts the first (MaxCachedModules 1).
	run(t, ex, guest, "add_one", exec.Limits{}, int64(1))
	_, st = run(t, ex, hello, "add_one", exec.Limits{}, int64(1))
	if !st.Compiled {
		t.Error("evicted module not recompiled")
	}
	if err := ex.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ex.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := ex.Run(context.Background(), exec.Request{Module: hello, Function: "add_one"}); !errors.Is(err, exec.ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) == 0 {
		t.Error("compilation cache dir is empty")
	}
	_ = filepath.Join
}

// TestCloseDuringRun: Close stops a runaway task and Run reports ErrClosed.
func TestCloseDuringRun(t *testing.T) {
	blobs := &mapBlobs{}
	guest := blobs.addFile(t, "testdata/guest.wasm")
	ex, err := exec.New(exec.Config{Blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Compile(context.Background(), guest); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, _, err := ex.Run(context.Background(), exec.Request{Module: guest, Function: "loop"})
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := ex.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, exec.ErrClosed) {
		t.Fatalf("Run during Close: %v", err)
	}
}

// TestCallerCancel: the caller's context ending is the caller's error.
func TestCallerCancel(t *testing.T) {
	blobs := &mapBlobs{}
	guest := blobs.addFile(t, "testdata/guest.wasm")
	ex := newExec(t, exec.Config{Blobs: blobs})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := ex.Run(ctx, exec.Request{Module: guest, Function: "loop"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
}

func TestParseABI(t *testing.T) {
	for _, a := range []exec.ABI{exec.ABIAuto, exec.ABINumeric, exec.ABICBOR, exec.ABIWASI, exec.ABIComponent} {
		got, err := exec.ParseABI(a.String())
		if err != nil || got != a {
			t.Errorf("ParseABI(%q) = %v, %v", a.String(), got, err)
		}
	}
	if _, err := exec.ParseABI("cobol"); err == nil {
		t.Error("ParseABI accepted an unknown name")
	}
}

// TestDeterministicRandom: WASI random_get gives every instance the same
// bytes, the start of the zero-seeded ChaCha8 stream.
// Spec: §6.4.
func TestDeterministicRandom(t *testing.T) {
	blobs := &mapBlobs{}
	mod := blobs.addFile(t, "testdata/rand.wasm")
	ex := newExec(t, exec.Config{Blobs: blobs})
	var want [8]byte
	if _, err := rand.NewChaCha8([32]byte{}).Read(want[:]); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		res, st := run(t, ex, mod, "rand", exec.Limits{})
		if res.Err != nil || !spec.Equal(res.Ok, int64(binary.LittleEndian.Uint64(want[:]))) {
			t.Fatalf("rand = %+v, want %x", res, want)
		}
		if st.Impure {
			t.Error("seeded random marked impure")
		}
	}
}

// TestCacheUnwritable: when wazero cannot write its compilation cache (a
// full or read-only disk; here its directory has become a file), a module
// still compiles and runs, from memory, instead of failing as BadModule.
func TestCacheUnwritable(t *testing.T) {
	blobs := &mapBlobs{}
	hello := blobs.addFile(t, "../../examples/hello.wasm")
	dir := t.TempDir()
	ex, err := exec.New(exec.Config{Blobs: blobs, CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		t.Fatalf("no cache directory made: %v", err)
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("not a directory"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res, st := run(t, ex, hello, "add_one", exec.Limits{}, int64(41))
	if res.Err != nil || !spec.Equal(res.Ok, int64(42)) {
		t.Fatalf("add_one(41) = %+v, want 42", res)
	}
	if !st.Compiled {
		t.Error("the run did not compile the module")
	}
}
