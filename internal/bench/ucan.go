package bench

import (
	"context"
	"crypto/sha256"
	"time"

	didit "github.com/MetaMask/go-did-it"
	didcrypto "github.com/MetaMask/go-did-it/crypto/ed25519"
	_ "github.com/MetaMask/go-did-it/verifiers/did-key" // registers did:key for go-ucan
	"github.com/ipfs/go-cid"
	"github.com/ucan-wg/go-ucan/pkg/command"
	gopolicy "github.com/ucan-wg/go-ucan/pkg/policy"
	"github.com/ucan-wg/go-ucan/pkg/policy/literal"
	"github.com/ucan-wg/go-ucan/token/delegation"
	goinv "github.com/ucan-wg/go-ucan/token/invocation"

	"github.com/ipvm-go/ipvm/ucan"
)

// UCAN measures authorization (issue 4): our decode and validation of an
// invocation with a 3-deep delegation chain (alice → bob → carol → dave, a
// policy on each link) vs go-ucan's bare decode and signature check
// (FromSealed) of the same four tokens, interleaved, in process CPU time.
// Goal ≤ 1.2×.
func UCAN(c Config) ([]Metric, error) {
	invb, dlgb, err := goChain()
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	ours := func() error {
		inv, err := ucan.Decode(invb, ucan.Limits{})
		if err != nil {
			return err
		}
		proofs := make([]*ucan.Token, len(dlgb))
		for i, d := range dlgb {
			if proofs[i], err = ucan.Decode(d, ucan.Limits{}); err != nil {
				return err
			}
		}
		_, err = ucan.Validate(ctx, inv, proofs, ucan.Options{})
		return err
	}
	floor := func() error {
		if _, _, err := goinv.FromSealed(invb); err != nil {
			return err
		}
		for _, d := range dlgb {
			if _, _, err := delegation.FromSealed(d); err != nil {
				return err
			}
		}
		return nil
	}
	ns, err := interleave(cpuClock, c.pick(10, 2), c.pick(30, 5), ours, floor)
	if err != nil {
		return nil, err
	}
	return []Metric{
		atMost("ucan_chain3_validate_vs_goucan_decode_verify", "cpu-ns/op", ns[0], ns[1], 1.2,
			"decode 4 tokens + Validate (signatures, principals, subjects, time, commands, policies) vs go-ucan FromSealed of the same 4 tokens"),
	}, nil
}

// goChain builds with go-ucan a 3-deep chain alice → bob → carol → dave
// for /wasm/run on alice, with a policy on each delegation, and dave's
// invocation; proofs leaf first (go-ucan's order).
func goChain() (inv []byte, dlgs [][]byte, err error) {
	var priv []didcrypto.PrivateKey
	var dids []didit.DID
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		seed := sha256.Sum256([]byte("ipvm bench " + name))
		k, err := ucan.NewKey(seed[:])
		if err != nil {
			return nil, nil, err
		}
		p, err := didcrypto.PrivateKeyFromSeed(k.Seed())
		if err != nil {
			return nil, nil, err
		}
		d, err := didit.Parse(k.DID())
		if err != nil {
			return nil, nil, err
		}
		priv, dids = append(priv, p), append(dids, d)
	}
	cmd, err := command.Parse("/wasm/run")
	if err != nil {
		return nil, nil, err
	}
	pol, err := gopolicy.Construct(gopolicy.Equal(".fun", literal.String("add")))
	if err != nil {
		return nil, nil, err
	}
	var prf []cid.Cid
	for i := range 3 {
		d, err := delegation.New(dids[i], dids[i+1], cmd, pol, dids[0], delegation.WithExpirationIn(time.Hour))
		if err != nil {
			return nil, nil, err
		}
		b, c, err := d.ToSealed(priv[i])
		if err != nil {
			return nil, nil, err
		}
		dlgs = append(dlgs, b)
		prf = append([]cid.Cid{c}, prf...)
	}
	i, err := goinv.New(dids[3], cmd, dids[0], prf, goinv.WithArgument("fun", "add"), goinv.WithExpirationIn(time.Hour))
	if err != nil {
		return nil, nil, err
	}
	if inv, _, err = i.ToSealed(priv[3]); err != nil {
		return nil, nil, err
	}
	return inv, dlgs, nil
}
