// Command crashloop checks crash consistency of the ipvm daemon: it runs a
// daemon (network off) on one repo, pushes concurrent workflows through its
// gateway, records every receipt the gateway acknowledged, kill -9s the
// daemon at a random moment, restarts it on the same repo and checks that
// every acknowledged receipt is served, byte-identical and verifying, by
// receipt CID and by task CID. A restart that fails (the store does not
// open without repair) ends the run with an error.
//
//	go run ./internal/reliability/cmd/crashloop -bin ipvm -trials 200
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ipvm-go/ipvm/internal/reliability"
)

func main() {
	bin := flag.String("bin", "ipvm", "the ipvm binary")
	trials := flag.Int("trials", 5, "kill -9 / restart cycles")
	workers := flag.Int("workers", 16, "concurrent clients")
	repo := flag.String("repo", "", "repo directory (default: a new temporary one, removed on success)")
	minKill := flag.Duration("min", 100*time.Millisecond, "earliest kill after the load starts")
	maxKill := flag.Duration("max", 1500*time.Millisecond, "latest kill after the load starts")
	mod := flag.String("wasm", "examples/hello.wasm", "the module the workflows run")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *repo, *mod, *trials, *workers, *minKill, *maxKill); err != nil {
		fmt.Fprintln(os.Stderr, "crashloop:", err)
		os.Exit(1)
	}
}

// repairLog matches daemon log lines that would mean the store needed
// repair or found damage on open.
var repairLog = regexp.MustCompile(`(?i)repair|truncat|corrupt|checksum|recover`)

func run(ctx context.Context, bin, repo, modPath string, trials, workers int, minKill, maxKill time.Duration) error {
	wasm, err := os.ReadFile(modPath)
	if err != nil {
		return err
	}
	keep := repo != ""
	if !keep {
		dir, err := os.MkdirTemp("", "ipvm-crashloop-")
		if err != nil {
			return err
		}
		repo = filepath.Join(dir, "repo")
		defer func() {
			if !keep {
				os.RemoveAll(dir)
			}
		}()
	}
	var (
		mu      sync.Mutex
		acks    []reliability.Ack
		seed    atomic.Int64
		lost    int
		corrupt int
		checked int
	)
	seed.Store(time.Now().UnixNano() % 1e12 * 1000) // distinct from earlier runs on the same repo
	check := func(c *reliability.Client, as []reliability.Ack) error {
		for _, a := range as {
			l, bad, detail, err := c.Check(ctx, a)
			if err != nil {
				return err
			}
			if l {
				lost++
			}
			if bad {
				corrupt++
			}
			if l || bad {
				fmt.Fprintf(os.Stderr, "receipt %s of task %s: %s\n", a.Receipt, a.Task, detail)
			}
			checked++
		}
		return nil
	}
	start := time.Now()
	var pending []reliability.Ack // acknowledged in the last trial, checked after the restart
	done := 0
	for trial := 1; trial <= trials+1 && ctx.Err() == nil; trial++ {
		d, err := reliability.StartDaemon(ctx, bin, repo, 60*time.Second)
		if err != nil {
			keep = true
			return fmt.Errorf("trial %d: restart after kill -9 (repo kept at %s): %w", trial, repo, err)
		}
		if m := repairLog.FindString(d.Stderr()); m != "" {
			keep = true
			d.Kill()
			return fmt.Errorf("trial %d: the store reported %q on open (repo kept at %s):\n%s", trial, m, repo, d.Stderr())
		}
		c := reliability.NewClient(d.URL, workers+2)
		if err := check(c, pending); err != nil {
			d.Kill()
			return fmt.Errorf("trial %d: check: %w", trial, err)
		}
		// Receipts acknowledged in earlier trials must survive later
		// crashes too: recheck a sample of them.
		for _, a := range pending {
			a.Bytes = nil // checked; keep the CIDs only
			acks = append(acks, a)
		}
		var sample []reliability.Ack
		if len(acks) > 0 {
			k := 20
			if trial > trials {
				k = 2000
			}
			for range k {
				sample = append(sample, acks[rand.N(len(acks))])
			}
		}
		for _, a := range sample {
			l, bad, detail, err := c.Check(ctx, a)
			if err != nil {
				d.Kill()
				return fmt.Errorf("trial %d: recheck: %w", trial, err)
			}
			if l || bad {
				fmt.Fprintf(os.Stderr, "earlier receipt %s of task %s: %s\n", a.Receipt, a.Task, detail)
				keep = true
				d.Kill()
				return fmt.Errorf("trial %d: a receipt checked after an earlier restart is now lost or corrupt", trial)
			}
		}
		if trial > trials {
			// The last start only checks; stop it gracefully.
			c.Close()
			if err := d.Stop(30 * time.Second); err != nil {
				return fmt.Errorf("graceful stop after the last trial: %w", err)
			}
			break
		}
		mc, err := c.AddBlob(ctx, wasm)
		if err != nil {
			d.Kill()
			return err
		}
		pending = nil
		drv := &reliability.Driver{
			Client: c, Mod: mc, Seed: &seed, Poll: true, FetchBytes: trial%2 == 0,
			OnAck: func(a reliability.Ack) {
				mu.Lock()
				pending = append(pending, a)
				mu.Unlock()
			},
		}
		lctx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() { errc <- drv.Run(lctx, workers, 0) }()
		after := minKill + rand.N(maxKill-minKill+1)
		select {
		case <-time.After(after):
		case err := <-errc:
			cancel()
			d.Kill()
			return fmt.Errorf("trial %d: load failed before the kill: %w", trial, err)
		}
		d.Kill() // SIGKILL, then the clients see their connections cut
		cancel()
		<-errc // errors after the kill are expected: the daemon is gone
		c.Close()
		mu.Lock()
		n := len(pending)
		mu.Unlock()
		done = trial
		fmt.Printf("trial %d: killed after %v, %d receipts acknowledged\n", trial, after.Round(time.Millisecond), n)
	}
	if ctx.Err() != nil {
		keep = true
	}
	fmt.Printf("trials: %d\nacknowledged receipts: %d\nlost: %d\ncorrupt: %d\nelapsed: %v\n",
		done, len(acks), lost, corrupt, time.Since(start).Round(time.Second))
	if lost > 0 || corrupt > 0 {
		keep = true
		return fmt.Errorf("%d lost, %d corrupt (repo kept at %s)", lost, corrupt, repo)
	}
	if checked != len(acks) {
		return fmt.Errorf("checked %d of %d acknowledged receipts", checked, len(acks))
	}
	return nil
}
