package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

// openT opens a store in a fresh temp dir and closes it at the end.
func openT(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fakeReceipt returns deterministic task and receipt CIDs and receipt bytes
// for i (DAG-CBOR, about pad bytes long). The store does not decode receipts,
// so any bytes do; these look like one.
func fakeReceipt(t testing.TB, i int, pad int) (task, rcpt cid.Cid, b []byte) {
	t.Helper()
	task, _, err := spec.CIDOf(map[string]any{"cmd": "/wasm/run", "args": []any{int64(i)}})
	if err != nil {
		t.Fatal(err)
	}
	b, err = spec.EncodeCBOR(map[string]any{
		"ran": task,
		"out": map[string]any{"ok": int64(i)},
		"pad": bytes.Repeat([]byte{byte(i)}, pad),
	})
	if err != nil {
		t.Fatal(err)
	}
	return task, spec.SumCBOR(b), b
}

func rawCID(b []byte) cid.Cid { return spec.Sum(spec.CodecRaw, b) }

// TestRecords is the shared behaviour table: each kind of record round-trips,
// a missing one is ErrNotFound, and records survive a close and reopen.
func TestRecords(t *testing.T) {
	ctx := context.Background()
	task, rcpt, rb := fakeReceipt(t, 1, 100)
	blk := []byte("a block")
	wf := []byte(`{"tasks":[]}`)
	wfc := spec.Sum(spec.CodecDagJSON, wf)
	del := []byte("a delegation token")
	delc := spec.SumCBOR(del)
	other := rawCID([]byte("nothing stored under this"))

	for _, tc := range []struct {
		name string
		put  func(s *Store) error
		get  func(s *Store, c cid.Cid) ([]byte, error)
		c    cid.Cid
		want []byte
	}{
		{"block", func(s *Store) error { return s.PutBlock(ctx, rawCID(blk), blk) },
			func(s *Store, c cid.Cid) ([]byte, error) { return s.GetBlock(ctx, c) }, rawCID(blk), blk},
		{"receipt", func(s *Store) error { return s.PutReceipt(ctx, task, rcpt, rb) },
			func(s *Store, c cid.Cid) ([]byte, error) { return s.Receipt(ctx, c) }, rcpt, rb},
		{"receipt by task", func(s *Store) error { return s.PutReceipt(ctx, task, rcpt, rb) },
			func(s *Store, c cid.Cid) ([]byte, error) {
				got, b, err := s.ReceiptForTask(ctx, c)
				if err == nil && !got.Equals(rcpt) {
					return nil, fmt.Errorf("receipt CID %s, want %s", got, rcpt)
				}
				return b, err
			}, task, rb},
		{"workflow", func(s *Store) error { return s.PutWorkflow(ctx, wfc, wf) },
			func(s *Store, c cid.Cid) ([]byte, error) { return s.Workflow(ctx, c) }, wfc, wf},
		{"delegation", func(s *Store) error { return s.PutDelegation(ctx, delc, del) },
			func(s *Store, c cid.Cid) ([]byte, error) { return s.Delegation(ctx, c) }, delc, del},
		{"file", func(s *Store) error { _, _, err := s.AddFile(ctx, bytes.NewReader(blk)); return err },
			func(s *Store, c cid.Cid) ([]byte, error) { return s.Cat(ctx, c, 1<<20) }, rawCID(blk), blk},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tc.get(s, tc.c); !errors.Is(err, ErrNotFound) {
				t.Errorf("before put: err = %v, want ErrNotFound", err)
			}
			if err := tc.put(s); err != nil {
				t.Fatal(err)
			}
			if err := tc.put(s); err != nil {
				t.Fatalf("second put: %v", err)
			}
			check := func(when string) {
				got, err := tc.get(s, tc.c)
				if err != nil || !bytes.Equal(got, tc.want) {
					t.Errorf("%s: got %q, %v; want %q", when, got, err, tc.want)
				}
				if _, err := tc.get(s, other); !errors.Is(err, ErrNotFound) {
					t.Errorf("%s: other CID: err = %v, want ErrNotFound", when, err)
				}
			}
			check("after put")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if s, err = Open(dir, Options{}); err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			check("after reopen")
		})
	}
}

// TestReceiptForTaskLatest: a second receipt for a task replaces the index
// entry, and the first stays readable by its own CID.
func TestReceiptForTaskLatest(t *testing.T) {
	ctx := context.Background()
	s := openT(t)
	task, r1, b1 := fakeReceipt(t, 1, 10)
	_, r2, b2 := fakeReceipt(t, 2, 10)
	if err := s.PutReceipt(ctx, task, r1, b1); err != nil {
		t.Fatal(err)
	}
	if err := s.PutReceiptNoSync(ctx, task, r2, b2); err != nil {
		t.Fatal(err)
	}
	got, b, err := s.ReceiptForTask(ctx, task)
	if err != nil || !got.Equals(r2) || !bytes.Equal(b, b2) {
		t.Errorf("ReceiptForTask = %s, %v; want %s", got, err, r2)
	}
	if b, err := s.Receipt(ctx, r1); err != nil || !bytes.Equal(b, b1) {
		t.Errorf("Receipt(first) = %v, %v", b, err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestPutBlockVerifies(t *testing.T) {
	ctx := context.Background()
	s := openT(t)
	c := rawCID([]byte("right"))
	if err := s.PutBlock(ctx, c, []byte("wrong")); !errors.Is(err, ErrHashMismatch) {
		t.Errorf("err = %v, want ErrHashMismatch", err)
	}
	if ok, err := s.HasBlock(ctx, c); ok || err != nil {
		t.Errorf("HasBlock after a refused put = %v, %v", ok, err)
	}
	if err := s.PutBlock(ctx, c, []byte("right")); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.HasBlock(ctx, c); !ok || err != nil {
		t.Errorf("HasBlock = %v, %v", ok, err)
	}
	if n, err := s.BlockSize(ctx, c); n != 5 || err != nil {
		t.Errorf("BlockSize = %d, %v", n, err)
	}
	if _, err := s.BlockSize(ctx, rawCID(nil)); !errors.Is(err, ErrNotFound) {
		t.Errorf("BlockSize(missing) err = %v", err)
	}
}

// TestBlobs adds Homestar's module and checks the CID ipfs gives, the bytes
// read back and the size taken from the root alone.
func TestBlobs(t *testing.T) {
	ctx := context.Background()
	data, err := os.ReadFile("../../shared/vectors/homestar/example_test.wasm")
	if err != nil {
		t.Fatalf("vectors not available (../shared must be beside the checkout): %v", err)
	}
	s := openT(t)
	root, size, err := s.AddFile(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if want := "bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq"; root.String() != want {
		t.Errorf("root = %s, want %s", root, want)
	}
	if size != uint64(len(data)) {
		t.Errorf("size = %d", size)
	}
	got, err := s.Cat(ctx, root, int64(len(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Cat: %v", err)
	}
	var w bytes.Buffer
	if n, err := s.CatTo(ctx, &w, root, -1); err != nil || n != int64(len(data)) || !bytes.Equal(w.Bytes(), data) {
		t.Errorf("CatTo = %d, %v", n, err)
	}
	if _, err := s.Cat(ctx, root, int64(len(data))-1); err == nil {
		t.Error("Cat over the cap succeeded")
	}
	for _, c := range []cid.Cid{root, rawCID([]byte("x"))} {
		if c.Type() == cid.Raw {
			if _, _, err := s.AddFile(ctx, strings.NewReader("x")); err != nil {
				t.Fatal(err)
			}
		}
		want := uint64(len(data))
		if c.Type() == cid.Raw {
			want = 1
		}
		if n, err := s.BlobSize(ctx, c); n != want || err != nil {
			t.Errorf("BlobSize(%s) = %d, %v; want %d", c, n, err, want)
		}
	}
	if _, err := s.BlobSize(ctx, rawCID([]byte("absent"))); !errors.Is(err, ErrNotFound) {
		t.Errorf("BlobSize(absent) err = %v", err)
	}
	if _, err := s.Cat(ctx, spec.Sum(spec.CodecDagPB, []byte("absent")), -1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Cat(absent) err = %v", err)
	}
}

func TestRecentWorkflows(t *testing.T) {
	ctx := context.Background()
	s := openT(t)
	var cids []cid.Cid
	for i := range 4 {
		b := []byte(fmt.Sprintf(`{"n":%d}`, i))
		c := spec.Sum(spec.CodecDagJSON, b)
		cids = append(cids, c)
		if err := s.PutWorkflow(ctx, c, b); err != nil {
			t.Fatal(err)
		}
	}
	// Storing the first again moves it to the front.
	if err := s.PutWorkflow(ctx, cids[0], []byte(`{"n":0}`)); err != nil {
		t.Fatal(err)
	}
	got, err := s.RecentWorkflows(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []cid.Cid{cids[0], cids[3], cids[2]}
	if len(got) != len(want) {
		t.Fatalf("got %d workflows, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].CID.Equals(want[i]) {
			t.Errorf("recent[%d] = %s, want %s", i, got[i].CID, want[i])
		}
		if i > 0 && got[i].Added.After(got[i-1].Added) {
			t.Errorf("recent[%d] is newer than recent[%d]", i, i-1)
		}
	}
	all, err := s.RecentWorkflows(ctx, 100)
	if err != nil || len(all) != 4 {
		t.Errorf("RecentWorkflows(100) = %d entries, %v; want 4", len(all), err)
	}
}

func TestRevocation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := spec.SumCBOR([]byte("delegation"))
	if ok, err := s.IsRevoked(ctx, c); ok || err != nil {
		t.Fatalf("IsRevoked before = %v, %v", ok, err)
	}
	if err := s.Revoke(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, c); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ok, err := s.IsRevoked(ctx, c); !ok || err != nil {
		t.Errorf("IsRevoked after reopen = %v, %v", ok, err)
	}
	if ok, _ := s.IsRevoked(ctx, spec.SumCBOR([]byte("other"))); ok {
		t.Error("another delegation is revoked")
	}
}

func TestSeeInvocation(t *testing.T) {
	ctx := context.Background()
	future := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name   string
		exp    time.Time
		second bool // what the second call reports
	}{
		{"unexpired", future, true},
		{"no expiry", time.Time{}, true},
		{"already expired", time.Now().Add(-2 * time.Second), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			c := spec.SumCBOR([]byte("invocation " + tc.name))
			if seen, err := s.SeeInvocation(ctx, c, tc.exp); seen || err != nil {
				t.Fatalf("first = %v, %v", seen, err)
			}
			s.Close()
			if s, err = Open(dir, Options{}); err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if seen, err := s.SeeInvocation(ctx, c, tc.exp); seen != tc.second || err != nil {
				t.Errorf("second (after reopen) = %v, %v; want %v", seen, err, tc.second)
			}
		})
	}

	t.Run("concurrent", func(t *testing.T) {
		s := openT(t)
		c := spec.SumCBOR([]byte("raced"))
		const n = 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		fresh := 0
		for range n {
			wg.Go(func() {
				seen, err := s.SeeInvocation(ctx, c, future)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				if !seen {
					fresh++
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		if fresh != 1 {
			t.Errorf("%d of %d concurrent calls saw the invocation as new, want 1", fresh, n)
		}
	})
}

// TestGroupCommit holds the first sync round, lets N writers commit and wait,
// then releases it: all N must be acknowledged by that one fsync.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	s := openT(t)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var once sync.Once
	s.sync.beforeSync = func() {
		once.Do(func() { entered <- struct{}{}; <-release })
	}
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		task, rcpt, b := fakeReceipt(t, i, 50)
		go func() { errs <- s.PutReceipt(ctx, task, rcpt, b) }()
	}
	<-entered
	for s.commit.receipts.Load() < n { // every writer has committed
		time.Sleep(time.Millisecond)
	}
	close(release)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Syncs != 1 || st.ReceiptsCommitted != n {
		t.Errorf("Stats = %+v for %d concurrent receipts, want 1 sync", st, n)
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, Options{})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "repo locked by another process") {
		t.Errorf("second Open: %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s.Close()
}

func TestCloseIdempotent(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	task, rcpt, b := fakeReceipt(t, 1, 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	calls := map[string]error{
		"PutReceipt":     s.PutReceipt(ctx, task, rcpt, b),
		"Receipt":        second(s.Receipt(ctx, rcpt)),
		"ReceiptForTask": third(s.ReceiptForTask(ctx, task)),
		"PutBlock":       s.PutBlock(ctx, rcpt, b),
		"GetBlock":       second(s.GetBlock(ctx, rcpt)),
		"HasBlock":       second(s.HasBlock(ctx, rcpt)),
		"SeeInvocation":  second(s.SeeInvocation(ctx, rcpt, time.Time{})),
		"Revoke":         s.Revoke(ctx, rcpt),
		"Sync":           s.Sync(ctx),
		"AddFile":        third(s.AddFile(ctx, strings.NewReader("x"))),
	}
	for name, err := range calls {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// TestCloseInFlight closes the store while writers and readers are busy:
// each call either succeeds or returns ErrClosed, and every acknowledged
// receipt is there after reopening.
func TestCloseInFlight(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var acked []int
	for w := range 4 {
		wg.Go(func() {
			for i := w; ; i += 4 {
				task, rcpt, b := fakeReceipt(t, i, 100)
				err := s.PutReceipt(ctx, task, rcpt, b)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked = append(acked, i)
				mu.Unlock()
				if _, _, err := s.ReceiptForTask(ctx, task); err != nil && !errors.Is(err, ErrClosed) {
					t.Error(err)
				}
			}
		})
	}
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 40 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, i := range acked {
		task, rcpt, b := fakeReceipt(t, i, 100)
		got, gb, err := s.ReceiptForTask(ctx, task)
		if err != nil || !got.Equals(rcpt) || !bytes.Equal(gb, b) {
			t.Errorf("receipt %d: %v", i, err)
		}
	}
}

func TestContextCanceled(t *testing.T) {
	s := openT(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	task, rcpt, b := fakeReceipt(t, 1, 10)
	if err := s.PutReceipt(ctx, task, rcpt, b); !errors.Is(err, context.Canceled) {
		t.Errorf("PutReceipt: %v", err)
	}
	if _, _, err := s.ReceiptForTask(ctx, task); !errors.Is(err, context.Canceled) {
		t.Errorf("ReceiptForTask: %v", err)
	}
}

func second[T any](_ T, err error) error        { return err }
func third[T, U any](_ T, _ U, err error) error { return err }

// TestSyncRotatedLogs: with tiny logs, a file import rotates the value log
// and the memtable several times; the durable write must have fsynced every
// log file badger stopped writing, not only the current ones db.Sync covers.
func TestSyncRotatedLogs(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), Options{MemTableSize: 1 << 20, ValueLogFileSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Receipts alone stay out of the value log: no value-log fsync is due.
	task, rcpt, b := fakeReceipt(t, 1, 300)
	if err := s.PutReceipt(ctx, task, rcpt, b); err != nil {
		t.Fatal(err)
	}
	if n := s.sync.vlogWrites.Load(); n != 0 {
		t.Errorf("a receipt counted as %d value-log writes", n)
	}
	mems := 0
	for name := range s.sync.finished {
		if strings.HasSuffix(name, ".mem") {
			mems++
		}
	}
	ents, _ := os.ReadDir(s.Dir())
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".mem") {
			mems++
		}
	}
	if mems == 0 {
		t.Fatal("no badger .mem log in the store directory: syncLogs relies on badger's file names")
	}
	if _, _, err := s.AddFile(ctx, bytes.NewReader(blobData(1)[:400<<10])); err != nil {
		t.Fatal(err)
	}
	for i := range 8 { // 8 × 600 KiB through 1 MiB value logs
		if _, _, err := s.AddFile(ctx, bytes.NewReader(blobData(i))); err != nil {
			t.Fatal(err)
		}
	}
	vlogs := 0
	for name := range s.sync.finished {
		if strings.HasSuffix(name, ".vlog") {
			vlogs++
		}
	}
	if w := s.sync.vlogWrites.Load(); w == 0 {
		t.Error("blob chunks were not counted as value-log writes")
	}
	if vlogs < 3 {
		t.Errorf("%d rotated value logs synced, want at least 3 (finished: %v)", vlogs, s.sync.finished)
	}
}

// TestPutReceiptAsync: queued receipts are all readable after Sync, and
// Close commits what is still queued.
func TestPutReceiptAsync(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		task, rcpt, b := fakeReceipt(t, i, 100)
		if err := s.PutReceiptAsync(ctx, task, rcpt, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		task, rcpt, b := fakeReceipt(t, i, 100)
		got, gb, err := s.ReceiptForTask(ctx, task)
		if err != nil || !got.Equals(rcpt) || !bytes.Equal(gb, b) {
			t.Fatalf("receipt %d after Sync: %v", i, err)
		}
	}
	for i := n; i < 2*n; i++ { // queued, then closed without Sync
		task, rcpt, b := fakeReceipt(t, i, 100)
		if err := s.PutReceiptAsync(ctx, task, rcpt, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 2 * n {
		_, rcpt, b := fakeReceipt(t, i, 100)
		if gb, err := s.Receipt(ctx, rcpt); err != nil || !bytes.Equal(gb, b) {
			t.Fatalf("receipt %d after reopen: %v", i, err)
		}
	}
	if st := s.Stats(); st.ReceiptsCommitted != 0 {
		t.Errorf("a fresh Open reports %d receipts committed", st.ReceiptsCommitted)
	}
}

// TestFailedReceiptKeepsIndex: a failed run's receipt is stored and found by
// its own CID, but does not replace the task's index entry when there is
// one; it becomes the entry when there is none.
func TestFailedReceiptKeepsIndex(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	task := spec.SumCBOR([]byte("task"))
	okR, failR := spec.SumCBOR([]byte("ok")), spec.SumCBOR([]byte("fail"))
	if err := s.PutReceipt(ctx, task, okR, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutFailedReceipt(ctx, task, failR, []byte("fail")); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.ReceiptForTask(ctx, task); err != nil || !got.Equals(okR) {
		t.Fatalf("index entry %s after a failed receipt, want the ok one: %v", got, err)
	}
	if b, err := s.Receipt(ctx, failR); err != nil || string(b) != "fail" {
		t.Fatalf("failed receipt not stored by its CID: %v", err)
	}
	other := spec.SumCBOR([]byte("other task"))
	if err := s.PutFailedReceipt(ctx, other, failR, []byte("fail")); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.ReceiptForTask(ctx, other); err != nil || !got.Equals(failR) {
		t.Fatalf("a task with no entry did not get the failed receipt: %v", err)
	}
}

// TestReceiptWrittenOnce: the receipt a task's index entry holds is stored
// once (its own key is a pointer to the entry); receipts the entry held
// before are written out whole when it moves on, in the same transaction,
// also when both receipts are committed in one batch; every receipt stays
// readable by its CID, before and after a reopen. Bytes that could be
// taken for a pointer are refused.
func TestReceiptWrittenOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	task, r1, b1 := fakeReceipt(t, 1, 40)
	_, r2, b2 := fakeReceipt(t, 2, 40)
	_, r3, b3 := fakeReceipt(t, 3, 40)
	other, r4, b4 := fakeReceipt(t, 4, 40)
	want := map[cid.Cid][]byte{r1: b1, r2: b2, r3: b3, r4: b4}
	rawR := func(r cid.Cid) []byte {
		t.Helper()
		var v []byte
		if err := s.db.View(func(txn *badger.Txn) error {
			item, err := txn.Get(key(pfxReceipt, r))
			if err == nil {
				v, err = item.ValueCopy(nil)
			}
			return err
		}); err != nil {
			t.Fatalf("raw r/%s: %v", r, err)
		}
		return v
	}
	check := func(step string, pointers ...cid.Cid) {
		t.Helper()
		for r, b := range want {
			if got, err := s.Receipt(ctx, r); err != nil || !bytes.Equal(got, b) {
				t.Errorf("%s: Receipt(%s) = %x, %v; want its bytes", step, r, got, err)
			}
			isPtr := slices.ContainsFunc(pointers, r.Equals)
			if v := rawR(r); (v[0] == receiptPointer) != isPtr {
				t.Errorf("%s: r/%s is a pointer: %v, want %v", step, r, v[0] == receiptPointer, isPtr)
			}
		}
	}
	for _, p := range []struct {
		task, rcpt cid.Cid
		b          []byte
	}{{task, r1, b1}, {other, r4, b4}} {
		if err := s.PutReceipt(ctx, p.task, p.rcpt, p.b); err != nil {
			t.Fatal(err)
		}
	}
	delete(want, r2)
	delete(want, r3)
	check("first receipts", r1, r4)
	// r2 and r3 for the same task, queued together: r1 and r2 are written
	// out, r3 is the entry.
	for _, p := range []struct {
		rcpt cid.Cid
		b    []byte
	}{{r2, b2}, {r3, b3}} {
		if err := s.PutReceiptAsync(ctx, task, p.rcpt, p.b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	want[r2], want[r3] = b2, b3
	check("replaced in one batch", r3, r4)
	// The same receipt again is idempotent.
	if err := s.PutReceipt(ctx, task, r3, b3); err != nil {
		t.Fatal(err)
	}
	check("put again", r3, r4)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check("reopened", r3, r4)
	for _, b := range [][]byte{nil, {receiptPointer, 1}} {
		if err := s.PutReceipt(ctx, task, r1, b); err == nil {
			t.Errorf("PutReceipt(%x) accepted", b)
		}
	}
}

// TestBatch: a batch's receipts are readable once its Sync returns, and a
// failed commit is reported to the Sync of the batch that queued the
// receipt (and its later ones) but not to another batch nor to Store.Sync.
func TestBatch(t *testing.T) {
	ctx := context.Background()
	s := openT(t)
	a, b := s.NewBatch(), s.NewBatch()
	for i := range 100 {
		task, rcpt, rb := fakeReceipt(t, i, 100)
		if err := a.PutReceipt(ctx, task, rcpt, rb); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		_, rcpt, rb := fakeReceipt(t, i, 100)
		if got, err := s.Receipt(ctx, rcpt); err != nil || !bytes.Equal(got, rb) {
			t.Fatalf("receipt %d after the batch's Sync: %v", i, err)
		}
	}
	// A full disk fails a's next commit.
	s.space.mu.Lock()
	s.space.need, s.space.checked = 1<<62, time.Time{}
	s.space.mu.Unlock()
	task, rcpt, rb := fakeReceipt(t, 1000, 100)
	if err := a.PutReceipt(ctx, task, rcpt, rb); err != nil {
		t.Fatal(err) // queued: the commit fails later
	}
	if err := a.Sync(ctx); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("a.Sync after a failed commit: %v, want ErrDiskFull", err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Errorf("b.Sync reports a's failure: %v", err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Errorf("Store.Sync reports a's failure: %v", err)
	}
	if err := a.Sync(ctx); !errors.Is(err, ErrDiskFull) {
		t.Errorf("a's failure is forgotten: %v", err)
	}
	if err := a.PutReceipt(ctx, task, rcpt, rb); !errors.Is(err, ErrDiskFull) {
		t.Errorf("a failed batch accepts more: %v", err)
	}
	if _, err := s.Receipt(ctx, rcpt); !errors.Is(err, ErrNotFound) {
		t.Errorf("the failed receipt is stored: %v", err)
	}
}

// TestAsyncReceiptsLinger: receipts nobody waits for are held back by the
// committer for more to join their transaction (asyncLinger), but no
// longer: queued ones become readable without a Sync, a batch's Sync right
// after its receipts returns with every one committed, and the
// transactions counted never exceed the receipts. (That a serial producer
// gets fewer transactions is a timing property, measured by `ipvm bench`'s
// fresh-task figure, not asserted here.)
func TestAsyncReceiptsLinger(t *testing.T) {
	ctx := context.Background()
	s := openT(t)
	const n = 100
	before := s.Stats()
	for i := range n {
		task, rcpt, b := fakeReceipt(t, i, 100)
		if err := s.PutReceiptAsync(ctx, task, rcpt, b); err != nil {
			t.Fatal(err)
		}
	}
	// Readable without a Sync, once the linger has ended.
	task, _, _ := fakeReceipt(t, n-1, 100)
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The counters move just after the commit makes the receipts
		// readable (the journal append comes between).
		_, _, err := s.ReceiptForTask(ctx, task)
		if err == nil && s.Stats().ReceiptsCommitted-before.ReceiptsCommitted >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a queued receipt never became readable without a Sync (%v)", err)
		}
		time.Sleep(time.Millisecond)
	}
	st := s.Stats()
	if got := st.ReceiptsCommitted - before.ReceiptsCommitted; got != n {
		t.Fatalf("%d receipts committed, want %d", got, n)
	}
	if commits := st.Commits - before.Commits; commits == 0 || commits > n {
		t.Errorf("%d receipts took %d transactions", n, commits)
	}
	// A Sync after more queued receipts waits for them, not for a timer.
	b := s.NewBatch()
	for i := n; i < n+10; i++ {
		task, rcpt, rb := fakeReceipt(t, i, 100)
		if err := b.PutReceipt(ctx, task, rcpt, rb); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for i := n; i < n+10; i++ {
		task, rcpt, _ := fakeReceipt(t, i, 100)
		if got, _, err := s.ReceiptForTask(ctx, task); err != nil || !got.Equals(rcpt) {
			t.Fatalf("receipt %d not committed when the batch's Sync returned: %v", i, err)
		}
	}
}
