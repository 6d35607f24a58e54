package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/receipt"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/store"
)

// issue signs a receipt for a run of task under inv.
func (n *Node) issue(task, inv cid.Cid, out spec.Result, meta map[string]any) (cid.Cid, []byte, error) {
	s, err := receipt.Issue(n.key, receipt.Receipt{
		Ran:  task,
		Inv:  inv,
		Out:  out,
		Meta: meta,
		Iat:  time.Now().Unix(),
	})
	if err != nil {
		return cid.Undef, nil, fmt.Errorf("node: sign receipt: %w", err)
	}
	if n.faults.BadSignatures {
		b := append([]byte(nil), s.Bytes()...)
		b[10] ^= 0xff // inside the signature
		return spec.SumCBOR(b), b, nil
	}
	return s.CID(), s.Bytes(), nil
}

// decodeStored reads the result of a receipt from the node's own store.
// Receipts are decoded and verified before they are stored (or issued
// here), so the memo path reads only the result and meta.impure and does
// not pay for a signature check on every hit; see RATIONALE.md.
func decodeStored(b []byte) (receipt.Outcome, error) {
	return receipt.DecodeOutcome(b)
}

// ReceiptView is a receipt looked up by CID, decoded and verified.
type ReceiptView struct {
	// Receipt is the receipt CID.
	Receipt cid.Cid
	// Signed is the decoded receipt.
	Signed *receipt.Signed
	// Verified is true when the signature verified against the issuer and
	// the receipt names the task it is indexed under.
	Verified bool
	// From is the peer it came from; empty when it was in the local store.
	From string
}

// Receipt returns a receipt by receipt CID or by task CID, verified.
func (n *Node) Receipt(ctx context.Context, c cid.Cid) (ReceiptView, error) {
	if err := n.enter(); err != nil {
		return ReceiptView{}, err
	}
	defer n.leave()
	b, err := n.store.Receipt(ctx, c)
	rc := c
	var task cid.Cid
	if errors.Is(err, store.ErrNotFound) {
		rc, b, err = n.store.ReceiptForTask(ctx, c)
		task = c
	}
	if errors.Is(err, store.ErrNotFound) {
		// Not here: as a task CID, ask the network (verified as for the
		// memo table: signed by the provider or a trusted key, naming c).
		if ev, nerr := n.fromNetwork(ctx, c); nerr == nil && ev != nil {
			s, derr := receipt.Decode(ev.Bytes)
			if derr != nil {
				return ReceiptView{}, derr
			}
			return ReceiptView{Receipt: ev.Receipt, Signed: s, Verified: s.Verify(c) == nil, From: ev.From}, nil
		}
		return ReceiptView{}, fmt.Errorf("%w: no receipt or task %s", ErrNotFound, c)
	}
	if err != nil {
		return ReceiptView{}, err
	}
	s, err := receipt.Decode(b)
	if err != nil {
		return ReceiptView{}, fmt.Errorf("node: stored receipt %s: %w", rc, err)
	}
	if !task.Defined() {
		task = s.Ran
	}
	return ReceiptView{Receipt: rc, Signed: s, Verified: s.Verify(task) == nil}, nil
}
