package ucan

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/ucan-wg/go-ucan/token/delegation"

	"github.com/ipvm-go/ipvm/spec"
)

// The attack table (issue 4): each test builds a hostile token or chain
// and checks that validation refuses it for the named reason, without
// panicking. Where go-ucan v1.1.0 alone accepts or panics, the test logs
// what go-ucan does, for the record.

var testNow = time.Unix(1_800_000_000, 0)

// chainOf builds root-first delegations keys[0] → keys[1] → … for cmd on
// keys[0]'s authority, each with the given options.
func chainOf(t testing.TB, cmd string, keys []*Key, opts ...Option) []*Token {
	t.Helper()
	var out []*Token
	for i := 0; i+1 < len(keys); i++ {
		o := append([]Option{WithNow(testNow), WithSubject(keys[0].DID())}, opts...)
		d, err := Delegate(keys[i], keys[i+1].DID(), cmd, o...)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func mustInvoke(t testing.TB, iss *Key, sub, cmd string, args map[string]any, prf []*Token, opts ...Option) *Token {
	t.Helper()
	o := append([]Option{WithNow(testNow), WithProofs(CIDs(prf)...)}, opts...)
	inv, err := Invoke(iss, sub, cmd, args, o...)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func wantName(t *testing.T, err error, name string) {
	t.Helper()
	if got := ErrorName(err); got != name {
		t.Fatalf("error %v has name %q, want %q", err, got, name)
	}
}

func validateAt(inv *Token, proofs []*Token, opts Options) error {
	if opts.Now.IsZero() {
		opts.Now = testNow
	}
	_, err := Validate(context.Background(), inv, proofs, opts)
	return err
}

// TestAttackSelfRootedChain: Mallory roots a chain herself and invokes on
// Alice's authority. go-ucan v1.1.0 compares the chain's subject with the
// invocation's aud when aud is set, so a root Mallory issues for herself
// plus aud = Mallory passes there; here the delegation's subject must be
// the invocation's, and the root must be issued by that subject.
func TestAttackSelfRootedChain(t *testing.T) {
	alice, mallory, mallory2 := testKey(t, "alice"), testKey(t, "mallory"), testKey(t, "mallory2")
	t.Run("root for herself, aud trick", func(t *testing.T) {
		root, err := Delegate(mallory, mallory2.DID(), "/wasm/run", WithNow(testNow))
		if err != nil {
			t.Fatal(err)
		}
		inv := mustInvoke(t, mallory2, alice.DID(), "/wasm/run", nil, []*Token{root}, WithAudience(mallory.DID()))
		err = validateAt(inv, []*Token{root}, Options{Node: mallory.DID()})
		wantName(t, err, NameInvalidSubject)
		logGoUcan(t, inv, root)
	})
	t.Run("root for the victim's subject", func(t *testing.T) {
		root, err := Delegate(mallory, mallory2.DID(), "/wasm/run", WithNow(testNow), WithSubject(alice.DID()))
		if err != nil {
			t.Fatal(err)
		}
		inv := mustInvoke(t, mallory2, alice.DID(), "/wasm/run", nil, []*Token{root})
		wantName(t, validateAt(inv, []*Token{root}, Options{}), NameInvalidSubject)
	})
}

// logGoUcan records what go-ucan's ExecutionAllowed alone says about a
// chain (its panics recovered).
func logGoUcan(t *testing.T, inv *Token, dlgs ...*Token) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Logf("go-ucan ExecutionAllowed panics: %v", r)
		}
	}()
	var dlgb [][]byte
	for _, d := range dlgs {
		dlgb = append(dlgb, d.Bytes())
	}
	t.Logf("go-ucan decoding and ExecutionAllowed alone: %v", goExecutionAllowed(inv.Bytes(), dlgb))
}

// TestAttackForeignSubjectInserted: Bob holds a delegation for Eve's
// subject and splices it into Alice's chain.
func TestAttackForeignSubjectInserted(t *testing.T) {
	alice, bob, carol, eve := testKey(t, "alice"), testKey(t, "bob"), testKey(t, "carol"), testKey(t, "eve")
	a2b := chainOf(t, "/wasm/run", []*Key{alice, bob})[0]
	b2c, err := Delegate(bob, carol.DID(), "/wasm/run", WithNow(testNow), WithSubject(eve.DID()))
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{alice.DID(), eve.DID()} {
		inv := mustInvoke(t, carol, sub, "/wasm/run", nil, []*Token{a2b, b2c})
		wantName(t, validateAt(inv, []*Token{a2b, b2c}, Options{}), NameInvalidSubject)
	}
}

// TestAttackPowerlineRoot: a powerline (explicit "sub": null) as the root
// proves nothing (InvalidClaim) and never panics; off the root it passes
// on the root's authority.
func TestAttackPowerlineRoot(t *testing.T) {
	alice, bob, carol := testKey(t, "alice"), testKey(t, "bob"), testKey(t, "carol")
	pl, err := Delegate(alice, bob.DID(), "/wasm/run", WithNow(testNow), WithPowerline())
	if err != nil {
		t.Fatal(err)
	}
	if p := pl.Payload(); p["sub"] != nil || !pl.IsPowerline() {
		t.Fatalf("powerline payload %v", p)
	}
	if _, present := pl.Payload()["sub"]; !present {
		t.Fatal("powerline has no explicit sub: null")
	}
	if _, _, err := delegation.FromSealed(pl.Bytes()); err != nil {
		t.Logf("go-ucan cannot decode an explicit sub: null: %v", err)
	}
	for _, sub := range []string{alice.DID(), carol.DID()} {
		inv := mustInvoke(t, bob, sub, "/wasm/run", nil, []*Token{pl})
		wantName(t, validateAt(inv, []*Token{pl}, Options{}), NameInvalidClaim)
	}
	// Off the root a powerline carries the root's subject.
	root := chainOf(t, "/wasm/run", []*Key{carol, alice})[0]
	inv := mustInvoke(t, bob, carol.DID(), "/wasm/run", nil, []*Token{root, pl})
	if err := validateAt(inv, []*Token{root, pl}, Options{}); err != nil {
		t.Fatalf("powerline off the root: %v", err)
	}
}

// reencode writes v as DAG-CBOR with every map's keys in reverse canonical
// order: the same data model value, different bytes.
func reencode(v any) []byte {
	var b []byte
	head := func(major byte, n uint64) {
		switch {
		case n < 24:
			b = append(b, major<<5|byte(n))
		case n < 1<<8:
			b = append(b, major<<5|24, byte(n))
		case n < 1<<16:
			b = append(b, major<<5|25, byte(n>>8), byte(n))
		default:
			b = append(b, major<<5|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case nil:
			b = append(b, 0xf6)
		case int64:
			if x >= 0 {
				head(0, uint64(x))
			} else {
				head(1, uint64(-1-x))
			}
		case string:
			head(3, uint64(len(x)))
			b = append(b, x...)
		case []byte:
			head(2, uint64(len(x)))
			b = append(b, x...)
		case cid.Cid:
			b = append(b, 0xd8, 42)
			head(2, uint64(len(x.Bytes())+1))
			b = append(append(b, 0), x.Bytes()...)
		case []any:
			head(4, uint64(len(x)))
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			spec.SortKeys(keys)
			head(5, uint64(len(x)))
			for i := len(keys) - 1; i >= 0; i-- {
				walk(keys[i])
				walk(x[keys[i]])
			}
		default:
			panic(fmt.Sprintf("reencode: %T", v))
		}
	}
	walk(v)
	return b
}

func reencodeToken(t *testing.T, tok *Token) []byte {
	t.Helper()
	v, err := spec.DecodeCBOR(tok.Bytes(), spec.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b := reencode(v)
	if bytes.Equal(b, tok.Bytes()) {
		t.Fatal("re-encoding did not change the bytes")
	}
	if _, err := spec.DecodeCBOR(b, spec.Limits{}); !errors.Is(err, spec.ErrNotCanonical) {
		t.Fatalf("re-encoded token is not rejected as non-canonical by the strict decoder: %v", err)
	}
	return b
}

// TestAttackReencodedToken: the same tokens re-encoded with map keys in
// another order keep their authority and their CID (taken over the
// canonical bytes), so replay and revocation still catch them.
func TestAttackReencodedToken(t *testing.T) {
	alice, bob := testKey(t, "alice"), testKey(t, "bob")
	dlg := chainOf(t, "/wasm/run", []*Key{alice, bob})[0]
	inv := mustInvoke(t, bob, alice.DID(), "/wasm/run", map[string]any{"fun": "f", "mod": dlg.CID}, []*Token{dlg})

	inv2, err := Decode(reencodeToken(t, inv), Limits{})
	if err != nil {
		t.Fatalf("decode re-encoded invocation: %v", err)
	}
	dlg2, err := Decode(reencodeToken(t, dlg), Limits{})
	if err != nil {
		t.Fatalf("decode re-encoded delegation: %v", err)
	}
	if !inv2.CID.Equals(inv.CID) || !dlg2.CID.Equals(dlg.CID) || !bytes.Equal(inv2.Bytes(), inv.Bytes()) {
		t.Fatalf("re-encoded CIDs %s %s, want %s %s", inv2.CID, dlg2.CID, inv.CID, dlg.CID)
	}
	replay := newMemReplay()
	if err := validateAt(inv2, []*Token{dlg2}, Options{Replay: replay}); err != nil {
		t.Fatalf("re-encoded chain lost its authority: %v", err)
	}
	wantName(t, validateAt(inv, []*Token{dlg}, Options{Replay: replay}), NameReplayed)
	wantName(t, validateAt(inv2, []*Token{dlg2}, Options{Replay: replay}), NameReplayed)

	// Revoking the canonical CID revokes the re-encoded delegation.
	fresh := mustInvoke(t, bob, alice.DID(), "/wasm/run", nil, []*Token{dlg})
	wantName(t, validateAt(fresh, []*Token{dlg2}, Options{Revocations: memRevocations{dlg.CID: true}}), NameRevoked)
}

// TestAttackTenThousandProofs: 10 000 proofs are refused by size (the
// token) and by count (with the size cap raised), in a token or a
// container, quickly and without resolving any of them.
func TestAttackTenThousandProofs(t *testing.T) {
	alice, bob := testKey(t, "alice"), testKey(t, "bob")
	prf := make([]cid.Cid, 10_000)
	for i := range prf {
		prf[i] = spec.SumCBOR([]byte(fmt.Sprint(i)))
	}
	if _, err := Invoke(bob, alice.DID(), "/wasm/run", nil, WithProofs(prf...)); ErrorName(err) != NameTooLarge {
		t.Fatalf("Invoke with 10 000 proofs: %v, want TooLarge", err)
	}
	list := make([]any, len(prf))
	for i, c := range prf {
		list[i] = c
	}
	raw := sealRaw(t, bob, TagInvocation, map[string]any{
		"iss": bob.DID(), "sub": alice.DID(), "cmd": "/wasm/run", "args": map[string]any{},
		"prf": list, "nonce": []byte{1}, "exp": nil,
	})
	_, err := Decode(raw, Limits{})
	wantName(t, err, NameTooLarge)
	inv, err := Decode(raw, Limits{MaxTokenBytes: len(raw)})
	if err != nil {
		t.Fatal(err)
	}
	wantName(t, validateAt(inv, nil, Options{}), NameTooLarge)

	// A container of 10 000 small tokens.
	small := chainOf(t, "/wasm/run", []*Key{alice, bob})[0]
	toks := make([]*Token, 10_000)
	for i := range toks {
		toks[i] = small
	}
	s, err := EncodeContainer(toks...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = DecodeContainer([]byte(s), Limits{MaxContainerBytes: len(s)})
	wantName(t, err, NameTooLarge)
}

// sealRaw signs a payload as is, bypassing the builders' checks.
func sealRaw(t testing.TB, k *Key, tag string, payload map[string]any) []byte {
	t.Helper()
	sp := map[string]any{varsigHeaderKey: varsigEd25519, tag: payload}
	signed, err := spec.EncodeCBOR(sp)
	if err != nil {
		t.Fatal(err)
	}
	b, err := spec.EncodeCBOR([]any{k.Sign(signed), sp})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAttackFiftyMBContainer: a 50 MB container is refused before it is
// decoded, and so is a small gzip container that inflates to 50 MB.
func TestAttackFiftyMBContainer(t *testing.T) {
	big := make([]byte, 50<<20)
	big[0] = ctnBase64
	for i := 1; i < len(big); i++ {
		big[i] = 'A'
	}
	_, err := DecodeContainer(big, Limits{})
	wantName(t, err, NameTooLarge)
	_, err = ReadTokens(big, Limits{})
	wantName(t, err, NameTooLarge)

	var zb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zb, gzip.BestCompression)
	zw.Write(make([]byte, 50<<20))
	zw.Close()
	bomb := append([]byte{ctnBase64Gzip}, base64.StdEncoding.EncodeToString(zb.Bytes())...)
	if len(bomb) > DefaultLimits.MaxContainerBytes {
		t.Fatalf("bomb of %d bytes is not under the input cap", len(bomb))
	}
	_, err = DecodeContainer(bomb, Limits{})
	wantName(t, err, NameTooLarge)
}

// TestAttackExpiredMiddleLink: a chain whose middle delegation expired is
// Expired, even though the root and the leaf are fresh; the skew is 60 s
// either way.
func TestAttackExpiredMiddleLink(t *testing.T) {
	keys := []*Key{testKey(t, "alice"), testKey(t, "bob"), testKey(t, "carol"), testKey(t, "dave")}
	chain := chainOf(t, "/wasm/run", keys[:2])
	mid, err := Delegate(keys[1], keys[2].DID(), "/wasm/run", WithSubject(keys[0].DID()), WithExpiration(testNow.Add(-time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	chain = append(chain, mid)
	chain = append(chain, chainOf(t, "/wasm/run", []*Key{keys[2], keys[3]}, WithSubject(keys[0].DID()))...)
	inv := mustInvoke(t, keys[3], keys[0].DID(), "/wasm/run", nil, chain)
	wantName(t, validateAt(inv, chain, Options{}), NameExpired)

	// Within the skew it is still valid; past it, not.
	edge, _ := Delegate(keys[1], keys[2].DID(), "/wasm/run", WithSubject(keys[0].DID()), WithExpiration(testNow.Add(-59*time.Second)))
	chain[1] = edge
	inv = mustInvoke(t, keys[3], keys[0].DID(), "/wasm/run", nil, chain)
	if err := validateAt(inv, chain, Options{}); err != nil {
		t.Fatalf("expired 59 s ago, inside the skew: %v", err)
	}
	wantName(t, validateAt(inv, chain, Options{Skew: -1}), NameExpired)
}

// TestAttackMisalignedAudience: a proof addressed to someone other than
// the next issuer breaks the chain (InvalidAudience), in either proof
// order.
func TestAttackMisalignedAudience(t *testing.T) {
	alice, bob, carol, dave := testKey(t, "alice"), testKey(t, "bob"), testKey(t, "carol"), testKey(t, "dave")
	a2b := chainOf(t, "/wasm/run", []*Key{alice, bob})[0]
	c2d, err := Delegate(carol, dave.DID(), "/wasm/run", WithNow(testNow), WithSubject(alice.DID()))
	if err != nil {
		t.Fatal(err)
	}
	for _, order := range [][]*Token{{a2b, c2d}, {c2d, a2b}} {
		inv := mustInvoke(t, dave, alice.DID(), "/wasm/run", nil, order)
		wantName(t, validateAt(inv, order, Options{}), NameInvalidAudience)
	}
}

// TestAttackReplay: the same invocation presented twice is Replayed the
// second time, for a task invocation and for a workflow invocation; a
// refused invocation is not remembered.
func TestAttackReplay(t *testing.T) {
	alice, bob := testKey(t, "alice"), testKey(t, "bob")
	dlg := chainOf(t, "/wasm/run", []*Key{alice, bob})
	inv := mustInvoke(t, bob, alice.DID(), "/wasm/run", nil, dlg)
	replay := newMemReplay()
	if err := validateAt(inv, dlg, Options{Replay: replay}); err != nil {
		t.Fatal(err)
	}
	wantName(t, validateAt(inv, dlg, Options{Replay: replay}), NameReplayed)
	if exp := replay.seen[inv.CID]; exp.Unix() != *inv.Exp+60 {
		t.Errorf("replay remembered until %v, want exp + skew", exp)
	}

	wf := spec.SumCBOR([]byte("workflow"))
	winv, err := InvokeWorkflow(bob, alice.DID(), wf, WithNow(testNow), WithProofs(CIDs(dlg)...))
	if err != nil {
		t.Fatal(err)
	}
	rev := memRevocations{dlg[0].CID: true}
	_, err = ValidateWorkflow(context.Background(), winv, dlg, wf, Options{Now: testNow, Replay: replay, Revocations: rev})
	wantName(t, err, NameRevoked)
	delete(rev, dlg[0].CID)
	if _, err := ValidateWorkflow(context.Background(), winv, dlg, wf, Options{Now: testNow, Replay: replay, Revocations: rev}); err != nil {
		t.Fatalf("first presentation after a refusal: %v", err)
	}
	_, err = ValidateWorkflow(context.Background(), winv, dlg, wf, Options{Now: testNow, Replay: replay})
	wantName(t, err, NameReplayed)
}

// TestAttackRevokedDelegation: a revoked delegation anywhere in the chain
// refuses the invocation.
func TestAttackRevokedDelegation(t *testing.T) {
	keys := []*Key{testKey(t, "alice"), testKey(t, "bob"), testKey(t, "carol"), testKey(t, "dave")}
	chain := chainOf(t, "/wasm/run", keys)
	inv := mustInvoke(t, keys[3], keys[0].DID(), "/wasm/run", nil, chain)
	if err := validateAt(inv, chain, Options{Revocations: memRevocations{}}); err != nil {
		t.Fatal(err)
	}
	for i, d := range chain {
		t.Run(fmt.Sprint("link ", i), func(t *testing.T) {
			wantName(t, validateAt(inv, chain, Options{Revocations: memRevocations{d.CID: true}}), NameRevoked)
		})
	}
	failing := errRevocations{}
	if err := validateAt(inv, chain, Options{Revocations: failing}); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("store error not surfaced: %v", err)
	}
}

type errRevocations struct{}

func (errRevocations) Revoked(context.Context, cid.Cid) (bool, error) {
	return false, errors.New("disk on fire")
}

// TestInvocationAudience: an invocation addressed to another node, or to
// any node when this one has no DID configured, is InvalidAudience; one
// addressed to this node or to none passes.
func TestInvocationAudience(t *testing.T) {
	alice, node, other := testKey(t, "alice"), testKey(t, "node"), testKey(t, "other")
	to := func(aud string) *Token {
		if aud == "" {
			return mustInvoke(t, alice, alice.DID(), "/wasm/run", nil, nil)
		}
		return mustInvoke(t, alice, alice.DID(), "/wasm/run", nil, nil, WithAudience(aud))
	}
	wantName(t, validateAt(to(other.DID()), nil, Options{Node: node.DID()}), NameInvalidAudience)
	wantName(t, validateAt(to(node.DID()), nil, Options{}), NameInvalidAudience)
	for _, inv := range []*Token{to(node.DID()), to("")} {
		if err := validateAt(inv, nil, Options{Node: node.DID()}); err != nil {
			t.Errorf("aud %q: %v", inv.Audience, err)
		}
	}
}
