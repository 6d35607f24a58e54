package spec_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/codec/dagjson"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/node/basicnode"

	"github.com/ipvm-go/ipvm/spec"
)

// refDecode decodes with go-ipld-prime and re-encodes as DAG-CBOR. A panic
// inside go-ipld-prime counts as a refusal.
func refDecode(dec func(datamodel.NodeAssembler, []byte) error, data []byte) (out []byte, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	nb := basicnode.Prototype.Any.NewBuilder()
	if err := dec(nb, data); err != nil {
		return nil, false
	}
	var buf bytes.Buffer
	if err := dagcbor.Encode(nb.Build(), &buf); err != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

func refCBOR(na datamodel.NodeAssembler, b []byte) error {
	return dagcbor.Decode(na, bytes.NewReader(b))
}

func refJSON(na datamodel.NodeAssembler, b []byte) error {
	return dagjson.Decode(na, bytes.NewReader(b))
}

// fuzzLimits keep the fuzzer's inputs cheap; the refusals they cause are
// ErrTooLarge and are not compared with go-ipld-prime.
var fuzzLimits = spec.Limits{MaxBytes: 1 << 20, MaxDepth: 64, MaxItems: 1 << 16}

// FuzzDecodeCBOR checks that whatever DecodeCBOR accepts re-encodes to the
// same bytes and is accepted, identically, by go-ipld-prime; and that what
// go-ipld-prime accepts as canonical (it re-encodes to the same bytes) we
// accept too, unless it is outside our value model (integers past int64,
// NaN and infinities), our limits, or invalid UTF-8 (which the DAG-CBOR
// spec forbids and go-ipld-prime does not check).
// Spec: §1.2
func FuzzDecodeCBOR(f *testing.F) {
	for _, seed := range []string{"f6", "1818", "a2616101616202", "d82a58250001711220" + strings.Repeat("00", 32), "fb3ff8000000000000"} {
		f.Add(unhex(&testing.T{}, seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := spec.DecodeCBOR(data, fuzzLimits)
		ref, refOK := refDecode(refCBOR, data)
		if err != nil {
			if !errors.Is(err, spec.ErrMalformed) && !errors.Is(err, spec.ErrNotCanonical) &&
				!errors.Is(err, spec.ErrTooLarge) && !errors.Is(err, spec.ErrIntRange) {
				t.Fatalf("error %v wraps no spec error", err)
			}
			if refOK && bytes.Equal(ref, data) && !errors.Is(err, spec.ErrTooLarge) &&
				!errors.Is(err, spec.ErrIntRange) && !strings.Contains(err.Error(), "NaN or infinite") &&
				!strings.Contains(err.Error(), "UTF-8") { // go-ipld-prime does not check UTF-8
				t.Fatalf("go-ipld-prime accepts canonical %x, we refuse: %v", data, err)
			}
			return
		}
		enc, err := spec.EncodeCBOR(v)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("round trip changed bytes:\n in %x\nout %x", data, enc)
		}
		if !refOK {
			t.Fatalf("we accept %x, go-ipld-prime refuses", data)
		}
		if !bytes.Equal(ref, data) {
			t.Fatalf("go-ipld-prime re-encodes %x as %x", data, ref)
		}
	})
}

// FuzzDecodeJSON checks that what DecodeJSON accepts survives DAG-CBOR
// and DAG-JSON round trips, and that when go-ipld-prime's dagjson also
// accepts the input both give the same DAG-CBOR bytes.
// Spec: §1.3
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{`null`, `{"a":[1,2.5,"x"]}`, `{"/":{"bytes":"AQI"}}`, `[{"/":"bafkqaaa"}]`, `-0`, `1e5`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := spec.DecodeJSON(data, fuzzLimits)
		if err != nil {
			if !errors.Is(err, spec.ErrMalformed) && !errors.Is(err, spec.ErrTooLarge) && !errors.Is(err, spec.ErrIntRange) {
				t.Fatalf("error %v wraps no spec error", err)
			}
			return
		}
		enc, err := spec.EncodeCBOR(v)
		if err != nil {
			t.Fatalf("decoded value does not encode as DAG-CBOR: %v", err)
		}
		back, err := spec.DecodeCBOR(enc, spec.Limits{})
		if err != nil || !spec.Equal(back, v) {
			t.Fatalf("DAG-CBOR round trip: %v", err)
		}
		j, err := spec.EncodeJSON(v)
		if err != nil {
			t.Fatalf("decoded value does not encode as DAG-JSON: %v", err)
		}
		back, err = spec.DecodeJSON(j, spec.Limits{})
		if err != nil || !spec.Equal(back, v) {
			t.Fatalf("DAG-JSON round trip of %s: %v", j, err)
		}
		if ref, ok := refDecode(refJSON, data); ok && !bytes.Equal(ref, enc) {
			t.Fatalf("input %q: go-ipld-prime gives %x, we give %x", data, ref, enc)
		}
	})
}
