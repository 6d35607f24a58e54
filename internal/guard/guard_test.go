package guard

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

type goPackage struct {
	ImportPath string
	Doc        string
	Deps       []string
	Name       string
}

func listPackages(t *testing.T) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "github.com/ipvm-go/ipvm/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []goPackage
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// TestPackageDocs fails when a package has no doc comment (tailscale's
// pkgdoc_test does the same).
func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("package %s has no doc comment", p.ImportPath)
		}
	}
}

// TestPurePackages keeps libp2p, badger, wazero, net/http and os/exec out of
// the pure data-model packages, directly or through a dependency.
func TestPurePackages(t *testing.T) {
	pure := map[string]bool{
		"github.com/ipvm-go/ipvm/spec":       true,
		"github.com/ipvm-go/ipvm/invocation": true,
		"github.com/ipvm-go/ipvm/receipt":    true,
		"github.com/ipvm-go/ipvm/workflow":   true,
		"github.com/ipvm-go/ipvm/fuel":       true,
	}
	bad := []string{
		"github.com/libp2p/", "github.com/dgraph-io/badger", "github.com/tetratelabs/wazero",
		"net/http", "os/exec", "net",
	}
	seen := 0
	for _, p := range listPackages(t) {
		if !pure[p.ImportPath] {
			continue
		}
		seen++
		for _, d := range p.Deps {
			for _, b := range bad {
				if d == b || (strings.HasSuffix(b, "/") && strings.HasPrefix(d, b)) || strings.HasPrefix(d, b+"/") && b != "net" {
					t.Errorf("pure package %s depends on %s", p.ImportPath, d)
				}
			}
		}
	}
	if seen < 4 {
		t.Fatalf("found only %d of the pure packages", seen)
	}
}
