package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/spec"
)

// client talks to a running daemon's gateway.
type client struct {
	base string
	http *http.Client
}

// daemonClient returns a client for the daemon to use, or nil to run
// embedded: --offline forces embedded; --api names a gateway; otherwise the
// repo's api file names one if a daemon answers there.
func (e *env) daemonClient(ctx context.Context) (*client, error) {
	if e.offline {
		return nil, nil
	}
	c := &client{http: &http.Client{}}
	if e.apiURL != "" {
		c.base = strings.TrimRight(e.apiURL, "/")
		if !strings.Contains(c.base, "://") {
			c.base = "http://" + c.base
		}
		if err := c.ping(ctx); err != nil {
			return nil, fmt.Errorf("--api %s: %w", e.apiURL, err)
		}
		return c, nil
	}
	b, err := os.ReadFile(filepath.Join(e.repoPath(), node.APIFile))
	if err != nil {
		return nil, nil // no daemon
	}
	c.base = strings.TrimRight(strings.TrimSpace(string(b)), "/")
	if c.ping(ctx) != nil {
		return nil, nil // a stale api file: the daemon is gone
	}
	return c, nil
}

// viaDaemon runs daemon with a client of the daemon when one answers (see
// daemonClient), else embedded with the repo's node, opened for the call.
func (e *env) viaDaemon(ctx context.Context, daemon func(*client) error, embedded func(*node.Node) error) error {
	cl, err := e.daemonClient(ctx)
	if err != nil {
		return err
	}
	if cl != nil {
		return daemon(cl)
	}
	n, closeNode, err := e.openNode()
	if err != nil {
		return err
	}
	defer closeNode()
	return embedded(n)
}

func (c *client) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/healthz", nil)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz: %s", resp.Status)
	}
	return nil
}

// apiError is an error answer from the gateway.
type apiError struct {
	Status  int
	Name    string `json:"name"`
	Message string `json:"error"`
}

func (e *apiError) Error() string {
	if e.Name != "" {
		return fmt.Sprintf("%s: %s", e.Name, e.Message)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
}

func readAPIError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &apiError{Status: resp.StatusCode}
	if json.Unmarshal(b, e) != nil || e.Message == "" {
		e.Message = strings.TrimSpace(string(b))
	}
	return e
}

// do sends a request and returns the response when it is 2xx.
func (c *client) do(ctx context.Context, method, path string, body io.Reader, hdr map[string]string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, readAPIError(resp)
	}
	return resp, nil
}

// addBlob uploads a file and returns its CID.
func (c *client) addBlob(ctx context.Context, r io.Reader) (cid.Cid, uint64, error) {
	resp, err := c.do(ctx, http.MethodPost, "/v1/blobs", r, map[string]string{"Content-Type": "application/octet-stream"})
	if err != nil {
		return cid.Undef, 0, err
	}
	defer resp.Body.Close()
	var out struct {
		CID  string `json:"cid"`
		Size uint64 `json:"size"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return cid.Undef, 0, err
	}
	cc, err := spec.ParseCID(out.CID)
	return cc, out.Size, err
}

// adder uploads a file module to the daemon.
func (c *client) adder() fileAdder { return addFileWith(c.addBlob) }

// addFileWith turns a blob store's add function into a fileAdder.
func addFileWith(add func(context.Context, io.Reader) (cid.Cid, uint64, error)) fileAdder {
	return func(ctx context.Context, path string) (cid.Cid, error) {
		f, err := os.Open(path)
		if err != nil {
			return cid.Undef, err
		}
		defer f.Close()
		c, _, err := add(ctx, f)
		return c, err
	}
}

// identity returns the daemon's DID.
func (c *client) identity(ctx context.Context) (string, error) {
	resp, err := c.do(ctx, http.MethodGet, "/v1/id", nil, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var id struct {
		DID string `json:"did"`
	}
	err = json.NewDecoder(resp.Body).Decode(&id)
	return id.DID, err
}

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	Name string
	Data []byte
}

// submit posts a workflow and calls onEvent for each SSE event.
func (c *client) submit(ctx context.Context, body []byte, token string, onEvent func(sseEvent) error) error {
	hdr := map[string]string{"Content-Type": "application/json", "Accept": "text/event-stream"}
	if token != "" {
		hdr["Authorization"] = "Bearer " + token
	}
	resp, err := c.do(ctx, http.MethodPost, "/v1/workflows", bytes.NewReader(body), hdr)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.Name != "" || len(ev.Data) > 0 {
				if err := onEvent(ev); err != nil {
					return err
				}
				if ev.Name == "done" {
					return nil
				}
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			ev.Name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			if len(ev.Data) > 0 {
				ev.Data = append(ev.Data, '\n')
			}
			ev.Data = append(ev.Data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")...)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("the daemon closed the stream before the workflow was done")
}

// rewriteFileModules uploads every {"file": path} module of a native
// workflow through add and returns the workflow JSON with links in their
// place, so the daemon (which reads no local files) can parse it.
func rewriteFileModules(ctx context.Context, body []byte, dir string, add fileAdder) ([]byte, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return body, nil // let the daemon report the syntax error
	}
	tasks, _ := doc["tasks"].([]any)
	changed := false
	for _, t := range tasks {
		tm, _ := t.(map[string]any)
		args, _ := tm["args"].(map[string]any)
		mod, _ := args["mod"].(map[string]any)
		p, ok := mod["file"].(string)
		if !ok || len(mod) != 1 {
			continue
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		c, err := add(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", p, err)
		}
		args["mod"] = map[string]any{"/": c.String()}
		changed = true
	}
	if !changed {
		return body, nil
	}
	return json.Marshal(doc)
}
