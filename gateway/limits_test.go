package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ipvm-go/ipvm/spec"
)

func TestJSONDepth(t *testing.T) {
	tests := []struct {
		in      string
		max     int
		depth   int
		tooDeep bool
	}{
		{`1`, 4, 0, false},
		{`[]`, 4, 1, false},
		{`{"a": [1, {"b": []}]}`, 4, 4, false},
		{`{"a": [1, {"b": []}]}`, 2, 3, true},
		{`"[[[[[["`, 1, 0, false},
		{`["\"[[[["]`, 1, 1, false},
		{`["\\", [[]]]`, 3, 3, false},
		{`["\\", [[]]]`, 2, 3, true},
		{strings.Repeat("[", 10000), 64, 65, true},
	}
	for _, tt := range tests {
		d, err := jsonDepth([]byte(tt.in), tt.max)
		if (err != nil) != tt.tooDeep || d != tt.depth {
			t.Errorf("jsonDepth(%.30q, %d) = %d, %v; want %d, too deep %v", tt.in, tt.max, d, err, tt.depth, tt.tooDeep)
		}
	}
}

// trueDepth is the nesting depth of valid JSON by encoding/json tokens.
func trueDepth(b []byte) (int, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return deepest, true
		}
		if err != nil {
			return 0, false
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
			deepest = max(deepest, depth)
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
}

// FuzzJSONDepth checks the byte scan against encoding/json on valid
// input, and that it never panics on any input.
func FuzzJSONDepth(f *testing.F) {
	for _, s := range []string{`{}`, `[[["\"]"]]]`, `{"a": "\\\\"}`, wf3, `[` + strings.Repeat(`{"x":[`, 30)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := jsonDepth(b, 1<<20)
		if err != nil {
			t.Fatalf("unexpected error with a huge cap: %v", err)
		}
		if want, ok := trueDepth(b); ok && json.Valid(b) && d != want {
			t.Fatalf("depth %d, encoding/json says %d for %q", d, want, b)
		}
		if d > 0 {
			if _, err := jsonDepth(b, d-1); err == nil {
				t.Fatalf("cap %d below depth %d not enforced", d-1, d)
			}
		}
	})
}

func TestWantsSSE(t *testing.T) {
	tests := []struct {
		accept string
		sse    bool
		err    error
	}{
		{"", false, nil},
		{"*/*", false, nil},
		{"application/json", false, nil},
		{"text/event-stream", true, nil},
		{"application/json, text/event-stream;q=0.9", true, nil},
		{"text/event-stream;q=0, application/json", false, nil},
		{"text/event-stream;q=0", false, errNotAcceptable},
		{"image/png", false, errNotAcceptable},
		{"text/event-stream;q=2", false, errBadAccept},
		{"text/event-stream;q=abc", false, errBadAccept},
		{"text/event-stream; ;=;q", false, errBadAccept},
		{"/", false, errBadAccept},
	}
	for _, tt := range tests {
		sse, err := wantsSSE(tt.accept)
		if sse != tt.sse || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("wantsSSE(%q) = %v, %v; want %v, %v", tt.accept, sse, err, tt.sse, tt.err)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	tests := map[string]bool{
		"127.0.0.1:80":         true,
		"127.8.9.10:1":         true,
		"[::1]:5080":           true,
		"[::ffff:127.0.0.1]:1": true,
		"10.0.0.1:80":          false,
		"[::2]:80":             false,
		"localhost:80":         false,
		"garbage":              false,
		"":                     false,
	}
	for addr, want := range tests {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v", addr, got)
		}
	}
}

func TestBearer(t *testing.T) {
	tests := []struct {
		h, tok string
		err    bool
	}{
		{"", "", false},
		{"Bearer abc", "abc", false},
		{"bearer  abc ", "abc", false},
		{"Bearer", "", true},
		{"Bearer ", "", true},
		{"Basic abc", "", true},
		{"abc", "", true},
	}
	for _, tt := range tests {
		tok, err := bearer(tt.h)
		if string(tok) != tt.tok || (err != nil) != tt.err {
			t.Errorf("bearer(%q) = %q, %v", tt.h, tok, err)
		}
		if err != nil && !errors.Is(err, ErrUnauthorized) {
			t.Errorf("bearer(%q) error %v is not ErrUnauthorized", tt.h, err)
		}
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		err  error
		code int
		name string
	}{
		{ErrBadRequest, 400, "BadRequest"},
		{ErrUnauthorized, 401, "Unauthorized"},
		{&authError{ErrUnauthorized, "InvalidSignature"}, 401, "InvalidSignature"},
		{&authError{ErrForbidden, "Expired"}, 403, "Expired"},
		{ErrNotFound, 404, "NotFound"},
		{ErrBusy, 429, "Busy"},
		{ErrStopped, 503, "Stopped"},
		{errors.New("disk on fire"), 500, "Internal"},
		{statusErr{418, "Teapot"}, 418, "Teapot"},
		{statusErr{200, "Odd"}, 500, "Odd"},
		{errors.Join(ErrForbidden, spec.Failf(spec.ErrNameUnauthorized, "no proof")), 403, "Unauthorized"},
	}
	for _, tt := range tests {
		code, name := statusOf(tt.err)
		if code != tt.code || name != tt.name {
			t.Errorf("statusOf(%v) = %d %q; want %d %q", tt.err, code, name, tt.code, tt.name)
		}
	}
}

type statusErr struct {
	code int
	name string
}

func (e statusErr) Error() string     { return e.name }
func (e statusErr) HTTPStatus() int   { return e.code }
func (e statusErr) ErrorName() string { return e.name }

func TestLoopbackHostAndOrigin(t *testing.T) {
	hosts := map[string]bool{
		"127.0.0.1:5080": true, "localhost:5080": true, "LOCALHOST": true, "[::1]:80": true, "127.0.0.1": true,
		"evil.example:5080": false, "10.0.0.1:80": false, "": false, "localhost.evil.example": false,
	}
	for h, want := range hosts {
		if got := isLoopbackHost(h); got != want {
			t.Errorf("isLoopbackHost(%q) = %v", h, got)
		}
	}
	origins := []struct {
		origin, host string
		ok           bool
	}{
		{"", "127.0.0.1:5080", true},
		{"http://127.0.0.1:5080", "127.0.0.1:5080", true},
		{"http://127.0.0.1:5081", "127.0.0.1:5080", false},
		{"http://evil.example", "127.0.0.1:5080", false},
		{"null", "127.0.0.1:5080", false},
		{"::", "127.0.0.1:5080", false},
	}
	for _, o := range origins {
		r := httptest.NewRequest("POST", "/v1/workflows", nil)
		r.Host = o.host
		if o.origin != "" {
			r.Header.Set("Origin", o.origin)
		}
		err := sameOrigin(r)
		if (err == nil) != o.ok {
			t.Errorf("sameOrigin(%q on %q) = %v", o.origin, o.host, err)
		}
		if err != nil {
			if code, name := statusOf(err); code != 403 || name != "CrossOrigin" {
				t.Errorf("cross-origin maps to %d %q", code, name)
			}
		}
	}
}

// FuzzAccept: the Accept parsers never panic and agree with each other.
func FuzzAccept(f *testing.F) {
	for _, s := range []string{"", "*/*", "text/event-stream", "text/event-stream;q=0.5, application/json",
		"text/event-stream;q=0", "application/vnd.ipld.dag-cbor", "a/b;c=\"d,e\"", ";;", "text/event-stream; ;=;q"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		sse, err := wantsSSE(accept)
		if sse && err != nil {
			t.Fatalf("sse and error %v", err)
		}
		if sse && !accepts(accept, MediaSSE) {
			t.Fatalf("wantsSSE(%q) but accepts() disagrees", accept)
		}
	})
}
