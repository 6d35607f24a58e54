package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/node/p2p"
	"github.com/ipvm-go/ipvm/workflow"
)

// rawProto is the floor's protocol: one unframed request and answer.
const rawProto protocol.ID = "/ipvm-bench/raw/1.0.0"

// loopback are the listen addresses of the benchmark's hosts.
var loopback = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}

// netHosts is the number of libp2p hosts of the network suite.
const netHosts = 10

// Network measures network-wide memoization (issue 6) on ten libp2p hosts
// on loopback (seven bare DHT members and three nodes). A provider node
// runs tasks, stores their receipts and provides the task CIDs; a fetcher
// node then runs each task as a one-task workflow and gets its receipt
// from the network: DHT provider lookup, /ipvm/receipt/1.0.0 round trip,
// decode and verify (signature, ran, issuer is the provider), durable
// store, reported cached. The floor, interleaved task by task, is the raw
// DHT lookup of the first provider (p2p.Host.FindProviders with max 1)
// plus one unframed stream round trip that moves the same receipt bytes.
// Two fetchers: one up when the tasks were provided (the provider record
// is in its own provider store, no DHT query), one that joined after (a
// DHT query every time). Goal ≤ 2× for both.
func Network(c Config) ([]Metric, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ipvm-bench-net-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var closers []func() error
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i]()
		}
	}()

	// Seven bare DHT members, the first the bootstrap peer.
	boot, err := p2p.New(ctx, p2p.Config{Listen: loopback, DisableMDNS: true})
	if err != nil {
		return nil, err
	}
	closers = append(closers, boot.Close)
	var bootAddrs []string
	for _, a := range boot.Addrs() {
		bootAddrs = append(bootAddrs, a.String()+"/p2p/"+boot.ID().String())
	}
	hosts := []*p2p.Host{boot}
	for range 6 {
		h, err := p2p.New(ctx, p2p.Config{Listen: loopback, Bootstrap: bootAddrs, DisableMDNS: true})
		if err != nil {
			return nil, err
		}
		closers = append(closers, h.Close)
		hosts = append(hosts, h)
	}
	openNode := func(name string) (*node.Node, error) {
		repo, err := node.OpenRepo(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		// A lookup bounded well above the loaded machine's worst case, so
		// that a slow lookup is measured rather than turned into a run.
		repo.Config.Network.LookupTimeout = node.Duration(20 * time.Second)
		n, err := node.Open(repo, node.Options{Network: &node.NetworkOptions{Listen: loopback, Bootstrap: bootAddrs, NoMDNS: true}})
		if err != nil {
			return nil, err
		}
		closers = append(closers, n.Close)
		return n, nil
	}
	prov, err := openNode("provider")
	if err != nil {
		return nil, err
	}
	early, err := openNode("early")
	if err != nil {
		return nil, err
	}
	for _, h := range append(hosts, prov.Network(), early.Network()) {
		if err := waitUntil(30*time.Second, "routing table", func() bool { return h.RoutingTableSize() > 0 }); err != nil {
			return nil, err
		}
	}

	// The provider runs 2k+2 tasks (k per fetcher and one warm-up each)
	// and provides their task CIDs.
	k := c.pick(60, 3)
	mod, _, err := prov.AddBlob(ctx, bytes.NewReader(tinyWasm))
	if err != nil {
		return nil, err
	}
	total := 2*k + 2
	var single []*workflow.Workflow // one-task workflows, parsed beforehand
	for i := range total {
		one, err := workflow.Parse([]byte(`{"name":"one","tasks":[`+addOneJSON("t", mod, 100_000+i)+`]}`), workflow.ParseOptions{})
		if err != nil {
			return nil, err
		}
		single = append(single, one)
	}
	all, _, err := runJSON(ctx, prov, independentJSON("bench-network", mod, 100_000, total))
	if err != nil {
		return nil, err
	}
	for i, t := range all.Tasks {
		if t.CID != single[i].Tasks[0].CID {
			return nil, fmt.Errorf("%w: task CID of %s", ErrMismatch, t.Name)
		}
	}
	if err := waitUntil(2*time.Minute, "provides", func() bool { return prov.Network().Stats().Provided >= uint64(total) }); err != nil {
		return nil, err
	}
	// The floor's server: the same receipt bytes from memory.
	rcpts := map[cid.Cid][]byte{}
	for _, t := range all.Tasks {
		ev, err := prov.Memo(ctx, t.CID)
		if err != nil || ev == nil {
			return nil, fmt.Errorf("%w: provider has no receipt for %s: %v", ErrMismatch, t.Name, err)
		}
		rcpts[t.CID] = ev.Bytes
	}
	var mu sync.Mutex
	prov.Network().LibP2P().SetStreamHandler(rawProto, func(s network.Stream) {
		defer s.Close()
		req, err := io.ReadAll(io.LimitReader(s, 256))
		if err != nil {
			_ = s.Reset()
			return
		}
		_, c, err := cid.CidFromBytes(req)
		mu.Lock()
		b := rcpts[c]
		mu.Unlock()
		if err != nil || b == nil {
			_ = s.Reset()
			return
		}
		_, _ = s.Write(b)
	})

	// The tenth host joins after the provides.
	late, err := openNode("late")
	if err != nil {
		return nil, err
	}
	if err := waitUntil(30*time.Second, "late routing table", func() bool { return late.Network().RoutingTableSize() > 0 }); err != nil {
		return nil, err
	}

	var ms []Metric
	for i, f := range []struct {
		n    *node.Node
		name string
		note string
	}{
		{early, "local_record", "fetcher up when the task was provided (the provider record is in its own store: no DHT query)"},
		{late, "dht_query", "fetcher joined after the provide (a DHT query every time)"},
	} {
		set := single[i*(k+1) : (i+1)*(k+1)]
		ft, err := fetchPairs(ctx, f.n, prov, set, rcpts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		if ex := f.n.Executions(); ex != 0 {
			return nil, fmt.Errorf("%w: the fetcher executed %d tasks", ErrMismatch, ex)
		}
		floor := fmt.Sprintf("floor: FindProviders(max 1) + one raw stream round trip of the same %d bytes; %d hosts on loopback; %s",
			len(rcpts[set[0].Tasks[0].CID]), netHosts, f.note)
		ms = append(ms,
			atMost("network_remote_receipt_vs_dht_find_plus_stream_"+f.name, "ns/op", ft.node, ft.floor, 2,
				"node.Run of a one-task workflow answered by a peer: DHT lookup, /ipvm/receipt/1.0.0 round trip, decode+verify, durable store (fsync); "+floor),
			info("network_fetch_verify_vs_dht_find_plus_stream_"+f.name, "ns/op", ft.fetch, ft.floor,
				"p2p.Host.FetchReceipt alone (lookup, framed round trip, decode+verify; no store); "+floor))
	}
	return ms, nil
}

// fetchTimes are the mean times (ns) of the three ways to obtain a
// receipt that fetchPairs measures.
type fetchTimes struct {
	floor float64 // FindProviders(max 1) + one raw stream round trip
	fetch float64 // p2p.Host.FetchReceipt: lookup, framed round trip, verify
	node  float64 // node.Run: the same, then a durable store
}

// fetchPairs obtains each task's receipt on f three ways: the floor's
// round trip and FetchReceipt (which does not store), in an order that
// alternates from task to task, then node.Run of the one-task workflow
// (which fetches again and stores). Run goes last because once the node
// has stored the receipt it provides the task CID itself, and the floor's
// first-provider lookup would find the fetcher. After each task it waits
// for that background provide, so that its DHT traffic does not fall on
// the next measurement. The first task warms up and is not counted.
func fetchPairs(ctx context.Context, f, prov *node.Node, set []*workflow.Workflow, rcpts map[cid.Cid][]byte) (fetchTimes, error) {
	var sum [3]time.Duration
	for i, wf := range set {
		t := wf.Tasks[0]
		want := rcpts[t.CID]
		floor := func() error {
			ais, err := f.Network().FindProviders(ctx, t.CID, 1)
			if err != nil {
				return err
			}
			if len(ais) == 0 || ais[0].ID != prov.Network().ID() {
				return fmt.Errorf("%w: floor found providers %v", ErrMismatch, ais)
			}
			s, err := f.Network().LibP2P().NewStream(ctx, ais[0].ID, rawProto)
			if err != nil {
				return err
			}
			_, _ = s.Write(t.CID.Bytes())
			_ = s.CloseWrite()
			got, err := io.ReadAll(s)
			_ = s.Close()
			if err != nil || !bytes.Equal(got, want) {
				return fmt.Errorf("%w: floor round trip: %d bytes, %v", ErrMismatch, len(got), err)
			}
			return nil
		}
		fetch := func() error {
			fe, err := f.Network().FetchReceipt(ctx, t.CID)
			if err == nil && !bytes.Equal(fe.Bytes, want) {
				err = fmt.Errorf("%w: FetchReceipt gave %d bytes", ErrMismatch, len(fe.Bytes))
			}
			return err
		}
		provided := f.Network().Stats().Provided
		run := func() error {
			res, err := f.Run(ctx, wf, node.RunOptions{Grant: f.OwnerGrant(wf)})
			if err == nil && (len(res.Events) != 1 || !res.Events[0].Cached || res.Events[0].From == "") {
				err = fmt.Errorf("%w: %s not answered by a peer: %+v", ErrMismatch, t.Name, res.Events)
			}
			return err
		}
		ops := []func() error{floor, fetch, run}
		for j := range ops {
			k := j
			if j < 2 && i%2 == 1 {
				k = 1 - j
			}
			t0 := time.Now()
			if err := ops[k](); err != nil {
				return fetchTimes{}, err
			}
			if i > 0 {
				sum[k] += time.Since(t0)
			}
		}
		if err := waitUntil(30*time.Second, "the fetcher's provide", func() bool { return f.Network().Stats().Provided > provided }); err != nil {
			return fetchTimes{}, err
		}
	}
	n := float64(len(set) - 1)
	mean := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / n }
	return fetchTimes{floor: mean(sum[0]), fetch: mean(sum[1]), node: mean(sum[2])}, nil
}

// waitUntil polls cond every 20 ms until it holds or d passes.
func waitUntil(d time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}
