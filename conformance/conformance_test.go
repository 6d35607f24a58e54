package conformance

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/node/daemon"
)

// startDaemon starts a real daemon (temp repo, badger store, wazero, no
// network) on a free loopback port.
func startDaemon(t *testing.T, opts node.Options) string {
	t.Helper()
	repo, err := node.OpenRepo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.Start(context.Background(), daemon.Config{Repo: repo, API: "127.0.0.1:0", Node: opts, Version: "conformance-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d.URL()
}

func byID(rs []Result) map[string]Result {
	m := make(map[string]Result, len(rs))
	for _, r := range rs {
		m[r.ID] = r
	}
	return m
}

// knownGaps are cases our own node fails today, each for a defect
// reported to the node's owners. They are logged, not failed; the
// broken-node test still requires them to be the only other failures.
var knownGaps = map[string]string{}

// Spec: §1–§11 (the whole suite against our own node).
func TestSuitePassesAgainstDaemon(t *testing.T) {
	url := startDaemon(t, node.Options{})
	rs := Run(context.Background(), url, Options{})
	if len(rs) != len(Cases()) {
		t.Fatalf("%d results for %d cases", len(rs), len(Cases()))
	}
	for _, r := range rs {
		gap, known := knownGaps[r.ID]
		switch {
		case known && r.Pass:
			// Not an error: same-task-twice passes when the scheduler
			// happens to run the two tasks one after the other.
			t.Logf("known gap %s passed this time; take it off knownGaps once fixed", r.ID)
		case known:
			t.Logf("KNOWN GAP %s: %s (%s)", r.ID, r.Detail, gap)
		case !r.Pass:
			t.Errorf("%s (%s) %s: %s", r.ID, r.Section, r.Title, r.Detail)
		default:
			t.Logf("PASS %-32s %-6s %v", r.ID, r.Section, r.Duration.Round(time.Millisecond))
		}
	}
	// A second run against the same node passes too: the suite's tasks
	// are fresh per run (its first-run and memo cases depend on it).
	for _, r := range Run(context.Background(), url, Options{Only: []string{"memo.", "task.nonce", "promise."}}) {
		if !r.Pass {
			t.Errorf("second run: %s: %s", r.ID, r.Detail)
		}
	}
}

// The broken-node matrix: each defect must be caught by every case that
// is meant to detect it.
func TestSuiteDetectsBrokenNodes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   node.Options
		detect []string // case IDs that must fail
	}{
		{
			name:   "memoization off",
			opts:   node.Options{NoMemo: true},
			detect: []string{"memo.second-run-cached", "memo.one-execution", "memo.across-workflows"},
		},
		{
			name: "signatures corrupted",
			opts: node.Options{Faults: node.Faults{BadSignatures: true}},
			detect: []string{
				"receipt.verify-signature", "receipt.error-signed", "receipt.envelope", "receipt.out-matches-event",
				"receipt.json-view", "ucan.self-issued-accepted", "limits.out-of-fuel", "fuel.cost-table", "fuel.deterministic",
				"fuel.loop-charges", "fuel.dynamic-charge",
			},
		},
		{
			name: "promises mis-resolved",
			opts: node.Options{Faults: node.Faults{MisresolvePromises: true}},
			detect: []string{
				"promise.chain-values", "promise.await-ok-on-error", "promise.await-error-gets-error",
				"promise.await-star-ok", "promise.await-star-error", "promise.failure-not-memoized", "workflow.homestar-chain",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := startDaemon(t, tc.opts)
			rs := Run(context.Background(), url, Options{})
			got := byID(rs)
			var failing []string
			for _, r := range rs {
				if _, gap := knownGaps[r.ID]; !r.Pass && !gap {
					failing = append(failing, r.ID)
				}
			}
			t.Logf("%d of %d cases fail against a node with %s: %s", len(failing), len(rs), tc.name, strings.Join(failing, " "))
			for _, id := range failing {
				if !slices.Contains(tc.detect, id) {
					t.Errorf("case %s fails against a node with only %s: %s", id, tc.name, got[id].Detail)
				}
			}
			for _, id := range tc.detect {
				r, ok := got[id]
				switch {
				case !ok:
					t.Errorf("case %s did not run", id)
				case r.Pass:
					t.Errorf("case %s passed against a node with %s", id, tc.name)
				default:
					t.Logf("%s fails as it should: %s", id, r.Detail)
				}
			}
		})
	}
}

// Every case has a unique ID of the form group.name, a section of
// spec/SPEC.md and a title; every section of the spec is covered.
func TestCasesCoverSpec(t *testing.T) {
	cs := Cases()
	if len(cs) < 40 {
		t.Errorf("%d cases, want at least 40", len(cs))
	}
	idRE := regexp.MustCompile(`^[a-z]+\.[a-z0-9-]+$`)
	seen := map[string]bool{}
	covered := map[string]bool{}
	for _, c := range cs {
		if !idRE.MatchString(c.ID) || seen[c.ID] || c.Title == "" || c.run == nil {
			t.Errorf("case %q: bad or duplicate ID, or no title or body", c.ID)
		}
		seen[c.ID] = true
		top, _, _ := strings.Cut(strings.TrimPrefix(c.Section, "§"), ".")
		covered[top] = true
	}
	specMD, err := os.ReadFile("../spec/SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^## (\d+)\. `).FindAllSubmatch(specMD, -1) {
		if !covered[string(m[1])] {
			t.Errorf("no case covers §%s of spec/SPEC.md", m[1])
		}
	}
}

// The embedded vectors are spec/testdata/vectors.json, byte for byte.
func TestEmbeddedVectorsMatchSpec(t *testing.T) {
	want, err := os.ReadFile("../spec/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := testdata.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("conformance/testdata/vectors.json differs from spec/testdata/vectors.json: copy it again")
	}
}

// A node that does not answer fails every case, with a reason.
func TestUnreachableNodeFailsEveryCase(t *testing.T) {
	rs := Run(context.Background(), "http://127.0.0.1:1", Options{})
	if len(rs) != len(Cases()) {
		t.Fatalf("%d results for %d cases", len(rs), len(Cases()))
	}
	for _, r := range rs {
		if r.Pass || r.Detail == "" {
			t.Errorf("%s passed (or failed without a reason) against no node", r.ID)
		}
	}
}
