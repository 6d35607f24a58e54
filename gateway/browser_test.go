package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ipvm-go/ipvm/internal/browsertest"
)

// TestDashboardInBrowser loads the dashboard in headless Chromium against
// a fake node, submits a workflow, watches its tasks turn done over SSE,
// looks a receipt up, and saves a screenshot to $IPVM_ARTIFACTS (or a
// temporary directory). It is skipped only when no Chromium is installed
// (.ci/run installs Debian's chromium).
func TestDashboardInBrowser(t *testing.T) {
	bctx := browsertest.Start(t, chromedp.WithLogf(t.Logf))
	node := newFakeNode()
	node.delay = 300 * time.Millisecond
	_, base := startServer(t, node, nil)

	const workflow = `{"name": "browser", "tasks": [
  {"name": "fetch", "fun": "fetch_data"},
  {"name": "square", "fun": "square"},
  {"name": "explode", "fun": "trap", "fail": true}
]}`
	var did, pendingSeen, status, peers, receipt string
	var states []string
	err := chromedp.Run(bctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible("#run", chromedp.ByID),
		chromedp.Poll(`document.getElementById("did").textContent !== "…"`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#did", &did, chromedp.ByID),
		chromedp.SetValue("#workflow", workflow, chromedp.ByID),
		chromedp.Click("#run", chromedp.ByID),
		// The table appears with the tasks pending, then they turn done.
		chromedp.Poll(`document.querySelectorAll('#live tbody tr[data-state="pending"]').length > 0 ? "yes" : false`,
			&pendingSeen, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Poll(`document.getElementById("submit-status").dataset.done === "true"`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate(`[...document.querySelectorAll('#live tbody tr')].map(r => r.dataset.task + "=" + r.dataset.state)`, &states),
		chromedp.Text("#submit-status", &status, chromedp.ByID),
		chromedp.Poll(`document.querySelectorAll('#recent details').length > 0`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#peers", &peers, chromedp.ByID),
		chromedp.Click(`#live tbody tr[data-task="square"] a`, chromedp.ByQuery),
		chromedp.Poll(`document.getElementById("receipt").textContent.includes("verified")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#receipt", &receipt, chromedp.ByID),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	if did != node.Identity().DID {
		t.Errorf("identity shown %q", did)
	}
	if pendingSeen != "yes" {
		t.Errorf("never saw a pending task")
	}
	if got := strings.Join(states, ","); got != "fetch=done,square=done,explode=failed" {
		t.Errorf("task states %s", got)
	}
	if !strings.Contains(status, "2 ok, 1 failed") {
		t.Errorf("status %q", status)
	}
	if !strings.Contains(peers, "12D3KooWfake") {
		t.Errorf("peers %q", peers)
	}
	if !strings.HasPrefix(receipt, "✔ verified") {
		t.Errorf("receipt %q", receipt)
	}

	var png []byte
	if err := chromedp.Run(bctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("IPVM_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dashboard.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
