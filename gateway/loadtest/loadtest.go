// Package loadtest drives an HTTP endpoint from many concurrent clients
// and reports requests per second, so the gateway and a plain net/http
// handler can be measured side by side in one program (go test -bench in
// package gateway, and `ipvm bench`).
//
//	res, err := loadtest.Run(ctx, loadtest.Config{
//		URL: base + "/v1/workflows", Method: "POST", Body: wf,
//		Clients: 64, Duration: time.Second, Want: http.StatusAccepted,
//	})
//	fmt.Printf("%.0f req/s\n", res.PerSecond())
package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ErrStatus is returned when an answer has another status than Want.
var ErrStatus = errors.New("loadtest: unexpected status")

// Config says what to send and how hard.
type Config struct {
	// URL and Method of every request; Method defaults to GET, or POST
	// when Body is set.
	URL    string
	Method string
	// Body is sent with every request (may be nil).
	Body []byte
	// Header is added to every request.
	Header http.Header
	// Clients is the number of concurrent clients, each with its own
	// keep-alive connection. Default 64.
	Clients int
	// Duration is how long to send. Default 1s.
	Duration time.Duration
	// Requests, when above zero, stops after that many requests instead of
	// Duration (for testing.B loops).
	Requests int64
	// Want is the status every answer must have. Default 200.
	Want int
}

// Result is what a run did.
type Result struct {
	Requests int64
	Elapsed  time.Duration
}

// PerSecond is the rate of completed requests.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Run sends requests until Duration passes (or Requests are done) or ctx
// ends, and returns how many completed. It fails on the first transport
// error or unexpected status.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Clients <= 0 {
		cfg.Clients = 64
	}
	if cfg.Duration <= 0 {
		cfg.Duration = time.Second
	}
	if cfg.Want == 0 {
		cfg.Want = http.StatusOK
	}
	if cfg.Method == "" {
		cfg.Method = http.MethodGet
		if cfg.Body != nil {
			cfg.Method = http.MethodPost
		}
	}
	tr := &http.Transport{MaxIdleConns: cfg.Clients, MaxIdleConnsPerHost: cfg.Clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Requests <= 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, cfg.Duration)
		defer stop()
	}
	var (
		done     atomic.Int64
		issued   atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	fail := func(err error) { errOnce.Do(func() { firstErr = err; cancel() }) }
	start := time.Now()
	for range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if cfg.Requests > 0 && issued.Add(1) > cfg.Requests {
					return
				}
				req, err := http.NewRequestWithContext(ctx, cfg.Method, cfg.URL, bytes.NewReader(cfg.Body))
				if err != nil {
					fail(err)
					return
				}
				for k, v := range cfg.Header {
					req.Header[k] = v
				}
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						fail(err)
					}
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != cfg.Want {
					fail(fmt.Errorf("%w: %d, want %d", ErrStatus, resp.StatusCode, cfg.Want))
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	res := Result{Requests: done.Load(), Elapsed: time.Since(start)}
	return res, firstErr
}

// Compare measures two endpoints side by side: rounds alternating runs of
// a then b, each of per.Requests requests (or per.Duration), summed. Load
// from elsewhere on the machine then falls on both alike, so the ratio
// b.PerSecond()/a.PerSecond() is steadier than two separate runs.
// a and b give URL, Method, Body, Header and Want; per gives Clients,
// Requests and Duration for every run. rounds defaults to 10.
func Compare(ctx context.Context, a, b Config, per Config, rounds int) (Result, Result, error) {
	if rounds <= 0 {
		rounds = 10
	}
	var ra, rb Result
	for range rounds {
		for _, side := range []struct {
			cfg Config
			sum *Result
		}{{a, &ra}, {b, &rb}} {
			cfg := side.cfg
			cfg.Clients, cfg.Requests, cfg.Duration = per.Clients, per.Requests, per.Duration
			r, err := Run(ctx, cfg)
			if err != nil {
				return ra, rb, err
			}
			side.sum.Requests += r.Requests
			side.sum.Elapsed += r.Elapsed
		}
	}
	return ra, rb, nil
}
