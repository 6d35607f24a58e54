package conformance

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/ipvm-go/ipvm/spec"
)

func receiptCases() []Case {
	return []Case{
		{ID: "receipt.verify-signature", Section: "§4.4", Title: "a receipt's signed bytes decode strictly and verify by the suite's own check, naming the task", run: caseReceiptVerify},
		{ID: "receipt.error-signed", Section: "§4.4", Title: "an error receipt is signed and verifies too", run: caseReceiptErrVerify},
		{ID: "receipt.cid-is-hash", Section: "§4.2", Title: "the receipt bytes hash to the receipt CID, which X-Ipvm-Receipt names", run: caseReceiptCID},
		{ID: "receipt.by-task-cid", Section: "§10", Title: "lookup by task CID gives the same bytes as by receipt CID", run: caseReceiptByTask},
		{ID: "receipt.envelope", Section: "§4.2", Title: "the receipt is issued by the node's DID, sub = iss, cmd /ucan/assert/receipt, fx a list", run: caseReceiptEnvelope},
		{ID: "receipt.out-matches-event", Section: "§4.1", Title: "the signed out equals the out the event stream reported", run: caseReceiptOut},
		{ID: "receipt.json-view", Section: "§10", Title: "the DAG-JSON view names receipt and task, says verified: true and carries the receipt value", run: caseReceiptJSON},
		{ID: "memo.second-run-cached", Section: "§2", Title: "the same workflow again: every task is cached, with the same receipt", run: caseMemoCached},
		{ID: "memo.one-execution", Section: "§2", Title: "the same task twice executes once (ipvm_tasks_run_total moves by one)", run: caseMemoOnce},
		{ID: "memo.across-workflows", Section: "§2", Title: "the same task in another workflow, under other limits, is cached with the same receipt", run: caseMemoAcross},
	}
}

// oneRun runs a one-task workflow and returns the stream and its event.
func (s *suite) oneRun(ctx context.Context, name string, t obj) (*stream, receiptEvent, error) {
	st, err := s.run(ctx, workflow(name, t), "")
	if err != nil {
		return nil, receiptEvent{}, err
	}
	re, err := st.ev(t["name"].(string))
	return st, re, err
}

func caseReceiptVerify(ctx context.Context, s *suite) error {
	_, re, err := s.oneRun(ctx, "verify", wasm("t", s.guest, "add_one", s.n(30)))
	if err != nil {
		return err
	}
	_, err = s.verifiedReceipt(ctx, re.Receipt, re.Task)
	return err
}

func caseReceiptErrVerify(ctx context.Context, s *suite) error {
	_, re, err := s.oneRun(ctx, "verify-err", with(wasm("t", s.guest, "trap"), "nonce", s.nonce("err-verify")))
	if err != nil {
		return err
	}
	rc, err := s.verifiedReceipt(ctx, re.Receipt, re.Task)
	if err != nil {
		return err
	}
	if rc.Out.IsOk() || rc.Out.Err.Name != spec.ErrNameTrap {
		return fmt.Errorf("signed out %s, want err Trap", spec.MustJSON(rc.Out.IPLD()))
	}
	return nil
}

func caseReceiptCID(ctx context.Context, s *suite) error {
	_, re, err := s.oneRun(ctx, "receipt-cid", wasm("t", s.guest, "add_one", s.n(31)))
	if err != nil {
		return err
	}
	b, hdr, err := s.receiptBytes(ctx, re.Receipt)
	if err != nil {
		return err
	}
	if hdr != re.Receipt {
		return fmt.Errorf("X-Ipvm-Receipt %q, want %s", hdr, re.Receipt)
	}
	if got := spec.SumCBOR(b); got.String() != re.Receipt {
		return fmt.Errorf("bytes hash to %s, not to the receipt CID %s", got, re.Receipt)
	}
	return nil
}

func caseReceiptByTask(ctx context.Context, s *suite) error {
	_, re, err := s.oneRun(ctx, "by-task", wasm("t", s.guest, "add_one", s.n(32)))
	if err != nil {
		return err
	}
	a, _, err := s.receiptBytes(ctx, re.Receipt)
	if err != nil {
		return err
	}
	b, hdr, err := s.receiptBytes(ctx, re.Task)
	if err != nil {
		return err
	}
	if !bytes.Equal(a, b) {
		return fmt.Errorf("by receipt CID %d bytes, by task CID %d bytes: not identical", len(a), len(b))
	}
	if hdr != re.Receipt {
		return fmt.Errorf("by task CID: X-Ipvm-Receipt %q, want %s", hdr, re.Receipt)
	}
	return nil
}

func caseReceiptEnvelope(ctx context.Context, s *suite) error {
	_, re, err := s.oneRun(ctx, "envelope", wasm("t", s.guest, "add_one", s.n(33)))
	if err != nil {
		return err
	}
	rc, err := s.verifiedReceipt(ctx, re.Receipt, re.Task)
	if err != nil {
		return err
	}
	if rc.Iss != s.nodeDID {
		return fmt.Errorf("receipt issuer %s, want the node's DID %s (GET /v1/id)", rc.Iss, s.nodeDID)
	}
	if rc.Ran.String() != re.Task {
		return fmt.Errorf("receipt ran %s, want %s", rc.Ran, re.Task)
	}
	return nil
}

func caseReceiptOut(ctx context.Context, s *suite) error {
	_, re, err := s.oneRun(ctx, "out", wasm("t", s.guest, "divmod", int64(17), int64(5)))
	if err != nil {
		return err
	}
	rc, err := s.verifiedReceipt(ctx, re.Receipt, re.Task)
	if err != nil {
		return err
	}
	ev, err := outcome(re)
	if err != nil {
		return err
	}
	if !spec.Equal(ev.IPLD(), rc.Out.IPLD()) {
		return fmt.Errorf("event out %s, signed out %s", spec.MustJSON(ev.IPLD()), spec.MustJSON(rc.Out.IPLD()))
	}
	return nil
}

func caseReceiptJSON(ctx context.Context, s *suite) error {
	_, re, err := s.oneRun(ctx, "json-view", wasm("t", s.guest, "add_one", s.n(34)))
	if err != nil {
		return err
	}
	if _, err := s.verifiedReceipt(ctx, re.Receipt, re.Task); err != nil {
		return err
	}
	r, err := s.get(ctx, "/v1/receipts/"+re.Receipt, nil)
	if err != nil {
		return err
	}
	if r.status != http.StatusOK {
		return fmt.Errorf("GET /v1/receipts/%s: %s", re.Receipt, r)
	}
	v, err := spec.DecodeJSON(r.body, spec.Limits{})
	if err != nil {
		return fmt.Errorf("the receipt view is not DAG-JSON: %w", err)
	}
	m, _ := v.(map[string]any)
	if fmt.Sprint(m["receipt"]) != re.Receipt {
		return fmt.Errorf("view receipt %v, want %s", m["receipt"], re.Receipt)
	}
	if fmt.Sprint(m["task"]) != re.Task {
		return fmt.Errorf("view task %v, want %s", m["task"], re.Task)
	}
	if m["verified"] != true {
		return fmt.Errorf("view verified = %v for a receipt that verifies", m["verified"])
	}
	val, _ := m["value"].(map[string]any)
	if !spec.Equal(val["out"], map[string]any{"ok": s.n(34) + 1}) {
		return fmt.Errorf("view value.out %s", spec.MustJSON(val["out"]))
	}
	return nil
}

func caseMemoCached(ctx context.Context, s *suite) error {
	body := workflow("memo", wasm("a", s.guest, "add_one", s.n(40)), wasm("b", s.guest, "add", s.n(40), int64(7)))
	first, err := s.run(ctx, body, "")
	if err != nil {
		return err
	}
	second, err := s.run(ctx, body, "")
	if err != nil {
		return err
	}
	for _, name := range []string{"a", "b"} {
		r1, err := first.ev(name)
		if err != nil {
			return err
		}
		r2, err := second.ev(name)
		if err != nil {
			return err
		}
		if r1.Cached {
			return fmt.Errorf("task %q cached on its first run", name)
		}
		if !r2.Cached {
			return fmt.Errorf("task %q not cached on its second run", name)
		}
		if r1.Receipt != r2.Receipt {
			return fmt.Errorf("task %q: receipt %s, then %s", name, r1.Receipt, r2.Receipt)
		}
	}
	if second.done.Cached != 2 {
		return fmt.Errorf("done event of the second run counts %d cached, want 2", second.done.Cached)
	}
	return nil
}

func caseMemoOnce(ctx context.Context, s *suite) error {
	before, err := s.metric(ctx, "ipvm_tasks_run_total", "")
	if err != nil {
		return err
	}
	body := workflow("memo-once", wasm("t", s.guest, "add", s.n(41), int64(1)))
	for range 2 {
		if _, err := s.run(ctx, body, ""); err != nil {
			return err
		}
	}
	after, err := s.metric(ctx, "ipvm_tasks_run_total", "")
	if err != nil {
		return err
	}
	// Other cases do not run concurrently, so only this case's runs count.
	if after-before != 1 {
		return fmt.Errorf("ipvm_tasks_run_total moved by %v for the same task submitted twice, want 1", after-before)
	}
	return nil
}

func caseMemoAcross(ctx context.Context, s *suite) error {
	_, r1, err := s.oneRun(ctx, "memo-across-1", wasm("t", s.guest, "add", s.n(42), int64(2)))
	if err != nil {
		return err
	}
	_, r2, err := s.oneRun(ctx, "memo-across-2", with(wasm("u", s.guest, "add", s.n(42), int64(2)), "meta", obj{"fuel": 1000000, "time": "5s"}))
	if err != nil {
		return err
	}
	if r1.Task != r2.Task {
		return fmt.Errorf("same work, task CIDs %s and %s", r1.Task, r2.Task)
	}
	if !r2.Cached || r1.Receipt != r2.Receipt {
		return fmt.Errorf("second workflow: cached %v, receipt %s; want cached, receipt %s", r2.Cached, r2.Receipt, r1.Receipt)
	}
	return nil
}
