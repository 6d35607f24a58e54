package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/ipfs/go-cid"
)

// Key prefixes. Every key is a prefix followed by the binary CID (or, for
// the workflow time index, a time then a CID). The layout is described in
// the package documentation; changing it needs a migration.
const (
	pfxBlock      = "b/" // block CID → block bytes
	pfxReceipt    = "r/" // receipt CID → signed receipt bytes
	pfxTask       = "t/" // task CID → receipt CID bytes ‖ receipt bytes (the memo index)
	pfxWorkflow   = "w/" // workflow CID → 8-byte added time ‖ workflow bytes
	pfxRecent     = "W/" // 8-byte big-endian added time (ns) ‖ workflow CID → empty
	pfxDelegation = "d/" // delegation CID → token bytes
	pfxRevoked    = "x/" // revoked delegation CID → 8-byte revocation time
	pfxSeen       = "i/" // seen invocation CID → empty, with a TTL to its exp
)

// Store is the node's persistent state in one badger database. It is safe
// for concurrent use. Every method takes a context, checked before any work
// and while waiting for a sync; after Close every method returns ErrClosed.
type Store struct {
	db      *badger.DB
	dir     string
	sync    *syncer
	commit  *committer
	space   *space
	release func() error // drops the repo lock

	// mu is held for reading by every call in flight and for writing by
	// Close, which so waits for them before closing badger.
	mu     sync.RWMutex
	closed bool

	replayed uint64 // receipts Open wrote back from the journal
}

// journalDir is the journal's directory inside the store's (journal.go).
const journalDir = "journal"

// Open opens (creating if needed) the store in dir. It fails with an error
// wrapping ErrLocked, whose message says "repo locked by another process",
// when another process or another Store of this process has dir open.
// After a crash (kill -9, power loss) Open replays badger's logs; no manual
// repair is ever needed.
func Open(dir string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	release, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	bo := badger.DefaultOptions(dir).
		WithLogger(slogger{opts.Logger}).
		WithMetricsEnabled(false).
		WithSyncWrites(false). // durability by group commit, see sync.go
		WithMemTableSize(opts.MemTableSize).
		WithNumMemtables(2).
		WithNumLevelZeroTables(4).
		WithNumLevelZeroTablesStall(10).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithBlockCacheSize(opts.BlockCacheSize).
		WithIndexCacheSize(opts.IndexCacheSize).
		WithValueLogFileSize(opts.ValueLogFileSize).
		WithValueThreshold(opts.ValueThreshold).
		WithBaseTableSize(4 << 20).
		WithCompression(options.None) // receipts and blobs barely compress; spare the CPU
	db, err := badger.Open(bo)
	if err != nil {
		release()
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	y := newSyncer(db, dir, opts.ValueThreshold)
	j, replayed, old, err := openJournal(db, filepath.Join(dir, journalDir), dir, opts.Logger)
	y.journal = j
	if err == nil && len(old) > 0 {
		// Make what the segments held durable in badger's own logs (the
		// replay may have written large values to the value log), then
		// drop them.
		y.walWrites.Add(1)
		y.vlogWrites.Add(1)
		if err = y.syncLogs(); err == nil {
			err = j.removeSegments(old)
		}
	}
	if err != nil {
		if j != nil {
			j.close(false)
		}
		db.Close()
		release()
		return nil, fmt.Errorf("store: open %s: journal: %w", dir, err)
	}
	s := &Store{db: db, dir: dir, release: release, sync: y, commit: newCommitter(db, y), space: newSpace(dir, opts)}
	s.commit.space = s.space
	s.replayed = uint64(replayed)
	go s.sync.loop()
	go s.commit.loop()
	return s, nil
}

// Dir returns the directory the store was opened in.
func (s *Store) Dir() string { return s.dir }

// Close waits for the calls in flight, commits the receipts PutReceiptAsync
// queued, syncs everything written to disk, closes badger and releases the
// repo lock. It is idempotent: later calls
// return nil, and every other method then returns ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.commit.close() // commits what PutReceiptAsync queued
	err := s.commit.drain(context.Background())
	s.sync.close()
	if serr := s.db.Sync(); err == nil {
		err = serr
	}
	cerr := s.db.Close()
	if err == nil {
		err = cerr
	}
	// After a clean badger Close (every memtable flushed to a table) the
	// journal's receipts are all in tables: it is emptied.
	if jerr := s.sync.journal.close(cerr == nil); err == nil {
		err = jerr
	}
	if rerr := s.release(); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// enter starts a call: it checks ctx and that the store is open, and holds
// the read lock that Close waits on. The caller must call s.mu.RUnlock.
func (s *Store) enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

// lookup is the body of the simple getters: the value under prefix ‖ c.
func (s *Store) lookup(ctx context.Context, prefix string, c cid.Cid, what string) ([]byte, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	b, err := s.get(key(prefix, c))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, c, err)
	}
	return b, nil
}

// set is the body of the simple setters: it writes v under prefix ‖ c and,
// if durable, waits for the sync.
func (s *Store) set(ctx context.Context, prefix string, c cid.Cid, v []byte, what string, durable bool) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := s.sync.failed(); durable && err != nil {
		return err
	}
	if err := s.space.check(); err != nil {
		return err
	}
	seq, err := s.update(func(w *writer) error {
		return w.set(key(prefix, c), v)
	})
	if err != nil {
		return fmt.Errorf("store: %s %s: %w", what, c, err)
	}
	if !durable {
		return nil
	}
	return s.sync.wait(ctx, seq)
}

// key returns prefix ‖ binary CID.
func key(prefix string, c cid.Cid) []byte {
	k := make([]byte, 0, len(prefix)+c.ByteLen())
	k = append(k, prefix...)
	return append(k, c.KeyString()...)
}

// get returns a copy of the value under k, or ErrNotFound.
func (s *Store) get(k []byte) ([]byte, error) {
	var v []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(k)
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	return v, s.mapErr(err)
}

// has reports whether a live value is stored under k.
func (s *Store) has(k []byte) (bool, error) {
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(k)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, s.mapErr(err)
}

// mapErr turns badger's not-found into ErrNotFound and wraps the rest.
func (s *Store) mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return ErrNotFound
	case errors.Is(err, ErrNotFound), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	default:
		return fmt.Errorf("store: %w", err)
	}
}

// slogger adapts badger's printf logger to slog. badger's info messages
// (compactions, replays) go to debug level; its debug messages are dropped.
type slogger struct{ l *slog.Logger }

func (g slogger) Errorf(f string, a ...any)   { g.log(slog.LevelError, f, a) }
func (g slogger) Warningf(f string, a ...any) { g.log(slog.LevelWarn, f, a) }
func (g slogger) Infof(f string, a ...any)    { g.log(slog.LevelDebug, f, a) }
func (g slogger) Debugf(string, ...any)       {}

func (g slogger) log(level slog.Level, f string, a []any) {
	if g.l == nil || !g.l.Enabled(context.Background(), level) {
		return
	}
	g.l.Log(context.Background(), level, strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}
