package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

// obj is a JSON object of a workflow being built.
type obj = map[string]any

// link is a DAG-JSON link.
func link(c string) obj { return obj{"/": c} }

// float is a JSON float written with a fraction, so it stays a float
// (encoding/json writes 3.0 as 3, an integer in DAG-JSON).
func float(f float64) json.RawMessage {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return json.RawMessage(s)
}

// wasm is a native /wasm/run task.
func wasm(name, mod, fun string, params ...any) obj {
	if params == nil {
		params = []any{}
	}
	return obj{"name": name, "cmd": "/wasm/run", "args": obj{"mod": link(mod), "fun": fun, "params": params}}
}

// with returns t with key set to v.
func with(t obj, key string, v any) obj {
	t[key] = v
	return t
}

// workflow is a native workflow's JSON.
func workflow(name string, tasks ...obj) []byte {
	b, err := json.Marshal(obj{"name": name, "tasks": tasks})
	if err != nil {
		panic(err) // the suite builds only marshalable values
	}
	return b
}

// outcome decodes a receipt event's DAG-JSON out.
func outcome(re receiptEvent) (spec.Result, error) {
	v, err := spec.DecodeJSON(re.Out, spec.Limits{})
	if err != nil {
		return spec.Result{}, fmt.Errorf("task %q: out is not DAG-JSON: %w", re.Name, err)
	}
	r, err := spec.ResultFromIPLD(v)
	if err != nil {
		return spec.Result{}, fmt.Errorf("task %q: out %s: %w", re.Name, re.Out, err)
	}
	return r, nil
}

// wantOK checks that a task succeeded with want.
// runOK runs body through the gateway with token and checks that task
// name's result is ok and equals want.
func (s *suite) runOK(ctx context.Context, body []byte, token, name string, want any) error {
	st, err := s.run(ctx, body, token)
	if err != nil {
		return err
	}
	return wantOK(st, name, want)
}

func wantOK(st *stream, name string, want any) error {
	re, err := st.ev(name)
	if err != nil {
		return err
	}
	r, err := outcome(re)
	if err != nil {
		return err
	}
	if !r.IsOk() {
		return fmt.Errorf("task %q failed: %s: %s; want ok %s", name, r.Err.Name, r.Err.Message, spec.MustJSON(want))
	}
	if !spec.Equal(spec.Normalize(r.Ok), spec.Normalize(want)) {
		return fmt.Errorf("task %q: ok %s, want %s", name, spec.MustJSON(r.Ok), spec.MustJSON(want))
	}
	return nil
}

// wantErr checks that a task failed with the error name want, and
// returns the failure.
func wantErr(st *stream, name string, want ...string) (*spec.Failure, error) {
	re, err := st.ev(name)
	if err != nil {
		return nil, err
	}
	r, err := outcome(re)
	if err != nil {
		return nil, err
	}
	if r.IsOk() {
		return nil, fmt.Errorf("task %q succeeded with %s; want error %s", name, spec.MustJSON(r.Ok), strings.Join(want, " or "))
	}
	for _, w := range want {
		if r.Err.Name == w {
			return r.Err, nil
		}
	}
	return r.Err, fmt.Errorf("task %q failed with %s (%q); want %s", name, r.Err.Name, r.Err.Message, strings.Join(want, " or "))
}

// wantStatus checks an answer's status and, for an error, the §10 error
// body and its name (any of names; none: any name).
func wantStatus(r *response, status int, names ...string) error {
	if r.status != status {
		return fmt.Errorf("want %d, got %s", status, r)
	}
	if status < 400 {
		return nil
	}
	return checkErrorBody(r, names...)
}

// checkErrorBody checks the §10 error form: JSON {error, name}.
func checkErrorBody(r *response, names ...string) error {
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("error answer has Content-Type %q, want application/json: %s", ct, r)
	}
	var eb errorBody
	if err := json.Unmarshal(r.body, &eb); err != nil || eb.Name == "" || eb.Error == "" {
		return fmt.Errorf("error body is not {error, name}: %s", r)
	}
	if len(names) == 0 {
		return nil
	}
	for _, n := range names {
		if eb.Name == n {
			return nil
		}
	}
	return fmt.Errorf("error name %q, want %s (%s)", eb.Name, strings.Join(names, " or "), eb.Error)
}

// checkCID checks that b hashes to c with c's own multihash function.
func checkCID(c cid.Cid, b []byte) error {
	return spec.VerifyCID(c, b)
}

// isIpvmCID reports whether s is a CIDv1, dag-cbor, sha2-256 CID in
// base32 (§1.4).
func isIpvmCID(s string) error {
	c, err := cid.Decode(s)
	if err != nil {
		return fmt.Errorf("%q is not a CID: %w", s, err)
	}
	p := c.Prefix()
	if p.Version != 1 || p.Codec != cid.DagCBOR || p.MhType != 0x12 || p.MhLength != 32 || !strings.HasPrefix(s, "bafyrei") {
		return fmt.Errorf("%s is not CIDv1 dag-cbor sha2-256 base32", s)
	}
	return nil
}

// metric returns the sum of a Prometheus counter's samples, labels
// matching labelSub when it is not empty.
func (s *suite) metric(ctx context.Context, name, labelSub string) (float64, error) {
	r, err := s.get(ctx, "/metrics", nil)
	if err != nil {
		return 0, err
	}
	if r.status != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics: %s", r)
	}
	sum, found := 0.0, false
	for _, line := range strings.Split(string(r.body), "\n") {
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if labelSub != "" && !strings.Contains(rest, labelSub) {
			continue
		}
		f := strings.Fields(rest[strings.LastIndex(rest, "}")+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("metric %s: %q: %w", name, line, err)
		}
		sum += v
		found = true
	}
	if !found {
		return 0, fmt.Errorf("metric %s not exported", name)
	}
	return sum, nil
}

// n returns a fresh integer for this run: salt + i.
func (s *suite) n(i int64) int64 { return s.salt + i }

// nonce returns a fresh nonce string for this run.
func (s *suite) nonce(tag string) string { return fmt.Sprintf("conformance-%d-%s", s.salt, tag) }
