package store

import (
	"context"
	"errors"
	"testing"

	"github.com/ipvm-go/ipvm/spec"
)

// TestDiskFullRefusesWrites: below the free-space reserve every kind of
// write fails with ErrDiskFull and leaves nothing behind. (The real full
// disk, on a tmpfs, is tested in internal/reliability.)
func TestDiskFullRefusesWrites(t *testing.T) {
	s, err := Open(t.TempDir(), Options{MinFree: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b := []byte("block")
	c := spec.Sum(spec.CodecRaw, b)
	task := spec.Sum(spec.CodecDagCBOR, []byte{0xa0})
	rb := []byte{0xa1, 0x61, 0x61, 0x01}
	rc := spec.SumCBOR(rb)
	for name, put := range map[string]func() error{
		"receipt":  func() error { return s.PutReceipt(ctx, task, rc, rb) },
		"block":    func() error { return s.PutBlock(ctx, c, b) },
		"workflow": func() error { return s.PutWorkflow(ctx, task, rb) },
	} {
		if err := put(); !errors.Is(err, ErrDiskFull) {
			t.Errorf("%s: %v, want ErrDiskFull", name, err)
		}
	}
	if _, err := s.Receipt(ctx, rc); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused receipt is readable: %v", err)
	}
	if _, err := s.GetBlock(ctx, c); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused block is readable: %v", err)
	}
	// Space returns: writes succeed.
	s.space.mu.Lock()
	s.space.need, s.space.checked = 1, s.space.checked.AddDate(-1, 0, 0)
	s.space.mu.Unlock()
	if err := s.PutReceipt(ctx, task, rc, rb); err != nil {
		t.Fatalf("after space returned: %v", err)
	}
}
