package exec_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/ipvm-go/ipvm/node/exec"
	"github.com/ipvm-go/ipvm/spec"
)

// TestPipeline chains the Go-built DAG-CBOR guest's three functions.
func TestPipeline(t *testing.T) {
	blobs := &mapBlobs{}
	mod := blobs.addFile(t, "../../examples/pipeline.wasm")
	text := blobs.addFile(t, "../../examples/pipeline/input.txt")
	ex := newExec(t, exec.Config{Blobs: blobs})

	res, st := run(t, ex, mod, "fetch", exec.Limits{}, text)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if st.ABI != exec.ABICBOR {
		t.Fatalf("ABI %v", st.ABI)
	}
	want, _ := blobs.Get(t.Context(), text)
	if !spec.Equal(res.Ok, string(want)) {
		t.Fatalf("fetch = %#v", res.Ok)
	}
	res, _ = run(t, ex, mod, "words", exec.Limits{}, res.Ok)
	m, ok := res.Ok.(map[string]any)
	wantWords := map[string]any{"text": strings.ToUpper(string(want)), "words": int64(len(strings.Fields(string(want))))}
	if res.Err != nil || !ok || !spec.Equal(m, wantWords) {
		t.Fatalf("words = %+v", res)
	}
	res, _ = run(t, ex, mod, "hash", exec.Limits{}, m)
	b, _ := spec.EncodeCBOR(m)
	d := sha256.Sum256(b)
	if res.Err != nil || !spec.Equal(res.Ok, hex.EncodeToString(d[:])) {
		t.Fatalf("hash = %+v, want %x", res, d)
	}

	t.Run("missing blob", func(t *testing.T) {
		res, _ := run(t, ex, mod, "fetch", exec.Limits{}, spec.Sum(spec.CodecRaw, []byte("absent")))
		if res.Err == nil || res.Err.Name != spec.ErrNameBlobNotFound {
			t.Fatalf("fetch of a missing blob = %+v", res)
		}
	})
	t.Run("initial memory over the limit", func(t *testing.T) {
		res, _ := run(t, ex, mod, "words", exec.Limits{MemoryBytes: 64 << 10}, "a b")
		if res.Err == nil || res.Err.Name != spec.ErrNameMemoryLimit {
			t.Fatalf("words under 64 KiB = %+v", res)
		}
	})
	t.Run("grows past the limit", func(t *testing.T) {
		big := blobs.add(make([]byte, 8<<20))
		res, _ := run(t, ex, mod, "fetch", exec.Limits{MemoryBytes: 4 << 20}, big)
		if res.Err == nil || res.Err.Name != spec.ErrNameMemoryLimit {
			t.Fatalf("fetch of 8 MiB under 4 MiB = %+v", res)
		}
		t.Log(res.Err)
	})
	t.Run("guest panic", func(t *testing.T) {
		res, _ := run(t, ex, mod, "fetch", exec.Limits{}, "not a link")
		if res.Err == nil || res.Err.Name != spec.ErrNameTrap {
			t.Fatalf("fetch of a string = %+v", res)
		}
	})
}

// TestWASI runs the Go-built WASI command.
func TestWASI(t *testing.T) {
	blobs := &mapBlobs{}
	mod := blobs.addFile(t, "../../examples/wasi.wasm")
	ex := newExec(t, exec.Config{Blobs: blobs})
	tests := []struct {
		name    string
		fun     string
		lim     exec.Limits
		params  []any
		want    any
		wantErr string
	}{
		{"greet", "greet", exec.Limits{}, []any{"ipvm"}, "Hello, ipvm!", ""},
		{"stats", "stats", exec.Limits{}, []any{int64(1), int64(2), 4.5}, map[string]any{"count": int64(3), "sum": 7.5, "mean": 2.5}, ""},
		{"exit 1", "greet", exec.Limits{}, nil, nil, spec.ErrNameTrap},
		{"unknown fun", "nope", exec.Limits{}, nil, nil, spec.ErrNameTrap},
		{"stdout cap", "greet", exec.Limits{OutputBytes: 4}, []any{"a long name"}, nil, spec.ErrNameOutputTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, st := run(t, ex, mod, tc.fun, tc.lim, tc.params...)
			if st.ABI != exec.ABIWASI {
				t.Fatalf("ABI %v", st.ABI)
			}
			if tc.wantErr != "" {
				if res.Err == nil || res.Err.Name != tc.wantErr {
					t.Fatalf("got %+v, want %s", res, tc.wantErr)
				}
				t.Log(res.Err)
				return
			}
			if res.Err != nil || !spec.Equal(res.Ok, tc.want) {
				t.Fatalf("got %+v, want %#v", res, tc.want)
			}
			if st.Impure {
				t.Error("WASI run marked impure")
			}
		})
	}
}
