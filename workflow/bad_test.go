package workflow

import (
	"errors"
	"strings"
	"testing"
)

func task(name, params string) string {
	return `{"name":"` + name + `","args":{"mod":"` + modStr + `","fun":"f","params":` + params + `}}`
}

func wf(tasks ...string) string { return `{"tasks":[` + strings.Join(tasks, ",") + `]}` }

// Spec: §5.7: bad input fails with an error naming the task and
// the field, never a panic.
func TestBadInput(t *testing.T) {
	big := strings.Repeat("x", 10<<20)
	deep := strings.Repeat("[", 1000) + strings.Repeat("]", 1000)
	okTask := task("a", "[]")
	hs := func(run string) string { return `{"tasks":[{"run":` + run + `,"meta":{},"prf":[],"cause":null}]}` }
	tests := []struct {
		name      string
		src       string
		lim       Limits
		sentinel  error
		task      string
		field     string
		substring string
	}{
		{"malformed", `{"tasks": [` + okTask + `,`, Limits{}, ErrMalformed, "", "", "at byte"},
		{"malformed token", `{"tasks": [} `, Limits{}, ErrMalformed, "", "", "invalid character"},
		{"trailing data", wf(okTask) + ` {}`, Limits{}, ErrMalformed, "", "", "trailing data"},
		{"duplicate JSON key", `{"tasks":[{"name":"a","name":"b","args":{}}]}`, Limits{}, ErrMalformed, "#0", "", `duplicate key "name"`},
		{"not an object", `[1,2]`, Limits{}, ErrWrongType, "", "", "JSON object"},
		{"missing tasks", `{"name":"x"}`, Limits{}, ErrWrongType, "", "tasks", "missing"},
		{"no tasks", `{"tasks":[]}`, Limits{}, ErrWrongType, "", "tasks", "at least one task"},
		{"tasks not a list", `{"tasks":{}}`, Limits{}, ErrWrongType, "", "tasks", "list"},
		{"unknown top-level key", `{"taks":[],"tasks":[` + okTask + `]}`, Limits{}, ErrWrongType, "", "taks", "unknown key"},
		{"task not an object", wf(`"a"`), Limits{}, ErrWrongType, "#0", "", "a task is an object"},
		{"task without name", wf(`{"args":{"mod":"` + modStr + `","fun":"f"}}`), Limits{}, ErrWrongType, "#0", "name", "missing"},
		{"name not a string", wf(`{"name":5,"args":{}}`), Limits{}, ErrWrongType, "#0", "name", "got number"},
		{"unknown task key", wf(`{"name":"a","parms":[],"args":{"mod":"` + modStr + `","fun":"f"}}`), Limits{}, ErrWrongType, "a", "parms", "unknown key"},
		{"duplicate name", wf(okTask, task("b", "[]"), task("a", "[1]")), Limits{}, ErrDuplicateName, "a", "name", "#0 and #2"},
		{"unknown await", wf(okTask, task("b", `[1, {"await/ok": "nope"}]`)), Limits{}, ErrUnknownAwait, "b", "args.params[1]", `no task named "nope"`},
		{"cycle", wf(task("a", `[{"await/ok":"b"}]`), task("b", `[{"await/ok":"c"}]`), task("c", `[{"await/*":"a"}]`)), Limits{}, ErrCycle, "a", "args.params[0]", "cycle: a → b → c → a"},
		{"cycle off the first task", wf(okTask, task("x", `[{"await/ok":"y"}]`), task("y", `[{"k":{"await/error":"x"}}]`)), Limits{}, ErrCycle, "x", "args.params[0]", "cycle: x → y → x"},
		{"self await", wf(task("a", `[{"await/ok":"a"}]`)), Limits{}, ErrCycle, "a", "args.params[0]", "cycle: a → a"},
		{"10 MB string in params", wf(task("a", `["`+big+`"]`)), Limits{}, ErrTooLarge, "a", "args.params[0]", "string of 10485760 bytes"},
		{"10 MB string as name", wf(`{"name":"` + big + `","args":{}}`), Limits{}, ErrTooLarge, "#0", "name", "at most 256 bytes"},
		{"10 MB string in meta", wf(`{"name":"a","args":{"mod":"` + modStr + `","fun":"f"},"meta":{"labels":{"k":"` + big + `"}}}`), Limits{}, ErrTooLarge, "a", "meta.labels.k", "string of 10485760"},
		{"1000-deep nesting", wf(task("a", `[`+deep+`]`)), Limits{}, ErrTooLarge, "a", "", "nested deeper than 64"},
		{"1000-deep tasks", `{"tasks":` + deep + `}`, Limits{}, ErrWrongType, "#0", "", "a task is an object"},
		{"too many tasks", wf(okTask, task("b", "[]"), task("c", "[]")), Limits{MaxTasks: 2}, ErrTooLarge, "", "tasks", "3 tasks, limit 2"},
		{"too many bytes", wf(okTask), Limits{MaxBytes: 50}, ErrTooLarge, "", "", "limit 50"},
		{"far too many bytes", wf(okTask, task("b", "[]"), task("c", "[]")), Limits{MaxBytes: 40}, ErrTooLarge, "", "", "limit 40"},
		{"args not an object", wf(`{"name":"a","args":"x"}`), Limits{}, ErrWrongType, "a", "args", "object"},
		{"missing args", wf(`{"name":"a"}`), Limits{}, ErrWrongType, "a", "args", "missing"},
		{"fun not a string", wf(`{"name":"a","args":{"mod":"` + modStr + `","fun":3}}`), Limits{}, ErrWrongType, "a", "args.fun", "got number"},
		{"missing fun", wf(`{"name":"a","args":{"mod":"` + modStr + `"}}`), Limits{}, ErrWrongType, "a", "args.fun", "missing"},
		{"params not a list", wf(`{"name":"a","args":{"mod":"` + modStr + `","fun":"f","params":{"x":1}}}`), Limits{}, ErrWrongType, "a", "args.params", "list"},
		{"unknown wasm arg", wf(`{"name":"a","args":{"mod":"` + modStr + `","fun":"f","parms":[]}}`), Limits{}, ErrWrongType, "a", "args.parms", "unknown key"},
		{"mod a number", wf(`{"name":"a","args":{"mod":5,"fun":"f"}}`), Limits{}, ErrWrongType, "a", "args.mod", "got number"},
		{"mod a bad CID", wf(`{"name":"a","args":{"mod":"ipfs://nope","fun":"f"}}`), Limits{}, ErrWrongType, "a", "args.mod", "bad CID"},
		{"missing mod", wf(`{"name":"a","args":{"fun":"f"}}`), Limits{}, ErrWrongType, "a", "args.mod", "missing"},
		{"bad link", wf(task("a", `[{"/":"notacid"}]`)), Limits{}, ErrWrongType, "a", "args.params[0]", "bad link"},
		{"bad bytes", wf(task("a", `[{"/":{"bytes":"%%%"}}]`)), Limits{}, ErrWrongType, "a", "args.params[0]", "base64"},
		{"link with other keys", wf(task("a", `[{"/":"`+modStr+`","x":1}]`)), Limits{}, ErrWrongType, "a", "args.params[0]", "no other key"},
		{"int past int64", wf(task("a", `[99999999999999999999]`)), Limits{}, ErrWrongType, "a", "args.params[0]", "64-bit"},
		{"cmd without slash", wf(`{"name":"a","cmd":"wasm/run","args":{}}`), Limits{}, ErrWrongType, "a", "cmd", `beginning with "/"`},
		{"nonce a number", wf(`{"name":"a","nonce":5,"args":{"mod":"` + modStr + `","fun":"f"}}`), Limits{}, ErrWrongType, "a", "nonce", "got number"},
		{"nonce a link", wf(`{"name":"a","nonce":{"/":"` + modStr + `"},"args":{"mod":"` + modStr + `","fun":"f"}}`), Limits{}, ErrWrongType, "a", "nonce", "got link"},
		{"sub not a DID", wf(`{"name":"a","sub":"alice","args":{"mod":"` + modStr + `","fun":"f"}}`), Limits{}, ErrWrongType, "a", "sub", "DID"},
		{"workflow sub not a DID", `{"sub":1,"tasks":[` + okTask + `]}`, Limits{}, ErrWrongType, "", "sub", "DID"},
		{"fuel a string", wf(`{"name":"a","args":{"mod":"` + modStr + `","fun":"f"},"meta":{"fuel":"lots"}}`), Limits{}, ErrWrongType, "a", "meta.fuel", "non-negative integer"},
		{"fuel negative", wf(`{"name":"a","args":{"mod":"` + modStr + `","fun":"f"},"meta":{"fuel":-1}}`), Limits{}, ErrWrongType, "a", "meta.fuel", "negative"},
		{"fuel fractional", wf(`{"name":"a","args":{"mod":"` + modStr + `","fun":"f"},"meta":{"fuel":1.5}}`), Limits{}, ErrWrongType, "a", "meta.fuel", "whole number"},
		{"time bad string", wf(`{"name":"a","args":{"mod":"` + modStr + `","fun":"f"},"meta":{"time":"5 parsecs"}}`), Limits{}, ErrWrongType, "a", "meta.time", "Go duration"},
		{"time negative", wf(`{"name":"a","args":{"mod":"` + modStr + `","fun":"f"},"meta":{"time":"-5s"}}`), Limits{}, ErrWrongType, "a", "meta.time", "Go duration"},
		{"meta not an object", wf(`{"name":"a","args":{"mod":"` + modStr + `","fun":"f"},"meta":[]}`), Limits{}, ErrWrongType, "a", "meta", "object"},
		{"labels not strings", wf(`{"name":"a","args":{"mod":"` + modStr + `","fun":"f"},"meta":{"labels":{"k":1}}}`), Limits{}, ErrWrongType, "a", "meta.labels.k", "string value"},
		{"on empty", wf(`{"name":"a","args":{"mod":"` + modStr + `","fun":"f"},"meta":{"on":""}}`), Limits{}, ErrWrongType, "a", "meta.on", "local"},
		{"promise with extra key", wf(okTask, task("b", `[{"await/ok":"a","x":1}]`)), Limits{}, ErrBadPromise, "b", "args.params[0]", "exactly one key"},
		{"promise target a number", wf(okTask, task("b", `[{"await/ok":5}]`)), Limits{}, ErrBadPromise, "b", "args.params[0].await/ok", "got number"},
		{"promise of a promise", wf(okTask, task("b", `[{"await/ok":{"await/ok":"a"}}]`)), Limits{}, ErrBadPromise, "b", "args.params[0].await/ok", "got map"},
		{"promise target empty", wf(okTask, task("b", `[{"await/ok":""}]`)), Limits{}, ErrBadPromise, "b", "args.params[0].await/ok", "empty task name"},
		{"unknown promise kind", wf(okTask, task("b", `[{"await/maybe":"a"}]`)), Limits{}, ErrBadPromise, "b", "args.params[0]", "unknown promise kind"},
		{"promise as module", wf(okTask, `{"name":"b","args":{"mod":{"await/ok":"a"},"fun":"f"}}`), Limits{}, ErrBadPromise, "b", "args.mod", "known before the task runs"},
		{"promise as fun", wf(okTask, `{"name":"b","args":{"mod":"`+modStr+`","fun":{"await/ok":"a"}}}`), Limits{}, ErrBadPromise, "b", "args.fun", "known before the task runs"},
		{"homestar name promise", hs(`{"op":"wasm/run","rsc":"ipfs://` + modStr + `","input":{"func":"f","args":[{"await/ok":"x"}]},"nnc":""}`), Limits{}, ErrBadPromise, "f.0", "run.input.args[0].await/ok", "links a task CID"},
		{"homestar wrong op", hs(`{"op":"wasm/compile","rsc":"ipfs://` + modStr + `","input":{"func":"f","args":[]},"nnc":""}`), Limits{}, ErrWrongType, "#0", "run.op", `"wasm/compile"`},
		{"homestar bad rsc", hs(`{"op":"wasm/run","rsc":"https://example.com/x.wasm","input":{"func":"f","args":[]},"nnc":""}`), Limits{}, ErrWrongType, "#0", "run.rsc", "bad CID"},
		{"homestar args not a list", hs(`{"op":"wasm/run","rsc":"ipfs://` + modStr + `","input":{"func":"f","args":{}},"nnc":""}`), Limits{}, ErrWrongType, "f.0", "run.input.args", "list"},
		{"homestar nnc a number", hs(`{"op":"wasm/run","rsc":"ipfs://` + modStr + `","input":{"func":"f","args":[]},"nnc":0}`), Limits{}, ErrWrongType, "f.0", "run.nnc", "string or bytes"},
		{"homestar unknown run key", hs(`{"op":"wasm/run","rsc":"ipfs://` + modStr + `","input":{"func":"f","args":[]},"nnc":"","extra":1}`), Limits{}, ErrWrongType, "#0", "run.extra", "unknown key"},
		{"homestar run not an object", `{"tasks":[{"run":"x"}]}`, Limits{}, ErrWrongType, "#0", "run", "run object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), ParseOptions{Limits: tc.lim})
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if !errors.Is(err, ErrInvalid) || !errors.Is(err, tc.sentinel) {
				t.Errorf("error %v is not ErrInvalid and %v", err, tc.sentinel)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error", err)
			}
			if e.Task != tc.task {
				t.Errorf("Task %q, want %q (%v)", e.Task, tc.task, err)
			}
			if tc.field != "" && e.Field != tc.field || tc.field == "" && tc.sentinel != ErrTooLarge && e.Field != "" && tc.task == "" {
				t.Errorf("Field %q, want %q (%v)", e.Field, tc.field, err)
			}
			if !strings.Contains(err.Error(), tc.substring) {
				t.Errorf("error %q does not say %q", err, tc.substring)
			}
			if len(err.Error()) > 600 {
				t.Errorf("error message of %d bytes", len(err.Error()))
			}
		})
	}
}

// The deep-nesting error names the field where the nesting passes the cap.
func TestDeepNestingField(t *testing.T) {
	deep := strings.Repeat("[", 1000) + strings.Repeat("]", 1000)
	_, err := Parse([]byte(wf(task("a", `[`+deep+`]`))), ParseOptions{})
	var e *Error
	if !errors.As(err, &e) || !strings.HasPrefix(e.Field, "args.params[0][0][0]") {
		t.Fatalf("error %v", err)
	}
}

// Warnings, not errors: unknown meta keys and Homestar's extra keys.
func TestWarnings(t *testing.T) {
	w := mustParse(t, wf(`{"name":"a","args":{"mod":"`+modStr+`","fun":"f"},"meta":{"color":"blue","fuel":18446744073709552000}}`))
	if len(w.Warnings) != 2 || !strings.Contains(w.Warnings[0], "meta.color") || !strings.Contains(w.Warnings[1], "clamped") {
		t.Errorf("warnings %q", w.Warnings)
	}
	h := mustParse(t, `{"extra":1,"tasks":[{"run":{"op":"wasm/run","rsc":"ipfs://`+modStr+`","input":{"func":"f","args":[]},"nnc":""},"prf":["x"],"cause":{"/":"`+modStr+`"},"meta":{"on":"local"}}]}`)
	if len(h.Warnings) != 4 {
		t.Errorf("warnings %q", h.Warnings)
	}
}
