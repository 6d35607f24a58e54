// Package browsertest starts headless Chromium for the dashboard tests of
// the gateway and the daemon: it finds the binary, gives the browser a
// fresh profile and the flags a CI machine needs, and skips (or, with
// IPVM_REQUIRE_BROWSER set, fails) a test when no Chromium is installed.
// It is for tests only.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Timeout bounds a whole browser session.
const Timeout = 60 * time.Second

// Chromium finds a Chromium binary: $IPVM_CHROMIUM, then the usual names;
// "" when there is none.
func Chromium() string {
	if p := os.Getenv("IPVM_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Start starts headless Chromium with a fresh profile and returns a
// chromedp context for it, canceled and cleaned up when t ends. It skips t
// when no Chromium is installed (a failure under IPVM_REQUIRE_BROWSER) and
// in -short mode.
func Start(t testing.TB, opts ...chromedp.ContextOption) context.Context {
	t.Helper()
	bin := Chromium()
	if bin == "" {
		if os.Getenv("IPVM_REQUIRE_BROWSER") != "" {
			t.Fatal("IPVM_REQUIRE_BROWSER is set but no chromium binary was found")
		}
		t.Skip("no chromium binary found (apt-get install chromium, or set IPVM_CHROMIUM)")
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	// A fresh profile, removed after the browser has exited (not with
	// t.TempDir, whose cleanup can race Chromium's last writes).
	profile, err := os.MkdirTemp("", "ipvm-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 860),
	)
	bctx, cancelBrowser := chromedp.NewContext(actx, opts...)
	// Cleanups run last-in first-out: the browser, its allocator, then
	// the profile (registered first).
	t.Cleanup(cancel)
	t.Cleanup(cancelAlloc)
	t.Cleanup(cancelBrowser)
	return bctx
}
