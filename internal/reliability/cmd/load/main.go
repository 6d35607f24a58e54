// Command load pushes small workflows through the gateway of an ipvm
// daemon on loopback (network off) with bounded concurrency, and reports
// throughput, p50/p99 latency (submission to last receipt), the 429s it
// retried, and the daemon's peak RSS. It fails if an accepted workflow
// misses a receipt, if an acknowledged receipt is not served afterwards
// (byte-identical and verifying), or if the peak RSS passes -max-rss.
//
//	go run ./internal/reliability/cmd/load -bin ipvm -n 10000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ipvm-go/ipvm/internal/reliability"
)

func main() {
	bin := flag.String("bin", "ipvm", "the ipvm binary")
	n := flag.Int64("n", 10000, "workflows to complete")
	workers := flag.Int("workers", 96, "concurrent clients (above the gateway's in-flight cap of 64, so 429s happen)")
	tasks := flag.Int("tasks", 1, "independent tasks per workflow (plus one chained task)")
	maxRSS := flag.Int64("max-rss", 1<<30, "fail if the daemon's RSS passes this many bytes")
	mod := flag.String("wasm", "examples/hello.wasm", "the module the workflows run")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *mod, *n, *workers, *tasks, *maxRSS); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin, modPath string, n int64, workers, tasks int, maxRSS int64) error {
	wasm, err := os.ReadFile(modPath)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ipvm-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	d, err := reliability.StartDaemon(ctx, bin, filepath.Join(dir, "repo"), 60*time.Second)
	if err != nil {
		return err
	}
	defer d.Kill()
	c := reliability.NewClient(d.URL, workers+2)
	defer c.Close()
	mc, err := c.AddBlob(ctx, wasm)
	if err != nil {
		return err
	}
	rssStart, anonStart := d.RSS(), d.AnonRSS()
	var peak, peakAnon atomic.Int64
	peak.Store(rssStart)
	peakAnon.Store(anonStart)
	stopRSS := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopRSS:
				return
			case <-t.C:
				if r := d.RSS(); r > peak.Load() {
					peak.Store(r)
				}
				if r := d.AnonRSS(); r > peakAnon.Load() {
					peakAnon.Store(r)
				}
			}
		}
	})

	var (
		mu   sync.Mutex
		lat  []time.Duration
		acks []reliability.Ack
		seed atomic.Int64
	)
	seed.Store(1)
	drv := &reliability.Driver{
		Client: c, Mod: mc, Seed: &seed, Tasks: tasks, Poll: true,
		OnAck: func(a reliability.Ack) {
			mu.Lock()
			acks = append(acks, a)
			mu.Unlock()
		},
		OnDone: func(l time.Duration) {
			mu.Lock()
			lat = append(lat, l)
			mu.Unlock()
		},
	}
	start := time.Now()
	runErr := drv.Run(ctx, workers, n)
	elapsed := time.Since(start)
	close(stopRSS)
	sampler.Wait()
	rssEnd, anonEnd := d.RSS(), d.AnonRSS()

	// Every acknowledged receipt is served, byte-identical and verifying.
	lost, corrupt := 0, 0
	for _, a := range acks {
		l, bad, detail, err := c.Check(ctx, a)
		if err != nil {
			return fmt.Errorf("check: %w", err)
		}
		if l || bad {
			fmt.Fprintf(os.Stderr, "receipt %s of task %s: %s\n", a.Receipt, a.Task, detail)
		}
		if l {
			lost++
		}
		if bad {
			corrupt++
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	complete := drv.Complete.Load()
	fmt.Printf("workflows: %d complete of %d accepted (%d tasks each), %d answers 429 (retried)\n",
		complete, drv.Accepted.Load(), tasks+1, drv.Busy.Load())
	fmt.Printf("receipts: %d acknowledged, lost %d, corrupt %d\n", len(acks), lost, corrupt)
	fmt.Printf("throughput: %.0f workflows/s, %.0f receipts/s over %v with %d clients\n",
		float64(complete)/elapsed.Seconds(), float64(len(acks))/elapsed.Seconds(), elapsed.Round(time.Millisecond), workers)
	fmt.Printf("latency: p50 %v, p99 %v, max %v\n", pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	fmt.Printf("daemon RSS: %d MiB at start, %d MiB peak, %d MiB at end (bound %d MiB); anonymous part %d, %d, %d MiB\n",
		rssStart>>20, peak.Load()>>20, rssEnd>>20, maxRSS>>20, anonStart>>20, peakAnon.Load()>>20, anonEnd>>20)
	if err := d.Stop(30 * time.Second); err != nil {
		return fmt.Errorf("graceful stop: %w: %s", err, d.Stderr())
	}
	switch {
	case runErr != nil:
		return runErr
	case complete != n || drv.Accepted.Load() != n:
		return fmt.Errorf("%d of %d workflows complete, %d accepted", complete, n, drv.Accepted.Load())
	case lost > 0 || corrupt > 0:
		return fmt.Errorf("%d receipts lost, %d corrupt", lost, corrupt)
	case len(acks) != int(n)*(tasks+1):
		return fmt.Errorf("%d receipts acknowledged, want %d", len(acks), int(n)*(tasks+1))
	case peak.Load() > maxRSS:
		return fmt.Errorf("daemon RSS peaked at %d MiB, bound %d MiB", peak.Load()>>20, maxRSS>>20)
	}
	return nil
}
