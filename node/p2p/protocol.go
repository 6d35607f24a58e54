package p2p

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// RequestHandler answers one request of a request/response protocol. from is
// the authenticated remote peer. Returning an error wrapping ErrNotFound
// answers "not found"; any other error answers an error with its message
// (truncated to 256 bytes); otherwise the returned bytes are the answer.
type RequestHandler func(ctx context.Context, from peer.ID, req []byte) ([]byte, error)

// inbound counts the open inbound streams of one protocol.
type inbound struct {
	total  int
	byPeer map[peer.ID]int
}

// HandleRequest serves proto with ipvm's request/response framing: one
// request frame of at most maxRequest bytes (0: Config.MaxRequestSize),
// then one response frame (a status byte and the answer), under
// Config.StreamTimeout and the inbound stream bounds. A peer that sends an
// oversized, malformed or slow frame is reset, penalised and disconnected;
// so is one whose request fn rejects with an error wrapping ErrBadFrame.
// Offer and invoke protocols can be registered through it too.
func (n *Host) HandleRequest(proto protocol.ID, maxRequest int, fn RequestHandler) {
	n.HandleSlowRequest(proto, maxRequest, 0, fn)
}

// HandleSlowRequest is HandleRequest for a protocol whose answer may take
// longer than Config.StreamTimeout (a task run for a peer): the request
// frame must still arrive within StreamTimeout, then fn and the response
// have budget (at least StreamTimeout; 0 means StreamTimeout). The caller
// uses RequestWithin with a budget of its own.
func (n *Host) HandleSlowRequest(proto protocol.ID, maxRequest int, budget time.Duration, fn RequestHandler) {
	if maxRequest <= 0 {
		maxRequest = n.cfg.MaxRequestSize
	}
	budget = max(budget, n.cfg.StreamTimeout)
	n.h.SetStreamHandler(proto, func(s network.Stream) { n.serve(proto, maxRequest, budget, s, fn) })
}

func (n *Host) serve(proto protocol.ID, maxRequest int, budget time.Duration, s network.Stream, fn RequestHandler) {
	from := s.Conn().RemotePeer()
	if n.scores.refused(from) || !n.acquire(proto, from) {
		n.stats.streamsRefused.Add(1)
		_ = s.Reset()
		return
	}
	defer n.release(proto, from)
	_ = s.SetDeadline(time.Now().Add(n.cfg.StreamTimeout))
	cs := countedStream{Stream: s, t: n.stats.protocol(proto)}
	req, err := readFrame(cs, maxRequest)
	if err != nil {
		n.junk(from, proto, "request", err)
		_ = s.Reset()
		return
	}
	// The request is in: the answer has the protocol's budget.
	_ = s.SetDeadline(time.Now().Add(budget))
	ctx, cancel := context.WithTimeout(n.ctx, budget)
	defer cancel()
	body, err := fn(ctx, from, req)
	var resp []byte
	switch {
	case errors.Is(err, ErrBadFrame):
		n.junk(from, proto, "request", err)
		_ = s.Reset()
		return
	case errors.Is(err, ErrNotFound):
		resp = response(statusNotFound, nil)
	case err != nil:
		msg := err.Error()
		if len(msg) > maxErrorMessage {
			msg = msg[:maxErrorMessage]
		}
		resp = response(statusError, []byte(msg))
	default:
		resp = response(statusOK, body)
	}
	if err := writeFrame(cs, resp); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// acquire takes a slot for an inbound stream of proto from p, or reports
// that a bound is reached.
func (n *Host) acquire(proto protocol.ID, p peer.ID) bool {
	n.inMu.Lock()
	defer n.inMu.Unlock()
	in := n.in[proto]
	if in == nil {
		in = &inbound{byPeer: make(map[peer.ID]int)}
		n.in[proto] = in
	}
	if in.total >= n.cfg.MaxInboundStreams || in.byPeer[p] >= n.cfg.MaxInboundStreamsPerPeer {
		return false
	}
	in.total++
	in.byPeer[p]++
	return true
}

func (n *Host) release(proto protocol.ID, p peer.ID) {
	n.inMu.Lock()
	defer n.inMu.Unlock()
	in := n.in[proto]
	in.total--
	if in.byPeer[p]--; in.byPeer[p] == 0 {
		delete(in.byPeer, p)
	}
}

// junk handles a framing violation by p: it is counted, logged, penalised
// and disconnected. A timeout (a slow frame) counts as junk too; a plain
// reset or EOF by the peer does not.
func (n *Host) junk(p peer.ID, proto protocol.ID, what string, err error) {
	if !isJunk(err) {
		n.log.Debug("stream failed", "peer", p, "protocol", proto, "err", err)
		return
	}
	n.stats.framingFaults.Add(1)
	n.log.Warn("junk from peer, disconnecting", "peer", p, "protocol", proto, "frame", what, "err", err)
	n.penalise(p, penaltyJunk)
	n.stats.disconnected.Add(1)
	_ = n.h.Network().ClosePeer(p)
}

// isJunk reports whether err is the peer's fault: an oversized or malformed
// frame, or a deadline passed while waiting for its bytes.
func isJunk(err error) bool {
	return errors.Is(err, ErrFrameTooLarge) || errors.Is(err, ErrBadFrame) || isTimeout(err)
}

// isTimeout reports a stream deadline error (yamux, QUIC and net errors all
// implement Timeout).
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &t) && t.Timeout())
}

// penalise lowers p's score, disconnecting it when it falls below the
// threshold.
func (n *Host) penalise(p peer.ID, d int) {
	n.stats.penalised.Add(1)
	if n.scores.add(p, d) {
		n.log.Warn("peer below score threshold, refused", "peer", p, "score", n.scores.get(p))
		_ = n.h.Network().ClosePeer(p)
	}
}

// Request sends one request to p over proto and returns the answer, which
// is at most maxResp bytes. It fails with ErrNotFound when the peer has no
// answer, ErrRemote when it answers an error, ErrFrameTooLarge or
// ErrBadFrame (and the peer is penalised and disconnected) when its
// response breaks the framing. The stream is bounded by ctx and
// Config.StreamTimeout.
func (n *Host) Request(ctx context.Context, p peer.ID, proto protocol.ID, req []byte, maxResp int) ([]byte, error) {
	return n.RequestWithin(ctx, p, proto, req, maxResp, 0)
}

// RequestWithin is Request to a protocol served with HandleSlowRequest: the
// stream is bounded by ctx and budget (at least Config.StreamTimeout; 0
// means StreamTimeout) instead of StreamTimeout alone.
func (n *Host) RequestWithin(ctx context.Context, p peer.ID, proto protocol.ID, req []byte, maxResp int, budget time.Duration) ([]byte, error) {
	budget = max(budget, n.cfg.StreamTimeout)
	if n.ctx.Err() != nil {
		return nil, ErrClosed
	}
	if n.scores.refused(p) {
		return nil, fmt.Errorf("%w: %s", ErrBlocked, p)
	}
	s, err := n.h.NewStream(ctx, p, proto)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	deadline, ours := time.Now().Add(budget), true
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline, ours = d, false
	}
	_ = s.SetDeadline(deadline)
	cs := countedStream{Stream: s, t: n.stats.protocol(proto)}
	if err := writeFrame(cs, req); err != nil {
		_ = s.Reset()
		return nil, err
	}
	_ = s.CloseWrite()
	raw, err := readFrame(cs, maxResp+1)
	if err != nil {
		_ = s.Reset()
		// A deadline that is the caller's, not ours, is no fault of the peer.
		if ctx.Err() == nil && (ours || !isTimeout(err)) {
			n.junk(p, proto, "response", err)
		}
		return nil, err
	}
	_ = s.Close()
	body, err := parseResponse(raw)
	if errors.Is(err, ErrBadFrame) {
		n.junk(p, proto, "response", err)
	}
	return body, err
}
