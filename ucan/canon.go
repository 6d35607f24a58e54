package ucan

import (
	"github.com/ipvm-go/ipvm/spec"
)

// decodeLenient decodes DAG-CBOR that is well formed but not canonical
// (map keys in any order, integer and length heads longer than needed,
// narrow floats; duplicate keys are still refused) into the spec value
// model, under the same limits as the strict decoder. The caller re-encodes
// the value canonically, so the token's CID, its signed bytes, replay and
// revocation checks all see one form whatever the sender wrote.
func decodeLenient(b []byte, lim spec.Limits) (any, error) {
	return spec.DecodeCBORLenient(b, lim)
}
