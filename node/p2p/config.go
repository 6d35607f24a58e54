package p2p

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ipfs/go-cid"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
)

// Receipts serves /ipvm/receipt/1.0.0: it returns the signed receipt bytes
// stored for a task CID, or an error wrapping ErrNotFound (any other error
// is answered as an error too, without its text leaking more than its
// message). It must be safe for concurrent use.
type Receipts interface {
	ReceiptForTask(ctx context.Context, task cid.Cid) (rcpt cid.Cid, b []byte, err error)
}

// Blocks serves /ipvm/block/1.0.0: it returns the bytes of a block the node
// holds, or an error wrapping ErrNotFound. It must be safe for concurrent
// use.
type Blocks interface {
	GetBlock(ctx context.Context, c cid.Cid) ([]byte, error)
}

// VerifyReceiptFunc checks receipt bytes b fetched for task from the peer
// whose did:key is providerDID: it must check the signature, that the
// receipt's ran is task and that its issuer is providerDID or a key the node
// trusts. A non-nil error rejects the receipt.
type VerifyReceiptFunc func(b []byte, task cid.Cid, providerDID string) error

// Config configures a Host. The zero value of every field is usable and
// documented; New fills the defaults.
type Config struct {
	// Identity is the host's private key (its peer ID). Zero: a fresh
	// Ed25519 key. The node passes its repo key converted with
	// crypto.UnmarshalEd25519PrivateKey(key.Private()).
	Identity crypto.PrivKey
	// Listen are the multiaddrs to listen on. Zero:
	// /ip4/0.0.0.0/tcp/0 and /ip4/0.0.0.0/udp/0/quic-v1.
	Listen []string
	// Bootstrap are peers to connect to at start, each a multiaddr ending
	// in /p2p/<peer ID>. Zero: none (a lone node, or mDNS only).
	Bootstrap []string
	// DisableMDNS turns LAN discovery off. Zero: mDNS on.
	DisableMDNS bool
	// Logger receives the host's logs. Zero: discarded.
	Logger *slog.Logger
	// Registerer receives libp2p's Prometheus metrics. Zero: libp2p
	// metrics off (the host's own counters are in Stats).
	Registerer prometheus.Registerer

	// MaxMemory is the resource manager's memory budget in bytes, and
	// MaxFDs its file-descriptor budget; the libp2p default limits are
	// scaled to them. Zero: libp2p's autoscaling (1/8 of system memory,
	// half the process FD limit).
	MaxMemory int64
	MaxFDs    int
	// ConnLow and ConnHigh are the connection manager's watermarks: above
	// ConnHigh it trims to ConnLow. Zero: 64 and 192.
	ConnLow, ConnHigh int

	// Receipts answers /ipvm/receipt/1.0.0. Zero: the protocol is not
	// served.
	Receipts Receipts
	// Blocks answers /ipvm/block/1.0.0. Zero: the protocol is not served.
	Blocks Blocks
	// VerifyReceipt checks every fetched receipt. Zero: FetchReceipt
	// returns ErrNoVerifier.
	VerifyReceipt VerifyReceiptFunc

	// MaxReceiptSize caps a receipt in a response frame. Zero: 1 MiB.
	MaxReceiptSize int
	// MaxBlockSize caps a block in a response frame. Zero: 2 MiB (the
	// bitswap block limit; ipfs add makes 256 KiB blocks).
	MaxBlockSize int
	// MaxRequestSize caps a request frame. Zero: 256 bytes (a CID).
	MaxRequestSize int
	// StreamTimeout bounds every stream from open to close, on both
	// sides: a slow peer is reset when it passes. Zero: 10 s.
	StreamTimeout time.Duration
	// FetchTimeout bounds FetchReceipt and FetchBlock (DHT lookup plus
	// requests) on top of the caller's ctx. Zero: 5 s.
	FetchTimeout time.Duration
	// MaxProviders is how many providers a fetch asks the DHT for, and
	// FetchParallel how many it asks at once. Zero: 8 and 3.
	MaxProviders, FetchParallel int
	// MaxInboundStreams bounds concurrent inbound streams per protocol,
	// and MaxInboundStreamsPerPeer per protocol and peer; streams past
	// the bound are reset. Zero: 256 and 16.
	MaxInboundStreams, MaxInboundStreamsPerPeer int

	// ProvideQueue is the capacity of the asynchronous provide queue;
	// Provide fails with ErrProvideQueueFull past it. Zero: 4096.
	ProvideQueue int
	// ProvideWorkers is how many DHT provides run at once. Zero: 2.
	ProvideWorkers int
	// ProvideTimeout bounds one DHT provide. Zero: 60 s.
	ProvideTimeout time.Duration

	// Blocked lists peers never dialled, accepted or asked. Zero: none.
	Blocked []peer.ID
	// ScoreThreshold is the score below which a peer is refused for
	// BanDuration (scores start at 0; a framing violation costs 25, a
	// rejected answer 25, a good answer earns 1 up to 10). Zero: -50.
	ScoreThreshold int
	// BanDuration is how long a peer below the threshold stays refused;
	// its score is reset afterwards. Zero: 10 min.
	BanDuration time.Duration

	// Validators are DHT record validators by namespace, for any value
	// record type ipvm puts (provider records need none). The "pk"
	// namespace is always present. Zero: only "pk".
	Validators map[string]record.Validator
}

// Score changes applied by the host.
const (
	penaltyJunk   = -25
	penaltyForged = -25
	rewardGood    = 1
	maxScore      = 10
)

func (c *Config) withDefaults() (Config, error) {
	d := *c
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if len(d.Listen) == 0 {
		d.Listen = []string{"/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"}
	}
	setInt(&d.ConnLow, 64)
	setInt(&d.ConnHigh, 192)
	setInt(&d.MaxReceiptSize, 1<<20)
	setInt(&d.MaxBlockSize, 2<<20)
	setInt(&d.MaxRequestSize, 256)
	setDur(&d.StreamTimeout, 10*time.Second)
	setDur(&d.FetchTimeout, 5*time.Second)
	setInt(&d.MaxProviders, 8)
	setInt(&d.FetchParallel, 3)
	setInt(&d.MaxInboundStreams, 256)
	setInt(&d.MaxInboundStreamsPerPeer, 16)
	setInt(&d.ProvideQueue, 4096)
	setInt(&d.ProvideWorkers, 2)
	setDur(&d.ProvideTimeout, 60*time.Second)
	setInt(&d.ScoreThreshold, -50)
	setDur(&d.BanDuration, 10*time.Minute)
	return d, d.validate()
}

func (c *Config) validate() error {
	switch {
	case c.ConnLow < 0 || c.ConnHigh < c.ConnLow:
		return fmt.Errorf("%w: ConnLow %d, ConnHigh %d", ErrConfig, c.ConnLow, c.ConnHigh)
	case c.MaxReceiptSize < 0, c.MaxBlockSize < 0, c.MaxRequestSize < 0, c.MaxMemory < 0, c.MaxFDs < 0:
		return fmt.Errorf("%w: negative size", ErrConfig)
	case c.MaxProviders < 0, c.FetchParallel < 0, c.MaxInboundStreams < 0, c.MaxInboundStreamsPerPeer < 0,
		c.ProvideQueue < 0, c.ProvideWorkers < 0:
		return fmt.Errorf("%w: negative count", ErrConfig)
	case c.StreamTimeout < 0, c.FetchTimeout < 0, c.ProvideTimeout < 0, c.BanDuration < 0:
		return fmt.Errorf("%w: negative duration", ErrConfig)
	case c.ScoreThreshold > 0:
		return fmt.Errorf("%w: ScoreThreshold %d must be negative", ErrConfig, c.ScoreThreshold)
	}
	for _, a := range c.Listen {
		if _, err := ma.NewMultiaddr(a); err != nil {
			return fmt.Errorf("%w: listen %q: %v", ErrConfig, a, err)
		}
	}
	return nil
}

func setInt(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}

func setDur(p *time.Duration, def time.Duration) {
	if *p == 0 {
		*p = def
	}
}
