package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/receipt"
	"github.com/ipvm-go/ipvm/spec"
)

// startDaemon starts a daemon on a fresh repo with a free port.
func startDaemon(t *testing.T, opts node.Options) *Daemon {
	t.Helper()
	repo, err := node.OpenRepo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d, err := Start(context.Background(), Config{Repo: repo, API: "127.0.0.1:0", Node: opts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

type sseReceipt struct {
	Name, Task, Receipt string
	Out                 map[string]any
	Cached              bool
}

// postSSE posts a workflow asking for SSE and returns its receipt events
// and whether a done event closed the stream.
func postSSE(t *testing.T, base string, body []byte) ([]sseReceipt, bool) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/workflows", bytes.NewReader(body))
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	var out []sseReceipt
	sc := bufio.NewScanner(resp.Body)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "receipt":
			var r sseReceipt
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &r); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		case strings.HasPrefix(line, "data: ") && event == "done":
			return out, true
		}
	}
	return out, false
}

func get(t *testing.T, url, accept string) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// uploadHello stores examples/hello.wasm through the gateway.
func uploadHello(t *testing.T, base string) string {
	t.Helper()
	wasm, err := os.ReadFile("../../examples/hello.wasm")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/v1/blobs", "application/octet-stream", bytes.NewReader(wasm))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ CID string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.CID == "" {
		t.Fatalf("upload: %d %v", resp.StatusCode, err)
	}
	return out.CID
}

// TestGatewayEndToEnd: POST a workflow with SSE, get every receipt by its
// CID and by its task CID (identical signed bytes that verify), then POST
// it again: every task cached (Spec: §10).
func TestGatewayEndToEnd(t *testing.T) {
	d := startDaemon(t, node.Options{})
	base := d.URL()
	mod := uploadHello(t, base)
	body := []byte(`{"name":"e2e","tasks":[
	 {"name":"one","args":{"mod":{"/":"` + mod + `"},"fun":"add_one","params":[1]}},
	 {"name":"two","args":{"mod":{"/":"` + mod + `"},"fun":"add_one","params":[{"await/ok":"one"}]}},
	 {"name":"bad","args":{"mod":{"/":"` + mod + `"},"fun":"nope","params":[]}}]}`)
	first, done := postSSE(t, base, body)
	if !done || len(first) != 3 {
		t.Fatalf("first POST: %d events, done %v", len(first), done)
	}
	for _, ev := range first {
		if ev.Cached {
			t.Errorf("%s cached on the first POST", ev.Name)
		}
		_, _, byRcpt := get(t, base+"/v1/receipts/"+ev.Receipt, "application/vnd.ipld.dag-cbor")
		code, ctype, byTask := get(t, base+"/v1/receipts/"+ev.Task, "application/vnd.ipld.dag-cbor")
		if code != 200 || ctype != "application/vnd.ipld.dag-cbor" || !bytes.Equal(byRcpt, byTask) {
			t.Fatalf("%s: lookups differ (%d %s)", ev.Name, code, ctype)
		}
		s, err := receipt.Decode(byRcpt)
		if err != nil {
			t.Fatal(err)
		}
		if s.CID().String() != ev.Receipt || s.Ran.String() != ev.Task || s.Verify(s.Ran) != nil || s.Iss != d.Node().DID() {
			t.Fatalf("%s: receipt %s does not verify for its task", ev.Name, s.CID())
		}
		_, _, js := get(t, base+"/v1/receipts/"+ev.Receipt, "")
		var view map[string]any
		if err := json.Unmarshal(js, &view); err != nil || view["verified"] != true {
			t.Fatalf("%s: DAG-JSON view %s", ev.Name, js)
		}
	}
	byName := map[string]sseReceipt{}
	for _, ev := range first {
		byName[ev.Name] = ev
	}
	if byName["two"].Out["ok"] != 3.0 || byName["bad"].Out["err"].(map[string]any)["name"] != spec.ErrNameMissingExport {
		t.Fatalf("results: %+v", byName)
	}
	second, done := postSSE(t, base, body)
	if !done || len(second) != 3 {
		t.Fatalf("second POST: %d events", len(second))
	}
	for _, ev := range second {
		if ev.Name != "bad" && (!ev.Cached || ev.Receipt != byName[ev.Name].Receipt) {
			t.Errorf("%s: not answered from the memo table on the second POST", ev.Name)
		}
	}
	// The workflow's status lists every task done or failed.
	code, _, st := get(t, base+"/v1/workflows/"+mustWorkflowCID(t, base, body), "")
	if code != 200 || !strings.Contains(string(st), `"done"`) {
		t.Fatalf("workflow status: %d %s", code, st)
	}
}

func mustWorkflowCID(t *testing.T, base string, body []byte) string {
	t.Helper()
	resp, err := http.Post(base+"/v1/workflows", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Workflow string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 202 {
		t.Fatalf("POST: %d %v", resp.StatusCode, err)
	}
	return out.Workflow
}

// TestSecondDaemonRefused: a second daemon on the same repo fails with a
// clear message, and the first keeps serving.
func TestSecondDaemonRefused(t *testing.T) {
	d := startDaemon(t, node.Options{})
	_, err := Start(context.Background(), Config{Repo: d.Node().Repo(), API: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("second daemon: %v", err)
	}
	if code, _, _ := get(t, d.URL()+"/healthz", ""); code != 200 {
		t.Fatalf("first daemon stopped serving: %d", code)
	}
	apiFile := d.Node().Repo().Path(node.APIFile)
	if _, err := os.Stat(apiFile); err != nil {
		t.Fatal("no api file while serving")
	}
	d.Close()
	if _, err := os.Stat(apiFile); !os.IsNotExist(err) {
		t.Fatal("api file left after Close")
	}
}

// TestRemoteRefusals: a request with a bad token is refused with the UCAN
// error name, and one that is not from loopback needs a token at all.
func TestRemoteRefusals(t *testing.T) {
	d := startDaemon(t, node.Options{})
	req, _ := http.NewRequest("POST", d.URL()+"/v1/workflows", strings.NewReader(`{"tasks":[]}`))
	req.Header.Set("Authorization", "Bearer Bnot-a-container")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 4 || !strings.Contains(string(b), `"name"`) {
		t.Fatalf("bad token: %d %s", resp.StatusCode, b)
	}
}
