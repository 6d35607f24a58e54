package exec_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/tetratelabs/wazero/api"

	"github.com/ipvm-go/ipvm/node/exec"
	"github.com/ipvm-go/ipvm/spec"
)

// countMeter is a Meter for testing the hook: it does not rewrite modules;
// it reports a fixed figure and "exhausted" when the budget is 1.
type countMeter struct {
	mu           sync.Mutex
	instrumented map[cid.Cid]int
	budgets      []uint64
	refuse       cid.Cid
}

func (m *countMeter) Instrument(c cid.Cid, wasm []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c == m.refuse {
		return nil, errors.New("unsupported opcode")
	}
	m.instrumented[c]++
	return wasm, nil
}

func (m *countMeter) Start(_ context.Context, mod api.Module, budget uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.budgets = append(m.budgets, budget)
	return nil
}

func (m *countMeter) Used(_ context.Context, mod api.Module) (uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.budgets[len(m.budgets)-1]
	return min(b, 42), b == 1
}

func TestMeterHook(t *testing.T) {
	blobs := &mapBlobs{}
	guest := blobs.addFile(t, "testdata/guest.wasm")
	hello := blobs.addFile(t, "../../examples/hello.wasm")
	m := &countMeter{instrumented: map[cid.Cid]int{}, refuse: hello}
	ex := newExec(t, exec.Config{Blobs: blobs, Meter: m, MaxFuel: 1000})

	res, st := run(t, ex, guest, "add_one", exec.Limits{Fuel: 5000}, int64(1))
	if res.Err != nil || st.Fuel != 42 {
		t.Fatalf("metered run: %+v, fuel %d", res, st.Fuel)
	}
	run(t, ex, guest, "add_one", exec.Limits{}, int64(1))
	res, _ = run(t, ex, guest, "trap", exec.Limits{Fuel: 1})
	if res.Err == nil || res.Err.Name != spec.ErrNameOutOfFuel {
		t.Fatalf("exhausted budget: %+v", res)
	}
	if n := m.instrumented[guest]; n != 1 {
		t.Errorf("module instrumented %d times, want once", n)
	}
	if want := []uint64{1000, 1000, 1}; !equalU64(m.budgets, want) {
		t.Errorf("budgets %v, want %v (task budget capped by MaxFuel, zero = cap)", m.budgets, want)
	}
	res, _ = run(t, ex, hello, "add_one", exec.Limits{}, int64(1))
	if res.Err == nil || res.Err.Name != spec.ErrNameBadModule {
		t.Fatalf("instrument error: %+v", res)
	}
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestConcurrentRuns runs tasks of several modules from many goroutines on
// one executor, with a cache smaller than the module count so eviction
// happens while runs are in flight.
func TestConcurrentRuns(t *testing.T) {
	blobs := &mapBlobs{}
	mods := []cid.Cid{
		blobs.addFile(t, "testdata/guest.wasm"),
		blobs.addFile(t, "../../examples/hello.wasm"),
		blobs.addFile(t, "testdata/spec/numeric.wasm"),
	}
	ex := newExec(t, exec.Config{Blobs: blobs, MaxCachedModules: 2})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				mod := mods[(g+i)%len(mods)]
				res, _, err := ex.Run(context.Background(), exec.Request{Module: mod, Function: "add_one", Params: []any{int64(i)}})
				if err != nil || res.Err != nil || !spec.Equal(res.Ok, int64(i+1)) {
					errs <- errors.Join(err, res.Err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
