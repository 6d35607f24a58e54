package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

func workflowCases() []Case {
	return []Case{
		{ID: "workflow.cid", Section: "§5.5", Title: "the workflow CID is the CID of {name, tasks: [{name, task, meta}]}", run: caseWorkflowCID},
		{ID: "workflow.unknown-key", Section: "§5.1", Title: "an unknown key in a native task is refused (400)", run: caseWorkflowUnknownKey},
		{ID: "workflow.mod-forms", Section: "§5.1", Title: "mod as {\"/\": cid}, \"ipfs://cid\" and \"cid\" is the same link, the same task CID", run: caseModForms},
		{ID: "workflow.mod-file-refused", Section: "§5.1", Title: "mod {\"file\": …} is refused by a node, which has no file resolver (400)", run: caseModFile},
		{ID: "workflow.bad-meta", Section: "§5.5", Title: "a negative or fractional meta count, or an empty sub, is refused (400)", run: caseBadMeta},
		{ID: "workflow.long-name", Section: "§5.7", Title: "a task name over 256 bytes is refused (400)", run: caseLongName},
		{ID: "workflow.duplicate-names", Section: "§5.4", Title: "two tasks with one name are refused (400)", run: caseWorkflowDupNames},
		{ID: "workflow.unknown-await", Section: "§5.4", Title: "a promise naming no task of the workflow is refused (400)", run: caseWorkflowUnknownAwait},
		{ID: "workflow.cycle", Section: "§5.4", Title: "a cycle of promises is refused (400) and the error names it", run: caseWorkflowCycle},
		{ID: "workflow.mod-promise", Section: "§5.2", Title: "a promise in args.mod is refused (400)", run: caseWorkflowModPromise},
		{ID: "workflow.same-task-twice", Section: "§5.4", Title: "two tasks with the same CID get the same receipt", run: caseWorkflowSameTask},
		{ID: "workflow.too-deep", Section: "§5.7", Title: "JSON nested deeper than 64 is refused (400 TooDeep)", run: caseWorkflowTooDeep},
		{ID: "workflow.too-many-tasks", Section: "§5.7", Title: "more than 10 000 tasks are refused (400)", run: caseWorkflowTooMany},
		{ID: "workflow.homestar-chain", Section: "§5.6", Title: "a Homestar workflow whose second task awaits the first by link runs: 1 → 2 → 3", run: caseHomestarChain},
		{ID: "workflow.status", Section: "§10", Title: "GET /v1/workflows/{cid} reports every task done or failed, with its receipt", run: caseWorkflowStatus},
	}
}

func caseWorkflowCID(ctx context.Context, s *suite) error {
	sb, err := s.submit(ctx, workflow("wf-cid",
		wasm("a", s.guest, "add_one", s.n(50)),
		with(wasm("b", s.guest, "add_one", obj{"await/ok": "a"}), "meta", obj{"fuel": 5000, "time": "1s", "memory": 1048576}),
	), "")
	if err != nil {
		return err
	}
	var tasks []any
	for _, x := range []struct {
		name string
		meta map[string]any
	}{{"a", map[string]any{}}, {"b", map[string]any{"fuel": int64(5000), "time": int64(1000), "memory": int64(1048576)}}} {
		c, err := cid.Decode(sb.task(x.name))
		if err != nil {
			return fmt.Errorf("task %q: %w", x.name, err)
		}
		tasks = append(tasks, map[string]any{"name": x.name, "task": c, "meta": x.meta})
	}
	want, _, err := spec.CIDOf(map[string]any{"name": "wf-cid", "tasks": tasks})
	if err != nil {
		return err
	}
	if sb.Workflow != want.String() {
		return fmt.Errorf("workflow CID %s, want %s (the CID of %s)", sb.Workflow, want, spec.MustJSON(map[string]any{"name": "wf-cid", "tasks": tasks}))
	}
	return nil
}

func (s *suite) badRequest(ctx context.Context, body []byte, names ...string) (*response, error) {
	r, err := s.post(ctx, body, "")
	if err != nil {
		return nil, err
	}
	return r, wantStatus(r, http.StatusBadRequest, names...)
}

func caseWorkflowUnknownKey(ctx context.Context, s *suite) error {
	_, err := s.badRequest(ctx, workflow("unknown-key", with(wasm("t", s.guest, "add_one", 1), "color", "red")))
	return err
}

func caseLongName(ctx context.Context, s *suite) error {
	_, err := s.badRequest(ctx, workflow("long-name", wasm(strings.Repeat("n", 257), s.guest, "add_one", 1)))
	return err
}

func caseWorkflowDupNames(ctx context.Context, s *suite) error {
	_, err := s.badRequest(ctx, workflow("dup", wasm("t", s.guest, "add_one", 1), wasm("t", s.guest, "add_one", 2)))
	return err
}

func caseWorkflowUnknownAwait(ctx context.Context, s *suite) error {
	_, err := s.badRequest(ctx, workflow("unknown-await", wasm("t", s.guest, "add_one", obj{"await/ok": "nobody"})))
	return err
}

func caseWorkflowCycle(ctx context.Context, s *suite) error {
	r, err := s.badRequest(ctx, workflow("cycle",
		wasm("a", s.guest, "add_one", obj{"await/ok": "b"}),
		wasm("b", s.guest, "add_one", obj{"await/ok": "c"}),
		wasm("c", s.guest, "add_one", obj{"await/ok": "a"}),
	))
	if err != nil {
		return err
	}
	if !strings.Contains(string(r.body), "cycle") {
		return fmt.Errorf("error does not name the cycle: %s", r)
	}
	_, err = s.badRequest(ctx, workflow("self-cycle", wasm("a", s.guest, "add_one", obj{"await/ok": "a"})))
	if err != nil {
		return fmt.Errorf("a task awaiting itself: %w", err)
	}
	return nil
}

func caseWorkflowModPromise(ctx context.Context, s *suite) error {
	_, err := s.badRequest(ctx, workflow("mod-promise",
		wasm("a", s.guest, "add_one", 1),
		obj{"name": "b", "args": obj{"mod": obj{"await/ok": "a"}, "fun": "add_one", "params": []any{1}}},
	))
	return err
}

func caseWorkflowSameTask(ctx context.Context, s *suite) error {
	st, err := s.run(ctx, workflow("same-task",
		wasm("a", s.guest, "add", s.n(51), int64(3)),
		wasm("b", s.guest, "add", s.n(51), int64(3)),
	), "")
	if err != nil {
		return err
	}
	a, err := st.ev("a")
	if err != nil {
		return err
	}
	b, err := st.ev("b")
	if err != nil {
		return err
	}
	if a.Task != b.Task || a.Receipt != b.Receipt {
		return fmt.Errorf("same work: tasks %s/%s, receipts %s/%s", a.Task, b.Task, a.Receipt, b.Receipt)
	}
	return wantOK(st, "b", s.n(51)+3)
}

func caseWorkflowTooDeep(ctx context.Context, s *suite) error {
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	body := fmt.Sprintf(`{"tasks":[{"name":"t","args":{"mod":{"/":%q},"fun":"echo","params":[%s]}}]}`, s.guest, deep)
	_, err := s.badRequest(ctx, []byte(body), "TooDeep")
	return err
}

func caseWorkflowTooMany(ctx context.Context, s *suite) error {
	var b strings.Builder
	b.WriteString(`{"tasks":[`)
	for i := range 10001 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"t%d","args":{"mod":%q,"fun":"add_one","params":[%d]}}`, i, s.guest, i)
	}
	b.WriteString(`]}`)
	_, err := s.badRequest(ctx, []byte(b.String()))
	return err
}

func caseHomestarChain(ctx context.Context, s *suite) error {
	x := s.n(52)
	first := fmt.Sprintf(`{"run":{"op":"wasm/run","rsc":"ipfs://%s","input":{"func":"add_one","args":[%d]},"nnc":""},"meta":{},"prf":[],"cause":null}`, s.guest, x)
	sb, err := s.submit(ctx, []byte(`{"tasks":[`+first+`]}`), "")
	if err != nil {
		return err
	}
	c1 := sb.task("add_one.0")
	second := fmt.Sprintf(`{"run":{"op":"wasm/run","rsc":"ipfs://%s","input":{"func":"add_one","args":[{"await/ok":{"/":%q}}]},"nnc":""},"meta":{},"prf":[],"cause":null}`, s.guest, c1)
	st, err := s.run(ctx, []byte(`{"tasks":[`+first+`,`+second+`]}`), "")
	if err != nil {
		return err
	}
	if err := wantOK(st, "add_one.0", x+1); err != nil {
		return err
	}
	return wantOK(st, "add_one.1", x+2)
}

func caseWorkflowStatus(ctx context.Context, s *suite) error {
	st, err := s.run(ctx, workflow("status",
		wasm("ok", s.guest, "add_one", s.n(53)),
		with(wasm("bad", s.guest, "trap"), "nonce", s.nonce("status")),
	), "")
	if err != nil {
		return err
	}
	var ws struct {
		Workflow string `json:"workflow"`
		Done     bool   `json:"done"`
		Tasks    []struct {
			Name    string          `json:"name"`
			Task    string          `json:"task"`
			State   string          `json:"state"`
			Receipt string          `json:"receipt"`
			Out     json.RawMessage `json:"out"`
		} `json:"tasks"`
	}
	if err := s.getJSON(ctx, "/v1/workflows/"+st.workflow.Workflow, &ws); err != nil {
		return err
	}
	if ws.Workflow != st.workflow.Workflow || !ws.Done || len(ws.Tasks) != 2 {
		return fmt.Errorf("status %+v, want workflow %s done with 2 tasks", ws, st.workflow.Workflow)
	}
	want := map[string]string{"ok": "done", "bad": "failed"}
	for _, t := range ws.Tasks {
		re, err := st.ev(t.Name)
		if err != nil {
			return err
		}
		if t.State != want[t.Name] || t.Receipt != re.Receipt || t.Task != re.Task {
			return fmt.Errorf("task %q: state %s receipt %s task %s; want %s, %s, %s", t.Name, t.State, t.Receipt, t.Task, want[t.Name], re.Receipt, re.Task)
		}
	}
	return nil
}

func caseModForms(ctx context.Context, s *suite) error {
	x := s.n(54)
	var cids []string
	for i, mod := range []any{link(s.guest), "ipfs://" + s.guest, s.guest} {
		t := obj{"name": "t", "args": obj{"mod": mod, "fun": "add_one", "params": []any{x}}}
		sb, err := s.submit(ctx, workflow(fmt.Sprintf("mod-form-%d", i), t), "")
		if err != nil {
			return fmt.Errorf("mod %v: %w", mod, err)
		}
		cids = append(cids, sb.task("t"))
	}
	if cids[0] != cids[1] || cids[1] != cids[2] {
		return fmt.Errorf("the three forms of mod gave task CIDs %v", cids)
	}
	return nil
}

func caseModFile(ctx context.Context, s *suite) error {
	_, err := s.badRequest(ctx, workflow("mod-file", obj{"name": "t", "args": obj{"mod": obj{"file": "guest.wasm"}, "fun": "add_one", "params": []any{1}}}))
	return err
}

func caseBadMeta(ctx context.Context, s *suite) error {
	for _, c := range []struct {
		what string
		t    obj
	}{
		{"fuel -1", with(wasm("t", s.guest, "add_one", 1), "meta", obj{"fuel": -1})},
		{"memory 1.5", with(wasm("t", s.guest, "add_one", 1), "meta", obj{"memory": float(1.5)})},
		{"sub \"\"", with(wasm("t", s.guest, "add_one", 1), "sub", "")},
	} {
		if _, err := s.badRequest(ctx, workflow("bad-meta", c.t)); err != nil {
			return fmt.Errorf("%s: %w", c.what, err)
		}
	}
	return nil
}
