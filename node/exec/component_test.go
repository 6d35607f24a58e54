package exec_test

import (
	"bytes"
	"image"
	"image/png"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/ipvm-go/ipvm/node/exec"
	"github.com/ipvm-go/ipvm/spec"
)

// TestHomestar runs Homestar's example_test.wasm under the component ABI,
// as its workflows do.
func TestHomestar(t *testing.T) {
	if testing.Short() {
		t.Skip("image pipeline takes seconds")
	}
	blobs := &mapBlobs{}
	mod := blobs.addFile(t, homestarDir+"/example_test.wasm")
	cat := blobs.addFile(t, homestarDir+"/synthcat.png")
	logs := &syncBuffer{}
	ex := newExec(t, exec.Config{Blobs: blobs, Logger: slog.New(slog.NewTextHandler(logs, nil))})

	t.Run("add_one", func(t *testing.T) {
		res, st := run(t, ex, mod, "add_one", exec.Limits{}, int64(1))
		if res.Err != nil || !spec.Equal(res.Ok, int64(2)) {
			t.Fatalf("add_one(1) = %+v", res)
		}
		if st.ABI != exec.ABIComponent || st.Impure {
			t.Errorf("stats %+v", st)
		}
		// The guest logs its function name through wasi:logging.
		if l := logs.String(); !strings.Contains(l, "msg=add-one") || !strings.Contains(l, "fun=add_one") {
			t.Errorf("guest log not forwarded: %q", l)
		}
	})
	t.Run("strings", func(t *testing.T) {
		res, _ := run(t, ex, mod, "join-strings", exec.Limits{}, "foo", "bar")
		if res.Err != nil || !spec.Equal(res.Ok, "foobar") {
			t.Fatalf("join-strings = %+v", res)
		}
		res, _ = run(t, ex, mod, "append_string", exec.Limits{}, "hello")
		if res.Err != nil || !spec.Equal(res.Ok, "hello\nworld") {
			t.Fatalf("append_string = %+v", res)
		}
	})
	t.Run("clock is impure", func(t *testing.T) {
		res, st := run(t, ex, mod, "host-fmt-current-time", exec.Limits{})
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if s, ok := res.Ok.(string); !ok || s == "" {
			t.Fatalf("host-fmt-current-time = %#v", res.Ok)
		}
		if !st.Impure {
			t.Error("a task that read the clock is not marked impure")
		}
	})
	t.Run("bad args", func(t *testing.T) {
		res, _ := run(t, ex, mod, "crop", exec.Limits{}, "not", int64(1))
		if res.Err == nil || res.Err.Name != spec.ErrNameBadArgs {
			t.Fatalf("crop with bad args = %+v", res)
		}
	})
	t.Run("image pipeline", func(t *testing.T) {
		res, _ := run(t, ex, mod, "crop", exec.Limits{}, cat, int64(150), int64(350), int64(500), int64(500))
		cropped := checkPNG(t, res, 500, 500)
		res, _ = run(t, ex, mod, "rotate90", exec.Limits{}, cropped)
		rotated := checkPNG(t, res, 500, 500)
		res, _ = run(t, ex, mod, "grayscale", exec.Limits{}, rotated)
		checkPNG(t, res, 500, 500)
	})
	t.Run("image too large for memory", func(t *testing.T) {
		res, _ := run(t, ex, mod, "crop", exec.Limits{MemoryBytes: 2 << 20}, cat, int64(150), int64(350), int64(500), int64(500))
		if res.Err == nil || res.Err.Name != spec.ErrNameMemoryLimit {
			t.Fatalf("crop under 2 MiB = %+v", res.Err)
		}
	})
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func checkPNG(t *testing.T, res spec.Result, w, h int) []byte {
	t.Helper()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	b, ok := res.Ok.([]byte)
	if !ok {
		t.Fatalf("result is %s, want bytes", spec.Kind(res.Ok))
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("result is not a PNG: %v", err)
	}
	if img.Bounds() != image.Rect(0, 0, w, h) {
		t.Fatalf("image is %v, want %dx%d", img.Bounds(), w, h)
	}
	return b
}
