package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	badger "github.com/dgraph-io/badger/v4"
)

// syncer implements group commit. A durable write first commits to badger
// (which makes it visible and puts it in the page cache, so it survives the
// process being killed), takes a sequence number, then waits until a sync
// round (syncLogs) that started after that number was taken has finished.
// One goroutine runs the rounds; every writer that arrives while a round is
// running is covered by the next one, so N concurrent writers share about
// one fsync.
type syncer struct {
	db        *badger.DB
	dir       string
	threshold int // badger's value threshold: values this long go to the value log

	// vlogWrites counts committed writes that may have put a value in the
	// value log; vlogSynced is its value at the last value-log fsync (loop only).
	vlogWrites atomic.Uint64
	vlogSynced uint64

	// walWrites counts committed writes that are not in the journal (those
	// with a value for the value log, and every write once the journal has
	// broken): a round fsyncs the memtable logs only when it changed since
	// walSynced, its value at the last such fsync (loop only).
	walWrites atomic.Uint64
	walSynced uint64

	// journal holds the other writes (journal.go); a round fdatasyncs it.
	journal *journal

	// finished holds the log files (memtable WALs, value logs) that badger no
	// longer writes and that syncLogs has synced. Only the loop uses it.
	finished map[string]bool
	written  atomic.Uint64 // sequence number of the last committed write

	mu     sync.Mutex
	synced uint64        // every write up to this number is synced
	err    error         // sticky: set by the first failed sync
	round  chan struct{} // closed when the sync round in progress ends

	syncs      atomic.Uint64 // sync rounds that synced, for tests and benchmarks
	beforeSync func()        // test hook, called at the start of a round

	kick chan struct{} // asks the loop for a round (buffer 1: rounds coalesce)
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func newSyncer(db *badger.DB, dir string, threshold int64) *syncer {
	return &syncer{
		db:        db,
		dir:       dir,
		threshold: int(threshold),
		finished:  map[string]bool{},
		round:     make(chan struct{}),
		kick:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
}

// loop runs sync rounds on demand until close.
func (y *syncer) loop() {
	defer close(y.done)
	for {
		select {
		case <-y.kick:
			y.syncRound()
		case <-y.stop:
			return
		}
	}
}

// syncRound syncs every write committed so far and wakes the waiters.
func (y *syncer) syncRound() {
	if y.beforeSync != nil {
		y.beforeSync()
	}
	target := y.written.Load()
	y.mu.Lock()
	needed := y.synced < target && y.err == nil
	y.mu.Unlock()
	var err error
	if needed {
		y.syncs.Add(1)
		err = y.syncLogs()
	}
	if err != nil {
		y.journal.fail("sync", err) // no more segments to keep: nothing syncs them
	}
	y.mu.Lock()
	if err != nil && y.err == nil {
		y.err = fmt.Errorf("%w: %v", ErrSyncFailed, err)
	} else if err == nil && target > y.synced {
		y.synced = target
	}
	close(y.round)
	y.round = make(chan struct{})
	y.mu.Unlock()
}

// syncLogs makes every write committed so far durable by fsyncing badger's
// log files: the memtable logs (WAL) and the value logs. It does what
// db.Sync does and closes two gaps of it, and skips one needless fsync:
//
//   - db.Sync syncs only the current memtable log and value log, and without
//     SyncWrites badger does not sync a log it rotates away from, so a write
//     committed just before a rotation could sit unsynced in the old file (a
//     WAL until its memtable is flushed to a synced table, a value log for
//     good). syncLogs also fsyncs every log that is no longer the newest of
//     its kind, once, after it stopped being written.
//   - db.Sync always fsyncs the value log, which costs a disk flush even when
//     clean (measured 70–200 µs here). Receipts stay below the value
//     threshold, so syncLogs fsyncs the current value log only when a write
//     with a value at or above the threshold was committed since its last
//     fsync (vlogWrites).
//
// badger writes its logs through shared memory maps; fsync of the file
// flushes pages dirtied through a map as msync does.
//
// Writes with small values are also in the journal (journal.go), which a
// round fdatasyncs first: the memtable logs are fsynced only when a write
// that is not in the journal was committed since their last fsync
// (walWrites). A round of receipts alone costs one fdatasync of the
// journal.
func (y *syncer) syncLogs() error {
	vw := y.vlogWrites.Load() // after the caller's load of written
	ww := y.walWrites.Load()
	if err := y.journal.sync(); err != nil {
		return err
	}
	// Deleting obsolete segments is housekeeping: a failure leaves them
	// for a later round, and Open replays them harmlessly.
	_ = y.journal.collect()
	syncMem := ww != y.walSynced
	// A broken journal is retired after a round has synced everything
	// through badger's logs.
	retire := y.journal.broken.Load() && !y.journal.retired
	syncMem = syncMem || retire
	syncVlog := vw != y.vlogSynced || retire
	if !syncMem && !syncVlog {
		return nil // everything since the last log fsync is in the journal
	}
	ents, err := os.ReadDir(y.dir)
	if err != nil {
		return err
	}
	present := make(map[string]bool, len(ents))
	// badger names logs by a zero-padded, growing number (%05d.mem,
	// %06d.vlog): sorted by length then name, the last of each kind is the
	// one being written (plain name order would break past 99999.mem).
	for _, ext := range []string{".mem", ".vlog"} {
		var names []string
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ext) {
				names = append(names, e.Name())
				present[e.Name()] = true
			}
		}
		slices.SortFunc(names, func(a, b string) int {
			return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
		})
		for i, name := range names {
			current := i == len(names)-1
			if y.finished[name] || (current && ext == ".vlog" && !syncVlog) || (ext == ".mem" && !syncMem) {
				continue
			}
			if err := fsyncFile(filepath.Join(y.dir, name)); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue // flushed to a table and removed meanwhile
				}
				return err
			}
			if !current {
				y.finished[name] = true
			}
		}
	}
	y.vlogSynced = vw
	y.walSynced = ww
	if retire {
		// A segment that could not be removed would be replayed over newer
		// writes at the next Open; unlink failing on a directory we write
		// is not a case we handle beyond trying again at Close.
		_ = y.journal.retire()
	}
	for name := range y.finished {
		if !present[name] {
			delete(y.finished, name)
		}
	}
	return nil
}

func fsyncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// committed records a write that badger has committed and returns its
// sequence number, to pass to wait. maxValue is the length of the longest
// value the write set, which tells whether it touched the value log;
// journaled whether the journal holds the write.
func (y *syncer) committed(maxValue int, journaled bool) uint64 {
	// Before written: a round that sees seq sees these.
	if maxValue >= y.threshold {
		y.vlogWrites.Add(1)
	}
	if !journaled {
		y.walWrites.Add(1)
	}
	return y.written.Add(1)
}

// wait blocks until write seq is synced, the sync fails, or ctx ends. On a
// ctx error the write is committed but not known to be synced.
func (y *syncer) wait(ctx context.Context, seq uint64) error {
	for {
		y.mu.Lock()
		if y.err != nil {
			err := y.err
			y.mu.Unlock()
			return err
		}
		if y.synced >= seq {
			y.mu.Unlock()
			return nil
		}
		round := y.round
		y.mu.Unlock()
		select {
		case y.kick <- struct{}{}:
		default: // a round is already asked for; it will cover seq or we ask again
		}
		select {
		case <-round:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// failed returns the sticky sync error, if any.
func (y *syncer) failed() error {
	y.mu.Lock()
	defer y.mu.Unlock()
	return y.err
}

// close stops the loop. Callers must have no wait in progress (Close holds
// the store's write lock, so none is).
func (y *syncer) close() {
	y.once.Do(func() {
		close(y.stop)
		<-y.done
	})
}

// Sync makes every write made so far durable (fsync), sharing the sync with
// concurrent durable writes: it first waits for the receipts queued by
// PutReceiptAsync to be committed (returning the first error among their
// commits, if any), then for a sync. Use it after a run of non-durable
// writes (PutReceiptAsync, PutReceiptNoSync, PutBlock, PutWorkflow,
// SeeInvocation) whose results are about to be reported.
func (s *Store) Sync(ctx context.Context) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := s.commit.drain(ctx); err != nil {
		return err
	}
	return s.sync.wait(ctx, s.sync.written.Load())
}
