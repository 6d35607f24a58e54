package p2p

import (
	"io"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Stats is a snapshot of a host's counters, for metrics and tests.
type Stats struct {
	ReceiptsFetched  uint64 // receipts fetched and verified
	ReceiptsRejected uint64 // receipt answers dropped: unverifiable or malformed
	ReceiptsServed   uint64 // receipts sent to peers
	BlocksFetched    uint64 // blocks fetched and hash-verified
	BlocksRejected   uint64 // block answers dropped: hash mismatch or malformed
	BlocksServed     uint64 // blocks sent to peers

	Provided        uint64 // CIDs provided on the DHT
	ProvideFailed   uint64 // DHT provides that failed
	ProvideDropped  uint64 // Provide calls refused with ErrProvideQueueFull
	StreamsRefused  uint64 // inbound streams reset over a concurrency bound or from a refused peer
	FramingFaults   uint64 // oversized, malformed or slow frames (either side)
	PeersPenalised  uint64 // score decreases
	PeersDisconnect uint64 // peers disconnected for junk

	// Traffic counts the bytes read and written on the streams of each
	// ipvm protocol (frames included), as seen by the transport.
	Traffic map[protocol.ID]Traffic
}

// Traffic is the bytes moved on one protocol.
type Traffic struct {
	In, Out uint64
}

type counters struct {
	receiptsFetched, receiptsRejected, receiptsServed atomic.Uint64
	blocksFetched, blocksRejected, blocksServed       atomic.Uint64
	provided, provideFailed, provideDropped           atomic.Uint64
	streamsRefused, framingFaults                     atomic.Uint64
	penalised, disconnected                           atomic.Uint64

	mu      sync.Mutex
	traffic map[protocol.ID]*traffic
}

type traffic struct{ in, out atomic.Uint64 }

func (c *counters) protocol(p protocol.ID) *traffic {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.traffic == nil {
		c.traffic = make(map[protocol.ID]*traffic)
	}
	t := c.traffic[p]
	if t == nil {
		t = new(traffic)
		c.traffic[p] = t
	}
	return t
}

func (c *counters) snapshot() Stats {
	s := Stats{
		ReceiptsFetched:  c.receiptsFetched.Load(),
		ReceiptsRejected: c.receiptsRejected.Load(),
		ReceiptsServed:   c.receiptsServed.Load(),
		BlocksFetched:    c.blocksFetched.Load(),
		BlocksRejected:   c.blocksRejected.Load(),
		BlocksServed:     c.blocksServed.Load(),
		Provided:         c.provided.Load(),
		ProvideFailed:    c.provideFailed.Load(),
		ProvideDropped:   c.provideDropped.Load(),
		StreamsRefused:   c.streamsRefused.Load(),
		FramingFaults:    c.framingFaults.Load(),
		PeersPenalised:   c.penalised.Load(),
		PeersDisconnect:  c.disconnected.Load(),
		Traffic:          make(map[protocol.ID]Traffic),
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, t := range c.traffic {
		s.Traffic[p] = Traffic{In: t.in.Load(), Out: t.out.Load()}
	}
	return s
}

// countedStream counts the bytes of one stream into its protocol's traffic.
type countedStream struct {
	network.Stream
	t *traffic
}

var _ io.ReadWriter = countedStream{}

func (s countedStream) Read(p []byte) (int, error) {
	n, err := s.Stream.Read(p)
	s.t.in.Add(uint64(n))
	return n, err
}

func (s countedStream) Write(p []byte) (int, error) {
	n, err := s.Stream.Write(p)
	s.t.out.Add(uint64(n))
	return n, err
}
