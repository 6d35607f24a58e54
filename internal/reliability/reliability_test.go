package reliability

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipvm-go/ipvm/spec"
)

// ipvmBin is the ipvm binary the tests drive, built once by TestMain.
var ipvmBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ipvm-reliability-bin-")
	if err != nil {
		panic(err)
	}
	ipvmBin = filepath.Join(dir, "ipvm")
	build := exec.Command("go", "build", "-o", ipvmBin, "../../cmd/ipvm")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ipvm:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func hello(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../examples/hello.wasm")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// load runs n small workflows through d and returns the acknowledged
// receipts, with their bytes.
func load(t *testing.T, ctx context.Context, c *Client, n int64, seed int64) []Ack {
	t.Helper()
	mc, err := c.AddBlob(ctx, hello(t))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var acks []Ack
	var s atomic.Int64
	s.Store(seed)
	drv := &Driver{Client: c, Mod: mc, Seed: &s, Poll: true, FetchBytes: true,
		OnAck: func(a Ack) { mu.Lock(); acks = append(acks, a); mu.Unlock() }}
	if err := drv.Run(ctx, 4, n); err != nil {
		t.Fatal(err)
	}
	if drv.Complete.Load() != n || len(acks) != int(n)*4 {
		t.Fatalf("%d workflows complete, %d receipts", drv.Complete.Load(), len(acks))
	}
	return acks
}

// TestCheckAfterKill is one crash-loop trial run by hand, and the checks
// the crash loop relies on: after kill -9 and a restart every acknowledged
// receipt passes Check, and Check reports a missing receipt as lost and
// altered bytes or a wrong task as corrupt.
func TestCheckAfterKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	repo := filepath.Join(t.TempDir(), "repo")
	d, err := StartDaemon(ctx, ipvmBin, repo, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	acks := load(t, ctx, NewClient(d.URL, 4), 10, 100)
	d.Kill()
	d, err = StartDaemon(ctx, ipvmBin, repo, time.Minute)
	if err != nil {
		t.Fatalf("restart after kill -9: %v", err)
	}
	defer d.Kill()
	c := NewClient(d.URL, 4)
	for _, a := range acks {
		if lost, bad, detail, err := c.Check(ctx, a); err != nil || lost || bad {
			t.Fatalf("%s: lost %v corrupt %v (%s) %v", a.Receipt, lost, bad, detail, err)
		}
	}

	a := acks[0]
	flipped := bytes.Clone(a.Bytes)
	flipped[len(flipped)-1] ^= 1
	for _, tc := range []struct {
		name          string
		ack           Ack
		lost, corrupt bool
	}{
		{"genuine", a, false, false},
		{"unknown receipt", Ack{Task: a.Task, Receipt: spec.SumCBOR([]byte{0xa0})}, true, false},
		{"unknown task", Ack{Task: spec.SumCBOR([]byte{0x80}), Receipt: a.Receipt}, true, false},
		{"other bytes acknowledged", Ack{Task: a.Task, Receipt: a.Receipt, Bytes: flipped}, false, true},
		{"receipt of another task", Ack{Task: acks[1].Task, Receipt: a.Receipt}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lost, bad, detail, err := c.Check(ctx, tc.ack)
			if err != nil {
				t.Fatal(err)
			}
			if lost != tc.lost || bad != tc.corrupt {
				t.Errorf("lost %v corrupt %v (%s), want %v %v", lost, bad, detail, tc.lost, tc.corrupt)
			}
		})
	}
}

// tmpfs mounts a tmpfs of size bytes on a new directory, or skips the test
// with the reason: mounting needs root (CI runs as root; elsewhere run it
// with sudo go test).
func tmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a small tmpfs to fill needs root")
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("skipped: cannot mount a tmpfs here (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes a file so that about leave bytes stay free on dir's file
// system.
func fill(t *testing.T, dir string, leave int64) string {
	t.Helper()
	out, err := exec.Command("df", "--output=avail", "-B1", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(out))
	var avail int64
	fmt.Sscan(lines[len(lines)-1], &avail)
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for n := avail - leave; n > 0; n -= int64(len(chunk)) {
		if _, err := f.Write(chunk[:min(int64(len(chunk)), n)]); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(ipvmBin, args...).CombinedOutput()
	return string(out), err
}

// TestDiskFull: on a nearly full disk (a 256 MiB tmpfs filled to 40 MiB
// free) the daemon stays up and answers writes with a clear DiskFull
// error, the task that could not be stored leaves no receipt, the CLI says
// "disk full", and once space returns everything works again and the
// receipts from before verify.
func TestDiskFull(t *testing.T) {
	mnt := tmpfs(t, 256<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	repo := filepath.Join(mnt, "repo")
	d, err := StartDaemon(ctx, ipvmBin, repo, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Kill()
	c := NewClient(d.URL, 4)
	before := load(t, ctx, c, 5, 1000)
	mod := spec.Sum(spec.CodecRaw, hello(t))

	filler := fill(t, mnt, 40<<20)
	time.Sleep(300 * time.Millisecond) // the store reads free space at most every 200 ms

	// A blob upload: 507 DiskFull with the reason.
	_, err = c.AddBlob(ctx, []byte("a blob on a full disk"))
	if err == nil || !strings.Contains(err.Error(), "507") || !strings.Contains(err.Error(), "DiskFull") || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("blob on a full disk: %v", err)
	}
	// A workflow: the stream ends with a DiskFull error event; the task ran
	// but has no receipt, half-written or otherwise.
	wf := SmallWorkflow(mod, 2000, 1)
	var got []ReceiptEvent
	acc, _, err := c.SubmitStream(ctx, wf, func(ev ReceiptEvent) { got = append(got, ev) })
	if err == nil || !strings.Contains(err.Error(), "DiskFull") || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("workflow on a full disk: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("receipts acknowledged on a full disk: %+v", got)
	}
	if acc != nil {
		for _, task := range acc.Tasks {
			tc, _ := spec.ParseCID(task.Task)
			if _, _, err := c.ReceiptBytes(ctx, tc); err == nil {
				t.Errorf("task %s has a receipt on a full disk", task.Name)
			}
		}
	}
	if !healthy(ctx, d.URL) {
		t.Fatalf("the daemon is down on a full disk: %s", d.Stderr())
	}

	// The CLI (embedded node) says so too.
	if err := d.Stop(30 * time.Second); err != nil {
		t.Fatalf("graceful stop on a full disk: %v: %s", err, d.Stderr())
	}
	wfFile := filepath.Join(t.TempDir(), "wf.json")
	os.WriteFile(wfFile, SmallWorkflow(mod, 3000, 1), 0o644)
	out, err := runCLI(t, "--offline", "--repo", repo, "run", wfFile)
	if err == nil || !strings.Contains(out, "disk full") {
		t.Errorf("ipvm run on a full disk: %v: %s", err, out)
	}

	// Space returns: the same workflow runs and the receipts from before
	// are intact.
	os.Remove(filler)
	time.Sleep(300 * time.Millisecond)
	if out, err := runCLI(t, "--offline", "--repo", repo, "run", wfFile); err != nil {
		t.Fatalf("ipvm run after space returned: %v: %s", err, out)
	}
	d, err = StartDaemon(ctx, ipvmBin, repo, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Kill()
	c = NewClient(d.URL, 4)
	for _, a := range before {
		if lost, bad, detail, err := c.Check(ctx, a); err != nil || lost || bad {
			t.Errorf("%s after the full disk: lost %v corrupt %v (%s) %v", a.Receipt, lost, bad, detail, err)
		}
	}
	if _, _, err := c.SubmitStream(ctx, wf, func(ReceiptEvent) {}); err != nil {
		t.Errorf("the refused workflow after space returned: %v", err)
	}
}

// TestReadOnlyRepo: a repo on a read-only mount is refused with a clear
// error by the daemon and the CLI, and works again once writable.
func TestReadOnlyRepo(t *testing.T) {
	mnt := tmpfs(t, 160<<20) // above the store's free-space reserve
	repo := filepath.Join(mnt, "repo")
	mod, _ := filepath.Abs("../../examples/hello.wasm")
	wfLocal := filepath.Join(t.TempDir(), "local.json")
	os.WriteFile(wfLocal, []byte(`{"tasks":[{"name":"a","args":{"mod":{"file":"`+mod+`"},"fun":"add","params":[1,2]}}]}`), 0o644)
	if out, err := runCLI(t, "--offline", "--repo", repo, "run", wfLocal); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "remount,ro", mnt).CombinedOutput(); err != nil {
		t.Skipf("skipped: cannot remount read-only (%v: %s)", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := StartDaemon(ctx, ipvmBin, repo, 20*time.Second); err == nil || !strings.Contains(err.Error(), "not writable") {
		t.Errorf("daemon on a read-only repo: %v", err)
	}
	if out, err := runCLI(t, "--offline", "--repo", repo, "run", wfLocal); err == nil || !strings.Contains(out, "not writable") {
		t.Errorf("ipvm run on a read-only repo: %v: %s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "remount,rw", mnt).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := runCLI(t, "--offline", "--repo", repo, "run", wfLocal); err != nil {
		t.Errorf("ipvm run once writable again: %v: %s", err, out)
	}
}
