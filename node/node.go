package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ipvm-go/ipvm/node/exec"
	"github.com/ipvm-go/ipvm/node/p2p"
	"github.com/ipvm-go/ipvm/store"
	"github.com/ipvm-go/ipvm/ucan"
)

// Node errors.
var (
	// ErrStopped is returned by calls made after Close began.
	ErrStopped = errors.New("node: stopped")
	// ErrNotFound is returned when a receipt or blob is not known.
	ErrNotFound = errors.New("node: not found")
)

// Options configure Open. The zero value of each field is its default.
type Options struct {
	// Logger receives the node's logs. Nil discards them.
	Logger *slog.Logger
	// Meter meters fuel. Nil means DefaultMeter (deterministic fuel from
	// package fuel); NoFuel turns metering off.
	Meter exec.Meter
	// Network starts the libp2p host (the daemon does; the embedded CLI
	// does not). Nil: no network.
	Network *NetworkOptions
	// Faults breaks the node on purpose, for the conformance suite's own
	// test (a suite must fail against a broken node). Zero: a correct node.
	Faults Faults
	// NoFuel runs without fuel metering: runaway guests are stopped by
	// wall time only. For benchmarks of the unmetered path.
	NoFuel bool
	// NoMemo turns memoization off: every task runs, even when a receipt
	// for it is stored. For tests and benchmarks of the executor path.
	NoMemo bool
}

// Faults are deliberate defects. Never set them outside tests.
type Faults struct {
	// BadSignatures corrupts every receipt's signature.
	BadSignatures bool
	// MisresolvePromises feeds every task's result to its dependents as
	// {ok: 0}, whatever it was.
	MisresolvePromises bool
}

// Node is an ipvm node: the store, the executor and the workflow engine of
// one repo. It is safe for concurrent use; many workflows run at once and
// share a bounded pool of workers.
type Node struct {
	repo   *Repo
	cfg    Config
	key    *ucan.Key
	log    *slog.Logger
	store  *store.Store
	exec   *exec.Executor
	net    *p2p.Host // nil without a network
	noMemo bool
	faults Faults

	// workers bounds the tasks executing at once (CPU work only: a task
	// waiting for its receipt to be synced does not hold a worker).
	workers chan struct{}

	// executions counts Wasm executions (memo hits and cached receipts
	// excluded); tests assert on it.
	executions atomic.Int64

	metrics *Metrics

	// memoFront is the in-memory front of the memo table (memocache.go);
	// recorded remembers workflows whose record is already stored.
	memoFront     *memoFront
	recorded      sync.Map // cid.Cid -> struct{}
	recordedCount atomic.Int64

	// held lists blobs added or used recently, for the offer.
	held heldBlobs

	mu      sync.Mutex
	closed  bool
	running sync.WaitGroup
	done    chan struct{}
	once    sync.Once
}

// Open opens the repo's store and executor. The store is locked against
// other processes until Close.
func Open(repo *Repo, opts Options) (*Node, error) {
	cfg := repo.Config.WithDefaults()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := store.Open(repo.Path(StoreDir), store.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	n := &Node{
		repo:    repo,
		cfg:     cfg,
		key:     repo.Key,
		log:     log,
		store:   st,
		noMemo:  opts.NoMemo,
		faults:  opts.Faults,
		done:    make(chan struct{}),
		metrics: newMetrics(),

		memoFront: newMemoFront(),
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	n.workers = make(chan struct{}, workers)
	cacheDir := repo.Path(CacheDir)
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		st.Close()
		return nil, err
	}
	meter := opts.Meter
	if meter == nil && !opts.NoFuel {
		meter = DefaultMeter()
	}
	ex, err := exec.New(exec.Config{
		Blobs:          blobSource{n},
		MaxMemoryPages: pages(cfg.Limits.Memory),
		MaxTime:        cfg.Limits.Time.D(),
		MaxOutputBytes: cfg.Limits.Output,
		CacheDir:       cacheDir,
		Meter:          meter,
		MaxFuel:        uint64(cfg.Limits.Fuel),
		// The fuel meter checks the wall-time limit each time it hands
		// the guest a new slice of fuel, so wazero's costly
		// close-on-context-done is needed only without it (RATIONALE.md,
		// Fuel in the node).
		NoWallTimeStop: stopsAtDeadline(meter),
		Logger:         log,
	})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("node: executor: %w", err)
	}
	n.exec = ex
	if opts.Network != nil && !cfg.Network.Disabled {
		if err := n.startNetwork(context.Background(), *opts.Network); err != nil {
			ex.Close()
			st.Close()
			return nil, err
		}
	}
	return n, nil
}

// peerID parses a peer ID from the config.
func peerID(s string) (peer.ID, error) { return peer.Decode(s) }

// pages converts a byte cap into 64 KiB Wasm pages, at most 65536.
func pages(b int64) uint32 {
	p := b / 65536
	switch {
	case p <= 0:
		return 1
	case p > 65536:
		return 65536
	}
	return uint32(p)
}

// DID returns the node's DID.
func (n *Node) DID() string { return n.key.DID() }

// Key returns the node's identity key.
func (n *Node) Key() *ucan.Key { return n.key }

// Repo returns the node's repo.
func (n *Node) Repo() *Repo { return n.repo }

// Store returns the node's store.
func (n *Node) Store() *store.Store { return n.store }

// Metrics returns the node's metrics.
func (n *Node) Metrics() *Metrics { return n.metrics }

// Executions returns how many Wasm executions this node has run since
// Open. Memo hits and receipts from elsewhere are not executions.
func (n *Node) Executions() int64 { return n.executions.Load() }

// enter registers a call that must finish before Close completes.
func (n *Node) enter() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrStopped
	}
	n.running.Add(1)
	return nil
}

func (n *Node) leave() { n.running.Done() }

// Close waits for running workflows to end (callers cancel their contexts
// to make them end sooner), then closes the executor and the store. It is
// idempotent; later calls return nil.
func (n *Node) Close() error {
	var err error
	n.once.Do(func() {
		n.mu.Lock()
		n.closed = true
		n.mu.Unlock()
		close(n.done)
		n.running.Wait()
		var netErr error
		if n.net != nil {
			netErr = n.net.Close()
		}
		err = errors.Join(netErr, n.exec.Close(), n.store.Close())
	})
	return err
}

// blobSource gives the executor the bytes of a blob by CID: a raw block as
// it is, a UnixFS file reassembled from its blocks.
type blobSource struct{ n *Node }

// Get implements exec.Blobs.
func (b blobSource) Get(ctx context.Context, c cid.Cid) ([]byte, error) {
	return b.n.Blob(ctx, c, b.n.cfg.Limits.Memory)
}
