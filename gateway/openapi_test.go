package gateway

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIMatchesMux checks that every path and method of the OpenAPI
// document is routed by the mux to a route of the same pattern, and that
// every route is in the document, with its declared status codes
// including every error code the handlers are tested for.
func TestOpenAPIMatchesMux(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	s, err := New(Config{Node: newFakeNode()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Document → mux.
	inDoc := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			pattern := strings.ToUpper(method) + " " + muxPath(path)
			inDoc[pattern] = true
			url := strings.NewReplacer("{cid}", "bafkqaaa", "{file}", "app.js").Replace(path)
			req := httptest.NewRequest(strings.ToUpper(method), url, nil)
			if _, got := s.mux.Handler(req); got != pattern {
				t.Errorf("document has %s %s; the mux routes it to %q", strings.ToUpper(method), path, got)
			}
		}
	}
	// Mux → document.
	for _, rt := range routes {
		if !inDoc[rt.pattern] {
			t.Errorf("route %q is not in openapi.json", rt.pattern)
		}
	}
	if len(inDoc) != len(routes) {
		t.Errorf("document has %d operations, the mux %d routes", len(inDoc), len(routes))
	}

	// Declared responses cover the codes the handlers give.
	responses := func(pattern string) []string {
		method, path, _ := strings.Cut(pattern, " ")
		var op struct {
			Responses map[string]json.RawMessage `json:"responses"`
		}
		for p, ops := range doc.Paths {
			if muxPath(p) == path {
				json.Unmarshal(ops[strings.ToLower(method)], &op)
			}
		}
		var codes []string
		for c := range op.Responses {
			codes = append(codes, c)
		}
		return codes
	}
	for pattern, codes := range map[string][]string{
		"POST /v1/workflows":      {"200", "202", "400", "401", "403", "406", "408", "413", "429", "503"},
		"GET /v1/receipts/{cid}":  {"200", "400", "404"},
		"GET /v1/workflows/{cid}": {"200", "400", "404"},
		"POST /v1/blobs":          {"201", "400", "401", "408", "413"},
		"GET /v1/blobs/{cid}":     {"200", "400", "404"},
	} {
		got := responses(pattern)
		for _, c := range codes {
			if !slices.Contains(got, c) {
				t.Errorf("%s: response %s not documented (has %v)", pattern, c, got)
			}
		}
	}
}

// muxPath turns an OpenAPI path into the path of a mux pattern.
func muxPath(p string) string {
	if p == "/" {
		return "/{$}"
	}
	return p
}
