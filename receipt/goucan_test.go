package receipt

import (
	"bytes"
	"testing"
	"time"

	didit "github.com/MetaMask/go-did-it"
	"github.com/MetaMask/go-did-it/crypto"
	dided25519 "github.com/MetaMask/go-did-it/crypto/ed25519"
	_ "github.com/MetaMask/go-did-it/verifiers/did-key"
	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/ucan-wg/go-ucan/pkg/command"
	"github.com/ucan-wg/go-ucan/token/invocation"
	"github.com/ucan-wg/go-varsig"

	"github.com/ipvm-go/ipvm/spec"
)

// TestVarsigHeaderIsGoDidIts checks our constant header against the one
// go-did-it's Ed25519 keys produce for a DAG-CBOR payload (what go-ucan
// writes and expects).
// Spec: §4.2
func TestVarsigHeaderIsGoDidIts(t *testing.T) {
	priv, err := dided25519.PrivateKeyFromSeed(testKey(t, "executor").Seed())
	if err != nil {
		t.Fatal(err)
	}
	got := priv.Varsig(crypto.WithPayloadEncoding(varsig.PayloadEncodingDAGCBOR)).Encode()
	if !bytes.Equal(got, VarsigHeader) {
		t.Fatalf("go-did-it header %x, ours %x", got, VarsigHeader)
	}
	if invocation.Tag != Tag {
		t.Fatalf("go-ucan invocation tag %q, ours %q", invocation.Tag, Tag)
	}
}

// TestGoUCANReadsOurReceipts decodes our receipts with go-ucan's public
// API, which also verifies the signature, and checks every field.
// Spec: §4.2
func TestGoUCANReadsOurReceipts(t *testing.T) {
	k := testKey(t, "executor")
	ran, inv := testCID(t, "task"), testCID(t, "invocation")
	cases := []Receipt{
		{Ran: ran, Inv: inv, Out: spec.OK(int64(2)), Nonce: fixedNonce},
		{Ran: ran, Out: spec.Fail(spec.Failf(spec.ErrNameTimeout, "ran past 100ms")), Nonce: fixedNonce},
		{Ran: ran, Out: spec.OK(nil), Nonce: fixedNonce},
		{Ran: ran, Out: spec.OK([]any{nil, map[string]any{"x": nil}}), Meta: map[string]any{}, Nonce: fixedNonce},
		{Ran: ran, Inv: inv, Out: spec.OK(map[string]any{"img": []byte{1, 2, 3}, "l": ran}), Fx: []cid.Cid{inv},
			Meta: map[string]any{"fuel": int64(99), "on": "peer"}, Iat: 1_700_000_000, Exp: 1_900_000_000},
	}
	for i, r := range cases {
		s, err := Issue(k, r)
		if err != nil {
			t.Fatal(err)
		}
		tok, id, err := invocation.FromSealed(s.Bytes())
		if err != nil {
			t.Fatalf("case %d: go-ucan refuses our receipt: %v", i, err)
		}
		if !id.Equals(s.CID()) {
			t.Fatalf("case %d: go-ucan CID %s, ours %s", i, id, s.CID())
		}
		if tok.Issuer().String() != k.DID() || tok.Subject().String() != k.DID() {
			t.Fatalf("case %d: iss %s sub %s", i, tok.Issuer(), tok.Subject())
		}
		if tok.Command().String() != Cmd {
			t.Fatalf("case %d: cmd %s", i, tok.Command())
		}
		if !bytes.Equal(tok.Nonce(), s.Nonce) {
			t.Fatalf("case %d: nonce %x", i, tok.Nonce())
		}
		ranNode, err := tok.Arguments().GetNode("ran")
		if err != nil {
			t.Fatal(err)
		}
		l, err := ranNode.AsLink()
		if err != nil || l.String() != ran.String() {
			t.Fatalf("case %d: args.ran %v (%v)", i, l, err)
		}
		if r.Iat != 0 && tok.IssuedAt().Unix() != r.Iat {
			t.Fatalf("case %d: iat %v", i, tok.IssuedAt())
		}
		if r.Exp != 0 && tok.Expiration().Unix() != r.Exp {
			t.Fatalf("case %d: exp %v", i, tok.Expiration())
		}
		if r.Exp == 0 && tok.Expiration() != nil {
			t.Fatalf("case %d: exp %v, want none", i, tok.Expiration())
		}

		// go-ucan must refuse the same bytes with one signature bit flipped,
		// or the test above would prove nothing.
		bad := bytes.Clone(s.Bytes())
		bad[10] ^= 1
		if _, _, err := invocation.FromSealed(bad); err == nil {
			t.Fatalf("case %d: go-ucan accepts a corrupted signature", i)
		}
	}
}

// TestWeReadGoUCANReceipts builds a receipt with go-ucan's own encoder and
// checks that Decode and Verify accept it and read the same fields.
// Spec: §4.2
func TestWeReadGoUCANReceipts(t *testing.T) {
	k := testKey(t, "executor")
	priv, err := dided25519.PrivateKeyFromSeed(k.Seed())
	if err != nil {
		t.Fatal(err)
	}
	iss, err := didit.Parse(k.DID())
	if err != nil {
		t.Fatal(err)
	}
	ran, inv := testCID(t, "task"), testCID(t, "invocation")
	out := spec.OK(map[string]any{"n": int64(7)})
	outNode := toNode(t, out.IPLD())
	tok, err := invocation.New(iss, command.MustParse(Cmd), iss, []cid.Cid{},
		invocation.WithArgument("ran", ran),
		invocation.WithArgument("inv", inv),
		invocation.WithArgument("out", outNode),
		invocation.WithArgument("fx", toNode(t, []any{})),
		invocation.WithNonce(fixedNonce),
		invocation.WithIssuedAt(time.Unix(1_700_000_000, 0)),
		invocation.WithMeta("fuel", int64(5)),
	)
	if err != nil {
		t.Fatal(err)
	}
	b, id, err := tok.ToSealed(priv)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Decode(b)
	if err != nil {
		t.Fatalf("we refuse go-ucan's receipt: %v\n%x", err, b)
	}
	if err := s.Verify(ran); err != nil {
		t.Fatal(err)
	}
	if !s.CID().Equals(id) {
		t.Fatalf("CID %s, go-ucan's %s", s.CID(), id)
	}
	want := Receipt{Iss: k.DID(), Ran: ran, Inv: inv, Out: out, Meta: map[string]any{"fuel": int64(5)},
		Nonce: fixedNonce, Iat: 1_700_000_000}
	assertSameReceipt(t, s.Receipt, want)
	// And our encoder, given the same fields, writes go-ucan's bytes.
	ours, err := Issue(k, s.Receipt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours.Bytes(), b) {
		t.Fatalf("our bytes differ from go-ucan's\nours %x\ntheirs %x", ours.Bytes(), b)
	}
}

func toNode(t *testing.T, v any) any {
	t.Helper()
	b, err := spec.EncodeCBOR(v)
	if err != nil {
		t.Fatal(err)
	}
	nb := basicnode.Prototype.Any.NewBuilder()
	if err := dagcbor.Decode(nb, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	return nb.Build()
}

// TestGoUCANLimits pins the two receipts we accept that go-ucan v1.1.0
// refuses (SPEC §4.2): an integer past 2^53-1 in out, and a top-level
// null in meta. If go-ucan starts accepting them, the spec can drop the
// caveat.
// Spec: §4.2
func TestGoUCANLimits(t *testing.T) {
	k := testKey(t, "executor")
	ran := testCID(t, "task")
	for name, r := range map[string]Receipt{
		"int past 2^53 in out": {Ran: ran, Out: spec.OK(int64(1) << 60), Nonce: fixedNonce},
		"null in meta":         {Ran: ran, Out: spec.OK(int64(1)), Meta: map[string]any{"x": nil}, Nonce: fixedNonce},
	} {
		s, err := Issue(k, r)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Decode(s.Bytes())
		if err != nil {
			t.Fatalf("%s: we refuse: %v", name, err)
		}
		if err := d.Verify(ran); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, _, err := invocation.FromSealed(s.Bytes()); err == nil {
			t.Errorf("%s: go-ucan now accepts it; update SPEC §4.2", name)
		}
	}
}
