package node

import (
	"container/list"
	"sync"

	"github.com/ipfs/go-cid"
)

// The memo front: a bounded in-memory LRU in front of the memo table,
// task CID to the event of the stored ok receipt of pure work that
// Node.Memo read for it. Such a receipt is content-addressed and the node
// never replaces it while memo is on (a memo hit is never run again, and a
// failure never hides a success), so entries need no invalidation. Only
// receipts read from this node's store are kept, never ones fetched from
// a peer, so a cached event carries exactly the bytes and CID the store
// returned. Node.Memo itself stays the store path.
const (
	memoFrontEntries  = 4096
	memoFrontBytes    = 8 << 20  // receipt bytes kept in all
	memoFrontMaxEntry = 64 << 10 // larger receipts are not kept
)

type memoFront struct {
	mu    sync.Mutex
	byCID map[cid.Cid]*list.Element
	lru   list.List // of *Event, most recent first
	bytes int
}

func newMemoFront() *memoFront { return &memoFront{byCID: map[cid.Cid]*list.Element{}} }

// front returns n's memo front.
func (n *Node) front() *memoFront { return n.memoFront }

// get returns a copy of the event kept for task.
func (f *memoFront) get(task cid.Cid) (Event, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.byCID[task]
	if !ok {
		return Event{}, false
	}
	f.lru.MoveToFront(e)
	return *e.Value.(*Event), true
}

// put keeps ev, a memo hit read from the store, dropping the least
// recently used past the bounds.
func (f *memoFront) put(ev Event) {
	if len(ev.Bytes) > memoFrontMaxEntry || ev.From != "" || !ev.Cached {
		return
	}
	ev.Name = ""
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.byCID[ev.Task]; ok {
		return
	}
	f.byCID[ev.Task] = f.lru.PushFront(&ev)
	f.bytes += len(ev.Bytes)
	for f.lru.Len() > memoFrontEntries || f.bytes > memoFrontBytes {
		old := f.lru.Back()
		oe := old.Value.(*Event)
		delete(f.byCID, oe.Task)
		f.bytes -= len(oe.Bytes)
		f.lru.Remove(old)
	}
}
