package daemon

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/ipvm-go/ipvm/node"
)

// BenchmarkPostMemoized measures POST /v1/workflows with SSE of an
// already-memoized 3-task workflow over loopback, the gateway bench's
// request (internal/bench/gateway.go), from parallel keep-alive clients.
func BenchmarkPostMemoized(b *testing.B) {
	repo, err := node.OpenRepo(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	d, err := Start(b.Context(), Config{Repo: repo, API: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	wasm, err := os.ReadFile("../../examples/hello.wasm")
	if err != nil {
		b.Fatal(err)
	}
	mod, _, err := d.Node().AddBlob(b.Context(), bytes.NewReader(wasm))
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(fmt.Sprintf(`{"name":"bench-gateway","tasks":[`+
		`{"name":"a","args":{"mod":{"/":"%[1]s"},"fun":"add_one","params":[1]}},`+
		`{"name":"b","args":{"mod":{"/":"%[1]s"},"fun":"add_one","params":[{"await/ok":"a"}]}},`+
		`{"name":"c","args":{"mod":{"/":"%[1]s"},"fun":"add_one","params":[{"await/ok":"b"}]}}]}`, mod))
	url := d.URL() + "/v1/workflows"
	post := func(c *http.Client) error {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Accept", "text/event-stream")
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := post(http.DefaultClient); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
		for pb.Next() {
			if err := post(c); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if ex := d.Node().Executions(); ex != 3 {
		b.Fatalf("%d executions, want 3 (every POST after the first a memo hit)", ex)
	}
}
