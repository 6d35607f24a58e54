package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ipvm-go/ipvm/spec"
)

// zeros is an endless reader of '0' bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

// TestHostileHTTP sends abusive requests; each must get a clear 4xx with a
// JSON error body, and the server must keep serving after each.
func TestHostileHTTP(t *testing.T) {
	node := newFakeNode()
	_, base := startServer(t, node, func(c *Config) {
		c.ReadTimeout = time.Second
	})
	addr := strings.TrimPrefix(base, "http://")
	unknown := spec.SumCBOR([]byte("unknown")).String()
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	deepInString := `{"name": "` + strings.Repeat("[", 10000) + `", "tasks": [{"name": "a", "fun": "f"}]}`

	type result struct {
		code int
		name string
	}
	tests := []struct {
		name string
		send func(t *testing.T) result
		want result
	}{
		{"100 MB body with Content-Length", func(t *testing.T) result {
			// Like curl: keep sending while reading the early answer.
			return bigBody(t, addr, "length")
		}, result{413, "TooLarge"}},
		{"100 MB body with Expect: 100-continue", func(t *testing.T) result {
			return bigBody(t, addr, "expect")
		}, result{413, "TooLarge"}},
		{"100 MB blob", func(t *testing.T) result {
			req, _ := http.NewRequest("POST", base+"/v1/blobs", io.LimitReader(zeros{}, 100<<20))
			req.ContentLength = 100 << 20
			req.Header.Set("Expect", "100-continue")
			return send(t, req)
		}, result{413, "TooLarge"}},
		{"100 MB body chunked", func(t *testing.T) result {
			return bigBody(t, addr, "chunked")
		}, result{413, "TooLarge"}},
		{"10 000-deep JSON", func(t *testing.T) result {
			req, _ := http.NewRequest("POST", base+"/v1/workflows", strings.NewReader(deep))
			return send(t, req)
		}, result{400, "TooDeep"}},
		{"brackets inside a string are not depth", func(t *testing.T) result {
			req, _ := http.NewRequest("POST", base+"/v1/workflows", strings.NewReader(deepInString))
			return send(t, req)
		}, result{202, ""}},
		{"slow-drip body", func(t *testing.T) result {
			return slowDrip(t, addr)
		}, result{408, "Timeout"}},
		{"malformed SSE Accept", func(t *testing.T) result {
			req, _ := http.NewRequest("POST", base+"/v1/workflows", strings.NewReader(wf3))
			req.Header.Set("Accept", "text/event-stream; ;=;q")
			return send(t, req)
		}, result{400, "BadRequest"}},
		{"unknown CID", func(t *testing.T) result {
			req, _ := http.NewRequest("GET", base+"/v1/receipts/"+unknown, nil)
			return send(t, req)
		}, result{404, "NotFound"}},
		{"bad CID string", func(t *testing.T) result {
			req, _ := http.NewRequest("GET", base+"/v1/receipts/bafy%00%ff-not-a-cid", nil)
			return send(t, req)
		}, result{400, "BadCID"}},
		{"bad token", func(t *testing.T) result {
			req, _ := http.NewRequest("POST", base+"/v1/workflows", strings.NewReader(wf3))
			req.Header.Set("Authorization", "Bearer "+strings.Repeat("A", 4000))
			return send(t, req)
		}, result{401, "InvalidSignature"}},
		{"huge header", func(t *testing.T) result {
			req, _ := http.NewRequest("GET", base+"/healthz", nil)
			req.Header.Set("X-Junk", strings.Repeat("j", 200<<10))
			return send(t, req)
		}, result{431, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.send(t); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if code, _, body := do(t, "GET", base+"/healthz", ""); code != 200 {
				t.Fatalf("server not serving after %s: %d %s", tt.name, code, body)
			}
		})
	}
}

// send does req on a fresh connection and returns the status and the
// error name of the body (empty when not an error body).
func send(t *testing.T, req *http.Request) (r struct {
	code int
	name string
}) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, ExpectContinueTimeout: 5 * time.Second}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	r.code = resp.StatusCode
	if resp.StatusCode >= 400 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		r.name = decode[errorBody](t, b).Name
	}
	return r
}

// slowDrip sends headers promising a body, then one byte every 100 ms,
// past the server's read timeout, and reads the answer.
func slowDrip(t *testing.T, addr string) (r struct {
	code int
	name string
}) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/workflows HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", addr)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	return readAnswer(t, conn)
}

// bigBody sends a 100 MB workflow body on a raw connection while reading
// the answer, as a client that reads early answers (curl) does. mode is
// "length" (Content-Length), "expect" (Expect: 100-continue, no body sent
// unless the server asks) or "chunked".
func bigBody(t *testing.T, addr, mode string) (r struct {
	code int
	name string
}) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/workflows HTTP/1.1\r\nHost: %s\r\n", addr)
	body := io.LimitReader(zeros{}, 100<<20)
	switch mode {
	case "length":
		fmt.Fprintf(conn, "Content-Length: %d\r\n\r\n", 100<<20)
		go io.Copy(conn, body) // ends with an error when the server closes
	case "expect":
		fmt.Fprintf(conn, "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", 100<<20)
	case "chunked":
		fmt.Fprintf(conn, "Transfer-Encoding: chunked\r\n\r\n")
		go func() {
			chunk := make([]byte, 64<<10)
			zeros{}.Read(chunk)
			for range 1600 {
				if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
					return
				}
			}
		}()
	}
	return readAnswer(t, conn)
}

// readAnswer reads one HTTP answer from conn and returns its status and
// error name.
func readAnswer(t *testing.T, conn net.Conn) (r struct {
	code int
	name string
}) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r.code = resp.StatusCode
	r.name = decode[errorBody](t, b).Name
	return r
}
