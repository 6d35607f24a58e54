package workflow

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
)

// Promise keys. A promise is a map with exactly one of these keys; its value
// names a task of the same workflow (native format only) or links a task
// CID ({"/": "bafy…"}).
const (
	// AwaitOk resolves to the awaited task's ok value; if the task failed,
	// the waiting task fails with spec.ErrNameBranchMismatch.
	AwaitOk = "await/ok"
	// AwaitError resolves to the awaited task's error as {name, message};
	// if the task succeeded, the waiting task fails with BranchMismatch.
	AwaitError = "await/error"
	// AwaitAny resolves to the awaited task's whole result: {"ok": v} or
	// {"err": {name, message}}.
	AwaitAny = "await/*"
)

// pending is a promise found while converting a task's args. Its map is
// already in the converted tree; once the target's CID is known it is set
// as m[kind].
type pending struct {
	m     map[string]any
	kind  string
	name  string  // target task name, or "" for a link
	link  cid.Cid // target task CID when name is ""
	field *pathNode
}

// converter turns raw JSON values into IPLD values (spec's value model),
// collecting promises.
type converter struct {
	lim        Limits
	task       string // task label for errors
	allowNames bool   // name promises are allowed (native format)
	promises   []*pending
}

func (c *converter) fail(p *pathNode, sentinel error, format string, args ...any) *Error {
	return newError(c.task, p.String(), sentinel, format, args...)
}

// scalarErr reports the markers left by the raw pass; nil for other values.
func (c *converter) scalarErr(v any, p *pathNode) error {
	switch x := v.(type) {
	case tooLong:
		return c.fail(p, ErrTooLarge, "string of %d bytes, limit %d", x.n, c.lim.MaxString)
	case tooDeep:
		return c.fail(p, ErrTooLarge, "JSON nested deeper than %d levels", c.lim.MaxDepth)
	}
	return nil
}

// value converts v, found at path p.
func (c *converter) value(v any, p *pathNode) (any, error) {
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		n, err := spec.ParseJSONNumber(string(x))
		if err != nil {
			if errors.Is(err, spec.ErrIntRange) {
				return nil, c.fail(p, ErrWrongType, "integer %s is outside the 64-bit range of IPLD integers", truncate(string(x), 40))
			}
			return nil, c.fail(p, ErrWrongType, "number %s: %v", truncate(string(x), 40), err)
		}
		return n, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = c.value(e, p.index(i)); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		if slash, ok := x["/"]; ok {
			return c.reserved(x, slash, p)
		}
		for k := range x {
			if strings.HasPrefix(k, "await/") {
				return c.promise(x, k, p)
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			var err error
			if out[k], err = c.value(e, p.field(k)); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	if err := c.scalarErr(v, p); err != nil {
		return nil, err
	}
	return nil, c.fail(p, ErrWrongType, "unsupported JSON value %T", v)
}

// reserved interprets DAG-JSON's {"/": "cid"} (a link) and
// {"/": {"bytes": "base64"}} (bytes).
func (c *converter) reserved(m map[string]any, slash any, p *pathNode) (any, error) {
	if len(m) != 1 {
		return nil, c.fail(p, ErrWrongType, `a map with a "/" key is a link or bytes and has no other key`)
	}
	switch s := slash.(type) {
	case string:
		l, err := cid.Decode(s)
		if err != nil {
			return nil, c.fail(p, ErrWrongType, "bad link %q: %v", truncate(s, 80), err)
		}
		return l, nil
	case map[string]any:
		b64, ok := s["bytes"].(string)
		if !ok || len(s) != 1 {
			if err := c.scalarErr(s["bytes"], p.field("/").field("bytes")); err != nil {
				return nil, err
			}
			return nil, c.fail(p, ErrWrongType, `{"/": {...}} must be {"/": {"bytes": "<base64>"}}`)
		}
		b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(b64, "="))
		if err != nil {
			return nil, c.fail(p, ErrWrongType, "bytes are not base64: %v", err)
		}
		return b, nil
	}
	if err := c.scalarErr(slash, p.field("/")); err != nil {
		return nil, err
	}
	return nil, c.fail(p, ErrWrongType, `"/" must hold a CID string or {"bytes": "<base64>"}, got %s`, rawKind(slash))
}

// promise converts a map with an await/ key.
func (c *converter) promise(m map[string]any, kind string, p *pathNode) (any, error) {
	switch kind {
	case AwaitOk, AwaitError, AwaitAny:
	default:
		return nil, c.fail(p, ErrBadPromise, "unknown promise kind %q (want %s, %s or %s)", truncate(kind, 40), AwaitOk, AwaitError, AwaitAny)
	}
	if len(m) != 1 {
		return nil, c.fail(p, ErrBadPromise, "a promise has exactly one key, %q, and no other", kind)
	}
	out := map[string]any{kind: nil}
	pr := &pending{m: out, kind: kind, field: p}
	switch t := m[kind].(type) {
	case string:
		if !c.allowNames {
			return nil, c.fail(p.field(kind), ErrBadPromise, "a Homestar promise links a task CID ({\"/\": \"bafy…\"}), not a name")
		}
		if t == "" {
			return nil, c.fail(p.field(kind), ErrBadPromise, "empty task name")
		}
		pr.name = t
	case map[string]any:
		l, err := c.value(t, p.field(kind))
		if err != nil {
			return nil, err
		}
		link, ok := l.(cid.Cid)
		if !ok {
			return nil, c.fail(p.field(kind), ErrBadPromise, "a promise names a task or links a task CID ({\"/\": \"bafy…\"}), got %s", spec.Kind(l))
		}
		pr.link = link
	default:
		if err := c.scalarErr(t, p.field(kind)); err != nil {
			return nil, err
		}
		return nil, c.fail(p.field(kind), ErrBadPromise, "a promise names a task or links a task CID ({\"/\": \"bafy…\"}), got %s", rawKind(t))
	}
	c.promises = append(c.promises, pr)
	return out, nil
}

// rawKind names the JSON type of a raw value, for messages.
func rawKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string, tooLong:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case tooDeep:
		return "deeply nested value"
	}
	return fmt.Sprintf("%T", v)
}

// truncate shortens s to at most n bytes plus "…", on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func newError(task, field string, sentinel error, format string, args ...any) *Error {
	return &Error{Task: task, Field: field, Reason: fmt.Sprintf(format, args...), Offset: -1, Err: sentinel}
}
