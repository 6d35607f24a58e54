package store

import (
	"context"
	"fmt"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-cid"
)

// PutReceipt stores the signed receipt bytes b under the receipt CID rcpt and
// points the memo index of task at it, in one atomic badger transaction, and
// returns only once that write is synced to disk (group commit: concurrent
// calls share one fsync). A later receipt for the same task replaces the
// index entry; the earlier receipt stays readable by its own CID.
//
// The store does not decode or verify b: the caller has signed or verified
// it, and must not modify it during the call. Concurrent calls are written
// in one badger transaction by a committer goroutine. On a nil error the receipt survives a crash of the process and of the
// machine. On an error it may or may not have been stored (a ctx error
// while waiting for the sync leaves it committed but not known durable).
func (s *Store) PutReceipt(ctx context.Context, task, rcpt cid.Cid, b []byte) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := s.sync.failed(); err != nil {
		return err
	}
	seq, err := s.putReceipt(ctx, task, rcpt, b)
	if err != nil {
		return err
	}
	return s.sync.wait(ctx, seq)
}

// PutFailedReceipt is PutReceipt for a receipt whose result is an error: it
// is stored (and synced) under its own CID, and it becomes the task's index
// entry only when the task has none, so a failure never hides a success
// already recorded for the same task (a timeout under a lower limit, a
// branch mismatch upstream).
func (s *Store) PutFailedReceipt(ctx context.Context, task, rcpt cid.Cid, b []byte) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := s.sync.failed(); err != nil {
		return err
	}
	if err := checkReceipt(task, rcpt, b); err != nil {
		return err
	}
	seq, err := s.commit.submitReq(ctx, &commitReq{task: task, rcpt: rcpt, b: b, keepIndex: true})
	if err != nil {
		return err
	}
	return s.sync.wait(ctx, seq)
}

// PutReceiptNoSync is PutReceipt without waiting for the sync: on return the
// receipt is visible to readers and survives the process being killed (it
// is in the operating system's page cache), but not a power loss until the
// next Sync, durable write or Close. Callers that batch receipts call Sync
// before reporting them.
func (s *Store) PutReceiptNoSync(ctx context.Context, task, rcpt cid.Cid, b []byte) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	_, err := s.putReceipt(ctx, task, rcpt, b)
	return err
}

// PutReceiptAsync queues the receipt for the committer and returns without
// waiting for it to be written: the cheapest write, for a caller that
// reports results in groups. Until the committer has written it (normally
// within microseconds, in one transaction with the receipts queued beside
// it) it is not visible to readers and is lost if the process dies. Sync
// waits until every receipt queued before it is committed and synced, and
// returns an error if any of them failed to commit; so does Close. b must
// not be modified after the call.
func (s *Store) PutReceiptAsync(ctx context.Context, task, rcpt cid.Cid, b []byte) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := checkReceipt(task, rcpt, b); err != nil {
		return err
	}
	return s.commit.enqueue(ctx, &commitReq{task: task, rcpt: rcpt, b: b})
}

// checkReceipt refuses what cannot be stored as a receipt: undefined CIDs,
// and bytes that are empty or start with receiptPointer (a signed receipt
// is a CBOR list, which never does).
func checkReceipt(task, rcpt cid.Cid, b []byte) error {
	if !task.Defined() || !rcpt.Defined() {
		return fmt.Errorf("store: put receipt: undefined CID")
	}
	if len(b) == 0 || b[0] == receiptPointer {
		return fmt.Errorf("store: put receipt %s: not a receipt (empty or starting with 0x00)", rcpt)
	}
	return nil
}

// A Batch writes receipts for one caller that reports them in groups (a
// workflow run): Put queues a receipt for the committer and returns at
// once, Sync waits until every receipt queued so far is committed and
// synced and returns the first error any of the batch's commits met. A
// failed commit of a batch is reported to that batch's Sync alone (and
// to every later one: the error stays), never to another caller's. A
// Batch is safe for concurrent use.
type Batch struct {
	s   *Store
	mu  sync.Mutex
	err error
}

// NewBatch returns an empty batch of receipt writes.
func (s *Store) NewBatch() *Batch { return &Batch{s: s} }

// PutReceipt queues a receipt as PutReceiptAsync does; b must not be
// modified after the call. Until the batch's Sync returns nil the receipt
// may be lost. Receipts are committed in the order they are queued.
func (bt *Batch) PutReceipt(ctx context.Context, task, rcpt cid.Cid, b []byte) error {
	s := bt.s
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := checkReceipt(task, rcpt, b); err != nil {
		return err
	}
	if err := bt.failed(); err != nil {
		return err
	}
	return s.commit.enqueue(ctx, &commitReq{task: task, rcpt: rcpt, b: b, batch: bt})
}

// Sync waits until every receipt queued so far (by this batch or anyone)
// is committed and synced, and returns the first error of the batch's
// commits, or of the sync.
func (bt *Batch) Sync(ctx context.Context) error {
	s := bt.s
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := s.commit.wait(ctx); err != nil {
		return err
	}
	if err := bt.failed(); err != nil {
		return err
	}
	return s.sync.wait(ctx, s.sync.written.Load())
}

func (bt *Batch) fail(err error) {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if bt.err == nil {
		bt.err = err
	}
}

func (bt *Batch) failed() error {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	return bt.err
}

func (s *Store) putReceipt(ctx context.Context, task, rcpt cid.Cid, b []byte) (uint64, error) {
	if err := checkReceipt(task, rcpt, b); err != nil {
		return 0, err
	}
	return s.commit.submit(ctx, task, rcpt, b)
}

// Receipt returns the receipt bytes stored under the receipt CID rcpt, or an
// error wrapping ErrNotFound.
func (s *Store) Receipt(ctx context.Context, rcpt cid.Cid) ([]byte, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	var b []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key(pfxReceipt, rcpt))
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil || len(v) == 0 || v[0] != receiptPointer {
			b = v
			return err
		}
		// The receipt is the one its task's index entry holds.
		task, err := cid.Cast(v[1:])
		if err != nil {
			return fmt.Errorf("corrupt receipt pointer: %w", err)
		}
		if item, err = txn.Get(key(pfxTask, task)); err != nil {
			return fmt.Errorf("receipt pointer to task %s: %w", task, err)
		}
		e, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		c, eb, err := splitEntry(e)
		if err != nil || !c.Equals(rcpt) {
			return fmt.Errorf("receipt pointer to task %s: the entry holds another receipt", task)
		}
		b = eb
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("receipt %s: %w", rcpt, s.mapErr(err))
	}
	return b, nil
}

// ReceiptForTask returns the CID and bytes of the latest receipt stored for
// task, or an error wrapping ErrNotFound. It is the memo lookup: one badger
// read.
func (s *Store) ReceiptForTask(ctx context.Context, task cid.Cid) (rcpt cid.Cid, b []byte, err error) {
	if err := s.enter(ctx); err != nil {
		return cid.Undef, nil, err
	}
	defer s.mu.RUnlock()
	// One read transaction and one copy of the entry (ValueCopy); the
	// receipt bytes are the tail of that copy.
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	item, err := txn.Get(key(pfxTask, task))
	var v []byte
	if err == nil {
		v, err = item.ValueCopy(nil)
	}
	if err != nil {
		return cid.Undef, nil, fmt.Errorf("receipt for task %s: %w", task, s.mapErr(err))
	}
	if rcpt, b, err = splitEntry(v); err != nil {
		return cid.Undef, nil, fmt.Errorf("receipt for task %s: %w", task, s.mapErr(err))
	}
	return rcpt, b, nil
}
