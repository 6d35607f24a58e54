package ucan

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipvm-go/ipvm/spec"
)

var update = flag.Bool("update", false, "rewrite the committed fuzz seed corpus under testdata/fuzz")

// seedTokens are valid and hostile tokens: the spec fixtures, tokens
// built here (powerline, policies, aud) and a non-canonical re-encoding.
func seedTokens(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	v := loadVectors(t, "invocation.json")
	for _, kind := range []string{"valid", "invalid"} {
		for _, c := range v[kind].([]any) {
			c := c.(map[string]any)
			out = append(out, c["invocation"].([]byte))
			for _, p := range c["proofs"].([]any) {
				out = append(out, p.([]byte))
			}
		}
	}
	alice, bob := testKey(t, "alice"), testKey(t, "bob")
	pol, _ := ParsePolicyJSON([]byte(`[["all", ".params", ["like", ".", "a*"]], ["not", ["==", ".fun?", null]]]`))
	pl, _ := Delegate(alice, bob.DID(), "/wasm", WithNow(testNow), WithPowerline(), WithPolicy(pol))
	inv, _ := Invoke(bob, alice.DID(), "/wasm/run", map[string]any{"fun": "f", "mod": pl.CID}, WithNow(testNow), WithProofs(pl.CID), WithAudience(bob.DID()))
	out = append(out, pl.Bytes(), inv.Bytes())
	if v, err := spec.DecodeCBOR(inv.Bytes(), spec.Limits{}); err == nil {
		out = append(out, reencode(v))
	}
	return out
}

func noPanic(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), "panic") {
		t.Fatalf("recovered panic: %v", err)
	}
}

// FuzzDecodeToken: decoding never panics, and a decoded token's bytes are
// canonical: they decode again to the same token with the same CID.
func FuzzDecodeToken(f *testing.F) {
	for _, s := range seedTokens(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := Decode(b, Limits{})
		noPanic(t, err)
		if err != nil {
			if ErrorName(err) == "" {
				t.Fatalf("unnamed error %v", err)
			}
			return
		}
		again, err := Decode(tok.Bytes(), Limits{})
		if err != nil {
			t.Fatalf("canonical bytes do not decode: %v", err)
		}
		if !again.CID.Equals(tok.CID) || !bytes.Equal(again.Bytes(), tok.Bytes()) {
			t.Fatalf("CID %s then %s", tok.CID, again.CID)
		}
		_ = tok.Verify()
		_ = InspectToken(tok).String()
		if tok.Kind == KindInvocation {
			_, err := Validate(t.Context(), tok, nil, Options{Now: testNow})
			noPanic(t, err)
		}
	})
}

// FuzzContainer: container decoding never panics; a decoded container
// re-encodes to one with the same tokens.
func FuzzContainer(f *testing.F) {
	toks := seedTokens(f)
	var decoded []*Token
	for _, b := range toks {
		if t, err := Decode(b, Limits{}); err == nil {
			decoded = append(decoded, t)
		}
	}
	for i := 0; i+2 <= len(decoded); i += 2 {
		s, err := EncodeContainer(decoded[i : i+2]...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(s))
	}
	f.Add([]byte("@"))
	f.Add([]byte("O"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ctn, err := DecodeContainer(b, Limits{})
		noPanic(t, err)
		if err != nil {
			return
		}
		s, err := EncodeContainer(ctn.Tokens()...)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeContainer([]byte(s), Limits{})
		if err != nil {
			t.Fatalf("re-encoded container: %v", err)
		}
		a, b2 := ctn.Tokens(), again.Tokens()
		if len(a) != len(b2) {
			t.Fatalf("%d tokens, then %d", len(a), len(b2))
		}
		for i := range a {
			if !a[i].CID.Equals(b2[i].CID) {
				t.Fatalf("token %d: %s then %s", i, a[i].CID, b2[i].CID)
			}
		}
		if ctn.Invocation != nil {
			_, err := Validate(t.Context(), ctn.Invocation, ctn.Delegations, Options{Now: testNow})
			noPanic(t, err)
		}
	})
}

// TestFuzzCorpus writes the seed corpus with -update, and otherwise checks
// that it is present.
func TestFuzzCorpus(t *testing.T) {
	targets := map[string][][]byte{"FuzzDecodeToken": seedTokens(t)}
	var ctns [][]byte
	for _, b := range targets["FuzzDecodeToken"][:4] {
		tok, err := Decode(b, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := EncodeContainer(tok)
		ctns = append(ctns, []byte(s))
	}
	targets["FuzzContainer"] = ctns
	for name, seeds := range targets {
		dir := filepath.Join("testdata", "fuzz", name)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for i, s := range seeds {
				body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		ents, err := os.ReadDir(dir)
		if err != nil || len(ents) < len(seeds) {
			t.Fatalf("%s: %d corpus files (%v), want at least %d; run go test -run TestFuzzCorpus -update", name, len(ents), err, len(seeds))
		}
	}
}
