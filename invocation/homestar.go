package invocation

import (
	"fmt"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/ipvm-go/ipvm/spec"
)

// HomestarInstruction is a task as Homestar wrote it (UCAN invocation 0.2
// "run"): {rsc, op, input, nnc}. Homestar names an instruction by the CID of
// its DAG-CBOR with a sha3-256 multihash (strings begin "bafyrmi"), and its
// workflow files link earlier tasks by that CID.
type HomestarInstruction struct {
	// Rsc is the resource, an ipfs:// URL of the module.
	Rsc string
	// Op is the operation, "wasm/run".
	Op string
	// Input is {func: string, args: list}; args may hold promises whose
	// links are Homestar instruction CIDs.
	Input map[string]any
	// Nnc is the nonce, "" for pure work.
	Nnc string
	// NncBytes, when non-nil, is a nonce Homestar wrote as bytes
	// ({"/": {"bytes": …}}); it replaces Nnc in the wire form.
	NncBytes []byte
}

// IPLD returns the instruction's wire form.
func (h *HomestarInstruction) IPLD() any {
	var nnc any = h.Nnc
	if h.NncBytes != nil {
		nnc = h.NncBytes
	}
	return map[string]any{"rsc": h.Rsc, "op": h.Op, "input": h.Input, "nnc": nnc}
}

// Encode returns the canonical DAG-CBOR of the instruction.
func (h *HomestarInstruction) Encode() ([]byte, error) {
	return spec.EncodeCBOR(h.IPLD())
}

// CID returns Homestar's instruction CID: CIDv1, dag-cbor, sha3-256.
func (h *HomestarInstruction) CID() (cid.Cid, error) {
	b, err := h.Encode()
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: homestar instruction: %v", ErrBadTask, err)
	}
	sum, err := mh.Sum(b, mh.SHA3_256, -1)
	if err != nil {
		return cid.Undef, err
	}
	return cid.NewCidV1(cid.DagCBOR, sum), nil
}
