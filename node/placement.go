package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ipvm-go/ipvm/invocation"
	"github.com/ipvm-go/ipvm/node/exec"
	"github.com/ipvm-go/ipvm/node/placement"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/workflow"
)

const (
	// maxInputs bounds the blobs linked by a task's params that placement
	// weighs and the executor stages.
	maxInputs = 32
	// maxStage caps the bytes of one staged blob.
	maxStage = 4 << 30
	// receiptAllowance is the receipt's share of a remote run's overhead.
	receiptAllowance = 1 << 10
	// offerTimeout bounds the offer requests of one placement.
	offerTimeout = 2 * time.Second
	// maxNote caps the caller's placement note a served run records.
	maxNote = 16 << 10
)

// workflowKey carries the running workflow to step, which needs its
// canonical form to send one of its tasks to a peer.
type workflowKey struct{}

func workflowFrom(ctx context.Context) *workflow.Workflow {
	wf, _ := ctx.Value(workflowKey{}).(*workflow.Workflow)
	return wf
}

// invokeSlack is what a task run for a peer may take beyond the node's
// task time limit: staging its inputs, compiling, signing, storing.
const invokeSlack = time.Minute

// startPlacement registers the offer and invoke protocols and provides the
// capability CID of /wasm/run on the DHT. The network calls it once the
// host is up.
func (n *Node) startPlacement() {
	n.net.HandleRequest(ProtocolOffer, 8<<10, n.serveOffer)
	// A task run for a peer may take as long as this node lets any task
	// run, plus the time to fetch its inputs and sign and store its
	// receipt; the stream stays open for it (the request itself must
	// still arrive within the stream timeout).
	n.net.HandleSlowRequest(ProtocolInvoke, maxInvokeRequest, n.cfg.Limits.Time.D()+invokeSlack, n.serveInvoke)
	if !n.cfg.Placement.NoServe {
		n.provide(CapabilityCID(invocation.CmdWasmRun))
	}
}

// placed is a placement decision with the request a remote run sends.
type placed struct {
	d        placement.Decision
	req      *invokeRequest
	local    string
	estimate map[string]uint64
}

// runPlaced runs a /wasm/run task where placement says: on a peer over
// /ipvm/invoke/1.0.0, falling back along the ranked candidates and then to
// this node, or here. The receipt's meta records where it ran, the bytes
// moved, the candidates and the fallbacks.
func (n *Node) runPlaced(ctx context.Context, st workflow.Step, w invocation.Wasm, ev Event, g *Grant) (Event, error) {
	blobs := taskBlobs(w)
	note := map[string]any{}
	s, isServed := servedFrom(ctx)
	switch {
	case n.net == nil && st.Task.Meta.On == "" && st.Task.Meta.Labels == nil:
		// No network, no constraint: nothing to weigh.
	case isServed:
		// The caller's decision goes into the receipt this node signs: only
		// the known keys, and only if small.
		if caller, ok := ctx.Value(noteKey{}).(map[string]any); ok {
			if b, err := spec.EncodeCBOR(caller); err == nil && len(b) <= maxNote {
				for _, k := range []string{"candidates", "estimate", "fallback"} {
					if v, ok := caller[k]; ok {
						note[k] = v
					}
				}
			}
		}
		note["by"] = s.from.String()
	default:
		p, err := n.decide(ctx, st, w, g, blobs)
		if errors.Is(err, placement.ErrUnsatisfiable) {
			return n.finishTaskMeta(ctx, ev, g, spec.Fail(spec.Failf(spec.ErrNameUnplaceable, "task %q: %v", st.Task.Name, err)), nil, nil)
		}
		if err != nil {
			return Event{}, err
		}
		if n.net != nil {
			note["candidates"] = costsIPLD(p.d.All)
		}
		var fallback []any
		local := false
		for _, c := range p.d.Order {
			if c.Local {
				local = true
				note["estimate"] = int64(c.Bytes)
				break
			}
			id, err := peer.Decode(c.Peer)
			if err != nil {
				continue
			}
			rn := *p.req
			rn.note = maps.Clone(note)
			rn.note["estimate"] = int64(c.Bytes)
			if len(fallback) > 0 {
				rn.note["fallback"] = slices.Clone(fallback)
			}
			got, err := n.invokeRemote(ctx, id, &rn, ev, g)
			if err == nil {
				n.log.Info("task ran on a peer", "task", st.Task.Name, "peer", id, "estimate", c.Bytes)
				return got, nil
			}
			if ctx.Err() != nil {
				return Event{}, ctx.Err()
			}
			n.log.Warn("remote run failed, falling back", "task", st.Task.Name, "peer", id, "err", err)
			fallback = append(fallback, map[string]any{"peer": c.Peer, "err": oneLine(err.Error(), 300)})
		}
		if len(fallback) > 0 {
			note["fallback"] = fallback
		}
		if !local {
			return n.finishTaskMeta(ctx, ev, g, spec.Fail(spec.Failf(spec.ErrNameUnplaceable,
				"task %q: every candidate failed and this node is excluded: %s", st.Task.Name, fallbackText(fallback))), nil, placementMeta(n, note, 0))
		}
	}
	moved := n.stage(ctx, blobs)
	req := exec.Request{
		Module:   w.Mod,
		Function: w.Fun,
		Params:   w.Params,
		Limits:   limitsOf(st.Task.Meta),
	}
	out, stats, err := n.execute(ctx, req)
	if err != nil {
		return Event{}, err
	}
	return n.finishTaskMeta(ctx, ev, g, out, &stats, placementMeta(n, note, moved))
}

// placementMeta is the receipt meta entry "placement" of a run here, or
// nil on a node without a network (its receipts stay as they were).
func placementMeta(n *Node, note map[string]any, moved uint64) map[string]any {
	if n.net == nil {
		return nil
	}
	m := maps.Clone(note)
	m["on"] = n.net.ID().String()
	m["did"] = n.DID()
	m["moved"] = int64(moved)
	return map[string]any{"placement": m}
}

func costsIPLD(cs []placement.Cost) []any {
	out := make([]any, len(cs))
	for i, c := range cs {
		m := map[string]any{"peer": c.Peer, "bytes": int64(c.Bytes)}
		if c.Local {
			m["local"] = true
		}
		if c.Excluded != "" {
			m["excluded"] = c.Excluded
		}
		out[i] = m
	}
	return out
}

func fallbackText(fb []any) string {
	var parts []string
	for _, f := range fb {
		m, _ := f.(map[string]any)
		parts = append(parts, fmt.Sprintf("%v: %v", m["peer"], m["err"]))
	}
	if len(parts) == 0 {
		return "no eligible peer"
	}
	return strings.Join(parts, "; ")
}

func oneLine(s string, max int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > max {
		s = s[:max]
	}
	return s
}

// taskBlobs lists the task's module and the blobs its params link, each
// once, the module first.
func taskBlobs(w invocation.Wasm) []cid.Cid {
	out := []cid.Cid{w.Mod}
	var walk func(v any)
	walk = func(v any) {
		if len(out) > maxInputs {
			return
		}
		switch x := v.(type) {
		case cid.Cid:
			if !slices.ContainsFunc(out, x.Equals) {
				out = append(out, x)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				walk(x[k])
			}
		}
	}
	for _, p := range w.Params {
		walk(p)
	}
	return out
}

// decide weighs where st should run. Without a network, or when the
// module and inputs are all here and this node is eligible, it decides
// locally without asking anyone; otherwise it asks the holders of the
// missing blobs (DHT providers) for their offers, and when this node is
// not eligible also the peers offering /wasm/run.
func (n *Node) decide(ctx context.Context, st workflow.Step, w invocation.Wasm, g *Grant, blobs []cid.Cid) (*placed, error) {
	self := placement.Local
	if n.net != nil {
		self = n.net.ID().String()
	}
	meta := st.Task.Meta
	sizes := map[string]uint64{}
	holds := map[string]bool{}
	var missing []cid.Cid
	for _, c := range blobs {
		if s, err := n.store.BlobSize(ctx, c); err == nil {
			holds[c.String()], sizes[c.String()] = true, s
		} else {
			missing = append(missing, c)
		}
	}
	local := placement.Candidate{Peer: self, Local: true, Holds: holds, Labels: n.cfg.Labels}
	cands := []placement.Candidate{local}
	p := &placed{local: self}

	task := placement.Task{On: meta.On, Labels: meta.Labels}
	if task.On == self {
		task.On = placement.Local
	}
	localEligible := (task.On == "" || task.On == placement.Local) && labelsMatch(meta.Labels, n.cfg.Labels)
	wf := workflowFrom(ctx)
	if n.net != nil && !n.cfg.Placement.Local && wf != nil && (len(missing) > 0 || !localEligible) && task.On != placement.Local {
		peers := n.placementPeers(ctx, missing, !localEligible, task.On)
		offers := n.askOffers(ctx, peers, blobs)
		for _, id := range peers {
			if n.blockedPeer(id.String()) {
				cands = append(cands, placement.Candidate{Peer: id.String()})
				continue
			}
			o, ok := offers[id]
			if !ok || !slices.Contains(o.Commands, invocation.CmdWasmRun) {
				continue
			}
			h := map[string]bool{}
			for _, b := range o.Blobs {
				h[b.CID.String()] = true
				if _, known := sizes[b.CID.String()]; !known {
					sizes[b.CID.String()] = b.Size
				}
			}
			cands = append(cands, placement.Candidate{Peer: id.String(), Holds: h, Labels: o.Labels, Unfit: unfit(meta, o.Limits)})
		}
	}
	task.Module = placement.Blob{Key: w.Mod.String(), Size: sizes[w.Mod.String()]}
	for _, c := range blobs[1:] {
		task.Inputs = append(task.Inputs, placement.Blob{Key: c.String(), Size: sizes[c.String()]})
	}
	var overhead uint64
	if len(cands) > 1 {
		req, err := n.newInvokeRequest(ctx, wf, st, g)
		if err != nil {
			return nil, err
		}
		body, err := req.encode()
		if err != nil {
			return nil, err
		}
		p.req, overhead = req, uint64(len(body))+receiptAllowance
	}
	d, err := placement.Decide(task, cands, placement.Rules{BlockPeers: n.cfg.BlockPeers, Overhead: overhead})
	p.d = d
	if err == nil && n.net != nil {
		n.log.Debug("placement", "task", st.Task.Name, "choice", d.Choice().Peer, "bytes", d.Choice().Bytes, "candidates", len(d.All))
	}
	return p, err
}

// unfit says why a peer whose offer has limits l cannot take a task that
// asks for the limits in m, or "".
func unfit(m workflow.Meta, l Limits) string {
	switch {
	case m.Memory > 0 && l.Memory > 0 && m.Memory > l.Memory:
		return fmt.Sprintf("offers %d bytes of memory, the task asks %d", l.Memory, m.Memory)
	case m.Time > 0 && l.Time > 0 && m.Time > l.Time.D():
		return fmt.Sprintf("offers %s of time, the task asks %s", l.Time.D(), m.Time)
	case m.Output > 0 && l.Output > 0 && m.Output > l.Output:
		return fmt.Sprintf("offers %d bytes of output, the task asks %d", l.Output, m.Output)
	case m.Fuel > 0 && l.Fuel > 0 && m.Fuel > l.Fuel:
		return fmt.Sprintf("offers %d fuel, the task asks %d", l.Fuel, m.Fuel)
	}
	return ""
}

func labelsMatch(want, have map[string]string) bool {
	for k, v := range want {
		if h, ok := have[k]; !ok || h != v {
			return false
		}
	}
	return true
}

// placementPeers finds the peers that may run a task: the DHT providers of
// the blobs missing here, the peers offering /wasm/run when all asks for
// it, and the pinned peer. Bounded by the network's lookup timeout.
func (n *Node) placementPeers(ctx context.Context, missing []cid.Cid, all bool, pinned string) []peer.ID {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Network.LookupTimeout.D())
	defer cancel()
	var mu sync.Mutex
	seen := map[peer.ID]bool{n.net.ID(): true}
	var out []peer.ID
	add := func(p peer.ID) {
		mu.Lock()
		defer mu.Unlock()
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if pinned != "" && pinned != placement.Local {
		if id, err := peer.Decode(pinned); err == nil {
			add(id)
		}
	}
	var wg sync.WaitGroup
	for _, c := range missing {
		wg.Go(func() {
			ais, _ := n.net.FindProviders(ctx, c, 8)
			for _, ai := range ais {
				add(ai.ID)
			}
		})
	}
	if all {
		wg.Go(func() {
			for _, id := range n.offerers(ctx) {
				add(id)
			}
		})
	}
	wg.Wait()
	slices.SortFunc(out, func(a, b peer.ID) int { return cmp.Compare(a.String(), b.String()) })
	return out
}

// askOffers asks each peer (blocked ones excepted) for its offer about
// blobs, concurrently, and keeps the verified ones.
func (n *Node) askOffers(ctx context.Context, peers []peer.ID, blobs []cid.Cid) map[peer.ID]Offer {
	ctx, cancel := context.WithTimeout(ctx, offerTimeout)
	defer cancel()
	var mu sync.Mutex
	out := map[peer.ID]Offer{}
	var wg sync.WaitGroup
	for _, id := range peers {
		if n.blockedPeer(id.String()) {
			continue
		}
		wg.Go(func() {
			o, err := n.PeerOffer(ctx, id, blobs)
			if err != nil {
				n.log.Debug("no offer", "peer", id, "err", err)
				return
			}
			mu.Lock()
			out[id] = o
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// stage makes the task's module and inputs local before it runs, fetching
// the missing ones by CID (each block hash-checked), and returns the bytes
// of the blobs it fetched: the data (or code) this placement moved here.
func (n *Node) stage(ctx context.Context, blobs []cid.Cid) uint64 {
	if n.net == nil {
		return 0
	}
	var moved uint64
	for _, c := range blobs {
		if s, err := n.store.BlobSize(ctx, c); err == nil {
			n.held.add(c, s)
			continue
		}
		if _, err := n.net.FetchDAG(ctx, c, n.store.GetBlock, n.store.PutBlock, maxStage); err != nil {
			n.log.Debug("staging a blob failed", "cid", c, "err", err)
			continue
		}
		if s, err := n.store.BlobSize(ctx, c); err == nil {
			moved += s
			n.held.add(c, s)
			n.provide(c)
		}
	}
	return moved
}
