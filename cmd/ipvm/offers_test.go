package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/node/daemon"
)

// TestOffersAndExplain: `ipvm offers` and `ipvm run --explain`, embedded
// (no network: the node's own offer; explain says nothing was weighed)
// and through a daemon (placement recorded in every receipt).
func TestOffersAndExplain(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	out, errOut, code := cli(t, "--repo", repo, "offers", "--json")
	if code != 0 {
		t.Fatalf("offers: %d %s", code, errOut)
	}
	var offers []node.Offer
	if err := json.Unmarshal([]byte(out), &offers); err != nil || len(offers) != 1 {
		t.Fatalf("offers --json: %v %q", err, out)
	}
	idOut, _, _ := cli(t, "--repo", repo, "id", "--json")
	var id map[string]string
	json.Unmarshal([]byte(idOut), &id)
	if offers[0].DID != id["did"] || len(offers[0].Commands) != 1 {
		t.Fatalf("own offer %+v, id %v", offers[0], id)
	}
	if _, errOut, code := cli(t, "--repo", repo, "offers", "--peer", id["peer"]); code == 0 || !strings.Contains(errOut, "needs the network") {
		t.Fatalf("offers --peer without a daemon: %d %q", code, errOut)
	}
	out, errOut, code = cli(t, "--repo", repo, "run", "--explain", "../../examples/hello.json")
	if code != 0 || !strings.Contains(out, `placement of "one": ran on this node; no network`) {
		t.Fatalf("embedded explain: %d %q %q", code, out, errOut)
	}

	r, err := node.OpenRepo(filepath.Join(dir, "daemon"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.Start(context.Background(), daemon.Config{Repo: r, API: "127.0.0.1:0",
		Node: node.Options{Network: &node.NetworkOptions{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, NoMDNS: true}}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pid, err := r.PeerID()
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code = cli(t, "--repo", repo, "--api", d.URL(), "run", "--explain", "../../examples/hello.json")
	if code != 0 || !strings.Contains(out, `placement of "one": ran on `+pid.String()) || !strings.Contains(out, "<- chosen") {
		t.Fatalf("daemon explain: %d %q %q", code, out, errOut)
	}
	out, errOut, code = cli(t, "--repo", repo, "--api", d.URL(), "offers")
	if code != 0 || !strings.Contains(out, pid.String()+" (this node)") {
		t.Fatalf("daemon offers: %d %q %q", code, out, errOut)
	}
}
