package ucan

import (
	"context"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
)

// memReplay is an in-memory ReplayGuard.
type memReplay struct {
	mu   sync.Mutex
	seen map[cid.Cid]time.Time
}

func newMemReplay() *memReplay { return &memReplay{seen: map[cid.Cid]time.Time{}} }

func (m *memReplay) SeeInvocation(_ context.Context, c cid.Cid, exp time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.seen[c]; ok {
		return true, nil
	}
	m.seen[c] = exp
	return false, nil
}

// memRevocations is an in-memory RevocationChecker.
type memRevocations map[cid.Cid]bool

func (m memRevocations) Revoked(_ context.Context, c cid.Cid) (bool, error) { return m[c], nil }
