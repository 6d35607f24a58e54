package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/receipt"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/ucan"
	"github.com/ipvm-go/ipvm/workflow"
)

func newRunCmd(e *env) *cobra.Command {
	var asJSON, explain bool
	var adds, proofFiles []string
	c := &cobra.Command{
		Use:   "run FILE",
		Short: "Run a workflow and print one line per task",
		Long: `Run a workflow file (ipvm's JSON or Homestar's) and print one line per task:
its name, task CID, receipt CID and result, "(cached)" when the result came from
the memo table. Modules given as {"file": path} are added to the repo first.
Exits 1 if any task failed.`,
		Example: `  ipvm run examples/hello.json
  ipvm run --json --add examples/pipeline/input.txt examples/pipeline.json
  ipvm run --add ../shared/vectors/homestar/example_test.wasm ../shared/vectors/homestar/workflow-add-one.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cl, err := e.daemonClient(ctx)
			if err != nil {
				return err
			}
			if cl != nil {
				return e.runRemote(ctx, cl, args[0], adds, proofFiles, asJSON, explain)
			}
			n, closeNode, err := e.openNode()
			if err != nil {
				return err
			}
			defer closeNode()
			add := nodeAdder(n)
			for _, f := range adds {
				c, err := add(ctx, f)
				if err != nil {
					return fmt.Errorf("--add %s: %w", f, err)
				}
				if !asJSON {
					fmt.Fprintf(e.stderr, "added %s as %s\n", f, c)
				}
			}
			wf, err := parseWorkflowFile(ctx, args[0], add)
			if err != nil {
				return err
			}
			for _, w := range wf.Warnings {
				fmt.Fprintf(e.stderr, "warning: %s\n", w)
			}
			grant, err := e.grant(ctx, n, wf, proofFiles)
			if err != nil {
				return err
			}
			p := newProgress(e.stderr, len(wf.Tasks), !asJSON)
			defer p.stop()
			var mu sync.Mutex
			var printErr error
			sum, err := n.Run(ctx, wf, node.RunOptions{
				Grant:   grant,
				OnStart: p.started,
				OnEvent: func(ev node.Event) {
					mu.Lock()
					defer mu.Unlock()
					p.clear()
					if err := printEvent(e.stdout, ev, asJSON); err != nil && printErr == nil {
						printErr = err
					}
					if explain {
						printExplain(e.explainOut(asJSON), ev.Name, ev.Bytes)
					}
					p.finished(ev.Name)
				},
			})
			if err != nil {
				return err
			}
			if printErr != nil {
				return printErr
			}
			if sum.Failed > 0 {
				p.stop()
				if !asJSON {
					fmt.Fprintf(e.stderr, "%d of %d tasks failed\n", sum.Failed, len(wf.Tasks))
				}
				return exitCode(1)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, `print one {"name","task","receipt","out","cached"} object per task per line`)
	c.Flags().StringArrayVar(&adds, "add", nil, "add a file (module or data) to the repo before running; repeatable")
	c.Flags().StringArrayVar(&proofFiles, "proof", nil, "a delegation (token or container file) to run under another subject's authority; repeatable")
	c.Flags().BoolVar(&explain, "explain", false, "print, per task, where it ran: the candidate nodes with the bytes each would move, the choice and any fallback (needs the daemon's network; embedded runs say so)")
	return c
}

// explainOut is where --explain writes: stdout, or stderr with --json so
// that stdout stays one JSON object per line.
func (e *env) explainOut(asJSON bool) io.Writer {
	if asJSON {
		return e.stderr
	}
	return e.stdout
}

// printExplain prints the placement recorded in a receipt's meta.
func printExplain(w io.Writer, name string, rb []byte) {
	s, err := receipt.Decode(rb)
	if err != nil {
		fmt.Fprintf(w, "  placement of %q: receipt does not decode: %v\n", name, err)
		return
	}
	pm, _ := s.Meta["placement"].(map[string]any)
	if pm == nil {
		fmt.Fprintf(w, "  placement of %q: ran on this node; no network (embedded run, or a cached receipt), so no candidates were weighed: start the daemon for placement\n", name)
		return
	}
	fmt.Fprintf(w, "  placement of %q: ran on %v (%v), moved %v bytes of module and inputs\n", name, pm["on"], pm["did"], pm["moved"])
	cands, _ := pm["candidates"].([]any)
	for _, c := range cands {
		m, _ := c.(map[string]any)
		who := fmt.Sprint(m["peer"])
		if m["local"] == true {
			who += " (asking node)"
		}
		switch {
		case m["excluded"] != nil:
			fmt.Fprintf(w, "    %-60s excluded: %v\n", who, m["excluded"])
		case m["peer"] == pm["on"]:
			fmt.Fprintf(w, "    %-60s %12v bytes  <- chosen\n", who, m["bytes"])
		default:
			fmt.Fprintf(w, "    %-60s %12v bytes\n", who, m["bytes"])
		}
	}
	fb, _ := pm["fallback"].([]any)
	for _, f := range fb {
		m, _ := f.(map[string]any)
		fmt.Fprintf(w, "    fell back from %v: %v\n", m["peer"], m["err"])
	}
}

// fetchExplain fetches a receipt's bytes from the daemon and prints its
// placement.
func fetchExplain(ctx context.Context, cl *client, w io.Writer, name, rcpt string) {
	resp, err := cl.do(ctx, http.MethodGet, "/v1/receipts/"+rcpt, nil, map[string]string{"Accept": "application/vnd.ipld.dag-cbor"})
	if err != nil {
		fmt.Fprintf(w, "  placement of %q: %v\n", name, err)
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		fmt.Fprintf(w, "  placement of %q: %v\n", name, err)
		return
	}
	printExplain(w, name, b)
}

// openNode opens the repo and its node in embedded mode.
func (e *env) openNode() (*node.Node, func(), error) {
	repo, err := node.OpenRepo(e.repoPath())
	if err != nil {
		return nil, nil, err
	}
	n, err := node.Open(repo, node.Options{Meter: defaultMeter()})
	if err != nil {
		return nil, nil, err
	}
	return n, func() { n.Close() }, nil
}

// grant signs the workflow's invocation with the repo key (on the repo
// owner's own authority, or on the authority the --proof delegations carry)
// and has the node validate it.
func (e *env) grant(ctx context.Context, n *node.Node, wf *workflow.Workflow, proofFiles []string) (*node.Grant, error) {
	proofs, err := readProofs(proofFiles)
	if err != nil {
		return nil, err
	}
	inv, err := node.SignWorkflow(n.Key(), wf.CID, proofs, "", 0)
	if err != nil {
		return nil, err
	}
	return n.Authorize(ctx, wf, inv, proofs)
}

// nodeAdder adds a file module to the node's store.
func nodeAdder(n *node.Node) fileAdder { return addFileWith(n.AddBlob) }

// jsonEvent is the --json form of a finished task: a contract that scripts
// and the conformance suite depend on.
type jsonEvent struct {
	Name    string          `json:"name"`
	Task    string          `json:"task"`
	Receipt string          `json:"receipt"`
	Out     json.RawMessage `json:"out"`
	Cached  bool            `json:"cached"`
	From    string          `json:"from,omitempty"`
}

func printEvent(w io.Writer, ev node.Event, asJSON bool) error {
	if asJSON {
		out, err := spec.EncodeJSON(ev.Out.IPLD())
		if err != nil {
			return err
		}
		b, err := json.Marshal(jsonEvent{
			Name: ev.Name, Task: ev.Task.String(), Receipt: ev.Receipt.String(),
			Out: out, Cached: ev.Cached, From: ev.From,
		})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	line := fmt.Sprintf("%s\t%s\t%s\t%s", ev.Name, ev.Task, ev.Receipt, describeResult(ev.Out))
	if ev.Cached {
		if ev.From != "" {
			line += " (cached from " + ev.From + ")"
		} else {
			line += " (cached)"
		}
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

// describeResult renders a result for a person on one line.
func describeResult(r spec.Result) string {
	if r.Err != nil {
		return "error " + r.Err.Name + ": " + oneLine(r.Err.Message, 200)
	}
	switch v := r.Ok.(type) {
	case []byte:
		return fmt.Sprintf("ok <%d bytes>", len(v))
	}
	return "ok " + oneLine(spec.MustJSON(r.Ok), 200)
}

func oneLine(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// progress shows a live status line on a terminal while tasks run.
type progress struct {
	w       io.Writer
	on      bool
	total   int
	mu      sync.Mutex
	done    int
	running map[string]time.Time
	stopped chan struct{}
	once    sync.Once
}

func newProgress(w io.Writer, total int, want bool) *progress {
	p := &progress{w: w, on: want && isTerminal(w), total: total, running: map[string]time.Time{}, stopped: make(chan struct{})}
	if p.on {
		go p.loop()
	}
	return p
}

func (p *progress) loop() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stopped:
			return
		case <-t.C:
			p.draw()
		}
	}
}

func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	var names []string
	for n := range p.running {
		names = append(names, n)
	}
	fmt.Fprintf(p.w, "\r\033[K%d/%d done, running: %s", p.done, p.total, oneLine(strings.Join(names, ", "), 60))
}

func (p *progress) clear() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func (p *progress) started(name string) {
	p.mu.Lock()
	p.running[name] = time.Now()
	p.mu.Unlock()
}

func (p *progress) finished(name string) {
	p.mu.Lock()
	delete(p.running, name)
	p.done++
	p.mu.Unlock()
}

func (p *progress) stop() {
	p.once.Do(func() {
		close(p.stopped)
		p.clear()
	})
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// runRemote runs a workflow on a daemon: file modules and --add files are
// uploaded, the workflow is posted, and receipts are printed as the daemon
// streams them. With --proof, the invocation is signed with this repo's key
// and sent as a bearer token.
func (e *env) runRemote(ctx context.Context, cl *client, path string, adds, proofFiles []string, asJSON, explain bool) error {
	add := cl.adder()
	for _, f := range adds {
		c, err := add(ctx, f)
		if err != nil {
			return fmt.Errorf("--add %s: %w", f, err)
		}
		if !asJSON {
			fmt.Fprintf(e.stderr, "added %s as %s\n", f, c)
		}
	}
	raw, err := readCapped(path, maxWorkflowFile)
	if err != nil {
		return err
	}
	body, err := rewriteFileModules(ctx, raw, filepath.Dir(path), add)
	if err != nil {
		return err
	}
	token := ""
	if len(proofFiles) > 0 {
		wf, err := workflow.Parse(body, workflow.ParseOptions{})
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		repo, err := node.OpenRepo(e.repoPath())
		if err != nil {
			return err
		}
		proofs, err := readProofs(proofFiles)
		if err != nil {
			return err
		}
		aud, err := cl.identity(ctx)
		if err != nil {
			return err
		}
		inv, err := node.SignWorkflow(repo.Key, wf.CID, proofs, aud, 0)
		if err != nil {
			return err
		}
		if token, err = ucan.EncodeContainer(append([]*ucan.Token{inv}, proofs...)...); err != nil {
			return err
		}
	}
	failed := 0
	err = cl.submit(ctx, body, token, func(ev sseEvent) error {
		switch ev.Name {
		case "receipt":
			var je jsonEvent
			if err := json.Unmarshal(ev.Data, &je); err != nil {
				return fmt.Errorf("bad receipt event: %w", err)
			}
			var out map[string]json.RawMessage
			json.Unmarshal(je.Out, &out)
			if _, ok := out["ok"]; !ok {
				failed++
			}
			if explain {
				defer fetchExplain(ctx, cl, e.explainOut(asJSON), je.Name, je.Receipt)
			}
			if asJSON {
				_, err := fmt.Fprintf(e.stdout, "%s\n", ev.Data)
				return err
			}
			return printRemoteEvent(e.stdout, je)
		case "error":
			return fmt.Errorf("daemon: %s", ev.Data)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if failed > 0 {
		return exitCode(1)
	}
	return nil
}

// printRemoteEvent prints a streamed receipt like printEvent does.
func printRemoteEvent(w io.Writer, je jsonEvent) error {
	v, err := spec.DecodeJSON(je.Out, spec.Limits{})
	if err != nil {
		return err
	}
	r, err := spec.ResultFromIPLD(v)
	if err != nil {
		return err
	}
	line := fmt.Sprintf("%s\t%s\t%s\t%s", je.Name, je.Task, je.Receipt, describeResult(r))
	if je.Cached {
		line += " (cached)"
	}
	_, err = fmt.Fprintln(w, line)
	return err
}

// readProofs reads delegation files.
func readProofs(files []string) ([]*ucan.Token, error) {
	var proofs []*ucan.Token
	for _, f := range files {
		b, err := readCapped(f, 1<<20)
		if err != nil {
			return nil, fmt.Errorf("--proof: %w", err)
		}
		toks, err := ucan.ReadTokens(b, ucan.Limits{})
		if err != nil {
			return nil, fmt.Errorf("--proof %s: %w", f, err)
		}
		proofs = append(proofs, toks...)
	}
	return proofs, nil
}
