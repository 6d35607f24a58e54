package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
)

// copyWithoutMemLogs copies the store directory src to a fresh directory
// as a machine that lost power would find it if none of badger's memtable
// logs had reached the disk: everything but the .mem files (and the locks).
// src stays open; its files are read through the page cache.
func copyWithoutMemLogs(t *testing.T, src string) string {
	t.Helper()
	return copyStore(t, src, false)
}

// copyStore copies the store directory src, open or not, to a fresh
// directory, without the locks and, unless withMem, without badger's
// memtable logs. With them it is what a killed process leaves.
func copyStore(t *testing.T, src string, withMem bool) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		if (!withMem && strings.HasSuffix(d.Name(), ".mem")) || d.Name() == "LOCK" || d.Name() == lockFile {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(filepath.Join(dst, rel))
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// openAt opens the store in dir and closes it at the end of the test.
func openAt(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// journalWrites makes one write of every journaled kind in s and returns
// the receipts' task and receipt CIDs.
func journalWrites(t *testing.T, s *Store, n int) (tasks, rcpts []cid.Cid) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		task, rcpt, b := fakeReceipt(t, i, 200)
		if err := s.PutReceipt(ctx, task, rcpt, b); err != nil {
			t.Fatal(err)
		}
		tasks, rcpts = append(tasks, task), append(rcpts, rcpt)
	}
	wf := []byte(`{"name":"journal","tasks":[]}`)
	if err := s.PutWorkflow(ctx, rawCID(wf), wf); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SeeInvocation(ctx, rawCID([]byte("inv")), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, rawCID([]byte("revoked"))); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	return tasks, rcpts
}

// TestJournalRestoresLostMemtable: with every memtable log lost, Open
// writes every synced write back from the journal: receipts (by task and
// by receipt CID), a workflow, a seen invocation, a revocation.
func TestJournalRestoresLostMemtable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openAt(t, dir, Options{})
	const n = 50
	tasks, rcpts := journalWrites(t, s, n)

	r := openAt(t, copyWithoutMemLogs(t, dir), Options{})
	if got := r.Stats().ReceiptsReplayed; got != n {
		t.Errorf("replayed %d receipts, want %d", got, n)
	}
	// The replayed segments are gone (their writes synced in badger's
	// logs); the journal holds a fresh one.
	if segs, err := r.sync.journal.segments(); err != nil || len(segs) != 1 || segs[0] == 1 {
		t.Errorf("journal segments after the replay: %v, %v; want one new segment", segs, err)
	}
	for i := range n {
		c, _, err := r.ReceiptForTask(ctx, tasks[i])
		if err != nil || !c.Equals(rcpts[i]) {
			t.Fatalf("receipt for task %d: %v, %v", i, c, err)
		}
		if _, err := r.Receipt(ctx, rcpts[i]); err != nil {
			t.Fatalf("receipt %d by CID: %v", i, err)
		}
	}
	wf := []byte(`{"name":"journal","tasks":[]}`)
	if got, err := r.Workflow(ctx, rawCID(wf)); err != nil || !bytes.Equal(got, wf) {
		t.Errorf("workflow: %q, %v", got, err)
	}
	if seen, err := r.SeeInvocation(ctx, rawCID([]byte("inv")), time.Now().Add(time.Hour)); err != nil || !seen {
		t.Errorf("seen invocation lost: %v, %v", seen, err)
	}
	if revoked, err := r.IsRevoked(ctx, rawCID([]byte("revoked"))); err != nil || !revoked {
		t.Errorf("revocation lost: %v, %v", revoked, err)
	}

	// The control: the same copy without the journal has lost them, so the
	// test does see the memtable logs go.
	bare := copyWithoutMemLogs(t, dir)
	if err := os.RemoveAll(filepath.Join(bare, journalDir)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := openAt(t, bare, Options{}).ReceiptForTask(ctx, tasks[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("without the journal the receipt is still there (%v): the copy kept it another way", err)
	}
}

// TestJournalTornTail: a record cut short by the crash ends the replay of
// its segment; the records before it are written back and Open succeeds.
func TestJournalTornTail(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openAt(t, dir, Options{})
	tasks, _ := journalWrites(t, s, 10)
	// One more receipt, the last record of the segment, then cut it.
	task, rcpt, b := fakeReceipt(t, 99, 200)
	if err := s.PutReceipt(ctx, task, rcpt, b); err != nil {
		t.Fatal(err)
	}
	lost := copyWithoutMemLogs(t, dir)
	segs, _ := filepath.Glob(filepath.Join(lost, journalDir, "*"+journalExt))
	if len(segs) != 1 {
		t.Fatalf("%d journal segments, want 1", len(segs))
	}
	fi, err := os.Stat(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(segs[0], fi.Size()-5); err != nil {
		t.Fatal(err)
	}
	r := openAt(t, lost, Options{})
	if got := r.Stats().ReceiptsReplayed; got != 10 {
		t.Errorf("replayed %d receipts, want the 10 before the torn one", got)
	}
	if _, _, err := r.ReceiptForTask(ctx, tasks[9]); err != nil {
		t.Error(err)
	}
	if _, _, err := r.ReceiptForTask(ctx, task); !errors.Is(err, ErrNotFound) {
		t.Errorf("the torn receipt: %v, want ErrNotFound", err)
	}
}

// TestJournalSegmentsCollected: segments go once badger has flushed their
// writes to tables, Close empties the journal, and a reopened store has
// every receipt without replaying any.
func TestJournalSegmentsCollected(t *testing.T) {
	old := segmentSize
	segmentSize = 64 << 10
	t.Cleanup(func() { segmentSize = old })
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{MemTableSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	const n = 6000 // ~2.5 MB of receipts: several memtables, ~40 segments
	var tasks []cid.Cid
	bt := s.NewBatch()
	for i := range n {
		task, rcpt, b := fakeReceipt(t, i, 300)
		if err := bt.PutReceipt(ctx, task, rcpt, b); err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, task)
		if i%500 == 499 {
			if err := bt.Sync(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := bt.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	created := s.sync.journal.next - 1
	// Badger flushes in the background: give the collector a few rounds.
	var left []uint64
	for range 100 {
		left, err = s.sync.journal.segments()
		if err != nil {
			t.Fatal(err)
		}
		if len(left) < int(created)/2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
		if err := s.PutReceipt(ctx, tasks[0], fakeCID(t, "again"), []byte{0x81, 0x01}); err != nil {
			t.Fatal(err)
		}
	}
	if created < 10 || len(left) >= int(created)/2 {
		t.Errorf("%d of %d segments left after the memtables flushed", len(left), created)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, journalDir, "*"+journalExt)); len(left) != 0 {
		t.Errorf("Close left %d segments", len(left))
	}
	r := openAt(t, dir, Options{MemTableSize: 1 << 20})
	if got := r.Stats().ReceiptsReplayed; got != 0 {
		t.Errorf("replayed %d receipts after a clean close", got)
	}
	for _, i := range []int{1, n / 2, n - 1} {
		if _, _, err := r.ReceiptForTask(ctx, tasks[i]); err != nil {
			t.Errorf("task %d: %v", i, err)
		}
	}
}

// TestJournalRetired: after the journal breaks (a failed append), the next
// sync round syncs badger's logs and deletes every segment, so that no
// older write can be replayed over a newer one; writes go on, durable.
func TestJournalRetired(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openAt(t, dir, Options{})
	wf := []byte(`{"name":"retired","tasks":[]}`)
	c := rawCID(wf)
	if err := s.PutWorkflow(ctx, c, wf); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	s.sync.journal.amu.Lock()
	s.sync.journal.fail("test", errors.New("injected"))
	s.sync.journal.amu.Unlock()
	time.Sleep(10 * time.Millisecond) // a later added time
	if err := s.PutWorkflow(ctx, c, wf); err != nil {
		t.Fatal(err)
	}
	task, rcpt, b := fakeReceipt(t, 7, 100)
	if err := s.PutReceipt(ctx, task, rcpt, b); err != nil {
		t.Fatal(err)
	}
	if !s.sync.journal.retired {
		t.Fatal("the broken journal was not retired by the sync")
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, journalDir, "*"+journalExt)); len(segs) != 0 {
		t.Fatalf("%d segments left after the retirement", len(segs))
	}
	newest := rawValue(t, s, key(pfxWorkflow, c))
	r := openAt(t, copyStore(t, dir, true), Options{})
	if got := rawValue(t, r, key(pfxWorkflow, c)); !bytes.Equal(got, newest) {
		t.Errorf("after a restart the workflow entry is %x, want the newest %x", got[:8], newest[:8])
	}
	if _, _, err := r.ReceiptForTask(ctx, task); err != nil {
		t.Error(err)
	}
}

// TestReplacedLargeReceiptSyncsValueLog: a receipt that replaces one too
// large for the LSM tree writes that one out whole again, into the value
// log, so the round must fsync the value log and cannot rely on the
// journal.
func TestReplacedLargeReceiptSyncsValueLog(t *testing.T) {
	ctx := context.Background()
	s := openT(t)
	task, r1, b1 := fakeReceipt(t, 1, 8<<10)
	if err := s.PutReceipt(ctx, task, r1, b1); err != nil {
		t.Fatal(err)
	}
	vw, ww := s.sync.vlogWrites.Load(), s.sync.walWrites.Load()
	b2 := []byte{0x82, 0x01, 0x02}
	if err := s.PutReceipt(ctx, task, rawCID(b2), b2); err != nil {
		t.Fatal(err)
	}
	if s.sync.vlogWrites.Load() == vw || s.sync.walWrites.Load() == ww {
		t.Error("the small receipt that moved a large one out counted as a small, journaled write")
	}
	if got, err := s.Receipt(ctx, r1); err != nil || !bytes.Equal(got, b1) {
		t.Errorf("the replaced receipt: %v", err)
	}
}

// rawValue reads k from s's badger.
func rawValue(t *testing.T, s *Store, k []byte) []byte {
	t.Helper()
	v, err := s.get(k)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func fakeCID(t *testing.T, s string) cid.Cid {
	t.Helper()
	return rawCID([]byte(s))
}

// FuzzDecodeRecord: the journal decoder never panics, and what it accepts
// encodes back to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	task, rcpt := rawCID([]byte("task")), rawCID([]byte("receipt"))
	f.Add(appendReceiptRecord(nil, &commitReq{task: task, rcpt: rcpt, b: []byte{0x82, 1, 2}}))
	f.Add(appendReceiptRecord(nil, &commitReq{task: task, rcpt: rcpt, b: []byte{0xa0}, keepIndex: true}))
	f.Add(appendOpRecord(nil, op{key: []byte("w/x"), value: []byte("v"), expiresAt: 7}))
	f.Add(appendOpRecord(nil, op{del: true, key: []byte("W/k")}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := decodeRecord(b)
		if err != nil {
			return
		}
		var again []byte
		switch {
		case r.receipt:
			again = appendReceiptRecord(nil, &r.req)
		default:
			again = appendOpRecord(nil, r.op)
		}
		if !bytes.Equal(again, b[:n]) {
			t.Fatalf("record %x re-encodes as %x", b[:n], again)
		}
	})
}
