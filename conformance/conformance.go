package conformance

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ipvm-go/ipvm/ucan"
)

// Result is the outcome of one case.
type Result struct {
	// ID names the case, e.g. "receipt.verify-signature". Stable across
	// versions of the suite.
	ID string `json:"id"`
	// Section is the spec/SPEC.md section the case checks, e.g. "§4.4".
	Section string `json:"section"`
	// Title says what the case checks, in one line.
	Title string `json:"title"`
	// Pass is true when the node behaved as the section says.
	Pass bool `json:"pass"`
	// Detail says what went wrong (or, for a pass, what was seen).
	Detail string `json:"detail,omitempty"`
	// Duration is the case's wall time.
	Duration time.Duration `json:"duration_ns"`
}

// Case is one check of the suite.
type Case struct {
	// ID names the case (see Result.ID).
	ID string
	// Section is the spec section it checks.
	Section string
	// Title says what it checks.
	Title string
	run   func(ctx context.Context, s *suite) error
}

// Options configure Run. The zero value is usable.
type Options struct {
	// Client is the HTTP client. Nil: a client without a global timeout
	// (each case has its own).
	Client *http.Client
	// CaseTimeout bounds each case. Zero: 30s.
	CaseTimeout time.Duration
	// Only, when not empty, runs only the cases whose ID starts with one
	// of these prefixes.
	Only []string
}

// Cases returns every case of the suite, in the order Run runs them.
func Cases() []Case {
	var all []Case
	for _, group := range [][]Case{
		valueCases(), taskCases(), ucanCases(), receiptCases(), workflowCases(),
		promiseCases(), abiCases(), fuelCases(), blobCases(), httpCases(), netCases(),
	} {
		all = append(all, group...)
	}
	return all
}

// Run runs the suite against the node whose gateway is at baseURL (e.g.
// "http://127.0.0.1:5080") and returns one Result per case. It first
// uploads the Wasm modules it needs through POST /v1/blobs (so the suite
// must run on the node's loopback, as its owner); if that fails, every
// case that needs a module fails with the reason. Run never stops early:
// a failing case does not stop the others.
func Run(ctx context.Context, baseURL string, opts Options) []Result {
	s, setupErr := newSuite(ctx, baseURL, opts)
	var out []Result
	for _, c := range Cases() {
		if !selected(c.ID, opts.Only) {
			continue
		}
		r := Result{ID: c.ID, Section: c.Section, Title: c.Title}
		start := time.Now()
		var err error
		if setupErr != nil && s == nil {
			err = setupErr
		} else {
			cctx, cancel := context.WithTimeout(ctx, s.caseTimeout)
			err = s.runCase(cctx, c, setupErr)
			cancel()
		}
		r.Duration = time.Since(start)
		if err != nil {
			r.Detail = err.Error()
		} else {
			r.Pass = true
		}
		out = append(out, r)
	}
	return out
}

func selected(id string, only []string) bool {
	if len(only) == 0 {
		return true
	}
	for _, p := range only {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

// runCase runs c, turning a panic into a failure so that one broken
// answer cannot stop the suite.
func (s *suite) runCase(ctx context.Context, c Case, setupErr error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("case panicked: %v", p)
		}
	}()
	if setupErr != nil && s.needsModules(c) {
		return fmt.Errorf("setup: %w", setupErr)
	}
	return c.run(ctx, s)
}

// suite is the state the cases share: the node's address and identity,
// the modules uploaded to it, and the suite's own keys.
type suite struct {
	base        string
	client      *http.Client
	caseTimeout time.Duration

	// salt makes the pure tasks of this run new to the node, so that a
	// second run against the same node sees first runs again.
	salt int64

	nodeDID string
	guest   string // module CIDs, as uploaded
	comp    string
	wasi    string

	alice *ucan.Key // the suite's own principals
	bob   *ucan.Key
}

func newSuite(ctx context.Context, baseURL string, opts Options) (*suite, error) {
	s := &suite{
		base:        strings.TrimRight(baseURL, "/"),
		client:      opts.Client,
		caseTimeout: opts.CaseTimeout,
	}
	if s.client == nil {
		s.client = &http.Client{}
	}
	if s.caseTimeout == 0 {
		s.caseTimeout = 30 * time.Second
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	s.salt = int64(binary.BigEndian.Uint32(b[:4])>>2) + 1_000_000 // positive, fits an i32 + small adds
	var err error
	if s.alice, err = ucan.GenerateKey(); err != nil {
		return nil, err
	}
	if s.bob, err = ucan.GenerateKey(); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, s.caseTimeout)
	defer cancel()
	return s, s.setup(sctx)
}

// setup learns the node's DID and uploads the modules.
func (s *suite) setup(ctx context.Context) error {
	var id struct {
		DID string `json:"did"`
	}
	if err := s.getJSON(ctx, "/v1/id", &id); err != nil {
		return fmt.Errorf("GET /v1/id: %w", err)
	}
	s.nodeDID = id.DID
	for _, m := range []struct {
		file string
		dst  *string
	}{{"testdata/guest.wasm", &s.guest}, {"testdata/component.wasm", &s.comp}, {"testdata/wasi.wasm", &s.wasi}} {
		b, err := testdata.ReadFile(m.file)
		if err != nil {
			return err
		}
		c, err := s.putBlob(ctx, b)
		if err != nil {
			return fmt.Errorf("upload %s: %w", m.file, err)
		}
		*m.dst = c
	}
	return nil
}

// needsModules reports whether c runs tasks of the uploaded modules.
func (s *suite) needsModules(c Case) bool {
	return !strings.HasPrefix(c.ID, "http.") && !strings.HasPrefix(c.ID, "net.") && !strings.HasPrefix(c.ID, "values.") && !strings.HasPrefix(c.ID, "blob.")
}
