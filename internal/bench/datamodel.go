package bench

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"

	"github.com/ipvm-go/ipvm/invocation"
	"github.com/ipvm-go/ipvm/receipt"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/ucan"
)

// DataModel measures the pure data model against the primitives it is
// built on (issue 2's figures): a signed receipt vs a bare Ed25519
// signature, decoding and verifying a receipt vs a bare Ed25519
// verification, and a task CID vs SHA-256 of the task's canonical bytes.
// Process CPU time, the three pairs interleaved.
func DataModel(c Config) ([]Metric, error) {
	k, err := ucan.NewKey(make([]byte, ed25519.SeedSize))
	if err != nil {
		return nil, err
	}
	task := invocation.NewWasm(spec.SumCBOR([]byte("module")), "add_one", int64(41))
	ran, err := task.CID()
	if err != nil {
		return nil, err
	}
	enc, err := task.Encode()
	if err != nil {
		return nil, err
	}
	// A typical fresh-task receipt: a small ok result and the meta an
	// executor writes (~330 bytes).
	r := receipt.Receipt{Ran: ran, Out: spec.OK(int64(42)), Meta: map[string]any{"fuel": int64(1200), "ns": int64(11000)}}
	s, err := receipt.Issue(k, r)
	if err != nil {
		return nil, err
	}
	raw, msg, sig, pub := s.Bytes(), s.SignedPayload(), s.Signature(), k.Public()
	rounds, n := c.pick(10, 2), c.pick(100, 20)
	ns, err := interleave(cpuClock, rounds, n,
		func() error { _, err := receipt.Issue(k, r); return err },
		func() error { ed25519.Sign(k.Private(), msg); return nil },
		func() error {
			d, err := receipt.Decode(raw)
			if err != nil {
				return err
			}
			return d.Verify(ran)
		},
		func() error {
			if !ed25519.Verify(pub, msg, sig) {
				return fmt.Errorf("%w: ed25519.Verify", ErrMismatch)
			}
			return nil
		},
	)
	if err != nil {
		return nil, err
	}
	cidNs, err := interleave(cpuClock, rounds, n*20,
		func() error { _, err := task.CID(); return err },
		func() error { sha256.Sum256(enc); return nil },
	)
	if err != nil {
		return nil, err
	}
	return []Metric{
		atMost("receipt_sign_vs_ed25519_sign", "cpu-ns/op", ns[0], ns[1], 1.2,
			fmt.Sprintf("receipt.Issue (encode %d-byte receipt, sign, receipt CID) vs bare ed25519.Sign of its payload", len(raw))),
		atMost("receipt_verify_vs_ed25519_verify", "cpu-ns/op", ns[2], ns[3], 1.2,
			"receipt.Decode + Verify (did:key parse, ran check, signature) vs bare ed25519.Verify"),
		info("task_cid_vs_sha256", "cpu-ns/op", cidNs[0], cidNs[1],
			fmt.Sprintf("task CID from a parsed task (canonical DAG-CBOR encode + sha2-256) vs sha2-256 of its %d encoded bytes", len(enc))),
	}, nil
}
