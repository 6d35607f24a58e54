package spec_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/MetaMask/go-did-it/verifiers/did-key" // did:key for go-ucan
	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/codec/dagjson"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	ucaninv "github.com/ucan-wg/go-ucan/token/invocation"

	"github.com/ipvm-go/ipvm/invocation"
	"github.com/ipvm-go/ipvm/receipt"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/ucan"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json and the fuzz seed corpora")

// vectorsFile holds the golden vectors: spec/SPEC.md §1.5.
const vectorsFile = "testdata/vectors.json"

// Vector is one golden vector: a value's DAG-JSON, its canonical DAG-CBOR
// and its CID.
type Vector struct {
	// Name identifies the vector.
	Name string `json:"name"`
	// Kind is "task" (a Task's wire form) or "receipt" (a sealed receipt).
	Kind string `json:"kind"`
	// Input is the DAG-JSON the vector starts from, as written (keys in
	// any order, any whitespace). For receipts it is the envelope.
	Input string `json:"input"`
	// CBOR is the canonical DAG-CBOR, in hex.
	CBOR string `json:"cbor"`
	// CID is CIDv1, dag-cbor, sha2-256 of CBOR.
	CID string `json:"cid"`
	// Ran is the task CID a receipt vector names (receipts only).
	Ran string `json:"ran,omitempty"`
	// Issuer is the receipt's issuer DID (receipts only).
	Issuer string `json:"issuer,omitempty"`
}

// vectorSeed is the Ed25519 seed of the key that signs the receipt
// vectors: sha256("ipvm golden vector key"). Ed25519 signatures are
// deterministic, so the vectors are too.
func vectorKey(t *testing.T) *ucan.Key {
	t.Helper()
	seed := sha256.Sum256([]byte("ipvm golden vector key"))
	k, err := ucan.NewKey(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const (
	modCID  = "bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq"
	rawCID  = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
	cidV0   = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
	userDID = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
)

// taskVectors are written as a person would write them: keys unsorted,
// whitespace anywhere. The canonical bytes must not depend on either.
var taskVectors = []struct{ name, json string }{
	{"wasm-run-add-one", `{"cmd":"/wasm/run","sub":null,"nonce":{"/":{"bytes":""}},
		"args":{"params":[1],"mod":{"/":"` + modCID + `"},"fun":"add_one"}}`},
	{"ints-head-boundaries", `{"sub":null,"cmd":"/wasm/run","nonce":{"/":{"bytes":""}},"args":{"fun":"f","mod":{"/":"` + modCID + `"},
		"params":[0,1,23,24,255,256,65535,65536,4294967295,4294967296,9223372036854775807]}}`},
	{"negative-ints", `{"sub":null,"cmd":"/wasm/run","nonce":{"/":{"bytes":""}},"args":{"fun":"f","mod":{"/":"` + modCID + `"},
		"params":[-1,-24,-25,-256,-257,-65537,-4294967297,-9223372036854775808]}}`},
	{"floats", `{"sub":null,"cmd":"/wasm/run","nonce":{"/":{"bytes":""}},"args":{"fun":"f","mod":{"/":"` + modCID + `"},
		"params":[1.5,0.1,-2.25,3.0,1e300,-0.0,5e-324,1.7976931348623157e308]}}`},
	{"int-vs-float", `{"sub":null,"cmd":"/wasm/run","nonce":{"/":{"bytes":""}},"args":{"fun":"f","mod":{"/":"` + modCID + `"},
		"params":[1, 1.0, 1e0]}}`},
	{"strings", `{"sub":null,"cmd":"/wasm/run","nonce":{"/":{"bytes":""}},"args":{"fun":"f","mod":{"/":"` + modCID + `"},
		"params":["","hello","ünïcødé","🎉 emoji","quote \" and \\ backslash","tab\tnewline\n","\u0000"]}}`},
	{"long-string", `{"sub":null,"cmd":"/wasm/run","nonce":{"/":{"bytes":""}},"args":{"fun":"f","mod":{"/":"` + modCID + `"},
		"params":["` + strings.Repeat("abcdefghij", 30) + `"]}}`},
	{"bytes", `{"sub":null,"cmd":"/wasm/run","nonce":{"/":{"bytes":""}},"args":{"fun":"f","mod":{"/":"` + modCID + `"},
		"params":[{"/":{"bytes":""}},{"/":{"bytes":"AQID"}},{"/":{"bytes":"` + strings.Repeat("AAAA", 100) + `"}}]}}`},
	{"links", `{"sub":null,"cmd":"/wasm/run","nonce":{"/":{"bytes":""}},"args":{"fun":"f","mod":{"/":"` + modCID + `"},
		"params":[{"/":"` + rawCID + `"},{"/":"` + cidV0 + `"}]}}`},
	{"nested-maps-key-order", `{"sub":null,"cmd":"/wasm/run","nonce":{"/":{"bytes":""}},"args":{"fun":"f","mod":{"/":"` + modCID + `"},
		"params":[{"b":1,"aa":2,"a":{"zz":[{"y":null,"x":[]}],"z":{}},"ba":3,"":0}]}}`},
	{"bool-null", `{"sub":null,"cmd":"/wasm/run","nonce":{"/":{"bytes":""}},"args":{"fun":"f","mod":{"/":"` + modCID + `"},
		"params":[true,false,null]}}`},
	{"empty-nonce", `{"sub":null,"cmd":"/wasm/run","nonce":{"/":{"bytes":""}},"args":{"fun":"f","mod":{"/":"` + modCID + `"},"params":[]}}`},
	{"nonce", `{"sub":null,"cmd":"/wasm/run","nonce":{"/":{"bytes":"3q2+7w"}},"args":{"fun":"f","mod":{"/":"` + modCID + `"},"params":[]}}`},
	{"sub-did", `{"sub":"` + userDID + `","cmd":"/wasm/run","nonce":{"/":{"bytes":""}},"args":{"fun":"f","mod":{"/":"` + modCID + `"},"params":[]}}`},
	{"promise", `{"sub":null,"cmd":"/wasm/run","nonce":{"/":{"bytes":""}},"args":{"fun":"add_one","mod":{"/":"` + modCID + `"},
		"params":[{"await/ok":{"/":"bafyreibhvk2ypvtfhflmu5zdxwhjlzmpyfpazqdpdilv3yvkr4ssiekeam"}}]}}`},
	{"other-command-empty-args", `{"args":{},"cmd":"/crypto/sha256","nonce":{"/":{"bytes":""}},"sub":null}`},
	{"deep-nesting", `{"sub":null,"cmd":"/wasm/run","nonce":{"/":{"bytes":""}},"args":{"fun":"f","mod":{"/":"` + modCID + `"},
		"params":` + strings.Repeat("[", 40) + `"deep"` + strings.Repeat("]", 40) + `}}`},
	{"map-24-keys", `{"sub":null,"cmd":"/wasm/run","nonce":{"/":{"bytes":""}},"args":{"fun":"f","mod":{"/":"` + modCID + `"},
		"params":[{` + manyKeys(24) + `}]}}`},
	{"list-300", `{"sub":null,"cmd":"/wasm/run","nonce":{"/":{"bytes":""}},"args":{"fun":"f","mod":{"/":"` + modCID + `"},
		"params":[` + strings.TrimSuffix(strings.Repeat("7,", 300), ",") + `]}}`},
}

func manyKeys(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[n-1-i] = fmt.Sprintf("%q:%d", strings.Repeat("k", i%5+1)+fmt.Sprint(i), i)
	}
	return strings.Join(parts, ",")
}

func mustCID(t *testing.T, s string) cid.Cid {
	t.Helper()
	c, err := cid.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// receiptVectors are the receipt fields the vector key signs.
func receiptVectors(t *testing.T) []struct {
	name string
	r    receipt.Receipt
} {
	ran := mustCID(t, "bafyreibhvk2ypvtfhflmu5zdxwhjlzmpyfpazqdpdilv3yvkr4ssiekeam")
	inv := mustCID(t, "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvtbgiwdgbeuyenoym")
	nonce := []byte("ipvm-vector-nonce")
	return []struct {
		name string
		r    receipt.Receipt
	}{
		{"receipt-ok-int", receipt.Receipt{Ran: ran, Inv: inv, Out: spec.OK(int64(2)), Nonce: nonce}},
		{"receipt-ok-null-no-inv", receipt.Receipt{Ran: ran, Out: spec.OK(nil), Nonce: nonce}},
		{"receipt-err-trap", receipt.Receipt{Ran: ran, Inv: inv,
			Out: spec.Fail(spec.Failf(spec.ErrNameTrap, "wasm error: unreachable")), Nonce: nonce}},
		{"receipt-err-out-of-fuel-meta", receipt.Receipt{Ran: ran,
			Out:   spec.Fail(spec.Failf(spec.ErrNameOutOfFuel, "used 1000000 of 1000000")),
			Meta:  map[string]any{"fuel": int64(1000000), "fuel_table": "v1"},
			Nonce: nonce, Iat: 1_763_000_000}},
		{"receipt-ok-rich", receipt.Receipt{Ran: ran, Inv: inv,
			Out: spec.OK(map[string]any{"img": mustCID(t, rawCID), "size": int64(1234), "ratio": 0.5, "raw": []byte{0, 1, 2}}),
			Fx:  []cid.Cid{mustCID(t, rawCID)},
			Meta: map[string]any{"fuel": int64(77), "duration_ns": int64(11000), "peak_memory": int64(65536),
				"ran_on": map[string]any{"peer": "12D3KooWExample", "why": "local"}},
			Nonce: nonce, Iat: 1_763_000_000, Exp: 1_794_536_000}},
		{"receipt-ok-empty-meta", receipt.Receipt{Ran: ran, Out: spec.OK([]any{"a", int64(-1)}),
			Meta: map[string]any{}, Nonce: nonce}},
	}
}

// buildVectors computes every vector from its definition.
func buildVectors(t *testing.T) []Vector {
	t.Helper()
	var out []Vector
	for _, tv := range taskVectors {
		v, err := spec.DecodeJSON([]byte(tv.json), spec.Limits{})
		if err != nil {
			t.Fatalf("%s: %v", tv.name, err)
		}
		task, err := invocation.FromIPLD(v)
		if err != nil {
			t.Fatalf("%s: %v", tv.name, err)
		}
		b, err := task.Encode()
		if err != nil {
			t.Fatalf("%s: %v", tv.name, err)
		}
		c, err := task.CID()
		if err != nil {
			t.Fatalf("%s: %v", tv.name, err)
		}
		out = append(out, Vector{Name: tv.name, Kind: "task", Input: tv.json, CBOR: hex.EncodeToString(b), CID: c.String()})
	}
	k := vectorKey(t)
	for _, rv := range receiptVectors(t) {
		s, err := receipt.Issue(k, rv.r)
		if err != nil {
			t.Fatalf("%s: %v", rv.name, err)
		}
		v, err := spec.DecodeCBOR(s.Bytes(), spec.Limits{})
		if err != nil {
			t.Fatalf("%s: %v", rv.name, err)
		}
		j, err := spec.EncodeJSON(v)
		if err != nil {
			t.Fatalf("%s: %v", rv.name, err)
		}
		out = append(out, Vector{Name: rv.name, Kind: "receipt", Input: string(j), CBOR: hex.EncodeToString(s.Bytes()),
			CID: s.CID().String(), Ran: rv.r.Ran.String(), Issuer: k.DID()})
	}
	return out
}

func loadVectors(t *testing.T) []Vector {
	t.Helper()
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("%v (run go test ./spec -run TestGoldenVectors -update)", err)
	}
	var vs []Vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	return vs
}

// TestGoldenVectors checks that every vector's input encodes to the
// committed bytes and CID. With -update it rewrites the file and the fuzz
// seed corpora derived from it.
// Spec: §1.5, §2, §4
func TestGoldenVectors(t *testing.T) {
	got := buildVectors(t)
	if len(got) < 20 {
		t.Fatalf("only %d vectors", len(got))
	}
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		writeCorpora(t, got)
	}
	want := loadVectors(t)
	if len(want) != len(got) {
		t.Fatalf("%d vectors on file, %d computed", len(want), len(got))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("vector %s changed:\n got %+v\nwant %+v", want[i].Name, got[i], want[i])
		}
	}
}

// TestVectorsIndependently checks the committed vectors without the code
// that produced them: the bytes are what go-ipld-prime makes of the same
// DAG-JSON, they decode strictly and re-encode identically, the CID is the
// hash of the bytes, tasks and receipts parse and receipts verify.
// Spec: §1.2, §1.3, §1.4
func TestVectorsIndependently(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			b, err := hex.DecodeString(v.CBOR)
			if err != nil {
				t.Fatal(err)
			}
			// go-ipld-prime: DAG-JSON in, DAG-CBOR out.
			nb := basicnode.Prototype.Any.NewBuilder()
			if err := dagjson.Decode(nb, strings.NewReader(v.Input)); err != nil {
				t.Fatalf("go-ipld-prime dagjson: %v", err)
			}
			var ref bytes.Buffer
			if err := dagcbor.Encode(nb.Build(), &ref); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ref.Bytes(), b) {
				t.Fatalf("go-ipld-prime encodes\n%x\nvector has\n%x", ref.Bytes(), b)
			}
			// Ours: DAG-JSON in, DAG-CBOR out; and DAG-CBOR round trip.
			jv, err := spec.DecodeJSON([]byte(v.Input), spec.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if enc, err := spec.EncodeCBOR(jv); err != nil || !bytes.Equal(enc, b) {
				t.Fatalf("spec encodes %x (%v)", enc, err)
			}
			cv, err := spec.DecodeCBOR(b, spec.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !spec.Equal(cv, jv) {
				t.Fatal("DAG-CBOR and DAG-JSON decode to different values")
			}
			c := mustCID(t, v.CID)
			if err := spec.VerifyCID(c, b); err != nil {
				t.Fatal(err)
			}
			if p := c.Prefix(); p.Version != 1 || p.Codec != cid.DagCBOR || p.MhType != 0x12 {
				t.Fatalf("CID prefix %+v, want CIDv1 dag-cbor sha2-256", p)
			}
			switch v.Kind {
			case "task":
				task, err := invocation.Decode(b)
				if err != nil {
					t.Fatal(err)
				}
				tc, err := task.CID()
				if err != nil || !tc.Equals(c) {
					t.Fatalf("task CID %s (%v), want %s", tc, err, c)
				}
			case "receipt":
				s, err := receipt.Decode(b)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.VerifyWith(mustCID(t, v.Ran), receipt.VerifyOpts{Issuers: []string{v.Issuer}}); err != nil {
					t.Fatal(err)
				}
				if !s.CID().Equals(c) {
					t.Fatalf("receipt CID %s, want %s", s.CID(), c)
				}
				// go-ucan decodes and verifies every receipt vector.
				if _, gc, err := ucaninv.FromSealed(b); err != nil || !gc.Equals(c) {
					t.Fatalf("go-ucan: %s, %v", gc, err)
				}
			default:
				t.Fatalf("unknown kind %q", v.Kind)
			}
		})
	}
}

// writeCorpora writes the vectors as fuzz seed corpora (Go's corpus file
// format) for FuzzDecodeCBOR, FuzzDecodeJSON and receipt's
// FuzzReceiptDecode.
func writeCorpora(t *testing.T, vs []Vector) {
	t.Helper()
	write := func(dir, name string, data []byte) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, "vector-"+name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range vs {
		b, _ := hex.DecodeString(v.CBOR)
		write("testdata/fuzz/FuzzDecodeCBOR", v.Name, b)
		write("testdata/fuzz/FuzzDecodeJSON", v.Name, []byte(v.Input))
		if v.Kind == "receipt" {
			write("../receipt/testdata/fuzz/FuzzReceiptDecode", v.Name, b)
		}
	}
}
