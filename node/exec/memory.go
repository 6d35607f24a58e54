package exec

import (
	"sync"

	"github.com/tetratelabs/wazero/experimental"
)

// memLimiter is a per-run wazero memory allocator: it refuses to grow any
// linear memory of the run past limit bytes and records the peak size. It is
// how one shared runtime gives each task its own memory cap.
type memLimiter struct {
	limit uint64

	mu      sync.Mutex
	peak    uint64
	refused bool // a grow past the limit was refused
	over    bool // an initial memory exceeded the limit
}

func (l *memLimiter) Allocate(capBytes, maxBytes uint64) experimental.LinearMemory {
	return &linearMemory{l: l, capHint: min(capBytes, l.limit)}
}

func (l *memLimiter) state() (peak uint64, refused, over bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peak, l.refused, l.over
}

type linearMemory struct {
	l       *memLimiter
	capHint uint64
	buf     []byte
}

// Reallocate grows the memory to size bytes. The first call gives the
// declared minimum, which wazero requires to succeed; going past the limit
// there is recorded and the run fails after instantiation.
func (m *linearMemory) Reallocate(size uint64) []byte {
	l := m.l
	l.mu.Lock()
	if size > l.limit {
		if m.buf != nil {
			l.refused = true
			l.mu.Unlock()
			return nil
		}
		l.over = true
	}
	if size > l.peak {
		l.peak = size
	}
	l.mu.Unlock()
	switch {
	case m.buf == nil:
		m.buf = make([]byte, size, max(size, m.capHint))
	case size <= uint64(cap(m.buf)):
		// Bytes past len were never written since make zeroed them.
		m.buf = m.buf[:size]
	default:
		// append clears only the new part and grows the capacity
		// geometrically, as wazero's own allocator does.
		m.buf = append(m.buf, make([]byte, size-uint64(len(m.buf)))...)
	}
	return m.buf
}

func (m *linearMemory) Free() { m.buf = nil }
