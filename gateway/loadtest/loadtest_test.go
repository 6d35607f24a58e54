package loadtest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func TestRun(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || string(b) != "hi" || r.Header.Get("X-T") != "1" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		served.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{
		URL: srv.URL, Body: []byte("hi"), Header: http.Header{"X-T": {"1"}},
		Clients: 8, Requests: 500, Want: http.StatusAccepted,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 500 || served.Load() != 500 || res.PerSecond() <= 0 {
		t.Errorf("result %+v, served %d", res, served.Load())
	}
	_, err = Run(context.Background(), Config{URL: srv.URL, Clients: 2, Requests: 10})
	if !errors.Is(err, ErrStatus) {
		t.Errorf("wrong status: %v", err)
	}
	if (Result{}).PerSecond() != 0 {
		t.Error("empty result rate")
	}
}

func TestCompare(t *testing.T) {
	var hits [2]atomic.Int64
	mk := func(i int) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits[i].Add(1) }))
	}
	a, b := mk(0), mk(1)
	defer a.Close()
	defer b.Close()
	ra, rb, err := Compare(context.Background(), Config{URL: a.URL}, Config{URL: b.URL}, Config{Clients: 4, Requests: 50}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if ra.Requests != 150 || rb.Requests != 150 || hits[0].Load() != 150 || hits[1].Load() != 150 {
		t.Errorf("a %+v b %+v hits %d %d", ra, rb, hits[0].Load(), hits[1].Load())
	}
}
