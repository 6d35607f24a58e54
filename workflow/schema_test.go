package workflow

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// loadSchema compiles spec/workflow.schema.json (checked against the draft
// 2020-12 meta-schema by the compiler).
func loadSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := os.ReadFile("../spec/workflow.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	const url = "https://github.com/ipvm-go/ipvm/spec/workflow.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return sch
}

func schemaValid(t *testing.T, sch *jsonschema.Schema, src []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	return sch.Validate(v)
}

// Spec: §5.1: the example workflows satisfy the JSON Schema, and
// input the schema refuses, Parse refuses too.
func TestSchema(t *testing.T) {
	sch := loadSchema(t)
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := schemaValid(t, sch, b); err != nil {
			t.Errorf("%s: schema refuses an example: %v", f, err)
		}
	}
	mod := `"` + modStr + `"`
	okTask := task("a", "[]")
	bad := map[string]string{
		"unknown top-level key": `{"taks":[],"tasks":[` + okTask + `]}`,
		"missing tasks":         `{"name":"x"}`,
		"no tasks":              `{"tasks":[]}`,
		"name not a string":     wf(`{"name":5,"args":{}}`),
		"no name":               wf(`{"args":{"mod":` + mod + `,"fun":"f"}}`),
		"unknown task key":      wf(`{"name":"a","parms":[],"args":{"mod":` + mod + `,"fun":"f"}}`),
		"args not an object":    wf(`{"name":"a","args":"x"}`),
		"fun a number":          wf(`{"name":"a","args":{"mod":` + mod + `,"fun":3}}`),
		"missing fun":           wf(`{"name":"a","args":{"mod":` + mod + `}}`),
		"params an object":      wf(`{"name":"a","args":{"mod":` + mod + `,"fun":"f","params":{}}}`),
		"unknown wasm arg":      wf(`{"name":"a","args":{"mod":` + mod + `,"fun":"f","parms":[]}}`),
		"mod a number":          wf(`{"name":"a","args":{"mod":5,"fun":"f"}}`),
		"promise as module":     wf(okTask, `{"name":"b","args":{"mod":{"await/ok":"a"},"fun":"f"}}`),
		"promise extra key":     wf(okTask, task("b", `[{"await/ok":"a","x":1}]`)),
		"promise target number": wf(okTask, task("b", `[{"await/ok":5}]`)),
		"promise of a promise":  wf(okTask, task("b", `[{"await/ok":{"await/ok":"a"}}]`)),
		"unknown promise kind":  wf(okTask, task("b", `[{"await/maybe":"a"}]`)),
		"link with other keys":  wf(task("a", `[{"/":`+mod+`,"x":1}]`)),
		"cmd without slash":     wf(`{"name":"a","cmd":"wasm/run","args":{}}`),
		"nonce a number":        wf(`{"name":"a","nonce":5,"args":{"mod":` + mod + `,"fun":"f"}}`),
		"sub not a DID":         wf(`{"name":"a","sub":"alice","args":{"mod":` + mod + `,"fun":"f"}}`),
		"fuel a string":         wf(`{"name":"a","args":{"mod":` + mod + `,"fun":"f"},"meta":{"fuel":"lots"}}`),
		"fuel negative":         wf(`{"name":"a","args":{"mod":` + mod + `,"fun":"f"},"meta":{"fuel":-1}}`),
		"fuel fractional":       wf(`{"name":"a","args":{"mod":` + mod + `,"fun":"f"},"meta":{"fuel":1.5}}`),
		"time bad string":       wf(`{"name":"a","args":{"mod":` + mod + `,"fun":"f"},"meta":{"time":"5 parsecs"}}`),
		"labels not strings":    wf(`{"name":"a","args":{"mod":` + mod + `,"fun":"f"},"meta":{"labels":{"k":1}}}`),
		"custom args with '/'":  wf(`{"name":"a","cmd":"/x","args":{"/":` + mod + `}}`),
	}
	for name, src := range bad {
		t.Run(name, func(t *testing.T) {
			if err := schemaValid(t, sch, []byte(src)); err == nil {
				t.Errorf("schema accepts %s", src)
			}
			if _, err := Parse([]byte(src), ParseOptions{}); err == nil {
				t.Errorf("Parse accepts %s", src)
			}
		})
	}
	// What only a parser can check: the schema accepts these, Parse refuses them.
	for name, src := range map[string]string{
		"cycle":          wf(task("a", `[{"await/ok":"b"}]`), task("b", `[{"await/ok":"a"}]`)),
		"duplicate name": wf(okTask, okTask),
		"unknown await":  wf(task("a", `[{"await/ok":"zz"}]`)),
	} {
		if err := schemaValid(t, sch, []byte(src)); err != nil {
			t.Errorf("%s: schema refuses: %v", name, err)
		}
		if _, err := Parse([]byte(src), ParseOptions{}); err == nil {
			t.Errorf("%s: Parse accepts", name)
		}
	}
}
