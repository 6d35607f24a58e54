package ucan

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	didit "github.com/MetaMask/go-did-it"
	didcrypto "github.com/MetaMask/go-did-it/crypto/ed25519"
	_ "github.com/MetaMask/go-did-it/verifiers/did-key" // registers did:key for go-ucan
	"github.com/ipfs/go-cid"
	"github.com/ucan-wg/go-ucan/pkg/command"
	"github.com/ucan-wg/go-ucan/pkg/container"
	gopolicy "github.com/ucan-wg/go-ucan/pkg/policy"
	"github.com/ucan-wg/go-ucan/pkg/policy/literal"
	"github.com/ucan-wg/go-ucan/token/delegation"
	"github.com/ucan-wg/go-ucan/token/invocation"
)

// testKey derives a deterministic key from a name.
func testKey(t testing.TB, name string) *Key {
	t.Helper()
	seed := sha256.Sum256([]byte("ipvm ucan test " + name))
	k, err := NewKey(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// goKey is the go-ucan (go-did-it) form of k.
func goKey(t testing.TB, k *Key) didcrypto.PrivateKey {
	t.Helper()
	p, err := didcrypto.PrivateKeyFromSeed(k.Seed())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func goDID(t testing.TB, s string) didit.DID {
	t.Helper()
	d, err := didit.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestGoUcanDecodesOurTokens: tokens built by Delegate and Invoke are
// standard UCAN 1.0 envelopes that go-ucan decodes, verifies and gives
// the same CID.
func TestGoUcanDecodesOurTokens(t *testing.T) {
	alice, bob := testKey(t, "alice"), testKey(t, "bob")
	now := time.Unix(1_800_000_000, 0)
	pol, err := ParsePolicyJSON([]byte(`[["==", ".fun", "add"], ["any", ".params", [">", ".", 1]]]`))
	if err != nil {
		t.Fatal(err)
	}
	dlg, err := Delegate(alice, bob.DID(), "/wasm/run", WithPolicy(pol), WithNow(now), WithTTL(time.Hour), WithNotBefore(now.Add(-time.Minute)), WithMeta(map[string]any{"note": "hi"}))
	if err != nil {
		t.Fatal(err)
	}
	gd, gc, err := delegation.FromSealed(dlg.Bytes())
	if err != nil {
		t.Fatalf("go-ucan decode delegation: %v", err)
	}
	if !gc.Equals(dlg.CID) || gd.Issuer().String() != alice.DID() || gd.Audience().String() != bob.DID() ||
		gd.Subject().String() != alice.DID() || gd.Command().String() != "/wasm/run" || len(gd.Policy()) != 2 ||
		gd.Expiration().Unix() != now.Add(time.Hour).Unix() {
		t.Errorf("go-ucan sees %s (cid %s), want ours %s", gd, gc, dlg.CID)
	}

	inv, err := Invoke(bob, alice.DID(), "/wasm/run", map[string]any{"fun": "add", "params": []any{int64(1), int64(2)}},
		WithProofs(dlg.CID), WithAudience(testKey(t, "node").DID()), WithNow(now), WithMeta(map[string]any{"fuel": int64(1000)}))
	if err != nil {
		t.Fatal(err)
	}
	gi, gc, err := invocation.FromSealed(inv.Bytes())
	if err != nil {
		t.Fatalf("go-ucan decode invocation: %v", err)
	}
	if !gc.Equals(inv.CID) || gi.Issuer().String() != bob.DID() || gi.Subject().String() != alice.DID() ||
		gi.Audience().String() != testKey(t, "node").DID() || len(gi.Proof()) != 1 || !gi.Proof()[0].Equals(dlg.CID) {
		t.Errorf("go-ucan sees %s (cid %s), want ours %s", gi, gc, inv.CID)
	}
}

// goChain builds with go-ucan a 3-deep chain alice → bob → carol → dave
// for /wasm/run on alice, and dave's invocation, proofs leaf first (go-ucan's
// order).
func goChain(t testing.TB) (inv []byte, dlgs [][]byte) {
	t.Helper()
	keys := []*Key{testKey(t, "alice"), testKey(t, "bob"), testKey(t, "carol"), testKey(t, "dave")}
	cmd := command.MustParse("/wasm/run")
	pol := gopolicy.MustConstruct(gopolicy.Equal(".fun", literal.String("add")))
	var prf []cid.Cid
	for i := 0; i < 3; i++ {
		d, err := delegation.New(goDID(t, keys[i].DID()), goDID(t, keys[i+1].DID()), cmd, pol, goDID(t, keys[0].DID()),
			delegation.WithExpirationIn(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		b, c, err := d.ToSealed(goKey(t, keys[i]))
		if err != nil {
			t.Fatal(err)
		}
		dlgs = append(dlgs, b)
		prf = append([]cid.Cid{c}, prf...)
	}
	i, err := invocation.New(goDID(t, keys[3].DID()), cmd, goDID(t, keys[0].DID()), prf,
		invocation.WithArgument("fun", "add"), invocation.WithExpirationIn(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	inv, _, err = i.ToSealed(goKey(t, keys[3]))
	if err != nil {
		t.Fatal(err)
	}
	return inv, dlgs
}

// TestValidateGoUcanChain: a chain go-ucan built (leaf-first proofs)
// decodes and validates here, and go-ucan's own check agrees.
func TestValidateGoUcanChain(t *testing.T) {
	invb, dlgb := goChain(t)
	inv, err := Decode(invb, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var proofs []*Token
	for _, b := range dlgb {
		d, err := Decode(b, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		proofs = append(proofs, d)
	}
	c, err := Validate(context.Background(), inv, proofs, Options{})
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if len(c.Delegations) != 3 || c.Delegations[0].Issuer != testKey(t, "alice").DID() {
		t.Errorf("chain not reordered root first: %v", c.Delegations)
	}
	if err := goExecutionAllowed(invb, dlgb); err != nil {
		t.Errorf("go-ucan ExecutionAllowed: %v", err)
	}
}

// goExecutionAllowed decodes a chain with go-ucan and runs its own check.
func goExecutionAllowed(invb []byte, dlgb [][]byte) error {
	gi, _, err := invocation.FromSealed(invb)
	if err != nil {
		return err
	}
	l := loaderMap{}
	for _, b := range dlgb {
		d, c, err := delegation.FromSealed(b)
		if err != nil {
			return err
		}
		l[c] = d
	}
	return gi.ExecutionAllowed(l)
}

type loaderMap map[cid.Cid]*delegation.Token

func (l loaderMap) GetDelegation(c cid.Cid) (*delegation.Token, error) {
	if d, ok := l[c]; ok {
		return d, nil
	}
	return nil, delegation.ErrDelegationNotFound
}

// TestContainerInterop: our container is read by go-ucan's reader, and
// go-ucan's containers in every form are read by ours.
func TestContainerInterop(t *testing.T) {
	invb, dlgb := goChain(t)
	inv, _ := Decode(invb, Limits{})
	var toks []*Token
	for _, b := range dlgb {
		d, _ := Decode(b, Limits{})
		toks = append(toks, d)
	}
	s, err := EncodeContainer(append([]*Token{inv}, toks...)...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := container.FromString(s)
	if err != nil {
		t.Fatalf("go-ucan reads our container: %v", err)
	}
	if gi, err := r.GetInvocation(); err != nil || gi.Issuer().String() != inv.Issuer {
		t.Errorf("go-ucan GetInvocation: %v", err)
	}

	w := container.NewWriter()
	w.AddSealed(invb)
	for _, b := range dlgb {
		w.AddSealed(b)
	}
	forms := map[string]func() ([]byte, error){
		"raw":          w.ToBytes,
		"raw gzip":     w.ToBytesGzipped,
		"base64":       func() ([]byte, error) { s, err := w.ToBase64StdPadding(); return []byte(s), err },
		"base64 gzip":  func() ([]byte, error) { s, err := w.ToBase64StdPaddingGzipped(); return []byte(s), err },
		"base64url":    func() ([]byte, error) { s, err := w.ToBase64URL(); return []byte(s), err },
		"base64url gz": func() ([]byte, error) { s, err := w.ToBase64URLGzipped(); return []byte(s), err },
	}
	for name, f := range forms {
		t.Run(name, func(t *testing.T) {
			b, err := f()
			if err != nil {
				t.Fatal(err)
			}
			ctn, err := DecodeContainer(b, Limits{})
			if err != nil {
				t.Fatalf("DecodeContainer: %v", err)
			}
			if ctn.Invocation == nil || !ctn.Invocation.CID.Equals(inv.CID) || len(ctn.Delegations) != 3 {
				t.Fatalf("container = %+v", ctn)
			}
			if _, err := Validate(context.Background(), ctn.Invocation, ctn.Delegations, Options{}); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}
