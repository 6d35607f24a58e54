package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ipvm-go/ipvm/invocation"
	"github.com/ipvm-go/ipvm/node/p2p"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/ucan"
)

// Offer protocol constants.
const (
	// ProtocolOffer serves this node's signed offer (SPEC §11.x).
	ProtocolOffer = "/ipvm/offer/1.0.0"
	// OfferTTL is how long a served offer stays valid.
	OfferTTL = 60 * time.Second
	// MaxOfferBlobs bounds the blobs listed in one offer.
	MaxOfferBlobs = 256
	// maxOfferQuery bounds the blob CIDs one offer request may ask about.
	maxOfferQuery = 64
	// maxOfferSize caps an offer document on the wire.
	maxOfferSize = 64 << 10
	// offerSigPrefix separates offer signatures from every other use of
	// the node's key.
	offerSigPrefix = "ipvm/offer/1.0.0\x00"
	// maxOfferLabels bounds the labels of an offer.
	maxOfferLabels = 64
)

// Offer errors.
var (
	// ErrBadOffer reports an offer that does not decode or verify.
	ErrBadOffer = errors.New("node: bad offer")
	// ErrOfferExpired reports an offer past its expiry.
	ErrOfferExpired = errors.New("node: offer expired")
	// ErrNoNetwork reports a call that needs the network on a node
	// without one.
	ErrNoNetwork = errors.New("node: no network")
)

// CapabilityCID is the CID a node that runs cmd provides on the DHT: CIDv1,
// raw codec, sha2-256 of the command's bytes (e.g. "/wasm/run").
func CapabilityCID(cmd string) cid.Cid { return spec.Sum(spec.CodecRaw, []byte(cmd)) }

// BlobInfo is a blob a node holds and its size in bytes.
type BlobInfo struct {
	CID  cid.Cid `json:"cid"`
	Size uint64  `json:"size"`
}

// Offer describes what a node offers to run: commands, the per-task
// limits it accepts, its load, host labels and blobs it holds. Offers from
// peers are signed by the peer's key and expire.
type Offer struct {
	// DID is the issuing node's did:key.
	DID string `json:"did"`
	// Peer is the node's libp2p peer ID ("" without a network).
	Peer string `json:"peer,omitempty"`
	// Commands are the commands it runs.
	Commands []string `json:"commands"`
	// Limits are the per-task caps it accepts.
	Limits Limits `json:"limits"`
	// Workers is how many tasks it runs at once; Busy how many run now.
	Workers int `json:"workers"`
	Busy    int `json:"busy"`
	// Labels are its host labels.
	Labels map[string]string `json:"labels,omitempty"`
	// Blobs are blobs it holds with their sizes (at most MaxOfferBlobs):
	// those a request asked about, or, when it asked about none, the ones
	// it added or used recently.
	Blobs []BlobInfo `json:"blobs,omitempty"`
	// Issued and Expires bound the offer's validity.
	Issued  time.Time `json:"issued"`
	Expires time.Time `json:"expires"`
}

// Holds reports whether the offer lists blob c.
func (o *Offer) Holds(c cid.Cid) (uint64, bool) {
	for _, b := range o.Blobs {
		if b.CID.Equals(c) {
			return b.Size, true
		}
	}
	return 0, false
}

// Offer returns this node's current offer (unsigned; SignedOffer signs).
func (n *Node) Offer(ctx context.Context) (Offer, error) {
	return n.offer(ctx, nil), nil
}

func (n *Node) offer(ctx context.Context, ask []cid.Cid) Offer {
	workers := n.cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	now := time.Now().Truncate(time.Second)
	o := Offer{
		DID:      n.DID(),
		Commands: []string{invocation.CmdWasmRun},
		Limits:   n.cfg.Limits,
		Workers:  workers,
		Busy:     len(n.workers),
		Labels:   n.cfg.Labels,
		Issued:   now,
		Expires:  now.Add(OfferTTL),
	}
	if n.cfg.Placement.NoServe {
		o.Commands = []string{}
	}
	if n.net != nil {
		o.Peer = n.net.ID().String()
	}
	for _, c := range ask {
		if s, err := n.store.BlobSize(ctx, c); err == nil && len(o.Blobs) < MaxOfferBlobs {
			o.Blobs = append(o.Blobs, BlobInfo{c, s})
		}
	}
	if len(ask) == 0 {
		o.Blobs = n.held.list()
	}
	return o
}

// IPLD returns the offer's payload as signed (SPEC §11.x).
func (o *Offer) IPLD() map[string]any {
	cmds := make([]any, len(o.Commands))
	for i, c := range o.Commands {
		cmds[i] = c
	}
	labels := make(map[string]any, len(o.Labels))
	for k, v := range o.Labels {
		labels[k] = v
	}
	blobs := make([]any, len(o.Blobs))
	for i, b := range o.Blobs {
		blobs[i] = []any{b.CID, int64(b.Size)}
	}
	return map[string]any{
		"iss":     o.DID,
		"peer":    o.Peer,
		"cmd":     cmds,
		"limits":  map[string]any{"memory": o.Limits.Memory, "time": o.Limits.Time.D().Milliseconds(), "output": o.Limits.Output, "fuel": o.Limits.Fuel},
		"workers": int64(o.Workers),
		"busy":    int64(o.Busy),
		"labels":  labels,
		"blobs":   blobs,
		"iat":     o.Issued.Unix(),
		"exp":     o.Expires.Unix(),
	}
}

// SignOffer encodes o as a signed offer document: the DAG-CBOR map
// {"payload": bytes, "sig": bytes}, sig being k's Ed25519 signature over
// "ipvm/offer/1.0.0\x00" + payload, payload the DAG-CBOR of o.IPLD().
func SignOffer(k *ucan.Key, o Offer) ([]byte, error) {
	o.DID = k.DID()
	payload, err := spec.EncodeCBOR(o.IPLD())
	if err != nil {
		return nil, err
	}
	sig := k.Sign(append([]byte(offerSigPrefix), payload...))
	return spec.EncodeCBOR(map[string]any{"payload": payload, "sig": sig})
}

// VerifyOffer decodes a signed offer document and checks it: strict
// DAG-CBOR, bounded lists, signed by did (the serving peer's DID; empty
// accepts any issuer), issued no later than now plus one minute of skew
// and not expired at now.
func VerifyOffer(b []byte, did string, now time.Time) (Offer, error) {
	lim := spec.Limits{MaxBytes: maxOfferSize, MaxDepth: 8, MaxItems: 4 * (MaxOfferBlobs + maxOfferLabels + 64)}
	v, err := spec.DecodeCBOR(b, lim)
	if err != nil {
		return Offer{}, fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	env, _ := v.(map[string]any)
	payload, _ := env["payload"].([]byte)
	sig, _ := env["sig"].([]byte)
	if len(env) != 2 || payload == nil || sig == nil {
		return Offer{}, fmt.Errorf("%w: not a {payload, sig} envelope", ErrBadOffer)
	}
	pv, err := spec.DecodeCBOR(payload, lim)
	if err != nil {
		return Offer{}, fmt.Errorf("%w: payload: %v", ErrBadOffer, err)
	}
	o, err := offerFromIPLD(pv)
	if err != nil {
		return Offer{}, err
	}
	if did != "" && o.DID != did {
		return Offer{}, fmt.Errorf("%w: issued by %s, served by %s", ErrBadOffer, o.DID, did)
	}
	if err := ucan.VerifyDID(o.DID, append([]byte(offerSigPrefix), payload...), sig); err != nil {
		return Offer{}, fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	if o.Issued.After(now.Add(time.Minute)) {
		return Offer{}, fmt.Errorf("%w: issued in the future", ErrBadOffer)
	}
	if !now.Before(o.Expires) {
		return Offer{}, fmt.Errorf("%w: at %s", ErrOfferExpired, o.Expires.UTC().Format(time.RFC3339))
	}
	return o, nil
}

func offerFromIPLD(v any) (Offer, error) {
	bad := func(f string) (Offer, error) { return Offer{}, fmt.Errorf("%w: field %s", ErrBadOffer, f) }
	m, ok := v.(map[string]any)
	if !ok {
		return bad("payload")
	}
	var o Offer
	if o.DID, ok = m["iss"].(string); !ok {
		return bad("iss")
	}
	if o.Peer, ok = m["peer"].(string); !ok {
		return bad("peer")
	}
	cmds, ok := m["cmd"].([]any)
	if !ok || len(cmds) > 64 {
		return bad("cmd")
	}
	for _, c := range cmds {
		s, ok := c.(string)
		if !ok {
			return bad("cmd")
		}
		o.Commands = append(o.Commands, s)
	}
	lim, ok := m["limits"].(map[string]any)
	if !ok {
		return bad("limits")
	}
	mem, _ := lim["memory"].(int64)
	ms, _ := lim["time"].(int64)
	out, _ := lim["output"].(int64)
	fu, _ := lim["fuel"].(int64)
	o.Limits = Limits{Memory: mem, Time: Duration(time.Duration(ms) * time.Millisecond), Output: out, Fuel: fu}
	w, ok1 := m["workers"].(int64)
	busy, ok2 := m["busy"].(int64)
	if !ok1 || !ok2 || w < 0 || busy < 0 || w > 1<<20 || busy > 1<<20 {
		return bad("workers")
	}
	o.Workers, o.Busy = int(w), int(busy)
	labels, ok := m["labels"].(map[string]any)
	if !ok || len(labels) > maxOfferLabels {
		return bad("labels")
	}
	if len(labels) > 0 {
		o.Labels = make(map[string]string, len(labels))
	}
	for k, v := range labels {
		s, ok := v.(string)
		if !ok {
			return bad("labels")
		}
		o.Labels[k] = s
	}
	blobs, ok := m["blobs"].([]any)
	if !ok || len(blobs) > MaxOfferBlobs {
		return bad("blobs")
	}
	for _, e := range blobs {
		pair, _ := e.([]any)
		if len(pair) != 2 {
			return bad("blobs")
		}
		c, ok1 := pair[0].(cid.Cid)
		s, ok2 := pair[1].(int64)
		if !ok1 || !ok2 || s < 0 {
			return bad("blobs")
		}
		o.Blobs = append(o.Blobs, BlobInfo{c, uint64(s)})
	}
	iat, ok1 := m["iat"].(int64)
	exp, ok2 := m["exp"].(int64)
	if !ok1 || !ok2 {
		return bad("iat/exp")
	}
	o.Issued, o.Expires = time.Unix(iat, 0), time.Unix(exp, 0)
	return o, nil
}

// serveOffer answers /ipvm/offer/1.0.0: the request is a DAG-CBOR map
// {"blobs": [links]} naming blobs the asker wants sizes for (at most 64;
// {} asks for none), the answer this node's signed offer.
func (n *Node) serveOffer(ctx context.Context, _ peer.ID, req []byte) ([]byte, error) {
	ask, err := decodeOfferRequest(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", p2p.ErrBadFrame, err)
	}
	return SignOffer(n.key, n.offer(ctx, ask))
}

func decodeOfferRequest(req []byte) ([]cid.Cid, error) {
	v, err := spec.DecodeCBOR(req, spec.Limits{MaxBytes: 8 << 10, MaxDepth: 4, MaxItems: maxOfferQuery + 4})
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("offer request is not a map")
	}
	list, _ := m["blobs"].([]any)
	if len(list) > maxOfferQuery {
		return nil, errors.New("offer request asks about too many blobs")
	}
	var out []cid.Cid
	for _, e := range list {
		c, ok := e.(cid.Cid)
		if !ok {
			return nil, errors.New("offer request blob is not a link")
		}
		out = append(out, c)
	}
	return out, nil
}

// PeerOffer asks peer p for its offer, listing which of the blobs ask it
// holds, and verifies it: signed by p's key, not expired, issued for p.
func (n *Node) PeerOffer(ctx context.Context, p peer.ID, ask []cid.Cid) (Offer, error) {
	if n.net == nil {
		return Offer{}, ErrNoNetwork
	}
	if len(ask) > maxOfferQuery {
		ask = ask[:maxOfferQuery]
	}
	list := make([]any, len(ask))
	for i, c := range ask {
		list[i] = c
	}
	req, err := spec.EncodeCBOR(map[string]any{"blobs": list})
	if err != nil {
		return Offer{}, err
	}
	b, err := n.net.Request(ctx, p, ProtocolOffer, req, maxOfferSize)
	if err != nil {
		return Offer{}, err
	}
	did, err := p2p.PeerDID(p)
	if err != nil {
		return Offer{}, err
	}
	o, err := VerifyOffer(b, did, time.Now())
	if err != nil {
		n.log.Warn("offer rejected", "peer", p, "err", err)
		return Offer{}, err
	}
	if o.Peer != p.String() {
		return Offer{}, fmt.Errorf("%w: offer names peer %q, served by %s", ErrBadOffer, o.Peer, p)
	}
	return o, nil
}

// PeerOffers are the offers a node knows of.
type PeerOffers struct {
	// Self is this node's own offer.
	Self Offer `json:"self"`
	// Peers are the verified offers of peers that provide /wasm/run (or
	// the one peer asked for), best effort within the lookup time.
	Peers []Offer `json:"peers"`
	// Errors are peers whose offer could not be had, with the reason.
	Errors map[string]string `json:"errors,omitempty"`
}

// Offers returns this node's offer and, with a network, those of the
// peers that provide /wasm/run on the DHT and of connected peers; with
// only set, that one peer's (an error if it has none).
func (n *Node) Offers(ctx context.Context, only string) (PeerOffers, error) {
	self, _ := n.Offer(ctx)
	out := PeerOffers{Self: self, Peers: []Offer{}}
	if n.net == nil {
		if only != "" {
			return out, ErrNoNetwork
		}
		return out, nil
	}
	var peers []peer.ID
	if only != "" {
		p, err := peer.Decode(only)
		if err != nil {
			return out, fmt.Errorf("node: peer %q: %w", only, err)
		}
		peers = []peer.ID{p}
	} else {
		peers = n.offerers(ctx)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			o, err := n.PeerOffer(ctx, p, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if out.Errors == nil {
					out.Errors = map[string]string{}
				}
				out.Errors[p.String()] = err.Error()
				return
			}
			out.Peers = append(out.Peers, o)
		})
	}
	wg.Wait()
	slices.SortFunc(out.Peers, func(a, b Offer) int { return cmp.Compare(a.Peer, b.Peer) })
	if only != "" && len(out.Peers) == 0 {
		return out, fmt.Errorf("node: peer %s: %s", only, out.Errors[only])
	}
	return out, nil
}

// offerers lists the peers that provide /wasm/run on the DHT, plus the
// connected ones, without this node and blocked peers.
func (n *Node) offerers(ctx context.Context) []peer.ID {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Network.LookupTimeout.D()+time.Second)
	defer cancel()
	seen := map[peer.ID]bool{n.net.ID(): true}
	var out []peer.ID
	add := func(p peer.ID) {
		if !seen[p] && !n.blockedPeer(p.String()) {
			seen[p] = true
			out = append(out, p)
		}
	}
	ais, _ := n.net.FindProviders(ctx, CapabilityCID(invocation.CmdWasmRun), 16)
	for _, ai := range ais {
		add(ai.ID)
	}
	for _, pi := range n.net.Peers() {
		add(pi.ID)
	}
	return out
}

// blockedPeer reports whether the config blocks peer id.
func (n *Node) blockedPeer(id string) bool { return slices.Contains(n.cfg.BlockPeers, id) }

// heldBlobs remembers the blobs this node added or used recently, for its
// offer: a bounded most-recent-first list.
type heldBlobs struct {
	mu    sync.Mutex
	blobs []BlobInfo
}

func (h *heldBlobs) add(c cid.Cid, size uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.blobs = slices.DeleteFunc(h.blobs, func(b BlobInfo) bool { return b.CID.Equals(c) })
	h.blobs = slices.Insert(h.blobs, 0, BlobInfo{c, size})
	if len(h.blobs) > MaxOfferBlobs {
		h.blobs = h.blobs[:MaxOfferBlobs]
	}
}

func (h *heldBlobs) list() []BlobInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.blobs)
}
