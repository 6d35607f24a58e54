package node

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/invocation"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/ucan"
)

// TestOffers: B's signed offer reaches A through the DHT (B provides the
// capability CID of /wasm/run) and carries B's labels, its load and the
// blobs it holds with their sizes; A verifies it.
func TestOffers(t *testing.T) {
	nodes := clusterWith(t, 2, func(i int, c *Config, _ []string) {
		if i == 1 {
			c.Labels = map[string]string{"region": "eu"}
		}
	})
	a, b := nodes[0], nodes[1]
	ctx := context.Background()
	blob := randomBlob(t, b, 3000)
	waitHolders(t, a, CapabilityCID(invocation.CmdWasmRun))

	all, err := a.Offers(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if all.Self.DID != a.DID() || len(all.Peers) != 1 {
		t.Fatalf("offers %+v", all)
	}
	o := all.Peers[0]
	if o.DID != b.DID() || o.Peer != b.Network().ID().String() || o.Labels["region"] != "eu" ||
		len(o.Commands) != 1 || o.Commands[0] != invocation.CmdWasmRun || o.Workers < 1 || !o.Expires.After(time.Now()) {
		t.Fatalf("B's offer %+v", o)
	}
	if size, ok := o.Holds(blob); !ok || size != 3000 {
		t.Fatalf("B's offer does not list its blob: %+v", o.Blobs)
	}
	one, err := a.Offers(ctx, b.Network().ID().String())
	if err != nil || len(one.Peers) != 1 || one.Peers[0].DID != b.DID() {
		t.Fatalf("offers --peer: %v %+v", err, one)
	}
	// A blob B holds but did not list is reported when asked about.
	other := randomBlob(t, a, 10)
	o2, err := a.PeerOffer(ctx, b.Network().ID(), []cid.Cid{other, blob})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := o2.Holds(other); ok {
		t.Fatal("B claims a blob it lacks")
	}
}

// TestVerifyOffer: a signed offer verifies only unchanged, signed by the
// serving peer's key, within its validity.
func TestVerifyOffer(t *testing.T) {
	k, err := ucan.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := ucan.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	offer := Offer{Peer: "12D3KooWtest", Commands: []string{invocation.CmdWasmRun}, Workers: 2, Labels: map[string]string{"region": "eu"},
		Limits: Limits{Memory: 1 << 20, Time: Duration(time.Second)}, Issued: now, Expires: now.Add(OfferTTL)}
	good, err := SignOffer(k, offer)
	if err != nil {
		t.Fatal(err)
	}
	o, err := VerifyOffer(good, k.DID(), now)
	if err != nil {
		t.Fatal(err)
	}
	if o.DID != k.DID() || o.Labels["region"] != "eu" || o.Limits.Time.D() != time.Second || !o.Expires.Equal(offer.Expires) {
		t.Fatalf("round trip: %+v", o)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-80] ^= 1
	byOther, _ := SignOffer(other, offer)
	expired := offer
	expired.Issued, expired.Expires = now.Add(-2*OfferTTL), now.Add(-OfferTTL)
	expiredB, _ := SignOffer(k, expired)
	future := offer
	future.Issued, future.Expires = now.Add(time.Hour), now.Add(2*time.Hour)
	futureB, _ := SignOffer(k, future)
	notEnv, _ := spec.EncodeCBOR(map[string]any{"payload": []byte{1}})
	for _, tc := range []struct {
		name string
		b    []byte
		did  string
		want error
	}{
		{"tampered", flipped, k.DID(), ErrBadOffer},
		{"signed by another key", byOther, k.DID(), ErrBadOffer},
		{"expired", expiredB, k.DID(), ErrOfferExpired},
		{"issued in the future", futureB, k.DID(), ErrBadOffer},
		{"not an envelope", notEnv, k.DID(), ErrBadOffer},
		{"truncated", good[:len(good)/2], k.DID(), ErrBadOffer},
		{"empty", nil, k.DID(), ErrBadOffer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := VerifyOffer(tc.b, tc.did, now); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzVerifyOffer: the offer decoder never panics and accepts only what
// it can re-sign identically.
func FuzzVerifyOffer(f *testing.F) {
	k, err := ucan.NewKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	good, err := SignOffer(k, Offer{Peer: "p", Commands: []string{invocation.CmdWasmRun}, Issued: now, Expires: now.Add(OfferTTL)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := VerifyOffer(b, "", now)
		if err != nil {
			return
		}
		if _, err := SignOffer(k, o); err != nil {
			t.Fatalf("a verified offer does not re-encode: %v", err)
		}
	})
}

// FuzzInvokeRequest: the invoke request decoder never panics, and what it
// accepts re-encodes.
func FuzzInvokeRequest(f *testing.F) {
	req := &invokeRequest{inv: []byte{1}, wf: map[string]any{"name": "x", "tasks": []any{}}, name: "t",
		task: map[string]any{"cmd": invocation.CmdWasmRun}, args: map[string]any{"fun": "f"}}
	b, err := req.encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeInvokeRequest(b)
		if err != nil {
			return
		}
		if _, err := r.encode(); err != nil {
			t.Fatalf("an accepted request does not re-encode: %v", err)
		}
	})
}
