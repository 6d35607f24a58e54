// Package p2ptest holds scripted and hostile libp2p peers for tests of the
// ipvm protocols: peers that send oversized or slow frames, open many
// streams, or answer with arbitrary bytes. It is imported only by tests.
package p2ptest

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/multiformats/go-varint"
)

// NewBareHost starts a plain libp2p host listening on 127.0.0.1 (TCP), with
// no ipvm handlers and no resource limits of ours: the attacker's side.
// The caller closes it.
func NewBareHost() (host.Host, error) {
	return libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
}

// Frame encodes p as one ipvm frame: uvarint(len(p)) || p.
func Frame(p []byte) []byte {
	return append(varint.ToUvarint(uint64(len(p))), p...)
}

// Connect connects h to the peer at ai.
func Connect(ctx context.Context, h host.Host, ai peer.AddrInfo) error {
	return h.Connect(ctx, ai)
}

// SendOversized opens a stream to p and sends a frame header declaring
// declared bytes, followed by up to 64 KiB of zeros, then reads what comes
// back. A well-behaved victim resets the stream: the returned error is
// then non-nil, and n is what the victim sent before the reset.
func SendOversized(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID, declared uint64) (n int64, err error) {
	s, err := h.NewStream(ctx, p, proto)
	if err != nil {
		return 0, err
	}
	defer s.Reset()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	pad := make([]byte, min(declared, 64<<10))
	if _, err := s.Write(append(varint.ToUvarint(declared), pad...)); err != nil {
		return 0, err
	}
	return io.Copy(io.Discard, s)
}

// SendSlow opens a stream to p and sends frame one byte every gap, then
// reads the answer. It returns the answer's bytes, or the error the victim
// caused (a reset when it times the sender out).
func SendSlow(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID, frame []byte, gap time.Duration) ([]byte, error) {
	s, err := h.NewStream(ctx, p, proto)
	if err != nil {
		return nil, err
	}
	defer s.Reset()
	for _, b := range frame {
		if _, err := s.Write([]byte{b}); err != nil {
			return nil, fmt.Errorf("write: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(gap):
		}
	}
	_ = s.CloseWrite()
	return io.ReadAll(s)
}

// OpenStreams opens up to n streams to p over proto without writing on
// them and returns those that opened; Release resets them.
func OpenStreams(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID, n int) (opened []network.Stream) {
	for range n {
		s, err := h.NewStream(ctx, p, proto)
		if err != nil {
			continue
		}
		opened = append(opened, s)
	}
	return opened
}

// Release resets streams.
func Release(ss []network.Stream) {
	for _, s := range ss {
		_ = s.Reset()
	}
}

// ServeRaw makes h answer every stream of proto by reading the request frame
// (up to 4 KiB, ignored) and then writing raw, as is: a forged or broken
// response. raw is called per request with the request bytes.
func ServeRaw(h host.Host, proto protocol.ID, raw func(req []byte) []byte) {
	h.SetStreamHandler(proto, func(s network.Stream) {
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(30 * time.Second))
		br := byteReader{r: s}
		n, err := varint.ReadUvarint(&br)
		if err != nil || n > 4<<10 {
			_ = s.Reset()
			return
		}
		req := make([]byte, n)
		if _, err := io.ReadFull(s, req); err != nil {
			_ = s.Reset()
			return
		}
		_, _ = s.Write(raw(req))
	})
}

// OversizedResponse returns a response that declares declared bytes and
// carries pad bytes of them, to test a client's response cap.
func OversizedResponse(declared uint64, pad int) []byte {
	return append(varint.ToUvarint(declared), make([]byte, pad)...)
}

type byteReader struct{ r io.Reader }

func (b *byteReader) ReadByte() (byte, error) {
	var buf [1]byte
	_, err := io.ReadFull(b.r, buf[:])
	return buf[0], err
}
