package store

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/store/unixfs"
)

// AddFile imports r as a UnixFS file, the way `ipfs add --cid-version=1`
// does (see package unixfs), stores its blocks and returns the root CID and
// the file size in bytes. It returns once every block is synced to disk, so
// a CID printed to the user can be read back after a crash. Blocks already
// stored are not written again.
func (s *Store) AddFile(ctx context.Context, r io.Reader) (root cid.Cid, size uint64, err error) {
	if err := s.enter(ctx); err != nil {
		return cid.Undef, 0, err
	}
	defer s.mu.RUnlock()
	if err := s.sync.failed(); err != nil {
		return cid.Undef, 0, err
	}
	if err := s.space.check(); err != nil {
		return cid.Undef, 0, err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel() // no-op after Flush
	put := func(_ context.Context, c cid.Cid, b []byte) error {
		k := key(pfxBlock, c)
		if ok, err := s.has(k); err != nil || ok {
			return err
		}
		// The batch keeps the slice until it commits; the importer may reuse
		// its buffers.
		return wb.Set(k, bytes.Clone(b))
	}
	root, size, err = unixfs.Add(ctx, r, put)
	if err != nil {
		return cid.Undef, 0, fmt.Errorf("store: add file: %w", err)
	}
	if err := wb.Flush(); err != nil {
		return cid.Undef, 0, fmt.Errorf("store: add file: %w", err)
	}
	if err := s.sync.wait(ctx, s.sync.committed(unixfs.ChunkSize, false)); err != nil {
		return cid.Undef, 0, err
	}
	return root, size, nil
}

// Cat returns the bytes of the UnixFS file (or raw block) c from the local
// blocks, verifying every block's hash. A file larger than max bytes is
// refused with an error wrapping unixfs.ErrTooLarge (max < 0: no cap); a
// missing block gives an error wrapping ErrNotFound.
func (s *Store) Cat(ctx context.Context, c cid.Cid, max int64) ([]byte, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	return unixfs.Cat(ctx, c, s.getBlock, max)
}

// CatTo streams the file c to w as Cat would return it and returns the number
// of bytes written. On an error w may hold a prefix of the file.
func (s *Store) CatTo(ctx context.Context, w io.Writer, c cid.Cid, max int64) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	return unixfs.CatTo(ctx, w, c, s.getBlock, max)
}

// BlobSize returns the size in bytes of the file c from its root block alone
// (for placement decisions), or an error wrapping ErrNotFound when the root
// block is not stored. For a raw block it does not read the bytes.
func (s *Store) BlobSize(ctx context.Context, c cid.Cid) (uint64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	if c.Type() == cid.Raw {
		n, err := s.blockSize(c)
		return uint64(n), err
	}
	return unixfs.Size(ctx, c, s.getBlock)
}
