package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-cid"
)

// The journal is the store's redo log. Every write but AddFile's blocks
// and receipts too large for the LSM tree (receipts, workflows,
// delegations, seen invocations, single blocks) is appended to it, with one
// write(2) per transaction, right after badger commits it; a sync round
// makes those writes durable with an fdatasync of the journal instead of an
// fsync of badger's memtable log. A value large enough for badger's value
// log still has that log fsynced by the round (a table badger flushes may
// point into it, and the journal segment goes once the table is written);
// AddFile's blocks and large receipts are made durable by the round's
// fsync of badger's logs, as before the journal.
//
// Why: badger writes its logs through shared memory maps, and an fsync of
// pages dirtied through a map makes the kernel write-protect each one on
// every CPU that runs the process (a TLB shootdown per page), and the next
// write to the page faults again. On the 2-vCPU VMs we measure on that cost
// ~27 µs of CPU per 4 KiB page with both CPUs busy, ~5 µs per receipt:
// more than the rest of the store's work for it. The same bytes written
// with write(2) and fdatasync cost about a tenth of that (RATIONALE.md,
// Storage).
//
// A segment is needed until badger has put its writes in synced tables.
// badger flushes a memtable to a table (msync), records the table in its
// manifest (fsync) and only then deletes the memtable's log, so a segment
// closed while the newest memtable log was number M is obsolete once no
// memtable log numbered M or less is left. Open replays the segments left
// over, in order: a receipt badger has is skipped (a receipt write reads
// the index entry it replaces), other records are set or deleted again.
// Replaying writes that badger kept ends in the same state, since records
// are appended in commit order (amu) and badger loses at most a suffix of
// them; so a segment deleted late, or a crash during replay, costs only
// time.
//
// Records: 4-byte little-endian length n, 4-byte CRC-32C of the payload,
// then n payload bytes: a kind byte and its fields, each byte string a
// uvarint length and its bytes except the last, which runs to the end:
//
//	recReceipt, recReceiptKeep: task CID, receipt CID, receipt bytes
//	recSet:                     expiresAt (uvarint), key, value
//	recDelete:                  key
//
// Replay of a segment stops at its first short or damaged record (the
// torn tail of a write the crash interrupted).
type journal struct {
	dir  string // the journal's directory
	bdir string // badger's directory, whose memtable logs decide which segments are obsolete

	// amu is held by a writer from badger's commit to the append, so that
	// records follow commit order; it guards buf, size, next and broken.
	// The syncer reads cur and takes over rotated segments under mu.
	amu  sync.Mutex
	buf  []byte
	size int64
	next uint64 // number of the next segment to create

	// broken is set when an append or a rotation failed, or a sync did
	// (the store's sync error is sticky): from then on writes are reported
	// unjournaled, so the syncer makes them durable through badger's logs,
	// and once it has done so for everything, it deletes the segments
	// (retire): replaying them over the newer writes would undo those.
	broken  atomic.Bool
	retired bool // syncer only
	log     *slog.Logger

	// appends counts successful appends; synced is its value at the start
	// of the last sync of the current segment (syncer only).
	appends atomic.Uint64
	synced  uint64

	mu      sync.Mutex
	cur     *segment   // being appended to; synced by the syncer, never closed by the committer
	rotated []*segment // appended to no more, to sync and close (syncer)
	done    []*segment // synced and closed, kept until badger has flushed their receipts
}

type segment struct {
	num    uint64
	f      *os.File // nil once synced and closed
	maxMem uint64   // newest memtable log when the segment was closed
}

// segmentSize is the size past which a segment is closed and a new one
// started (a variable for tests).
var segmentSize int64 = 8 << 20

const journalExt = ".journal"

// Record kinds.
const (
	recReceipt     = 0 // PutReceipt and its kin
	recReceiptKeep = 1 // PutFailedReceipt: keep an existing index entry
	recSet         = 2
	recDelete      = 3
)

// op is one write of a journaled transaction other than a receipt.
type op struct {
	del        bool
	key, value []byte
	expiresAt  uint64
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// openJournal opens the journal in dir, replays its segments into db and
// starts a new segment. It returns the journal, the number of receipts it
// wrote back and the replayed segments, which the caller deletes once it
// has synced badger's logs (removeSegments).
func openJournal(db *badger.DB, dir, bdir string, log *slog.Logger) (*journal, int, []uint64, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, 0, nil, err
		}
		if err := fsyncFile(bdir); err != nil { // the new directory's entry
			return nil, 0, nil, err
		}
	}
	j := &journal{dir: dir, bdir: bdir, next: 1, log: log}
	nums, err := j.segments()
	if err != nil {
		return nil, 0, nil, err
	}
	replayed := 0
	for _, n := range nums {
		b, err := os.ReadFile(j.path(n))
		if err != nil {
			return nil, 0, nil, err
		}
		k, err := replay(db, b)
		replayed += k
		if err != nil {
			return nil, 0, nil, fmt.Errorf("journal segment %d: %w", n, err)
		}
		j.next = max(j.next, n+1)
	}
	if j.cur, err = j.create(); err != nil {
		return nil, 0, nil, err
	}
	return j, replayed, nums, nil
}

// removeSegments deletes segments nums (obsolete: their writes are synced
// in badger's logs).
func (j *journal) removeSegments(nums []uint64) error {
	for _, n := range nums {
		if err := os.Remove(j.path(n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func (j *journal) path(n uint64) string {
	return filepath.Join(j.dir, fmt.Sprintf("%06d%s", n, journalExt))
}

// segments lists the segment numbers in the directory, oldest first.
func (j *journal) segments() ([]uint64, error) { return numberedFiles(j.dir, journalExt) }

// create starts segment j.next and makes its directory entry durable.
func (j *journal) create() (*segment, error) {
	n := j.next
	f, err := os.OpenFile(j.path(n), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if err := fsyncFile(j.dir); err != nil {
		f.Close()
		return nil, err
	}
	j.next++
	j.size = 0
	return &segment{num: n, f: f}, nil
}

// appendReceipts appends the records of the receipts of batch. j.amu must
// be held, since badger's commit of them. It reports false when they are
// not in the journal (the journal broke, now or before), so that the
// caller makes them durable another way.
func (j *journal) appendReceipts(batch []*commitReq) bool {
	b := j.buf[:0]
	for _, r := range batch {
		b = appendReceiptRecord(b, r)
	}
	return j.write(b)
}

// appendOps appends the records of one transaction's ops, as
// appendReceipts does.
func (j *journal) appendOps(ops []op) bool {
	b := j.buf[:0]
	for _, o := range ops {
		b = appendOpRecord(b, o)
	}
	return j.write(b)
}

// write appends b (records, in j.buf) to the current segment in one write
// and starts a new segment when it is full.
func (j *journal) write(b []byte) bool {
	j.buf = b
	if j.broken.Load() {
		return false
	}
	if _, err := j.cur.f.Write(b); err != nil {
		j.fail("append", err) // a torn record may follow; append no more
		return false
	}
	j.size += int64(len(b))
	j.appends.Add(1)
	if cap(j.buf) > 1<<20 {
		j.buf = nil // do not keep a burst's buffer
	}
	if j.size >= segmentSize {
		j.rotate()
	}
	return true
}

// rotate hands the current segment to the syncer and starts a new one. On
// failure the journal breaks; the receipts already in it are still synced.
func (j *journal) rotate() {
	maxMem, err := newestMemLog(j.bdir)
	if err != nil {
		j.fail("rotate", err)
		return
	}
	next, err := j.create()
	if err != nil {
		j.fail("rotate", err)
		return
	}
	j.mu.Lock()
	j.cur.maxMem = maxMem
	j.rotated = append(j.rotated, j.cur)
	j.cur = next
	j.mu.Unlock()
}

// fail breaks the journal (see broken).
func (j *journal) fail(what string, err error) {
	if !j.broken.Swap(true) && j.log != nil {
		j.log.Warn("store journal broken: writes are synced through badger's logs until the store is reopened", "op", what, "err", err)
	}
}

// appendReceiptRecord appends r's journal record to b.
func appendReceiptRecord(b []byte, r *commitReq) []byte {
	start := len(b)
	b = append(b, make([]byte, 8)...)
	kind := byte(recReceipt)
	if r.keepIndex {
		kind = recReceiptKeep
	}
	b = append(b, kind)
	b = appendField(b, r.task.KeyString())
	b = appendField(b, r.rcpt.KeyString())
	b = append(b, r.b...)
	return sealRecord(b, start)
}

// appendOpRecord appends o's journal record to b.
func appendOpRecord(b []byte, o op) []byte {
	start := len(b)
	b = append(b, make([]byte, 8)...)
	if o.del {
		b = append(b, recDelete)
		b = append(b, o.key...)
		return sealRecord(b, start)
	}
	b = append(b, recSet)
	b = binary.AppendUvarint(b, o.expiresAt)
	b = appendField(b, string(o.key))
	b = append(b, o.value...)
	return sealRecord(b, start)
}

func appendField(b []byte, f string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(f))), f...)
}

// sealRecord fills in the length and checksum of the record at b[start:].
func sealRecord(b []byte, start int) []byte {
	payload := b[start+8:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(payload, crcTable))
	return b
}

// record is a decoded journal record: a receipt (req) or an op.
type record struct {
	receipt bool
	req     commitReq
	op      op
}

// errTornRecord ends the records of a segment: a short or damaged record.
var errTornRecord = errors.New("store: journal: torn record")

// decodeRecord decodes the record at the start of b and returns it and its
// length, or errTornRecord. Its byte strings alias b.
func decodeRecord(b []byte) (record, int, error) {
	if len(b) < 8 {
		return record{}, 0, errTornRecord
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-8) {
		return record{}, 0, errTornRecord
	}
	p := b[8 : 8+int(n)]
	if crc32.Checksum(p, crcTable) != binary.LittleEndian.Uint32(b[4:]) || len(p) < 1 {
		return record{}, 0, errTornRecord
	}
	kind, p := p[0], p[1:]
	var r record
	switch kind {
	case recReceipt, recReceiptKeep:
		task, p, ok := field(p)
		rcpt, rest, ok2 := field(p)
		if !ok || !ok2 {
			return record{}, 0, errTornRecord
		}
		tc, err := cid.Cast(task)
		rc, err2 := cid.Cast(rcpt)
		if err != nil || err2 != nil || checkReceipt(tc, rc, rest) != nil {
			return record{}, 0, errTornRecord
		}
		r = record{receipt: true, req: commitReq{task: tc, rcpt: rc, b: rest, keepIndex: kind == recReceiptKeep}}
	case recSet:
		exp, k := binary.Uvarint(p)
		if k <= 0 {
			return record{}, 0, errTornRecord
		}
		key, value, ok := field(p[k:])
		if !ok || len(key) == 0 {
			return record{}, 0, errTornRecord
		}
		r = record{op: op{key: key, value: value, expiresAt: exp}}
	case recDelete:
		if len(p) == 0 {
			return record{}, 0, errTornRecord
		}
		r = record{op: op{del: true, key: p}}
	default:
		return record{}, 0, errTornRecord
	}
	return r, 8 + int(n), nil
}

// field splits a uvarint-length-prefixed byte string off p.
func field(p []byte) (f, rest []byte, ok bool) {
	l, k := binary.Uvarint(p)
	if k <= 0 || l > uint64(len(p)-k) {
		return nil, nil, false
	}
	return p[k : k+int(l)], p[k+int(l):], true
}

// replay writes the records of segment bytes b to db again, in order, and
// returns how many receipts it wrote back (those badger had lost). It
// stops at the first torn record.
func replay(db *badger.DB, b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		r, n, err := decodeRecord(b)
		if err != nil {
			return written, nil // the torn tail of the last write
		}
		b = b[n:]
		err = db.Update(func(txn *badger.Txn) error {
			switch {
			case r.op.del:
				return txn.Delete(r.op.key)
			case !r.receipt:
				e := badger.NewEntry(r.op.key, r.op.value)
				e.ExpiresAt = r.op.expiresAt
				return txn.SetEntry(e)
			}
			if _, err := txn.Get(key(pfxReceipt, r.req.rcpt)); err == nil {
				return nil // badger has it
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
			if _, err := setReceipt(txn, r.req.task, r.req.rcpt, r.req.b, r.req.keepIndex); err != nil {
				return err
			}
			written++
			return nil
		})
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// sync makes every record appended so far durable: it fdatasyncs the
// rotated segments (and closes them) and the current one.
func (j *journal) sync() error {
	appends := j.appends.Load()
	j.mu.Lock()
	cur, rotated := j.cur, j.rotated
	j.rotated = nil
	j.mu.Unlock()
	for i, s := range rotated {
		err := fdatasync(s.f)
		j.mu.Lock()
		if err != nil {
			j.rotated = append(rotated[i:], j.rotated...) // closed by close
			j.mu.Unlock()
			return err
		}
		s.f.Close()
		s.f = nil
		j.done = append(j.done, s)
		j.mu.Unlock()
	}
	if appends == j.synced {
		return nil // nothing appended since the last sync (a clean fdatasync still flushes the disk cache)
	}
	if err := fdatasync(cur.f); err != nil {
		return err
	}
	j.synced = appends
	return nil
}

// collect deletes the synced segments whose receipts badger has flushed
// to tables. Only the syncer calls it.
func (j *journal) collect() error {
	j.mu.Lock()
	done := slices.Clone(j.done)
	j.mu.Unlock()
	if len(done) == 0 {
		return nil
	}
	oldest, err := oldestMemLog(j.bdir)
	if err != nil {
		return err
	}
	var gone []*segment
	for _, s := range done {
		if oldest == 0 || s.maxMem < oldest {
			gone = append(gone, s)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	// The tables holding these receipts must be in the directory for good
	// before the receipts leave the journal.
	if err := fsyncFile(j.bdir); err != nil {
		return err
	}
	for _, s := range gone {
		if err := os.Remove(j.path(s.num)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	j.mu.Lock()
	j.done = slices.DeleteFunc(j.done, func(s *segment) bool { return slices.Contains(gone, s) })
	j.mu.Unlock()
	return nil
}

// retire deletes every segment, once the syncer has synced badger's logs
// after the journal broke: every write is then durable there, and the
// segments only hold older values of keys written since.
func (j *journal) retire() error {
	j.mu.Lock()
	segs := append(append(slices.Clone(j.rotated), j.done...), j.cur)
	j.rotated, j.done = nil, nil
	j.mu.Unlock()
	var err error
	for _, s := range segs {
		if s.f != nil && s.num != j.cur.num {
			s.f.Close()
			s.f = nil
		}
		if rerr := os.Remove(j.path(s.num)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	j.retired = true
	return err
}

// close closes the segment files. When badger was closed cleanly (flushing
// every memtable to a table), all segments are obsolete and are removed.
func (j *journal) close(badgerClosed bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var err error
	for _, s := range append(j.rotated, j.cur) {
		if s != nil && s.f != nil {
			if serr := fdatasync(s.f); err == nil {
				err = serr
			}
			s.f.Close()
			s.f = nil
		}
	}
	if !badgerClosed || err != nil {
		return err
	}
	if newest, lerr := newestMemLog(j.bdir); lerr != nil || newest != 0 {
		return lerr // a memtable log is left: keep the journal for Open
	}
	if err := fsyncFile(j.bdir); err != nil {
		return err
	}
	nums, err := j.segments()
	if err != nil {
		return err
	}
	return j.removeSegments(nums)
}

// numberedFiles returns, in ascending order, the numbers of the files in
// dir named by a decimal number and ext (badger's NNNNN.mem, our
// NNNNNN.journal).
func numberedFiles(dir, ext string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var nums []uint64
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ext); ok {
			if n, err := strconv.ParseUint(name, 10, 64); err == nil {
				nums = append(nums, n)
			}
		}
	}
	slices.Sort(nums)
	return nums, nil
}

// newestMemLog returns the number of badger's newest memtable log, 0 if none.
func newestMemLog(dir string) (uint64, error) {
	nums, err := numberedFiles(dir, ".mem")
	if err != nil || len(nums) == 0 {
		return 0, err
	}
	return nums[len(nums)-1], nil
}

// oldestMemLog returns the number of badger's oldest memtable log, 0 if none.
func oldestMemLog(dir string) (uint64, error) {
	nums, err := numberedFiles(dir, ".mem")
	if err != nil || len(nums) == 0 {
		return 0, err
	}
	return nums[0], nil
}

// writer is a read-write transaction whose writes the journal records.
type writer struct {
	txn      *badger.Txn
	ops      []op
	maxValue int
}

func (w *writer) set(k, v []byte) error {
	return w.setEntry(badger.NewEntry(k, v))
}

func (w *writer) setEntry(e *badger.Entry) error {
	w.ops = append(w.ops, op{key: e.Key, value: e.Value, expiresAt: e.ExpiresAt})
	w.maxValue = max(w.maxValue, len(e.Value))
	return w.txn.SetEntry(e)
}

func (w *writer) delete(k []byte) error {
	w.ops = append(w.ops, op{del: true, key: k})
	return w.txn.Delete(k)
}

// update runs fn in a read-write transaction, commits it, appends its
// writes to the journal and returns the write's sequence number for the syncer, 0 when fn
// wrote nothing. Errors are badger's, unwrapped (ErrConflict included).
func (s *Store) update(fn func(w *writer) error) (uint64, error) {
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	w := &writer{txn: txn}
	if err := fn(w); err != nil {
		return 0, err
	}
	if len(w.ops) == 0 {
		return 0, nil
	}
	j := s.sync.journal
	j.amu.Lock() // from the commit to the append: records in commit order
	err := txn.Commit()
	journaled := err == nil && j.appendOps(w.ops)
	j.amu.Unlock()
	if err != nil {
		return 0, err
	}
	return s.sync.committed(w.maxValue, journaled), nil
}
