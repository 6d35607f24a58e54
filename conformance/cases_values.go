package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/ipvm-go/ipvm/invocation"
	"github.com/ipvm-go/ipvm/spec"
)

// vector is a golden vector of spec/testdata/vectors.json (§1.5).
type vector struct {
	Name  string          `json:"name"`
	Kind  string          `json:"kind"`
	Input json.RawMessage `json:"input"`
	CID   string          `json:"cid"`
}

// taskVectors returns the golden task vectors.
func taskVectors() ([]vector, error) {
	b, err := testdata.ReadFile("testdata/vectors.json")
	if err != nil {
		return nil, err
	}
	var all []vector
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	var out []vector
	for _, v := range all {
		if v.Kind == "task" {
			out = append(out, v)
		}
	}
	return out, nil
}

// vectorTask turns a vector's task into a native workflow task named
// name: the same sub, cmd, args and nonce, spliced as written.
func vectorTask(name string, v vector) (obj, error) {
	var in string
	if err := json.Unmarshal(v.Input, &in); err != nil {
		return nil, fmt.Errorf("vector %s: input is not a JSON string: %w", v.Name, err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(in), &fields); err != nil {
		return nil, fmt.Errorf("vector %s: %w", v.Name, err)
	}
	t := obj{"name": name, "cmd": fields["cmd"], "args": fields["args"], "nonce": fields["nonce"]}
	if sub := strings.TrimSpace(string(fields["sub"])); sub != "" && sub != "null" {
		t["sub"] = fields["sub"]
	}
	return t, nil
}

func valueCases() []Case {
	return []Case{
		{ID: "values.vector-task-cids", Section: "§1.5", Title: "every golden task vector, submitted as a workflow task, gets the vector's CID", run: caseVectorCIDs},
		{ID: "values.int-float-distinct", Section: "§1.1", Title: "1 and 1.0 are different values: tasks differing only so have different CIDs", run: caseIntFloat},
		{ID: "values.json-order-whitespace", Section: "§1.3", Title: "key order and whitespace in the JSON do not change a task's CID", run: caseKeyOrder},
		{ID: "values.bytes-padding", Section: "§1.3", Title: "DAG-JSON bytes with or without base64 padding are the same value", run: caseBytesPadding},
		{ID: "values.int-out-of-range", Section: "§1.1", Title: "an integer past 2^63-1 is refused (400), not wrapped", run: caseIntRange},
		{ID: "values.bad-slash-map", Section: "§1.3", Title: "a map with a \"/\" key that is neither a link nor bytes is refused (400)", run: caseBadSlash},
		{ID: "values.cid-form", Section: "§1.4", Title: "workflow, task and receipt CIDs are CIDv1 dag-cbor sha2-256 base32", run: caseCIDForm},
	}
}

func caseVectorCIDs(ctx context.Context, s *suite) error {
	vs, err := taskVectors()
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return fmt.Errorf("no task vectors embedded")
	}
	var bad []string
	for _, v := range vs {
		t, err := vectorTask("v", v)
		if err != nil {
			return err
		}
		sb, err := s.submit(ctx, workflow("vector-"+v.Name, t), "")
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", v.Name, err))
			continue
		}
		if got := sb.task("v"); got != v.CID {
			bad = append(bad, fmt.Sprintf("%s: task CID %s, want %s", v.Name, got, v.CID))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d of %d vectors: %s", len(bad), len(vs), strings.Join(bad, "; "))
	}
	return nil
}

func caseIntFloat(ctx context.Context, s *suite) error {
	sb, err := s.submit(ctx, workflow("int-float",
		wasm("int", s.guest, "half", int64(3)),
		wasm("float", s.guest, "half", float(3)),
	), "")
	if err != nil {
		return err
	}
	if sb.task("int") == "" || sb.task("int") == sb.task("float") {
		return fmt.Errorf("int 3 and float 3.0 gave task CIDs %s and %s", sb.task("int"), sb.task("float"))
	}
	return nil
}

func caseKeyOrder(ctx context.Context, s *suite) error {
	a := fmt.Sprintf(`{"name":"order","tasks":[{"name":"t","cmd":"/wasm/run","args":{"mod":{"/":%q},"fun":"add","params":[{"b":1,"a":[2,{"y":null,"x":true}]}]}}]}`, s.guest)
	b := fmt.Sprintf("{ \"tasks\" : [ { \"args\" : { \"params\" : [ { \"a\" : [ 2 , { \"x\" : true , \"y\" : null } ] , \"b\" : 1 } ] ,\n\t\"fun\" : \"add\" , \"mod\" : { \"/\" : %q } } , \"cmd\" : \"/wasm/run\" , \"name\" : \"t\" } ] ,\n \"name\" : \"order\" }", s.guest)
	sa, err := s.submit(ctx, []byte(a), "")
	if err != nil {
		return err
	}
	sb, err := s.submit(ctx, []byte(b), "")
	if err != nil {
		return err
	}
	if sa.task("t") == "" || sa.task("t") != sb.task("t") {
		return fmt.Errorf("same task, other key order: CIDs %s and %s", sa.task("t"), sb.task("t"))
	}
	if sa.Workflow != sb.Workflow {
		return fmt.Errorf("same workflow, other key order: workflow CIDs %s and %s", sa.Workflow, sb.Workflow)
	}
	return nil
}

func caseBytesPadding(ctx context.Context, s *suite) error {
	padded, err := s.submit(ctx, workflow("padding", wasm("t", s.guest, "echo", obj{"/": obj{"bytes": "AQI="}})), "")
	if err != nil {
		return err
	}
	bare, err := s.submit(ctx, workflow("padding", wasm("t", s.guest, "echo", obj{"/": obj{"bytes": "AQI"}})), "")
	if err != nil {
		return err
	}
	if padded.task("t") != bare.task("t") {
		return fmt.Errorf("bytes AQI= and AQI gave task CIDs %s and %s", padded.task("t"), bare.task("t"))
	}
	return nil
}

func caseIntRange(ctx context.Context, s *suite) error {
	body := fmt.Sprintf(`{"tasks":[{"name":"t","args":{"mod":{"/":%q},"fun":"add","params":[9223372036854775808, 1]}}]}`, s.guest)
	r, err := s.post(ctx, []byte(body), "")
	if err != nil {
		return err
	}
	return wantStatus(r, http.StatusBadRequest)
}

func caseBadSlash(ctx context.Context, s *suite) error {
	for _, p := range []string{`{"/": "not a cid"}`, `{"/": "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "x": 1}`, `{"/": {"bytes": "AQID", "x": 1}}`} {
		body := fmt.Sprintf(`{"tasks":[{"name":"t","args":{"mod":{"/":%q},"fun":"echo","params":[%s]}}]}`, s.guest, p)
		r, err := s.post(ctx, []byte(body), "")
		if err != nil {
			return err
		}
		if err := wantStatus(r, http.StatusBadRequest); err != nil {
			return fmt.Errorf("param %s: %w", p, err)
		}
	}
	return nil
}

func caseCIDForm(ctx context.Context, s *suite) error {
	st, err := s.run(ctx, workflow("cid-form", wasm("t", s.guest, "add_one", s.n(10))), "")
	if err != nil {
		return err
	}
	re, err := st.ev("t")
	if err != nil {
		return err
	}
	for what, c := range map[string]string{"workflow": st.workflow.Workflow, "task": re.Task, "receipt": re.Receipt} {
		if err := isIpvmCID(c); err != nil {
			return fmt.Errorf("%s CID: %w", what, err)
		}
	}
	return nil
}

func taskCases() []Case {
	return []Case{
		{ID: "task.cid-independent", Section: "§2.2", Title: "a task's CID is the CID of its canonical DAG-CBOR wire form {sub, cmd, args, nonce}", run: caseTaskCID},
		{ID: "task.nonce-changes-cid", Section: "§2.2", Title: "a nonce gives the same work a new CID", run: caseNonceCID},
		{ID: "task.meta-not-in-cid", Section: "§2.1", Title: "limits in meta change the workflow CID but not the task CID", run: caseMetaCID},
		{ID: "task.nonce-never-memoized", Section: "§2.3", Title: "a task with a nonce runs again (not cached) when submitted again", run: caseNonceMemo},
		{ID: "task.homestar-cid", Section: "§2.4", Title: "a Homestar task keeps Homestar's sha3-256 instruction CID and its <func>.<index> name", run: caseHomestarCID},
	}
}

func caseTaskCID(ctx context.Context, s *suite) error {
	x := s.n(11)
	sb, err := s.submit(ctx, workflow("task-cid", with(wasm("t", s.guest, "add", x, int64(-1)), "nonce", "n")), "")
	if err != nil {
		return err
	}
	mod, err := spec.ParseCID(s.guest)
	if err != nil {
		return err
	}
	want := invocation.Task{Cmd: "/wasm/run", Args: map[string]any{"mod": mod, "fun": "add", "params": []any{x, int64(-1)}}, Nonce: []byte("n")}
	c, _, err := spec.CIDOf(want.IPLD())
	if err != nil {
		return err
	}
	if sb.task("t") != c.String() {
		return fmt.Errorf("task CID %s, want %s (the CID of %s)", sb.task("t"), c, spec.MustJSON(want.IPLD()))
	}
	return nil
}

func caseNonceCID(ctx context.Context, s *suite) error {
	x := s.n(12)
	sb, err := s.submit(ctx, workflow("nonce-cid",
		wasm("plain", s.guest, "add_one", x),
		with(wasm("a", s.guest, "add_one", x), "nonce", "a"),
		with(wasm("b", s.guest, "add_one", x), "nonce", obj{"/": obj{"bytes": "Yg"}}), // "b"
	), "")
	if err != nil {
		return err
	}
	p, a, b := sb.task("plain"), sb.task("a"), sb.task("b")
	if p == a || a == b || p == b {
		return fmt.Errorf("nonces '', a, b gave CIDs %s, %s, %s", p, a, b)
	}
	// A nonce written as a string is its UTF-8 bytes (§5.1).
	sb2, err := s.submit(ctx, workflow("nonce-cid-2", with(wasm("b", s.guest, "add_one", x), "nonce", "b")), "")
	if err != nil {
		return err
	}
	if sb2.task("b") != b {
		return fmt.Errorf("nonce \"b\" gave %s, nonce bytes \"b\" gave %s", sb2.task("b"), b)
	}
	return nil
}

func caseMetaCID(ctx context.Context, s *suite) error {
	x := s.n(13)
	s1, err := s.submit(ctx, workflow("meta", wasm("t", s.guest, "add_one", x)), "")
	if err != nil {
		return err
	}
	s2, err := s.submit(ctx, workflow("meta", with(wasm("t", s.guest, "add_one", x), "meta", obj{"fuel": 100000, "time": "2s"})), "")
	if err != nil {
		return err
	}
	if s1.task("t") != s2.task("t") {
		return fmt.Errorf("meta changed the task CID: %s vs %s", s1.task("t"), s2.task("t"))
	}
	if s1.Workflow == s2.Workflow {
		return fmt.Errorf("meta did not change the workflow CID %s (§5.5)", s1.Workflow)
	}
	return nil
}

func caseNonceMemo(ctx context.Context, s *suite) error {
	body := workflow("nonce-memo", with(wasm("t", s.guest, "add_one", s.n(14)), "nonce", s.nonce("memo")))
	var receipts []string
	for i := range 2 {
		st, err := s.run(ctx, body, "")
		if err != nil {
			return err
		}
		re, err := st.ev("t")
		if err != nil {
			return err
		}
		if re.Cached {
			return fmt.Errorf("run %d of a task with a nonce was served cached", i+1)
		}
		receipts = append(receipts, re.Receipt)
	}
	if receipts[0] == receipts[1] {
		return fmt.Errorf("both runs of a task with a nonce have receipt %s", receipts[0])
	}
	return nil
}

func caseHomestarCID(ctx context.Context, s *suite) error {
	x := s.n(15)
	body := fmt.Sprintf(`{"tasks":[{"run":{"op":"wasm/run","rsc":"ipfs://%s","input":{"func":"add_one","args":[%d]},"nnc":""},"meta":{"fuel":18446744073709552000,"memory":4294967296,"time":100000},"prf":[],"cause":null}]}`, s.guest, x)
	sb, err := s.submit(ctx, []byte(body), "")
	if err != nil {
		return err
	}
	mod, err := spec.ParseCID(s.guest)
	if err != nil {
		return err
	}
	in := invocation.HomestarInstruction{Rsc: "ipfs://" + mod.String(), Op: "wasm/run", Input: map[string]any{"func": "add_one", "args": []any{x}}, Nnc: ""}
	want, err := in.CID()
	if err != nil {
		return err
	}
	if len(sb.Tasks) != 1 || sb.Tasks[0].Name != "add_one.0" {
		return fmt.Errorf("tasks %+v, want one named add_one.0", sb.Tasks)
	}
	if sb.Tasks[0].Task != want.String() {
		return fmt.Errorf("Homestar task CID %s, want %s", sb.Tasks[0].Task, want)
	}
	return nil
}
