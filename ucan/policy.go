package ucan

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

// Policy is a delegation's pol: a list of statements that must all hold
// for an invocation's args. The empty policy allows any args.
//
// Statements follow the UCAN 1.0 policy language:
//
//	["==", sel, value]  ["!=", sel, value]
//	["<", sel, n]  ["<=", sel, n]  [">", sel, n]  [">=", sel, n]
//	["like", sel, "glob*"]      ("*" any run, "\*" a literal star)
//	["not", stmt]  ["and", [stmt...]]  ["or", [stmt...]]
//	["all", sel, stmt]  ["any", sel, stmt]   (over a list's items or a map's values)
//
// Selectors are jq-like: ".", ".mod", ".a.b", `.["key"]`, ".[0]", ".[-1]",
// and a trailing "?" on a segment makes a missing value null instead of a
// failure. Numbers compare by value: 1 == 1.0.
type Policy []Statement

// Statement is one parsed policy statement.
type Statement struct {
	op    string
	sel   selector
	value any         // ==, !=, like (pattern), comparisons (number)
	args  []Statement // not (1), and/or (n), all/any (1)
	raw   any
}

// IPLD returns the policy in its wire form (a list of statement lists).
func (p Policy) IPLD() any {
	out := make([]any, len(p))
	for i, s := range p {
		out[i] = s.raw
	}
	return out
}

// ParsePolicy parses a policy from its IPLD form (as decoded from
// DAG-CBOR or DAG-JSON). Errors are *Error named Malformed.
func ParsePolicy(v any) (Policy, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, fail(NameMalformed, "policy is not a list")
	}
	p := make(Policy, len(l))
	for i, x := range l {
		s, err := parseStatement(x, 0)
		if err != nil {
			return nil, failWrap(NameMalformed, err, "policy statement %d", i)
		}
		p[i] = s
	}
	return p, nil
}

// ParsePolicyJSON parses a policy written in DAG-JSON, e.g.
// `[["==", ".mod", {"/": "bafy…"}]]`.
func ParsePolicyJSON(b []byte) (Policy, error) {
	v, err := spec.DecodeJSON(b, spec.Limits{MaxBytes: 64 << 10, MaxDepth: 64})
	if err != nil {
		return nil, failWrap(NameMalformed, err, "policy JSON")
	}
	return ParsePolicy(v)
}

const maxPolicyDepth = 32

var errPolicy = errors.New("bad statement")

func parseStatement(v any, depth int) (Statement, error) {
	if depth > maxPolicyDepth {
		return Statement{}, fmt.Errorf("%w: nested too deep", errPolicy)
	}
	l, ok := v.([]any)
	if !ok || len(l) < 2 {
		return Statement{}, fmt.Errorf("%w: not [op, ...]", errPolicy)
	}
	op, ok := l[0].(string)
	if !ok {
		return Statement{}, fmt.Errorf("%w: op is not a string", errPolicy)
	}
	s := Statement{op: op, raw: v}
	want := 3
	var err error
	switch op {
	case "not":
		want = 2
		var sub Statement
		if sub, err = parseStatement(l[1], depth+1); err != nil {
			return s, err
		}
		s.args = []Statement{sub}
	case "and", "or":
		want = 2
		subs, ok := l[1].([]any)
		if !ok {
			return s, fmt.Errorf("%w: %s takes a list of statements", errPolicy, op)
		}
		for _, x := range subs {
			sub, err := parseStatement(x, depth+1)
			if err != nil {
				return s, err
			}
			s.args = append(s.args, sub)
		}
	case "==", "!=", "<", "<=", ">", ">=", "like", "all", "any":
		if len(l) != 3 {
			return s, fmt.Errorf("%w: %s takes a selector and an operand", errPolicy, op)
		}
		sel, ok := l[1].(string)
		if !ok {
			return s, fmt.Errorf("%w: selector is not a string", errPolicy)
		}
		if s.sel, err = parseSelector(sel); err != nil {
			return s, err
		}
		switch op {
		case "all", "any":
			sub, err := parseStatement(l[2], depth+1)
			if err != nil {
				return s, err
			}
			s.args = []Statement{sub}
		case "like":
			pat, ok := l[2].(string)
			if !ok {
				return s, fmt.Errorf("%w: like takes a string pattern", errPolicy)
			}
			s.value = pat
		case "<", "<=", ">", ">=":
			if _, ok := number(l[2]); !ok {
				return s, fmt.Errorf("%w: %s takes a number", errPolicy, op)
			}
			s.value = l[2]
		default:
			s.value = l[2]
		}
	default:
		return s, fmt.Errorf("%w: unknown operator %q", errPolicy, trunc(op))
	}
	if len(l) != want {
		return s, fmt.Errorf("%w: %s takes %d elements, got %d", errPolicy, op, want, len(l))
	}
	return s, nil
}

// segment is one step of a selector: a map key or a list index.
type segment struct {
	key      string
	index    int
	isIndex  bool
	optional bool
}

type selector []segment

func parseSelector(s string) (selector, error) {
	if !strings.HasPrefix(s, ".") {
		return nil, fmt.Errorf("%w: selector %q does not start with '.'", errPolicy, trunc(s))
	}
	var sel selector
	rest := s[1:]
	if rest == "" {
		return sel, nil
	}
	first := true
	for rest != "" {
		var seg segment
		switch {
		case rest[0] == '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("%w: selector %q: unclosed '['", errPolicy, trunc(s))
			}
			inner := rest[1:end]
			if strings.HasPrefix(inner, `"`) {
				// A quoted key may contain ']', so find the closing quote.
				q, err := strconv.QuotedPrefix(rest[1:])
				if err != nil || len(rest) < len(q)+2 || rest[1+len(q)] != ']' {
					return nil, fmt.Errorf("%w: selector %q: bad quoted key", errPolicy, trunc(s))
				}
				seg.key, _ = strconv.Unquote(q)
				end = 1 + len(q)
			} else {
				i, err := strconv.Atoi(inner)
				if err != nil {
					return nil, fmt.Errorf("%w: selector %q: bad index %q (iterators and slices are not supported)", errPolicy, trunc(s), trunc(inner))
				}
				seg.index, seg.isIndex = i, true
			}
			rest = rest[end+1:]
		case first || rest[0] == '.':
			if !first {
				rest = rest[1:]
			}
			n := 0
			for n < len(rest) && (rest[n] == '_' || rest[n] == '-' || rest[n] >= 'a' && rest[n] <= 'z' || rest[n] >= 'A' && rest[n] <= 'Z' || n > 0 && rest[n] >= '0' && rest[n] <= '9') {
				n++
			}
			if n == 0 {
				return nil, fmt.Errorf("%w: selector %q: empty field name", errPolicy, trunc(s))
			}
			seg.key, rest = rest[:n], rest[n:]
		default:
			return nil, fmt.Errorf("%w: selector %q: unexpected %q", errPolicy, trunc(s), rest[0])
		}
		if strings.HasPrefix(rest, "?") {
			seg.optional, rest = true, rest[1:]
		}
		sel = append(sel, seg)
		first = false
	}
	return sel, nil
}

var errNoPath = errors.New("selector does not resolve")

// resolve applies the selector to v. A missing value under an optional
// segment is null; under a required one it is errNoPath.
func (sel selector) resolve(v any) (any, error) {
	for _, seg := range sel {
		var next any
		found := false
		if seg.isIndex {
			if l, ok := v.([]any); ok {
				i := seg.index
				if i < 0 {
					i += len(l)
				}
				if i >= 0 && i < len(l) {
					next, found = l[i], true
				}
			}
		} else if m, ok := v.(map[string]any); ok {
			next, found = m[seg.key]
		}
		if !found {
			if seg.optional {
				return nil, nil
			}
			return nil, errNoPath
		}
		v = next
	}
	return v, nil
}

// Match reports whether args satisfy every statement of p. A failure is an
// *Error named MatchError that quotes the statement that did not hold.
func (p Policy) Match(args map[string]any) error {
	var root any = args
	if args == nil {
		root = map[string]any{}
	}
	for _, s := range p {
		ok, err := s.eval(root)
		if err != nil || !ok {
			js, _ := spec.EncodeJSON(s.raw)
			reason := "args do not satisfy " + trunc(string(js))
			if err != nil {
				reason += " (" + err.Error() + ")"
			}
			return fail(NameMatchError, "%s", reason)
		}
	}
	return nil
}

// eval returns (true, nil) when s holds, (false, nil) when it does not,
// and an error when a required selector does not resolve. An error makes
// the enclosing and/not/all fail; or/any treat it as a branch that does
// not hold.
func (s Statement) eval(v any) (bool, error) {
	switch s.op {
	case "not":
		ok, err := s.args[0].eval(v)
		return !ok && err == nil, err
	case "and":
		for _, a := range s.args {
			if ok, err := a.eval(v); err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case "or":
		if len(s.args) == 0 {
			return true, nil // UCAN 1.0: an empty "or" holds
		}
		var firstErr error
		for _, a := range s.args {
			ok, err := a.eval(v)
			if ok && err == nil {
				return true, nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		return false, firstErr
	}
	x, err := s.sel.resolve(v)
	if err != nil {
		return false, err
	}
	switch s.op {
	case "==":
		return valueEqual(x, s.value), nil
	case "!=":
		return !valueEqual(x, s.value), nil
	case "<", "<=", ">", ">=":
		a, ok := number(x)
		if !ok {
			return false, nil
		}
		b, _ := number(s.value)
		c := a.cmp(b)
		switch s.op {
		case "<":
			return c < 0, nil
		case "<=":
			return c <= 0, nil
		case ">":
			return c > 0, nil
		}
		return c >= 0, nil
	case "like":
		str, ok := x.(string)
		return ok && globMatch(s.value.(string), str), nil
	case "all", "any":
		var items []any
		switch c := x.(type) {
		case []any:
			items = c
		case map[string]any:
			items = make([]any, 0, len(c))
			for _, e := range c {
				items = append(items, e)
			}
		default:
			return false, nil
		}
		for _, e := range items {
			ok, err := s.args[0].eval(e)
			if s.op == "all" && (err != nil || !ok) {
				return false, err
			}
			if s.op == "any" && ok && err == nil {
				return true, nil
			}
		}
		return s.op == "all", nil
	}
	return false, fmt.Errorf("unknown operator %q", s.op)
}

// num is an IPLD number: an integer or a float, compared by value.
type num struct {
	i     int64
	f     float64
	isInt bool
}

func number(v any) (num, bool) {
	switch x := v.(type) {
	case int64:
		return num{i: x, isInt: true}, true
	case int:
		return num{i: int64(x), isInt: true}, true
	case float64:
		if math.IsNaN(x) {
			return num{}, false
		}
		return num{f: x}, true
	}
	return num{}, false
}

// cmp compares two numbers exactly, without rounding large integers
// through float64.
func (a num) cmp(b num) int {
	switch {
	case a.isInt && b.isInt:
		return cmpOrdered(a.i, b.i)
	case !a.isInt && !b.isInt:
		return cmpOrdered(a.f, b.f)
	case a.isInt:
		return -cmpFloatInt(b.f, a.i)
	}
	return cmpFloatInt(a.f, b.i)
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpFloatInt compares f with i exactly.
func cmpFloatInt(f float64, i int64) int {
	if f < -9.3e18 {
		return -1
	}
	if f > 9.3e18 {
		return 1
	}
	t := math.Trunc(f)
	if c := cmpOrdered(int64(t), i); c != 0 {
		return c
	}
	return cmpOrdered(f, t) // the fraction decides
}

// valueEqual is IPLD equality with numbers compared by value.
func valueEqual(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x.cmp(y) == 0
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case cid.Cid:
		y, ok := b.(cid.Cid)
		return ok && x.Equals(y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valueEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !valueEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	return spec.Equal(a, b)
}

// globMatch matches s against a UCAN "like" pattern: "*" matches any run
// of characters, "\*" a literal star, and the whole string must match.
// It runs in O(len(pattern)·len(s)) at worst (no backtracking blow-up).
func globMatch(pattern, s string) bool {
	type tok struct {
		lit  string
		star bool
	}
	var toks []tok
	var lit strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch {
		case pattern[i] == '\\' && i+1 < len(pattern) && pattern[i+1] == '*':
			lit.WriteByte('*')
			i++
		case pattern[i] == '*':
			if lit.Len() > 0 {
				toks = append(toks, tok{lit: lit.String()})
				lit.Reset()
			}
			toks = append(toks, tok{star: true})
		default:
			lit.WriteByte(pattern[i])
		}
	}
	if lit.Len() > 0 {
		toks = append(toks, tok{lit: lit.String()})
	}
	// Greedy matching with a single backtrack point is exact for
	// patterns whose only wildcard is "*".
	si, starTok, starS := 0, -1, 0
	for ti := 0; ; {
		if ti == len(toks) {
			if si == len(s) {
				return true
			}
		} else if toks[ti].star {
			starTok, starS = ti, si
			ti++
			continue
		} else if strings.HasPrefix(s[si:], toks[ti].lit) {
			si += len(toks[ti].lit)
			ti++
			continue
		}
		if starTok < 0 || starS >= len(s) {
			return false
		}
		starS++
		si, ti = starS, starTok+1
	}
}
