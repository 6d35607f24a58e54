package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/ipvm-go/ipvm/gateway"
	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/ucan"
	"github.com/ipvm-go/ipvm/workflow"
)

// helloBody is a one-task workflow of hello.wasm's add_one on x, with the
// module added to d's store.
func helloBody(t *testing.T, d *Daemon, x int) []byte {
	t.Helper()
	f, err := os.Open("../../examples/hello.wasm")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mod, _, err := d.Node().AddBlob(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Appendf(nil, `{"name":"p","tasks":[{"name":"a","args":{"mod":{"/":"%s"},"fun":"add_one","params":[%d]}}]}`, mod, x)
}

// drain waits for a submission's events and fails on an error event.
func drain(t *testing.T, s *gateway.Submission) {
	t.Helper()
	for ev := range s.Events {
		if ev.Err != nil {
			t.Fatal(ev.Err)
		}
	}
}

// TestParseCacheSharesParses: an identical body gets the same parsed
// workflow, a different body its own, a body that does not parse is not
// kept, and the cache stays within its bound.
func TestParseCacheSharesParses(t *testing.T) {
	d := startDaemon(t, node.Options{})
	c := &d.api.parsed
	body := helloBody(t, d, 1)
	first, err := c.parse(body)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.parse(append([]byte(nil), body...))
	if err != nil || again != first {
		t.Fatalf("same body: %p, %v; want the first parse %p", again, err, first)
	}
	fresh, err := workflow.Parse(body, workflow.ParseOptions{})
	if err != nil || !fresh.CID.Equals(first.CID) {
		t.Fatalf("kept parse has CID %s, a fresh one %v (%v)", first.CID, fresh, err)
	}
	other, err := c.parse(helloBody(t, d, 2))
	if err != nil || other == first || other.CID.Equals(first.CID) {
		t.Fatalf("another body shares the first parse: %v", err)
	}
	bad := []byte(`{"tasks": [{"name": 1}]}`)
	for range 2 {
		if _, err := c.parse(bad); err == nil {
			t.Fatal("a bad body parsed")
		}
	}
	if c.lru.Len() != 2 || len(c.byKey) != 2 {
		t.Fatalf("cache holds %d (%d keyed), want 2", c.lru.Len(), len(c.byKey))
	}
	for i := range maxParsedWorkflows + 3 {
		if _, err := c.parse(helloBody(t, d, 100+i)); err != nil {
			t.Fatal(err)
		}
	}
	if c.lru.Len() != maxParsedWorkflows || len(c.byKey) != maxParsedWorkflows {
		t.Fatalf("cache holds %d (%d keyed), bound %d", c.lru.Len(), len(c.byKey), maxParsedWorkflows)
	}
	if again, _ := c.parse(body); again == first {
		t.Fatal("the least recently used parse was not dropped")
	}
}

// TestParseCacheKeepsAuthorization: a kept parse never carries a grant.
// After a body is cached, a remote request without a token is still
// refused, a bearer token is validated, and replaying it is refused.
func TestParseCacheKeepsAuthorization(t *testing.T) {
	ctx := context.Background()
	d := startDaemon(t, node.Options{})
	body := helloBody(t, d, 5)
	s, err := d.api.Submit(ctx, body, gateway.Auth{Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, s)
	wf, err := d.api.parsed.parse(body)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := ucan.InvokeWorkflow(d.Node().Key(), d.Node().DID(), wf.CID)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ucan.EncodeContainer(inv)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		auth   gateway.Auth
		status int // 0: accepted
	}{
		{"remote without a token", gateway.Auth{}, 401},
		{"bad token", gateway.Auth{Token: []byte("Bnot-a-container")}, 401},
		{"valid token", gateway.Auth{Token: []byte(tok)}, 0},
		{"replayed token", gateway.Auth{Token: []byte(tok)}, 401},
		{"replayed token from loopback", gateway.Auth{Token: []byte(tok), Loopback: true}, 401},
		{"loopback owner", gateway.Auth{Loopback: true}, 0},
	}
	for _, tt := range tests {
		s, err := d.api.Submit(ctx, body, tt.auth)
		if tt.status == 0 {
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			drain(t, s)
			continue
		}
		var ae *authError
		if !errors.As(err, &ae) {
			t.Fatalf("%s: accepted (%v), want a refusal", tt.name, err)
		}
		if ae.HTTPStatus()/100 != tt.status/100 {
			t.Errorf("%s: %d %s, want %d", tt.name, ae.HTTPStatus(), ae.ErrorName(), tt.status)
		}
	}
}
