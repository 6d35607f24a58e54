package store

import (
	"fmt"
	"sync"
	"time"
)

// space refuses writes while the file system holding the store has less
// free space than badger may still claim. Badger writes its logs through
// memory maps of sparse files: on a full disk a write faults (SIGBUS) and
// the process dies instead of getting an error. Keeping the headroom free
// turns a full disk into ErrDiskFull, and writes succeed again once space
// returns.
type space struct {
	dir  string
	need uint64 // bytes that must stay free; 0: no check

	mu      sync.Mutex
	checked time.Time
	err     error
}

// spaceCheckEvery bounds how often the free space is read (one statfs).
const spaceCheckEvery = 200 * time.Millisecond

func newSpace(dir string, o Options) *space {
	need := o.MinFree
	if need == 0 {
		// The current WAL may fill its whole mapping (2× the memtable), a
		// flush writes a memtable's worth, the value log fills its file,
		// and compactions write a few tables.
		need = 3*o.MemTableSize + o.ValueLogFileSize + 16<<20
	}
	return &space{dir: dir, need: uint64(max(need, 0))}
}

// check returns an error wrapping ErrDiskFull while free space is below
// the headroom.
func (sp *space) check() error {
	if sp == nil || sp.need == 0 {
		return nil
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if time.Since(sp.checked) < spaceCheckEvery {
		return sp.err
	}
	sp.checked = time.Now()
	free, ok := freeBytes(sp.dir)
	if !ok || free >= sp.need {
		sp.err = nil
		return nil
	}
	sp.err = fmt.Errorf("%w: %d MiB free on the file system of %s; the store keeps %d MiB free and refuses writes until there is",
		ErrDiskFull, free>>20, sp.dir, sp.need>>20)
	return sp.err
}
