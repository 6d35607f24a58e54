package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ipvm-go/ipvm/internal/browsertest"
	"github.com/ipvm-go/ipvm/node"
)

// TestDashboardRealDaemon drives the dashboard of a real daemon in headless
// Chromium: it submits a workflow of real Wasm tasks, sees every task turn
// done with its result, looks a receipt up (verified), and saves a
// screenshot to $IPVM_ARTIFACTS/dashboard-daemon.png (Spec: §10).
func TestDashboardRealDaemon(t *testing.T) {
	bctx := browsertest.Start(t)
	d := startDaemon(t, node.Options{})
	mod := uploadHello(t, d.URL())

	workflow := `{"name": "dashboard", "tasks": [
  {"name": "one", "args": {"mod": {"/": "` + mod + `"}, "fun": "add_one", "params": [41]}},
  {"name": "two", "args": {"mod": {"/": "` + mod + `"}, "fun": "add", "params": [{"await/ok": "one"}, 100]}},
  {"name": "oops", "args": {"mod": {"/": "` + mod + `"}, "fun": "no_such_function", "params": []}}
]}`
	var did, status, receipt string
	var states []string
	err := chromedp.Run(bctx,
		chromedp.Navigate(d.URL()+"/"),
		chromedp.WaitVisible("#run", chromedp.ByID),
		chromedp.Poll(`document.getElementById("did").textContent !== "…"`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#did", &did, chromedp.ByID),
		chromedp.SetValue("#workflow", workflow, chromedp.ByID),
		chromedp.Click("#run", chromedp.ByID),
		chromedp.Poll(`document.getElementById("submit-status").dataset.done === "true"`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate(`[...document.querySelectorAll('#live tbody tr')].map(r => r.dataset.task + "=" + r.dataset.state + "=" + r.cells[2].textContent)`, &states),
		chromedp.Text("#submit-status", &status, chromedp.ByID),
		chromedp.Click(`#live tbody tr[data-task="two"] a`, chromedp.ByQuery),
		chromedp.Poll(`document.getElementById("receipt").textContent.includes("verified")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#receipt", &receipt, chromedp.ByID),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	if did != d.Node().DID() {
		t.Errorf("identity shown %q, want %s", did, d.Node().DID())
	}
	got := strings.Join(states, ",")
	for _, want := range []string{"one=done=42", "two=done=142", "oops=failed=MissingExport"} {
		if !strings.Contains(got, want) {
			t.Errorf("task states %s lack %s", got, want)
		}
	}
	if !strings.Contains(status, "2 ok, 1 failed") {
		t.Errorf("status %q", status)
	}
	if !strings.HasPrefix(receipt, "✔ verified") || !strings.Contains(receipt, d.Node().DID()) {
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
	os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, "dashboard-daemon.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
