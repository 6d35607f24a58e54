package ucan

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipvm-go/ipvm/spec"
)

// vectorsDir holds the UCAN 1.0 fixtures of the ucan-wg/spec repository.
var vectorsDir = filepath.Join("..", "..", "shared", "vectors", "ucan")

func loadVectors(t testing.TB, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorsDir, name))
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	v, err := spec.DecodeJSON(b, spec.Limits{})
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return v.(map[string]any)
}

// TestDelegationVector decodes the fixture delegation and checks its CID
// and every payload field against the fixture's decoded form.
// Spec: UCAN Delegation 1.0 fixtures (delegation.json).
func TestDelegationVector(t *testing.T) {
	v := loadVectors(t, "delegation.json")
	for _, c := range v["valid"].([]any) {
		c := c.(map[string]any)
		t.Run(c["name"].(string), func(t *testing.T) {
			raw, err := base64.StdEncoding.DecodeString(c["token"].(string))
			if err != nil {
				t.Fatal(err)
			}
			tok, err := Decode(raw, Limits{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if err := tok.Verify(); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got, want := tok.CID.String(), c["cid"].(string); got != want {
				t.Errorf("CID = %s, want %s", got, want)
			}
			env := c["envelope"].(map[string]any)
			p := env["payload"].(map[string]any)
			if tok.Kind != KindDelegation || tok.Issuer != p["iss"] || tok.Audience != p["aud"] || tok.Subject != p["sub"] || tok.Command != p["cmd"] {
				t.Errorf("decoded %+v, want %v", tok, p)
			}
			if tok.Exp == nil || *tok.Exp != p["exp"].(int64) {
				t.Errorf("exp = %v, want %v", tok.Exp, p["exp"])
			}
			nonce, _ := base64.StdEncoding.DecodeString(p["nonce"].(string))
			if string(tok.Nonce) != string(nonce) {
				t.Errorf("nonce = %x, want %x", tok.Nonce, nonce)
			}
			sig, _ := base64.StdEncoding.DecodeString(env["signature"].(string))
			if string(tok.Signature) != string(sig) {
				t.Errorf("signature differs")
			}
			if len(tok.Policy) != len(p["pol"].([]any)) {
				t.Errorf("policy = %v, want %v", tok.Policy, p["pol"])
			}
		})
	}
}

// TestInvocationVectors validates every fixture invocation at the
// fixture's time and compares the failure's name with the expected one.
// Spec: UCAN Invocation 1.0 fixtures (invocation.json), validation steps.
func TestInvocationVectors(t *testing.T) {
	v := loadVectors(t, "invocation.json")
	n := map[string]int{}
	for _, kind := range []string{"valid", "invalid"} {
		for _, c := range v[kind].([]any) {
			c := c.(map[string]any)
			n[kind]++
			want := ""
			if e, ok := c["error"].(map[string]any); ok {
				want = e["name"].(string)
			}
			t.Run(kind+"/"+c["name"].(string), func(t *testing.T) {
				err := validateVector(t, c)
				if got := ErrorName(err); got != want {
					t.Fatalf("error name = %q (%v), want %q", got, err, want)
				}
			})
		}
	}
	if n["valid"] != 7 || n["invalid"] != 13 {
		t.Fatalf("found %v cases, want 7 valid and 13 invalid", n)
	}
}

func validateVector(t *testing.T, c map[string]any) error {
	t.Helper()
	inv, err := Decode(c["invocation"].([]byte), Limits{})
	if err != nil {
		return err
	}
	var proofs []*Token
	for _, p := range c["proofs"].([]any) {
		d, err := Decode(p.([]byte), Limits{})
		if err != nil {
			return err
		}
		proofs = append(proofs, d)
	}
	at := time.Unix(c["time"].(int64), 0)
	_, err = Validate(context.Background(), inv, proofs, Options{Now: at, Node: vectorNode(t), Replay: newMemReplay()})
	return err
}

// vectorNode is the DID of the node validating the fixtures: some invalid
// invocations are addressed (aud) to "carol" of delegation.json, so the
// fixtures are validated as carol's node.
func vectorNode(t testing.TB) string {
	t.Helper()
	v := loadVectors(t, "delegation.json")
	b, err := base64.StdEncoding.DecodeString(v["principals"].(map[string]any)["carol"].(string))
	if err != nil || len(b) != 34 || b[0] != 0x80 || b[1] != 0x26 {
		t.Fatalf("carol's key: %v (%x)", err, b)
	}
	k, err := NewKey(b[2:])
	if err != nil {
		t.Fatal(err)
	}
	return k.DID()
}

// TestPolicyVectors evaluates the 25 policy fixtures: every policy of a
// valid case matches its args, every policy of an invalid case fails with
// MatchError.
// Spec: UCAN Delegation 1.0 §policy, fixtures policy.json.
func TestPolicyVectors(t *testing.T) {
	v := loadVectors(t, "policy.json")
	total := 0
	for _, kind := range []string{"valid", "invalid"} {
		for i, c := range v[kind].([]any) {
			c := c.(map[string]any)
			args := c["args"].(map[string]any)
			for j, pv := range c["policies"].([]any) {
				total++
				js, _ := spec.EncodeJSON(pv)
				t.Run(kind+"/"+itoa(i)+"/"+itoa(j), func(t *testing.T) {
					pol, err := ParsePolicy(pv)
					if err != nil {
						t.Fatalf("parse %s: %v", js, err)
					}
					err = pol.Match(args)
					if kind == "valid" && err != nil {
						t.Fatalf("%s: %v", js, err)
					}
					if kind == "invalid" && ErrorName(err) != NameMatchError {
						t.Fatalf("%s: got %v, want MatchError", js, err)
					}
				})
			}
		}
	}
	if total != 25 {
		t.Fatalf("found %d policy cases, want 25", total)
	}
}

func itoa(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }
