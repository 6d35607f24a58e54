package store

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-cid"
)

// benchReceipt is one pre-built receipt of the benchmark pool.
type benchReceipt struct {
	task, rcpt cid.Cid
	b          []byte
}

// benchPool returns n receipts whose bytes are about 300 bytes long.
func benchPool(b *testing.B, n int) []benchReceipt {
	pool := make([]benchReceipt, n)
	for i := range pool {
		task, rcpt, rb := fakeReceipt(b, i, 220)
		pool[i] = benchReceipt{task, rcpt, rb}
	}
	return pool
}

// readFixture is a store holding 10 000 receipts of ~300 bytes, shared by
// the read benchmarks so the floor and our lookup read the same database.
var readFixture struct {
	once sync.Once
	s    *Store
	pool []benchReceipt
}

func readStore(b *testing.B) (*Store, []benchReceipt) {
	readFixture.once.Do(func() {
		dir, err := tempDirOutsideTest()
		if err != nil {
			b.Fatal(err)
		}
		s, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		pool := benchPool(b, 10_000)
		for _, r := range pool {
			if err := s.PutReceiptNoSync(context.Background(), r.task, r.rcpt, r.b); err != nil {
				b.Fatal(err)
			}
		}
		readFixture.s, readFixture.pool = s, pool
	})
	if len(readFixture.pool[0].b) < 280 || len(readFixture.pool[0].b) > 320 {
		b.Fatalf("receipt is %d bytes, want about 300", len(readFixture.pool[0].b))
	}
	return readFixture.s, readFixture.pool
}

// BenchmarkBadgerGet is the floor of the memo lookup: a bare badger read
// transaction, Get and ValueCopy of the same ~340-byte memo entries
// BenchmarkReceiptForTask reads (Store.FloorGet), on the same database.
func BenchmarkBadgerGet(b *testing.B) {
	s, pool := readStore(b)
	i := 0
	for b.Loop() {
		if _, err := s.FloorGet(pool[i%len(pool)].task); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkReceiptForTask is the memo lookup: task CID → receipt CID and
// bytes.
func BenchmarkReceiptForTask(b *testing.B) {
	s, pool := readStore(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, _, err := s.ReceiptForTask(ctx, pool[i%len(pool)].task); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPutReceiptSerial is one durable receipt write at a time: one fsync
// each.
func BenchmarkPutReceiptSerial(b *testing.B) {
	s := openT(b)
	pool := benchPool(b, 1024)
	ctx := context.Background()
	start := s.sync.syncs.Load()
	i := 0
	for b.Loop() {
		r := pool[i%len(pool)]
		if err := s.PutReceipt(ctx, r.task, r.rcpt, r.b); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(s.sync.syncs.Load()-start)/float64(b.N), "fsyncs/op")
}

// BenchmarkFileAppendSync is the floor of BenchmarkPutReceiptSerial: append
// the same bytes a receipt write adds (receipt and index entry) to a plain
// file and fsync it.
func BenchmarkFileAppendSync(b *testing.B) {
	f, err := os.Create(b.TempDir() + "/log")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	pool := benchPool(b, 1)
	rec := append(append([]byte{}, pool[0].b...), pool[0].b...)
	for b.Loop() {
		if _, err := f.Write(rec); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutReceiptParallel is 64 concurrent durable writers (as a
// workflow's worker pool finishing tasks), sharing fsyncs by group commit.
func BenchmarkPutReceiptParallel(b *testing.B) {
	s := openT(b)
	pool := benchPool(b, 1024)
	ctx := context.Background()
	var next atomic.Uint64
	start := s.sync.syncs.Load()
	b.SetParallelism(32) // 32 × GOMAXPROCS goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := pool[next.Add(1)%uint64(len(pool))]
			if err := s.PutReceipt(ctx, r.task, r.rcpt, r.b); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(s.sync.syncs.Load()-start)/float64(b.N), "fsyncs/op")
}

// BenchmarkPutReceiptNoSync is the write without waiting for a sync, for
// comparison: what group commit adds on top.
func BenchmarkPutReceiptNoSync(b *testing.B) {
	s := openT(b)
	pool := benchPool(b, 1024)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		r := pool[i%len(pool)]
		if err := s.PutReceiptNoSync(ctx, r.task, r.rcpt, r.b); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPutReceiptAsync queues receipts and syncs once at the end: the
// cost a caller pays a receipt when it reports results in groups.
func BenchmarkPutReceiptAsync(b *testing.B) {
	s := openT(b)
	pool := benchPool(b, 1024)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		r := pool[i%len(pool)]
		if err := s.PutReceiptAsync(ctx, r.task, r.rcpt, r.b); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Sync(ctx); err != nil { // inside the timing: commits and the sync count
		b.Fatal(err)
	}
}

// BenchmarkBadgerUpdate is the floor of PutReceiptNoSync: a bare badger
// update transaction setting the same two keys, without a sync.
func BenchmarkBadgerUpdate(b *testing.B) {
	s := openT(b)
	pool := benchPool(b, 1024)
	i := 0
	for b.Loop() {
		r := pool[i%len(pool)]
		err := s.db.Update(func(txn *badger.Txn) error {
			_, err := setReceipt(txn, r.task, r.rcpt, r.b, false)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkBadgerSyncWritesParallel is the alternative design: badger's own
// SyncWrites with the same 64 concurrent writers and the same two keys a
// receipt. badger batches concurrent commits but syncs its memtable log once
// per transaction.
func BenchmarkBadgerSyncWritesParallel(b *testing.B) {
	db, err := badger.Open(badger.DefaultOptions(b.TempDir()).WithSyncWrites(true).
		WithLogger(nil).WithMetricsEnabled(false).WithMemTableSize(16 << 20))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	pool := benchPool(b, 1024)
	var next atomic.Uint64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := pool[next.Add(1)%uint64(len(pool))]
			err := db.Update(func(txn *badger.Txn) error {
				_, err := setReceipt(txn, r.task, r.rcpt, r.b, false)
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSeeInvocation is the replay check of a fresh invocation.
func BenchmarkSeeInvocation(b *testing.B) {
	s := openT(b)
	pool := benchPool(b, 1<<16)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := s.SeeInvocation(ctx, pool[i%len(pool)].rcpt, time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// tempDirOutsideTest makes a directory for a fixture shared by several
// benchmarks (b.TempDir would be removed when the first one ends). TestMain
// removes it.
func tempDirOutsideTest() (string, error) { return os.MkdirTemp("", "ipvm-store-bench-") }
