package p2p

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ipvm-go/ipvm/ucan"
)

// Protocol IDs of ipvm's libp2p protocols.
const (
	// ProtocolReceipt fetches the receipt of a task by task CID.
	ProtocolReceipt protocol.ID = "/ipvm/receipt/1.0.0"
	// ProtocolBlock fetches a block by CID.
	ProtocolBlock protocol.ID = "/ipvm/block/1.0.0"
	// DHTPrefix is the protocol prefix of ipvm's private Kademlia DHT
	// (its protocol is /ipvm/kad/1.0.0).
	DHTPrefix protocol.ID = "/ipvm"
	// MDNSService is the mDNS service name ipvm nodes announce on a LAN.
	MDNSService = "_ipvm._udp"
)

// closeTimeout bounds Close.
const closeTimeout = 5 * time.Second

// Host is a running ipvm libp2p node: host, DHT and protocol handlers. Its
// methods are safe for concurrent use. It owns its goroutines; Close stops
// them.
type Host struct {
	cfg    Config
	log    *slog.Logger
	h      host.Host
	dht    *dht.IpfsDHT
	mdns   mdns.Service
	scores *scores
	stats  counters

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	queue  chan queued // provide queue

	inMu sync.Mutex
	in   map[protocol.ID]*inbound

	closeOnce sync.Once
	closeErr  error
}

// New starts a host: it listens, starts the DHT in server mode, registers the
// receipt and block protocols (when their sources are set), connects to the
// bootstrap peers (each attempt bounded by ctx and StreamTimeout; failures
// are logged, not fatal) and starts mDNS unless disabled.
func New(ctx context.Context, c Config) (*Host, error) {
	cfg, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	boot, err := parseAddrInfos(cfg.Bootstrap)
	if err != nil {
		return nil, err
	}
	if cfg.Identity == nil {
		cfg.Identity, _, err = crypto.GenerateEd25519Key(nil)
		if err != nil {
			return nil, fmt.Errorf("p2p: generate identity: %w", err)
		}
	}
	n := &Host{cfg: cfg, log: cfg.Logger, scores: newScores(&cfg), in: make(map[protocol.ID]*inbound)}
	n.ctx, n.cancel = context.WithCancel(context.Background())

	rm, err := n.resourceManager()
	if err != nil {
		n.cancel()
		return nil, err
	}
	cm, err := connmgr.NewConnManager(cfg.ConnLow, cfg.ConnHigh, connmgr.WithGracePeriod(20*time.Second))
	if err != nil {
		n.cancel()
		_ = rm.Close()
		return nil, fmt.Errorf("p2p: connection manager: %w", err)
	}
	opts := []libp2p.Option{
		libp2p.Identity(cfg.Identity),
		libp2p.ListenAddrStrings(cfg.Listen...),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(tls.ID, tls.New),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.DefaultMuxers,
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.ConnectionGater(n.scores),
		libp2p.DisableRelay(),
		libp2p.WithDialTimeout(cfg.StreamTimeout),
	}
	if cfg.Registerer != nil {
		opts = append(opts, libp2p.PrometheusRegisterer(cfg.Registerer))
	} else {
		opts = append(opts, libp2p.DisableMetrics())
	}
	n.h, err = libp2p.New(opts...)
	if err != nil {
		n.cancel()
		_ = cm.Close()
		_ = rm.Close()
		return nil, fmt.Errorf("p2p: libp2p host: %w", err)
	}

	val := record.NamespacedValidator{"pk": record.PublicKeyValidator{}}
	for ns, v := range cfg.Validators {
		val[ns] = v
	}
	n.dht, err = dht.New(n.h,
		dht.Mode(dht.ModeServer),
		dht.ProtocolPrefix(DHTPrefix),
		dht.Validator(val),
		dht.BootstrapPeers(boot...),
	)
	if err != nil {
		n.cancel()
		_ = n.h.Close()
		return nil, fmt.Errorf("p2p: dht: %w", err)
	}

	if cfg.Receipts != nil {
		n.HandleRequest(ProtocolReceipt, 0, n.serveReceipt)
	}
	if cfg.Blocks != nil {
		n.HandleRequest(ProtocolBlock, 0, n.serveBlock)
	}
	n.startProviders()

	n.bootstrap(ctx, boot)
	if !cfg.DisableMDNS {
		n.mdns = mdns.NewMdnsService(n.h, MDNSService, mdnsNotifee{n})
		if err := n.mdns.Start(); err != nil {
			n.log.Warn("mdns start failed", "err", err)
			n.mdns = nil
		}
	}
	n.log.Info("p2p host started", "peer", n.h.ID(), "addrs", n.h.Addrs())
	return n, nil
}

// maxPeerInboundStreams bounds the inbound streams of one peer, all
// protocols together (DHT, identify and ipvm's).
const maxPeerInboundStreams = 64

// resourceManager builds libp2p's resource manager with the default limits
// scaled to MaxMemory/MaxFDs, plus per-protocol stream limits for ipvm's
// protocols.
func (n *Host) resourceManager() (network.ResourceManager, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	// Streams wait in the shared transient scope until their protocol is
	// negotiated. libp2p lets one peer hold more inbound streams (256 and
	// up) than that scope has (128), so one peer opening streams it never
	// negotiates would get every other peer's streams reset. Cap a peer's
	// inbound streams well below the transient scope's.
	limits.PeerBaseLimit.StreamsInbound, limits.PeerLimitIncrease.StreamsInbound = maxPeerInboundStreams, 0
	limits.TransientBaseLimit.StreamsInbound = max(limits.TransientBaseLimit.StreamsInbound, 8*maxPeerInboundStreams)
	for _, p := range []protocol.ID{ProtocolReceipt, ProtocolBlock} {
		limits.AddProtocolLimit(p,
			rcmgr.BaseLimit{StreamsInbound: n.cfg.MaxInboundStreams, StreamsOutbound: n.cfg.MaxInboundStreams,
				Streams: 2 * n.cfg.MaxInboundStreams, Memory: 64 << 20},
			rcmgr.BaseLimitIncrease{})
		limits.AddProtocolPeerLimit(p,
			rcmgr.BaseLimit{StreamsInbound: n.cfg.MaxInboundStreamsPerPeer, StreamsOutbound: n.cfg.MaxInboundStreamsPerPeer,
				Streams: 2 * n.cfg.MaxInboundStreamsPerPeer, Memory: 16 << 20},
			rcmgr.BaseLimitIncrease{})
	}
	var concrete rcmgr.ConcreteLimitConfig
	if n.cfg.MaxMemory > 0 || n.cfg.MaxFDs > 0 {
		mem, fds := n.cfg.MaxMemory, n.cfg.MaxFDs
		if mem == 0 {
			mem = 1 << 30
		}
		if fds == 0 {
			fds = 512
		}
		concrete = limits.Scale(mem, fds)
	} else {
		concrete = limits.AutoScale()
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(concrete))
	if err != nil {
		return nil, fmt.Errorf("p2p: resource manager: %w", err)
	}
	return rm, nil
}

// bootstrap connects to the bootstrap peers in parallel and then refreshes
// the DHT routing table.
func (n *Host) bootstrap(ctx context.Context, boot []peer.AddrInfo) {
	if len(boot) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.StreamTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, ai := range boot {
		if ai.ID == n.h.ID() {
			continue
		}
		wg.Go(func() {
			if err := n.h.Connect(ctx, ai); err != nil {
				n.log.Warn("bootstrap peer unreachable", "peer", ai.ID, "err", err)
			}
		})
	}
	wg.Wait()
	if err := n.dht.Bootstrap(n.ctx); err != nil {
		n.log.Warn("dht bootstrap", "err", err)
	}
}

type mdnsNotifee struct{ n *Host }

// HandlePeerFound connects to a peer found on the LAN.
func (m mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	n := m.n
	if ai.ID == n.h.ID() || n.scores.refused(ai.ID) || n.ctx.Err() != nil {
		return
	}
	n.wg.Go(func() {
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.StreamTimeout)
		defer cancel()
		if err := n.h.Connect(ctx, ai); err != nil {
			n.log.Debug("mdns peer unreachable", "peer", ai.ID, "err", err)
		}
	})
}

// Close stops the host: mDNS, the provide workers, the DHT, then the libp2p
// host. It is idempotent and returns within a few seconds even if a
// goroutine is stuck (which is then logged).
func (n *Host) Close() error {
	n.closeOnce.Do(func() {
		n.cancel()
		var errs []error
		if n.mdns != nil {
			errs = append(errs, n.mdns.Close())
		}
		errs = append(errs, n.dht.Close(), n.h.Close())
		done := make(chan struct{})
		go func() { n.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(closeTimeout):
			n.log.Error("p2p close: goroutines still running after timeout")
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// ID is the host's peer ID.
func (n *Host) ID() peer.ID { return n.h.ID() }

// Addrs are the host's listen addresses, each with /p2p/<ID> appended, as
// others pass them to Config.Bootstrap.
func (n *Host) Addrs() []ma.Multiaddr {
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.h.ID(), Addrs: n.h.Addrs()})
	if err != nil {
		return nil
	}
	return addrs
}

// AddrInfo is the host's peer ID and listen addresses.
func (n *Host) AddrInfo() peer.AddrInfo { return peer.AddrInfo{ID: n.h.ID(), Addrs: n.h.Addrs()} }

// LibP2P returns the underlying libp2p host, for protocols outside this
// package. The Host keeps ownership: do not close it.
func (n *Host) LibP2P() host.Host { return n.h }

// PeerInfo describes a connected peer.
type PeerInfo struct {
	ID    peer.ID
	DID   string         // did:key of the peer, empty if its key is not Ed25519
	Addrs []ma.Multiaddr // remote addresses of the open connections
	Score int
}

// Peers lists the connected peers.
func (n *Host) Peers() []PeerInfo {
	var out []PeerInfo
	for _, p := range n.h.Network().Peers() {
		pi := PeerInfo{ID: p, Score: n.scores.get(p)}
		pi.DID, _ = PeerDID(p)
		for _, c := range n.h.Network().ConnsToPeer(p) {
			pi.Addrs = append(pi.Addrs, c.RemoteMultiaddr())
		}
		out = append(out, pi)
	}
	return out
}

// Connect dials a peer (refusing blocked and banned ones).
func (n *Host) Connect(ctx context.Context, ai peer.AddrInfo) error {
	if n.ctx.Err() != nil {
		return ErrClosed
	}
	if n.scores.refused(ai.ID) {
		return fmt.Errorf("%w: %s", ErrBlocked, ai.ID)
	}
	return n.h.Connect(ctx, ai)
}

// Score is the current score of a peer (0 for unknown peers).
func (n *Host) Score(p peer.ID) int { return n.scores.get(p) }

// Stats returns a snapshot of the host's counters.
func (n *Host) Stats() Stats { return n.stats.snapshot() }

// RoutingTableSize is the number of peers in the DHT routing table.
func (n *Host) RoutingTableSize() int { return n.dht.RoutingTable().Size() }

// PeerDID derives the did:key of a peer from its ID: Ed25519 peer IDs embed
// the public key. Other key types give ErrNotEd25519.
func PeerDID(p peer.ID) (string, error) {
	pk, err := p.ExtractPublicKey()
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrNotEd25519, p, err)
	}
	if pk.Type() != crypto.Ed25519 {
		return "", fmt.Errorf("%w: %s", ErrNotEd25519, p)
	}
	raw, err := pk.Raw()
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return "", fmt.Errorf("%w: %s", ErrNotEd25519, p)
	}
	return ucan.DIDFromPublicKey(ed25519.PublicKey(raw)), nil
}

// PeerIDFromDID is the peer ID of an Ed25519 did:key.
func PeerIDFromDID(did string) (peer.ID, error) {
	pub, err := ucan.PublicKeyFromDID(did)
	if err != nil {
		return "", err
	}
	pk, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		return "", err
	}
	return peer.IDFromPublicKey(pk)
}

// parseAddrInfos parses multiaddrs ending in /p2p/<ID>, merging addresses
// of the same peer.
func parseAddrInfos(ss []string) ([]peer.AddrInfo, error) {
	addrs := make([]ma.Multiaddr, 0, len(ss))
	for _, s := range ss {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w: bootstrap %q: %v", ErrConfig, s, err)
		}
		addrs = append(addrs, a)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(addrs...)
	if err != nil {
		return nil, fmt.Errorf("%w: bootstrap: %v", ErrConfig, err)
	}
	return infos, nil
}
