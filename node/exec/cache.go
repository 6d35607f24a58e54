package exec

import (
	"container/list"
	"context"
	"sync"

	"github.com/ipfs/go-cid"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/ipvm-go/ipvm/spec"
)

// entry is one module in the compiled-module cache. ready is closed once cm
// (or fail) is set. refs counts runs using cm; an evicted entry's compiled
// module is closed when its last run ends.
type entry struct {
	key   cid.Cid
	ready chan struct{}
	cm    wazero.CompiledModule
	rt    wazero.Runtime // the runtime cm was compiled in, to instantiate it
	info  *moduleInfo
	fail  *spec.Failure // BadModule: cached, the module CID never changes
	err   error         // transient: not cached

	refs    int
	evicted bool
	elem    *list.Element
}

// modCache is a bounded LRU of compiled modules keyed by module CID, with
// one compile per CID in flight (later callers wait for the first).
type modCache struct {
	mu    sync.Mutex
	max   int
	items map[cid.Cid]*entry
	lru   *list.List // front: most recently used
}

func newModCache(max int) *modCache {
	return &modCache{max: max, items: make(map[cid.Cid]*entry), lru: list.New()}
}

// acquire returns the entry for c, creating it (and reporting create=true,
// so the caller compiles and calls done) when absent. The caller must
// release the entry once its run ends.
func (mc *modCache) acquire(c cid.Cid) (e *entry, create bool) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if e = mc.items[c]; e != nil {
		e.refs++
		mc.lru.MoveToFront(e.elem)
		return e, false
	}
	e = &entry{key: c, ready: make(chan struct{}), refs: 1}
	e.elem = mc.lru.PushFront(e)
	mc.items[c] = e
	return e, true
}

// done publishes a compile's outcome. A transient error removes the entry
// so the next run tries again.
func (mc *modCache) done(ctx context.Context, e *entry) {
	var toClose []wazero.CompiledModule
	mc.mu.Lock()
	if e.err != nil {
		mc.remove(e)
	}
	for mc.lru.Len() > mc.max {
		old := mc.lru.Back().Value.(*entry)
		mc.remove(old)
		if old.refs == 0 && old.cm != nil {
			toClose = append(toClose, old.cm)
		}
	}
	mc.mu.Unlock()
	close(e.ready)
	for _, cm := range toClose {
		_ = cm.Close(ctx)
	}
}

// remove drops e from the index; the caller holds mu.
func (mc *modCache) remove(e *entry) {
	if e.evicted {
		return
	}
	e.evicted = true
	mc.lru.Remove(e.elem)
	delete(mc.items, e.key)
}

func (mc *modCache) release(ctx context.Context, e *entry) {
	mc.mu.Lock()
	e.refs--
	closeIt := e.refs == 0 && e.evicted && e.cm != nil
	mc.mu.Unlock()
	if closeIt {
		_ = e.cm.Close(ctx)
	}
}

// closeAll closes every cached compiled module.
func (mc *modCache) closeAll(ctx context.Context) {
	mc.mu.Lock()
	var cms []wazero.CompiledModule
	for _, e := range mc.items {
		if e.cm != nil {
			cms = append(cms, e.cm)
		}
	}
	mc.items = map[cid.Cid]*entry{}
	mc.lru.Init()
	mc.mu.Unlock()
	for _, cm := range cms {
		_ = cm.Close(ctx)
	}
}

// inspect computes a module's moduleInfo.
func inspect(cm wazero.CompiledModule) *moduleInfo {
	mi := &moduleInfo{exports: cm.ExportedFunctions()}
	mi.hasMemory = len(cm.ExportedMemories()) > 0
	for _, d := range cm.ImportedFunctions() {
		m, n, _ := d.Import()
		if m == homestarHelpers && n == "get-current-time" {
			mi.importsClock = true
		}
	}
	return mi
}

// exportedFunc returns the definition of an export, or nil.
func (mi *moduleInfo) fn(name string) api.FunctionDefinition { return mi.exports[name] }
