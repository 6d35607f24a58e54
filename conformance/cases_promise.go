package conformance

import (
	"context"
	"fmt"

	"github.com/ipvm-go/ipvm/spec"
)

func promiseCases() []Case {
	return []Case{
		{ID: "promise.chain-values", Section: "§5.2", Title: "await/ok passes each result on: x → x+1 → x+2 → x+2+40", run: casePromiseChain},
		{ID: "promise.await-ok-on-error", Section: "§5.2", Title: "await/ok on a failed task: BranchMismatch, without running", run: casePromiseOkOnErr},
		{ID: "promise.await-error-gets-error", Section: "§5.2", Title: "await/error on a failed task gets {name, message}", run: casePromiseErrGetsErr},
		{ID: "promise.await-error-on-ok", Section: "§5.2", Title: "await/error on a task that succeeded: BranchMismatch", run: casePromiseErrOnOk},
		{ID: "promise.await-star-ok", Section: "§5.2", Title: "await/* on a success gets {ok: v}", run: casePromiseStarOk},
		{ID: "promise.await-star-error", Section: "§5.2", Title: "await/* on a failure gets {err: {name, message}}", run: casePromiseStarErr},
		{ID: "promise.link-equals-name", Section: "§5.3", Title: "a promise by name and by link to the task CID give the same task CID", run: casePromiseLinkName},
		{ID: "promise.earlier-work", Section: "§5.2", Title: "a link to the task CID of earlier work resolves from the receipt store", run: casePromiseEarlier},
		{ID: "promise.unresolved", Section: "§5.2", Title: "a link to a task CID nobody ran: UnresolvedPromise", run: casePromiseUnresolved},
		{ID: "promise.failure-not-memoized", Section: "§5.2", Title: "a BranchMismatch is not served from the memo table on a second run", run: casePromiseNoMemo},
	}
}

func casePromiseChain(ctx context.Context, s *suite) error {
	x := s.n(60)
	st, err := s.run(ctx, workflow("chain",
		wasm("one", s.guest, "add_one", x),
		wasm("two", s.guest, "add_one", obj{"await/ok": "one"}),
		wasm("sum", s.guest, "add", obj{"await/ok": "two"}, int64(40)),
	), "")
	if err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		want int64
	}{{"one", x + 1}, {"two", x + 2}, {"sum", x + 42}} {
		if err := wantOK(st, c.name, c.want); err != nil {
			return err
		}
	}
	return nil
}

// failing is a task that traps, fresh for this run.
func (s *suite) failing(name, tag string) obj {
	return with(wasm(name, s.guest, "div", s.n(61), int64(0)), "nonce", s.nonce(tag))
}

// afterFailure runs a workflow of a trapping task "bad" and next, which
// awaits it, and returns the stream and bad's failure.
func (s *suite) afterFailure(ctx context.Context, tag string, next obj) (*stream, *spec.Failure, error) {
	st, err := s.run(ctx, workflow(tag, s.failing("bad", tag), next), "")
	if err != nil {
		return nil, nil, err
	}
	f, err := wantErr(st, "bad", spec.ErrNameTrap)
	return st, f, err
}

func casePromiseOkOnErr(ctx context.Context, s *suite) error {
	st, _, err := s.afterFailure(ctx, "ok-on-err", wasm("next", s.guest, "add_one", obj{"await/ok": "bad"}))
	if err != nil {
		return err
	}
	_, err = wantErr(st, "next", spec.ErrNameBranchMismatch)
	return err
}

func casePromiseErrGetsErr(ctx context.Context, s *suite) error {
	st, f, err := s.afterFailure(ctx, "err-gets-err", wasm("next", s.guest, "echo", obj{"await/error": "bad"}))
	if err != nil {
		return err
	}
	return wantOK(st, "next", []any{map[string]any{"name": f.Name, "message": f.Message}})
}

func casePromiseErrOnOk(ctx context.Context, s *suite) error {
	st, err := s.run(ctx, workflow("err-on-ok",
		wasm("good", s.guest, "add_one", s.n(62)),
		wasm("next", s.guest, "echo", obj{"await/error": "good"}),
	), "")
	if err != nil {
		return err
	}
	_, err = wantErr(st, "next", spec.ErrNameBranchMismatch)
	return err
}

func casePromiseStarOk(ctx context.Context, s *suite) error {
	x := s.n(63)
	st, err := s.run(ctx, workflow("star-ok",
		wasm("good", s.guest, "add_one", x),
		wasm("next", s.guest, "echo", obj{"await/*": "good"}, "tail"),
	), "")
	if err != nil {
		return err
	}
	return wantOK(st, "next", []any{map[string]any{"ok": x + 1}, "tail"})
}

func casePromiseStarErr(ctx context.Context, s *suite) error {
	st, f, err := s.afterFailure(ctx, "star-err", wasm("next", s.guest, "echo", obj{"await/*": "bad"}))
	if err != nil {
		return err
	}
	return wantOK(st, "next", []any{map[string]any{"err": map[string]any{"name": f.Name, "message": f.Message}}})
}

func casePromiseLinkName(ctx context.Context, s *suite) error {
	x := s.n(64)
	byName, err := s.submit(ctx, workflow("by-name",
		wasm("one", s.guest, "add_one", x),
		wasm("two", s.guest, "add_one", obj{"await/ok": "one"}),
	), "")
	if err != nil {
		return err
	}
	byLink, err := s.submit(ctx, workflow("by-link",
		wasm("one", s.guest, "add_one", x),
		wasm("two", s.guest, "add_one", obj{"await/ok": link(byName.task("one"))}),
	), "")
	if err != nil {
		return err
	}
	if byName.task("two") == "" || byName.task("two") != byLink.task("two") {
		return fmt.Errorf("await by name: %s, by link: %s", byName.task("two"), byLink.task("two"))
	}
	return nil
}

func casePromiseEarlier(ctx context.Context, s *suite) error {
	x := s.n(65)
	_, re, err := s.oneRun(ctx, "earlier-1", wasm("one", s.guest, "add_one", x))
	if err != nil {
		return err
	}
	st, err := s.run(ctx, workflow("earlier-2", wasm("two", s.guest, "add_one", obj{"await/ok": link(re.Task)})), "")
	if err != nil {
		return err
	}
	return wantOK(st, "two", x+2)
}

func casePromiseUnresolved(ctx context.Context, s *suite) error {
	// A task CID nobody ran: the CID of a task with a fresh nonce, never
	// submitted.
	c, _, err := spec.CIDOf(map[string]any{"sub": nil, "cmd": "/wasm/run", "args": map[string]any{"fun": "x", "params": []any{}}, "nonce": []byte(s.nonce("never"))})
	if err != nil {
		return err
	}
	st, err := s.run(ctx, workflow("unresolved", with(wasm("t", s.guest, "add_one", obj{"await/ok": link(c.String())}), "nonce", s.nonce("unresolved"))), "")
	if err != nil {
		return err
	}
	_, err = wantErr(st, "t", spec.ErrNameUnresolvedPromise)
	return err
}

func casePromiseNoMemo(ctx context.Context, s *suite) error {
	// The failing task has a nonce, so it runs both times; the waiting
	// task has none, so only the rule of §5.2 keeps it out of the memo.
	body := workflow("no-memo",
		s.failing("bad", "no-memo"),
		wasm("next", s.guest, "add_one", obj{"await/ok": "bad"}),
	)
	for i := range 2 {
		st, err := s.run(ctx, body, "")
		if err != nil {
			return err
		}
		if _, err := wantErr(st, "next", spec.ErrNameBranchMismatch); err != nil {
			return err
		}
		if re, _ := st.ev("next"); re.Cached {
			return fmt.Errorf("run %d: the BranchMismatch receipt was served cached", i+1)
		}
	}
	return nil
}
