package gateway

import (
	"encoding/json"
	"testing"

	"github.com/ipvm-go/ipvm/spec"
)

// TestAppendReceiptEventMatchesMarshal: the hand-built receipt event is
// exactly what json.Marshal of receiptEvent gives (Spec: §10).
func TestAppendReceiptEventMatchesMarshal(t *testing.T) {
	c := spec.SumCBOR([]byte("x"))
	for _, ev := range []TaskEvent{
		{Name: "one", Task: c, Receipt: c, Out: map[string]any{"ok": int64(2)}, Cached: true},
		{Name: "we\"ird\n<name>é", Task: c, Receipt: c, Out: map[string]any{"err": map[string]any{"name": "Trap", "message": "a \"b\""}}},
		{Name: "bytes", Task: c, Receipt: c, Out: map[string]any{"ok": []byte{1, 2, 3}}},
	} {
		want, err := json.Marshal(receiptEvent{Name: ev.Name, Task: ev.Task.String(), Receipt: ev.Receipt.String(),
			Out: json.RawMessage(spec.MustJSON(ev.Out)), Cached: ev.Cached})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendReceiptEvent(nil, ev); string(got) != string(want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}
