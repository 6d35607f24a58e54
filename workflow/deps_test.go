package workflow

import (
	"os/exec"
	"strings"
	"testing"
)

// The package stays pure: no network, storage, Wasm or HTTP dependencies.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"github.com/libp2p/", "github.com/dgraph-io/badger", "github.com/tetratelabs/wazero", "net/http", "os/exec"} {
			if strings.HasPrefix(dep, bad) {
				t.Errorf("workflow imports %s", dep)
			}
		}
	}
}
