package p2p

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// scores keeps each peer's score and the block list, and is the host's
// connection gater: blocked and banned peers are neither dialled nor
// accepted.
type scores struct {
	threshold int
	ban       time.Duration
	now       func() time.Time

	mu      sync.Mutex
	score   map[peer.ID]int
	until   map[peer.ID]time.Time // banned until
	blocked map[peer.ID]bool
}

func newScores(cfg *Config) *scores {
	s := &scores{
		threshold: cfg.ScoreThreshold,
		ban:       cfg.BanDuration,
		now:       time.Now,
		score:     make(map[peer.ID]int),
		until:     make(map[peer.ID]time.Time),
		blocked:   make(map[peer.ID]bool),
	}
	for _, p := range cfg.Blocked {
		s.blocked[p] = true
	}
	return s
}

// add changes p's score by d and reports whether p is now refused.
func (s *scores) add(p peer.ID, d int) (refused bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := min(s.score[p]+d, maxScore)
	s.score[p] = v
	if v < s.threshold {
		s.until[p] = s.now().Add(s.ban)
		return true
	}
	return s.blocked[p]
}

// get returns p's score.
func (s *scores) get(p peer.ID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.score[p]
}

// refused reports whether p is blocked or banned; a ban that has run out is
// lifted and the score reset.
func (s *scores) refused(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blocked[p] {
		return true
	}
	t, ok := s.until[p]
	if !ok {
		return false
	}
	if s.now().Before(t) {
		return true
	}
	delete(s.until, p)
	s.score[p] = 0
	return false
}

// InterceptPeerDial refuses dials to blocked or banned peers.
func (s *scores) InterceptPeerDial(p peer.ID) bool { return !s.refused(p) }

// InterceptAddrDial allows every address of an allowed peer.
func (s *scores) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

// InterceptAccept allows every inbound connection until its peer is known.
func (s *scores) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured refuses authenticated connections of refused peers.
func (s *scores) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !s.refused(p)
}

// InterceptUpgraded allows every upgraded connection.
func (s *scores) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
