package reliability

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Daemon is an `ipvm daemon` child process with the network off.
type Daemon struct {
	// URL is the gateway's base URL, e.g. http://127.0.0.1:40123.
	URL string
	cmd *exec.Cmd

	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

// StartDaemon runs `bin --repo repo daemon --api 127.0.0.1:0 --no-network`
// and waits until its gateway answers /healthz (at most ready). A stale
// API file left by a killed daemon is removed first, so the URL is the new
// process's.
func StartDaemon(ctx context.Context, bin, repo string, ready time.Duration, extra ...string) (*Daemon, error) {
	apiFile := filepath.Join(repo, "api")
	_ = os.Remove(apiFile) // if this fails, the daemon reports why it cannot start
	args := append([]string{"--repo", repo, "daemon", "--api", "127.0.0.1:0", "--no-network"}, extra...)
	d := &Daemon{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	d.cmd.Stdout = nil
	d.cmd.Stderr = &lockedWriter{mu: &d.mu, w: &d.stderr}
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	deadline := time.Now().Add(ready)
	for {
		if b, err := os.ReadFile(apiFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			d.URL = strings.TrimSpace(string(b))
			if healthy(ctx, d.URL) {
				return d, nil
			}
		}
		select {
		case <-d.done:
			return nil, fmt.Errorf("%w: exited (%v): %s", ErrNotReady, d.err, d.Stderr())
		case <-ctx.Done():
			d.Kill()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.Kill()
			return nil, fmt.Errorf("%w after %v: %s", ErrNotReady, ready, d.Stderr())
		}
	}
}

func healthy(ctx context.Context, base string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// PID is the daemon's process ID.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// Kill sends SIGKILL and waits for the process to be gone.
func (d *Daemon) Kill() {
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// Stop sends SIGTERM (a graceful drain) and waits at most wait, then
// kills. It returns the process's exit error.
func (d *Daemon) Stop(wait time.Duration) error {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(wait):
		d.Kill()
	}
	return d.err
}

// Done is closed when the process has exited.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Stderr is what the daemon wrote to stderr so far.
func (d *Daemon) Stderr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

// RSS reads the daemon's resident set size in bytes from
// /proc/PID/status (VmRSS); 0 where /proc is not available.
func (d *Daemon) RSS() int64 { return ProcStatus(d.PID(), "VmRSS") }

// AnonRSS is the anonymous part of the daemon's RSS (RssAnon: heap and
// stacks, without the mapped store files, whose pages the kernel can
// drop).
func (d *Daemon) AnonRSS() int64 { return ProcStatus(d.PID(), "RssAnon") }

// ProcStatus reads a size field of /proc/PID/status (VmRSS, RssAnon, ...)
// in bytes; 0 if unknown.
func ProcStatus(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			fields := strings.Fields(v)
			if len(fields) == 0 {
				return 0
			}
			kb, _ := strconv.ParseInt(fields[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w.Len() > 1<<20 {
		return len(p), nil // keep the first MiB
	}
	return l.w.Write(p)
}
