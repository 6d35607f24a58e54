package exec

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Blobs gives the executor the bytes of a module or of a data blob by CID.
// The store implements it. For a UnixFS CID it returns the file's bytes.
// Get must be safe for concurrent use; any error is reported to the task as
// BlobNotFound (or, if ctx ended, as the executor's own error).
type Blobs interface {
	Get(ctx context.Context, c cid.Cid) ([]byte, error)
}

// Meter is the hook for deterministic fuel metering (package fuel plugs in
// here). The executor calls Instrument once per module CID before compiling,
// Start on every fresh instance before the task's function runs, and Used
// after the function returns or traps. All methods must be safe for
// concurrent use.
type Meter interface {
	// Instrument rewrites a module's bytes to count fuel. An error makes
	// the task fail with BadModule.
	Instrument(mod cid.Cid, wasm []byte) ([]byte, error)
	// Start gives the instance its budget (for example by setting an
	// exported global).
	Start(ctx context.Context, m api.Module, budget uint64) error
	// Used reports the fuel the instance used and whether it ran out.
	Used(ctx context.Context, m api.Module) (used uint64, exhausted bool)
}

// HostMeter is a Meter whose instrumented modules import host functions of
// its own (package fuel's refuel import). New calls InstantiateHost once,
// on the executor's runtime, after the executor's own host modules.
type HostMeter interface {
	Meter
	InstantiateHost(ctx context.Context, rt wazero.Runtime) error
}

// Node-wide defaults, used where a Config field is zero.
const (
	// DefaultMaxMemoryPages is 16384 pages of 64 KiB (1 GiB).
	DefaultMaxMemoryPages = 16384
	// DefaultMaxTime is the wall-time cap of one task.
	DefaultMaxTime = 30 * time.Second
	// DefaultMaxOutputBytes caps a task's output (encoded result, stdout).
	DefaultMaxOutputBytes = 64 << 20
	// DefaultMaxCachedModules bounds the in-memory compiled-module cache.
	DefaultMaxCachedModules = 64
	// DefaultMaxLogBytes caps one guest log message.
	DefaultMaxLogBytes = 4 << 10
)

// Config holds node-wide settings of an Executor. Each zero value has the
// documented default.
type Config struct {
	// Blobs provides module and data bytes by CID. Required.
	Blobs Blobs
	// MaxMemoryPages caps every instance's linear memory, in 64 KiB pages.
	// Zero: DefaultMaxMemoryPages. Maximum 65536 (4 GiB).
	MaxMemoryPages uint32
	// MaxTime caps every task's wall time. Zero: DefaultMaxTime.
	MaxTime time.Duration
	// MaxOutputBytes caps every task's output. Zero: DefaultMaxOutputBytes.
	MaxOutputBytes int64
	// CacheDir is where wazero keeps compiled code across restarts.
	// Empty: compiled code is kept in memory only.
	CacheDir string
	// MaxCachedModules bounds how many compiled modules stay in memory
	// (least recently used are dropped). Zero: DefaultMaxCachedModules.
	MaxCachedModules int
	// MaxFuel caps every task's fuel budget (used only with Meter).
	// Zero: math.MaxInt64, no practical cap.
	MaxFuel uint64
	// Meter adds fuel metering. Nil: no fuel (Stats.Fuel is zero and
	// Limits.Fuel is ignored).
	Meter Meter
	// NoWallTimeStop turns off wazero's close-on-context-done, which stops
	// runaway loops at the wall-time limit but slows tight loops. Only set
	// it when Meter stops runaway guests. Zero: loops are stopped.
	NoWallTimeStop bool
	// Logger receives guest log messages (wasi:logging) and executor
	// events. Nil: discarded.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.Blobs == nil {
		return c, ErrNoBlobs
	}
	if c.MaxMemoryPages == 0 {
		c.MaxMemoryPages = DefaultMaxMemoryPages
	}
	if c.MaxMemoryPages > 65536 {
		return c, fmt.Errorf("%w: MaxMemoryPages %d > 65536", ErrConfig, c.MaxMemoryPages)
	}
	if c.MaxTime == 0 {
		c.MaxTime = DefaultMaxTime
	}
	if c.MaxTime < 0 {
		return c, fmt.Errorf("%w: negative MaxTime", ErrConfig)
	}
	if c.MaxOutputBytes == 0 {
		c.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if c.MaxOutputBytes < 0 {
		return c, fmt.Errorf("%w: negative MaxOutputBytes", ErrConfig)
	}
	if c.MaxCachedModules == 0 {
		c.MaxCachedModules = DefaultMaxCachedModules
	}
	if c.MaxCachedModules < 0 {
		return c, fmt.Errorf("%w: negative MaxCachedModules", ErrConfig)
	}
	if c.MaxFuel == 0 {
		c.MaxFuel = math.MaxInt64
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Limits are one task's limits, usually from the invocation's meta. Each is
// capped by the node-wide Config; zero means the node cap.
type Limits struct {
	// MemoryBytes caps linear memory (rounded down to whole pages).
	MemoryBytes uint64
	// Time caps wall time.
	Time time.Duration
	// OutputBytes caps the output.
	OutputBytes int64
	// Fuel is the fuel budget; used only with Config.Meter.
	Fuel uint64
}

// Request is one task to run.
type Request struct {
	// Module is the module's CID; its bytes come from Config.Blobs.
	Module cid.Cid
	// Function is the export to call (for the component ABI, '_' and '-'
	// are interchangeable; for a WASI command it is passed as argv[1]).
	Function string
	// Params are the resolved IPLD values of the task's params (awaits
	// already replaced by results); they may contain links.
	Params []any
	// Limits are the task's own limits.
	Limits Limits
	// ABI forces an ABI; zero (ABIAuto) detects it (SPEC §6.1).
	ABI ABI
}

// Stats describe one run, for the receipt's meta and metrics.
type Stats struct {
	// Duration is the wall time of the run, compile excluded.
	Duration time.Duration
	// PeakMemoryBytes is the largest linear memory the instance reached.
	PeakMemoryBytes uint64
	// Impure is true when the guest read a clock or other outside state
	// (homestar get-current-time): its result must not be memoized.
	Impure bool
	// ABI is the ABI the task ran under.
	ABI ABI
	// Fuel is the fuel used (zero without Config.Meter).
	Fuel uint64
	// Compiled is true when this run compiled the module (cache miss).
	Compiled bool
}
