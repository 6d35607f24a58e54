package store

import (
	"context"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

// PutBlock stores the block b under c after checking that b hashes to c
// (spec.VerifyCID); a mismatch is an error wrapping ErrHashMismatch and
// nothing is written. Storing a block already present is a no-op. The write
// is not synced: call Sync before reporting the block as stored (AddFile
// does this itself).
func (s *Store) PutBlock(ctx context.Context, c cid.Cid, b []byte) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := spec.VerifyCID(c, b); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrHashMismatch, c, err)
	}
	k := key(pfxBlock, c)
	if ok, err := s.has(k); err != nil || ok {
		return err
	}
	if err := s.space.check(); err != nil {
		return err
	}
	if _, err := s.update(func(w *writer) error {
		return w.set(k, b)
	}); err != nil {
		return fmt.Errorf("store: put block %s: %w", c, err)
	}
	return nil
}

// GetBlock returns the bytes of block c, or an error wrapping ErrNotFound.
// The bytes were verified when stored; callers that distrust the disk can
// check them again with spec.VerifyCID.
func (s *Store) GetBlock(ctx context.Context, c cid.Cid) ([]byte, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	return s.getBlock(ctx, c)
}

func (s *Store) getBlock(_ context.Context, c cid.Cid) ([]byte, error) {
	b, err := s.get(key(pfxBlock, c))
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", c, err)
	}
	return b, nil
}

// HasBlock reports whether block c is stored.
func (s *Store) HasBlock(ctx context.Context, c cid.Cid) (bool, error) {
	if err := s.enter(ctx); err != nil {
		return false, err
	}
	defer s.mu.RUnlock()
	return s.has(key(pfxBlock, c))
}

// BlockSize returns the size in bytes of block c, or an error wrapping
// ErrNotFound. It does not copy the block.
func (s *Store) BlockSize(ctx context.Context, c cid.Cid) (int, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	return s.blockSize(c)
}

func (s *Store) blockSize(c cid.Cid) (int, error) {
	var n int
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key(pfxBlock, c))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { n = len(v); return nil })
	})
	if err != nil {
		if errors.Is(err, badger.ErrKeyNotFound) {
			return 0, fmt.Errorf("block %s: %w", c, ErrNotFound)
		}
		return 0, s.mapErr(err)
	}
	return n, nil
}
