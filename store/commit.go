package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-cid"
)

// maxCommitBatch caps the receipts one committer transaction takes, so a
// burst cannot build a transaction badger refuses as too big in one step.
const maxCommitBatch = 256

// commitReq is one receipt waiting for the committer.
type commitReq struct {
	task, rcpt cid.Cid
	b          []byte
	keepIndex  bool           // do not replace an existing index entry
	qseq       uint64         // queue order, set by enqueue
	done       chan commitRes // buffered 1; nil for PutReceiptAsync and batches
	batch      *Batch         // the batch that queued it, if any
}

// commitRes tells a writer its receipt is committed (err nil) and the
// sequence number to wait on for the sync.
type commitRes struct {
	seq uint64
	err error
}

// committer batches receipt writes: it takes every request queued since its
// last commit and writes them all in one badger transaction, so N concurrent
// writers cost one transaction rather than N. The sync is separate (syncer),
// so the next batch commits while the previous one is being synced.
type committer struct {
	db   *badger.DB
	sync *syncer
	// space refuses commits on a full disk; set by Open before loop runs.
	space *space
	reqs  chan *commitReq
	// receipts counts receipts committed, commits the transactions that
	// carried them, for tests, benchmarks and metrics.
	receipts, commits atomic.Uint64

	// qmu orders enqueueing, so queue numbers follow the channel's order.
	qmu    sync.Mutex
	queued uint64 // queue number of the last request sent

	mu        sync.Mutex
	committed uint64        // every request up to this queue number is answered
	asyncErr  error         // first failed commit of an async request, until reported
	round     chan struct{} // closed after each batch

	// kick ends a linger at once: a caller waits for what is queued.
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// asyncLinger is how long the committer holds a batch in which nobody
// waits for the commit (receipts queued by PutReceiptAsync or a Batch) for
// more receipts to join it. A serial producer otherwise paid a badger
// transaction, and two goroutine hand-offs, per receipt. A durable write,
// Sync or a Batch's Sync ends the wait at once.
const asyncLinger = 200 * time.Microsecond

func newCommitter(db *badger.DB, y *syncer) *committer {
	return &committer{
		db:    db,
		sync:  y,
		reqs:  make(chan *commitReq, maxCommitBatch),
		round: make(chan struct{}),
		kick:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
}

func (c *committer) loop() {
	defer close(c.done)
	batch := make([]*commitReq, 0, maxCommitBatch)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		stopping := false
		select {
		case r := <-c.reqs:
			batch = append(batch[:0], r)
		case <-c.stop:
			stopping = true
			batch = batch[:0]
		}
	more:
		for len(batch) < maxCommitBatch {
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		if !stopping && len(batch) > 0 && len(batch) < maxCommitBatch && !slices.ContainsFunc(batch, waited) {
			stopping = c.linger(&batch, linger)
		}
		if len(batch) > 0 {
			c.commit(batch)
			clear(batch) // drop references to the receipt bytes
		}
		if stopping && len(c.reqs) == 0 {
			return // Close: every queued receipt is committed
		}
	}
}

// waited reports whether a caller waits for r's commit.
func waited(r *commitReq) bool { return r.done != nil }

// linger adds to *batch what arrives within asyncLinger, until the batch is
// full, a request someone waits for arrives, a caller kicks, or Close
// begins (then it returns true).
func (c *committer) linger(batch *[]*commitReq, t *time.Timer) (stopping bool) {
	// A kick left from an earlier wait ends this linger at once: a lost
	// chance to batch, never a waiter kept waiting.
	t.Reset(asyncLinger)
	defer t.Stop()
	for len(*batch) < maxCommitBatch {
		select {
		case r := <-c.reqs:
			*batch = append(*batch, r)
			if waited(r) {
				return false
			}
		case <-c.kick:
			return false
		case <-t.C:
			return false
		case <-c.stop:
			return true
		}
	}
	return false
}

// commit writes batch, splitting it when badger says a transaction is too
// big, and answers every request.
func (c *committer) commit(batch []*commitReq) {
	j := c.sync.journal
	for len(batch) > 0 {
		j.amu.Lock() // from the commit to the append: records in commit order
		longest := 0 // with a replaced receipt written out whole: it may be the longest
		n, err := c.commitSome(batch, &longest)
		journaled := err == nil && longest < c.sync.threshold && j.appendReceipts(batch[:n])
		j.amu.Unlock()
		seq := c.sync.committed(longest, journaled)
		if err == nil {
			c.receipts.Add(uint64(n))
			c.commits.Add(1)
		}
		for _, r := range batch[:n] {
			if r.done != nil {
				r.done <- commitRes{seq: seq, err: err}
			}
		}
		c.mu.Lock()
		if err != nil {
			for _, r := range batch[:n] {
				switch {
				case r.batch != nil:
					r.batch.fail(err)
				case r.done == nil && c.asyncErr == nil:
					c.asyncErr = err
				}
			}
		}
		c.committed = batch[n-1].qseq
		close(c.round)
		c.round = make(chan struct{})
		c.mu.Unlock()
		batch = batch[n:]
	}
}

// commitSome commits a prefix of batch in one transaction and returns its
// length (at least 1) and the commit error. It raises *longest to the
// length of the longest value it wrote, which tells whether the write
// touched the value log.
func (c *committer) commitSome(batch []*commitReq, longest *int) (int, error) {
	if err := c.space.check(); err != nil {
		return len(batch), err // nothing written; every request gets the error
	}
	txn := c.db.NewTransaction(true)
	defer txn.Discard()
	n := 0
	for _, r := range batch {
		written, err := setReceipt(txn, r.task, r.rcpt, r.b, r.keepIndex)
		*longest = max(*longest, written)
		if errors.Is(err, badger.ErrTxnTooBig) && n > 0 {
			break // commit what fits; the rest goes in the next transaction
		}
		if err != nil {
			return 1, fmt.Errorf("store: put receipt %s: %w", r.rcpt, err)
		}
		n++
	}
	if err := txn.Commit(); err != nil {
		return n, fmt.Errorf("store: put receipts: %w", err)
	}
	return n, nil
}

// setReceipt adds one receipt and its memo index entry to txn. The index
// value carries the receipt so the memo lookup is one read, and the
// receipt's own key points at the index (package doc, Keys): a receipt is
// written once. An entry a new receipt replaces is first written out whole
// under its own receipt CID. It returns the length of the longest value
// it set.
func setReceipt(txn *badger.Txn, task, rcpt cid.Cid, b []byte, keepIndex bool) (int, error) {
	tk := key(pfxTask, task)
	item, err := txn.Get(tk)
	longest := 0
	switch {
	case err == nil && keepIndex:
		// The task already has an index entry: keep it, store this one whole.
		return len(b), txn.Set(key(pfxReceipt, rcpt), b)
	case err == nil:
		old, err := item.ValueCopy(nil)
		if err != nil {
			return 0, err
		}
		oldRcpt, oldBytes, err := splitEntry(old)
		if err != nil {
			return 0, fmt.Errorf("memo entry of %s: %w", task, err)
		}
		if !oldRcpt.Equals(rcpt) {
			if err := txn.Set(key(pfxReceipt, oldRcpt), oldBytes); err != nil {
				return 0, err
			}
			longest = len(oldBytes)
		}
	case !errors.Is(err, badger.ErrKeyNotFound):
		return 0, err
	}
	ptr := make([]byte, 0, 1+task.ByteLen())
	ptr = append(append(ptr, receiptPointer), task.KeyString()...)
	if err := txn.Set(key(pfxReceipt, rcpt), ptr); err != nil {
		return 0, err
	}
	idx := make([]byte, 0, rcpt.ByteLen()+len(b))
	idx = append(idx, rcpt.KeyString()...)
	idx = append(idx, b...)
	return max(longest, len(idx)), txn.Set(tk, idx)
}

// splitEntry splits a memo index entry into the receipt CID and the
// receipt bytes (which alias v).
func splitEntry(v []byte) (cid.Cid, []byte, error) {
	n, rcpt, err := cid.CidFromBytes(v)
	if err != nil {
		return cid.Undef, nil, fmt.Errorf("corrupt memo entry: %w", err)
	}
	return rcpt, v[n:len(v):len(v)], nil
}

// receiptPointer starts an r/ value that names the task whose index entry
// holds the receipt. Receipt bytes never start with it (PutReceipt refuses
// them).
const receiptPointer = 0x00

// enqueue sends r to the committer, numbering it in queue order.
func (c *committer) enqueue(ctx context.Context, r *commitReq) error {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	r.qseq = c.queued + 1
	select {
	case c.reqs <- r:
		c.queued = r.qseq
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// submit queues a receipt and waits for its commit. A ctx error may come
// after the receipt was queued: it may still be written.
func (c *committer) submit(ctx context.Context, task, rcpt cid.Cid, b []byte) (uint64, error) {
	return c.submitReq(ctx, &commitReq{task: task, rcpt: rcpt, b: b})
}

// submitReq queues r and waits for its commit.
func (c *committer) submitReq(ctx context.Context, r *commitReq) (uint64, error) {
	r.done = make(chan commitRes, 1)
	if err := c.enqueue(ctx, r); err != nil {
		return 0, err
	}
	select {
	case res := <-r.done:
		return res.seq, res.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// drain waits until every request queued before the call is committed, and
// returns (and forgets) the first error of an async request's commit.
func (c *committer) drain(ctx context.Context) error {
	if err := c.wait(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.asyncErr
	c.asyncErr = nil
	return err
}

// wait waits until every request queued before the call is committed.
func (c *committer) wait(ctx context.Context) error {
	c.qmu.Lock()
	target := c.queued
	c.qmu.Unlock()
	select {
	case c.kick <- struct{}{}: // end a linger: we wait
	default:
	}
	for {
		c.mu.Lock()
		if c.committed >= target {
			c.mu.Unlock()
			return nil
		}
		round := c.round
		c.mu.Unlock()
		select {
		case <-round:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// close commits what is queued and stops the loop; no call may be in
// progress (Close holds the store's write lock, so none is).
func (c *committer) close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}
