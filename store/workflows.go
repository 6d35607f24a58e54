package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-cid"
)

// WorkflowRef names a stored workflow and when it was last stored.
type WorkflowRef struct {
	CID   cid.Cid
	Added time.Time
}

// PutWorkflow stores the workflow bytes b under c and marks it as the most
// recent workflow. Storing the same CID again moves it to the front of
// RecentWorkflows. The write is not synced (see Sync).
func (s *Store) PutWorkflow(ctx context.Context, c cid.Cid, b []byte) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := s.space.check(); err != nil {
		return err
	}
	now := time.Now().UnixNano()
	wk := key(pfxWorkflow, c)
	_, err := s.update(func(w *writer) error {
		// Drop the old entry of the time index, if any.
		if item, err := w.txn.Get(wk); err == nil {
			var old []byte
			if err := item.Value(func(v []byte) error {
				if len(v) >= 8 {
					old = recentKey(int64(binary.BigEndian.Uint64(v)), c)
				}
				return nil
			}); err != nil {
				return err
			}
			if old != nil {
				if err := w.delete(old); err != nil {
					return err
				}
			}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(b)), uint64(now))
		if err := w.set(wk, append(v, b...)); err != nil {
			return err
		}
		return w.set(recentKey(now, c), nil)
	})
	if errors.Is(err, badger.ErrConflict) {
		return fmt.Errorf("store: put workflow %s: concurrent put of the same workflow: %w", c, err)
	}
	if err != nil {
		return fmt.Errorf("store: put workflow %s: %w", c, err)
	}
	return nil
}

// Workflow returns the workflow bytes stored under c, or an error wrapping
// ErrNotFound.
func (s *Store) Workflow(ctx context.Context, c cid.Cid) ([]byte, error) {
	v, err := s.lookup(ctx, pfxWorkflow, c, "workflow")
	if err != nil {
		return nil, err
	}
	if len(v) < 8 {
		return nil, fmt.Errorf("store: workflow %s: corrupt entry", c)
	}
	return v[8:], nil
}

// RecentWorkflows returns up to n stored workflows, most recently stored
// first.
func (s *Store) RecentWorkflows(ctx context.Context, n int) ([]WorkflowRef, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	var out []WorkflowRef
	err := s.db.View(func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.Reverse = true
		opt.PrefetchValues = false
		opt.Prefix = []byte(pfxRecent)
		it := txn.NewIterator(opt)
		defer it.Close()
		// In reverse mode, seek to the largest key with the prefix.
		for it.Seek([]byte(pfxRecent + "\xff")); it.Valid() && len(out) < n; it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := it.Item().Key()[len(pfxRecent):]
			if len(k) < 8 {
				continue
			}
			_, c, err := cid.CidFromBytes(k[8:])
			if err != nil {
				continue
			}
			t := time.Unix(0, int64(binary.BigEndian.Uint64(k)))
			out = append(out, WorkflowRef{CID: c, Added: t})
		}
		return nil
	})
	if err != nil {
		return nil, s.mapErr(err)
	}
	return out, nil
}

// recentKey is the time index key of workflow c stored at t (ns).
func recentKey(t int64, c cid.Cid) []byte {
	k := append(make([]byte, 0, len(pfxRecent)+8+c.ByteLen()), pfxRecent...)
	k = binary.BigEndian.AppendUint64(k, uint64(t))
	return append(k, c.KeyString()...)
}
