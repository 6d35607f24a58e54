package exec_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ipvm-go/ipvm/node/exec"
	"github.com/ipvm-go/ipvm/spec"
)

// TestSpecExamples checks that the WAT examples of SPEC.md §6 are the ones
// in testdata/spec (built by scripts/build-examples) and that they run as
// the spec says.
// Spec: §6.2, §6.3, §6.4.
func TestSpecExamples(t *testing.T) {
	doc, err := os.ReadFile("../../spec/SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	sec := s[strings.Index(s, "## 6. Guest ABIs"):strings.Index(s, "## 7. Error names")]
	wats := regexp.MustCompile("(?s)```wat\n(.*?)```").FindAllStringSubmatch(sec, -1)
	names := []string{"numeric", "cbor", "wasi"}
	if len(wats) != len(names) {
		t.Fatalf("SPEC §6 has %d WAT examples, want %d", len(wats), len(names))
	}
	blobs := &mapBlobs{}
	ex := newExec(t, exec.Config{Blobs: blobs})
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			file, err := os.ReadFile("testdata/spec/" + name + ".wat")
			if err != nil {
				t.Fatal(err)
			}
			if string(file) != wats[i][1] {
				t.Fatalf("testdata/spec/%s.wat differs from SPEC §6's example; copy it and run scripts/build-examples", name)
			}
			mod := blobs.addFile(t, "testdata/spec/"+name+".wasm")
			var res spec.Result
			var st exec.Stats
			switch name {
			case "numeric":
				res, st = run(t, ex, mod, "add_one", exec.Limits{}, int64(1))
				if !spec.Equal(res.Ok, int64(2)) || st.ABI != exec.ABINumeric {
					t.Fatalf("add_one(1) = %+v under %v", res, st.ABI)
				}
			case "cbor":
				params := []any{"x", int64(7), []byte{1}}
				res, st = run(t, ex, mod, "echo", exec.Limits{}, params...)
				if !spec.Equal(res.Ok, params) || st.ABI != exec.ABICBOR {
					t.Fatalf("echo = %+v under %v", res, st.ABI)
				}
			case "wasi":
				res, st = run(t, ex, mod, "_start", exec.Limits{})
				if !spec.Equal(res.Ok, int64(42)) || st.ABI != exec.ABIWASI {
					t.Fatalf("_start = %+v under %v", res, st.ABI)
				}
			}
		})
	}
}
