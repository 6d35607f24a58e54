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

// PutDelegation stores a delegation token's bytes under its CID. The store
// does not decode or check the token. The write is not synced (see Sync).
func (s *Store) PutDelegation(ctx context.Context, c cid.Cid, b []byte) error {
	return s.set(ctx, pfxDelegation, c, b, "put delegation", false)
}

// Delegation returns the token bytes stored under c, or an error wrapping
// ErrNotFound.
func (s *Store) Delegation(ctx context.Context, c cid.Cid) ([]byte, error) {
	return s.lookup(ctx, pfxDelegation, c, "delegation")
}

// Revoke records that the delegation c is revoked, for good. It returns once
// the record is synced to disk, so a revocation acknowledged to the user
// holds across crashes. Revoking twice is a no-op.
func (s *Store) Revoke(ctx context.Context, c cid.Cid) error {
	v := binary.BigEndian.AppendUint64(nil, uint64(time.Now().Unix()))
	return s.set(ctx, pfxRevoked, c, v, "revoke", true)
}

// IsRevoked reports whether the delegation c has been revoked.
func (s *Store) IsRevoked(ctx context.Context, c cid.Cid) (bool, error) {
	if err := s.enter(ctx); err != nil {
		return false, err
	}
	defer s.mu.RUnlock()
	return s.has(key(pfxRevoked, c))
}

// SeeInvocation records the invocation c as seen until exp and reports
// whether it had already been seen (and not yet expired): the replay check.
// The check and the record are one atomic step, so of two concurrent calls
// for the same CID exactly one returns false. Entries expire at exp (badger
// TTL, whole seconds, rounded up); a zero exp keeps the entry for ever.
// Callers add their clock-skew allowance to exp. An exp already past
// records nothing lasting, and such an invocation should be refused as
// expired before this check anyway.
//
// The record survives the process being killed; it reaches the disk with
// the next synced write (normally the receipt of that invocation).
func (s *Store) SeeInvocation(ctx context.Context, c cid.Cid, exp time.Time) (alreadySeen bool, err error) {
	if err := s.enter(ctx); err != nil {
		return false, err
	}
	defer s.mu.RUnlock()
	if err := s.space.check(); err != nil {
		return false, err
	}
	k := key(pfxSeen, c)
	for attempt := 0; ; attempt++ {
		_, err = s.update(func(w *writer) error {
			if _, err := w.txn.Get(k); err == nil {
				alreadySeen = true
				return nil
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
			alreadySeen = false
			e := badger.NewEntry(k, nil)
			if !exp.IsZero() {
				at := exp.Unix()
				if exp.After(time.Unix(at, 0)) {
					at++ // round up: never expire before exp
				}
				if at < 1 {
					at = 1
				}
				e.ExpiresAt = uint64(at)
			}
			return w.setEntry(e)
		})
		// A conflict means a concurrent call wrote the entry between our read
		// and our commit; the retry then sees it.
		if errors.Is(err, badger.ErrConflict) && attempt < 8 {
			continue
		}
		break
	}
	if err != nil {
		return false, fmt.Errorf("store: see invocation %s: %w", c, err)
	}
	return alreadySeen, nil
}
