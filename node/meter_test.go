package node

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/node/exec"
	"github.com/ipvm-go/ipvm/spec"
)

// mapBlobs serves module bytes by CID for an executor without a store.
type mapBlobs map[cid.Cid][]byte

func (m mapBlobs) Get(_ context.Context, c cid.Cid) ([]byte, error) {
	if b, ok := m[c]; ok {
		return b, nil
	}
	return nil, errors.New("no such blob")
}

// startLoop is a module whose start section loops forever, with an export
// "f" that does nothing.
var startLoop = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type () -> ()
	0x03, 0x03, 0x02, 0x00, 0x00, // two functions
	0x07, 0x05, 0x01, 0x01, 'f', 0x00, 0x01, // export "f" = function 1
	0x08, 0x01, 0x00, // start = function 0
	0x0a, 0x0c, 0x02, // code, two bodies
	0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // loop br 0 end end
	0x02, 0x00, 0x0b, // end
}

// TestFuelStopsAtWallTime runs runaway guests on an executor set up as the
// node sets it up (the fuel meter, no close-on-context-done): each ends
// with Timeout within a small multiple of its limit, through the meter's
// deadline check, while fuel stays deterministic for a task that finishes
// and for one that runs out.
func TestFuelStopsAtWallTime(t *testing.T) {
	ctx := context.Background()
	guest, err := os.ReadFile("exec/testdata/guest.wasm")
	if err != nil {
		t.Fatal(err)
	}
	guestCID, startCID := spec.SumCBOR(guest), spec.SumCBOR(startLoop)
	meter := DefaultMeter()
	if !stopsAtDeadline(meter) {
		t.Fatal("the default meter does not stop guests at their deadline")
	}
	ex, err := exec.New(exec.Config{
		Blobs:          mapBlobs{guestCID: guest, startCID: startLoop},
		Meter:          meter,
		NoWallTimeStop: stopsAtDeadline(meter),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	const limit = 300 * time.Millisecond
	for _, tc := range []struct {
		name string
		req  exec.Request
		want string // error name, "" for a result
		fuel uint64 // 0: any
	}{
		{"loop br 0", exec.Request{Module: guestCID, Function: "loop", Limits: exec.Limits{Time: limit}}, spec.ErrNameTimeout, 0},
		{"start section", exec.Request{Module: startCID, Function: "f", Limits: exec.Limits{Time: limit}}, spec.ErrNameTimeout, 0},
		{"out of fuel first", exec.Request{Module: guestCID, Function: "loop", Limits: exec.Limits{Time: 20 * time.Second, Fuel: 100_000}}, spec.ErrNameOutOfFuel, 100_000},
		{"finishes", exec.Request{Module: guestCID, Function: "add_one", Params: []any{int64(41)}, Limits: exec.Limits{Time: limit}}, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fuels []uint64
			for range 3 {
				start := time.Now()
				res, st, err := ex.Run(ctx, tc.req)
				took := time.Since(start)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case tc.want == "" && res.Err != nil:
					t.Fatalf("error %v", res.Err)
				case tc.want != "" && (res.Err == nil || res.Err.Name != tc.want):
					t.Fatalf("result %+v, want error %s", res, tc.want)
				}
				// A limit check, not a performance claim: the guard must
				// fire near the limit, not at the fuel cap (seconds later).
				if took > 3*time.Second {
					t.Fatalf("took %v with a limit of %v", took, limit)
				}
				if tc.fuel != 0 && st.Fuel != tc.fuel {
					t.Errorf("fuel %d, want %d", st.Fuel, tc.fuel)
				}
				t.Logf("%v, fuel %d", took, st.Fuel)
				fuels = append(fuels, st.Fuel)
			}
			if tc.want != spec.ErrNameTimeout && (fuels[0] != fuels[1] || fuels[1] != fuels[2]) {
				t.Errorf("fuel %v differs between runs", fuels)
			}
		})
	}
}
