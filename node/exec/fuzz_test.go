package exec_test

import (
	"context"
	"testing"
	"unicode/utf8"

	"github.com/ipvm-go/ipvm/node/exec"
	"github.com/ipvm-go/ipvm/spec"
)

// FuzzCBOREcho: any DAG-CBOR params list goes into the guest and comes back
// out of the DAG-CBOR ABI unchanged; nothing panics.
func FuzzCBOREcho(f *testing.F) {
	for _, v := range [][]any{{}, {int64(1), "a", []byte{0}}, {map[string]any{"k": []any{nil, true, 1.5}}}} {
		b, err := spec.EncodeCBOR(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	blobs := &mapBlobs{}
	guest := blobs.addFile(f, "testdata/guest.wasm")
	ex := newExec(f, exec.Config{Blobs: blobs})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := spec.DecodeCBOR(b, spec.Limits{})
		params, ok := v.([]any)
		if err != nil || !ok {
			return
		}
		res, _, err := ex.Run(context.Background(), exec.Request{Module: guest, Function: "echo", Params: params})
		if err != nil {
			t.Fatal(err)
		}
		if res.Err != nil {
			if res.Err.Name != spec.ErrNameMemoryLimit && res.Err.Name != spec.ErrNameTrap {
				t.Fatalf("echo of %x: %v", b, res.Err)
			}
			return
		}
		if !spec.Equal(res.Ok, params) {
			t.Fatalf("echo of %x = %#v", b, res.Ok)
		}
	})
}

// FuzzComponentStrings: strings lowered into and lifted out of the
// component ABI survive the trip through Homestar's join-strings.
func FuzzComponentStrings(f *testing.F) {
	f.Add("foo", "bar")
	f.Add("", "ünïcode ✓")
	blobs := &mapBlobs{}
	mod := blobs.addFile(f, homestarDir+"/example_test.wasm")
	ex := newExec(f, exec.Config{Blobs: blobs})
	f.Fuzz(func(t *testing.T, a, b string) {
		res, _, err := ex.Run(context.Background(), exec.Request{Module: mod, Function: "join_strings", Params: []any{a, b}})
		if err != nil {
			t.Fatal(err)
		}
		want := a + b
		if !utf8.ValidString(want) {
			return // the guest may trap on invalid UTF-8; it must not crash us
		}
		if res.Err != nil || !spec.Equal(res.Ok, want) {
			t.Fatalf("join(%q, %q) = %+v", a, b, res)
		}
	})
}
