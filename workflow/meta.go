package workflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Meta holds a task's limits and placement hints. It is not part of the task
// CID (the same work under other limits is the same work) but it is part of
// the workflow CID. The zero value of each field means "the node's default".
type Meta struct {
	// Fuel is the fuel budget. Zero: the node's default.
	Fuel int64
	// Memory is the memory limit in bytes. Zero: the node's default.
	Memory int64
	// Time is the wall-time limit, a whole number of milliseconds. Zero:
	// the node's default.
	Time time.Duration
	// Output is the largest result, in bytes. Zero: the node's default.
	Output int64
	// On pins the task: "local" for this node, or a libp2p peer ID
	// (checked by the node, not here). Empty: placement decides.
	On string
	// Labels constrain placement to nodes whose host labels match every
	// key=value here. Nil when absent.
	Labels map[string]string
}

// IPLD returns the canonical form of the meta used in the workflow CID: a
// map of the non-zero fields, time as integer milliseconds.
func (m Meta) IPLD() map[string]any {
	out := map[string]any{}
	if m.Fuel != 0 {
		out["fuel"] = m.Fuel
	}
	if m.Memory != 0 {
		out["memory"] = m.Memory
	}
	if m.Time != 0 {
		out["time"] = m.Time.Milliseconds()
	}
	if m.Output != 0 {
		out["output"] = m.Output
	}
	if m.On != "" {
		out["on"] = m.On
	}
	if m.Labels != nil {
		l := make(map[string]any, len(m.Labels))
		for k, v := range m.Labels {
			l[k] = v
		}
		out["labels"] = l
	}
	return out
}

// metaParser reads a meta object. Numbers take a tolerant path: a value past
// int64 (Homestar writes u64::MAX as the float 18446744073709552000) is
// clamped to the int64 maximum with a warning; a negative or fractional value
// is an error.
type metaParser struct {
	task string
	warn func(string)
	lim  Limits
}

func (mp metaParser) parse(raw any, p *pathNode, homestar bool) (Meta, error) {
	var m Meta
	if raw == nil {
		return m, nil
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return m, newError(mp.task, p.String(), ErrWrongType, "meta must be an object, got %s", rawKind(raw))
	}
	for _, k := range sortedKeys(obj) {
		v, f := obj[k], p.field(k)
		var err error
		switch {
		case k == "fuel":
			m.Fuel, err = mp.count(v, f)
		case k == "memory":
			m.Memory, err = mp.count(v, f)
		case k == "time":
			m.Time, err = mp.duration(v, f)
		case homestar:
			// Homestar's meta has only fuel, memory and time.
			mp.warn(fmt.Sprintf("task %q: meta.%s: unknown key ignored", mp.task, truncate(k, 40)))
		case k == "output":
			m.Output, err = mp.count(v, f)
		case k == "on":
			s, isStr := v.(string)
			if !isStr || s == "" || len(s) > MaxNameLen {
				return m, newError(mp.task, f.String(), ErrWrongType, `on must be "local" or a peer ID string, got %s`, rawKind(v))
			}
			m.On = s
		case k == "labels":
			m.Labels, err = mp.labels(v, f)
		default:
			mp.warn(fmt.Sprintf("task %q: meta.%s: unknown key ignored", mp.task, truncate(k, 40)))
		}
		if err != nil {
			return m, err
		}
	}
	return m, nil
}

func (mp metaParser) count(v any, p *pathNode) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		if v == nil {
			return 0, nil // Homestar writes null for "no limit"
		}
		return 0, newError(mp.task, p.String(), ErrWrongType, "must be a non-negative integer, got %s", rawKind(v))
	}
	lit := string(n)
	if strings.HasPrefix(lit, "-") {
		return 0, newError(mp.task, p.String(), ErrWrongType, "must not be negative, got %s", truncate(lit, 40))
	}
	if !strings.ContainsAny(lit, ".eE") {
		if i, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return i, nil
		}
		return mp.clamp(lit, p), nil // a digit string past int64
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, newError(mp.task, p.String(), ErrWrongType, "bad number %s", truncate(lit, 40))
	}
	if f != math.Trunc(f) {
		return 0, newError(mp.task, p.String(), ErrWrongType, "must be a whole number, got %s", truncate(lit, 40))
	}
	if f >= math.MaxInt64 { // also +Inf for literals past float64
		return mp.clamp(lit, p), nil
	}
	return int64(f), nil
}

// clamp returns the int64 maximum for a count past it, with a warning.
func (mp metaParser) clamp(lit string, p *pathNode) int64 {
	mp.warn(fmt.Sprintf("task %q: %s: %s is past the int64 range; clamped to %d", mp.task, p, truncate(lit, 40), int64(math.MaxInt64)))
	return math.MaxInt64
}

func (mp metaParser) duration(v any, p *pathNode) (time.Duration, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case string:
		d, err := time.ParseDuration(x)
		if err != nil || d < 0 {
			return 0, newError(mp.task, p.String(), ErrWrongType, `must be a Go duration like "5s" or integer milliseconds, got %q`, truncate(x, 40))
		}
		return roundMillis(d), nil
	case json.Number:
		ms, err := mp.count(x, p)
		if err != nil {
			return 0, err
		}
		if ms > math.MaxInt64/int64(time.Millisecond) {
			mp.warn(fmt.Sprintf("task %q: %s: %d ms is past the largest duration; clamped", mp.task, p, ms))
			ms = math.MaxInt64 / int64(time.Millisecond)
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	return 0, newError(mp.task, p.String(), ErrWrongType, `must be a Go duration like "5s" or integer milliseconds, got %s`, rawKind(v))
}

// roundMillis rounds a duration up to whole milliseconds, the unit of the
// canonical form.
func roundMillis(d time.Duration) time.Duration {
	if r := d % time.Millisecond; r != 0 {
		if d > math.MaxInt64-time.Millisecond {
			return d - r
		}
		d += time.Millisecond - r
	}
	return d
}

func (mp metaParser) labels(v any, p *pathNode) (map[string]string, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, newError(mp.task, p.String(), ErrWrongType, "labels must be an object of strings, got %s", rawKind(v))
	}
	out := make(map[string]string, len(obj))
	for k, e := range obj {
		s, ok := e.(string)
		if !ok || strings.TrimSpace(k) == "" {
			if tl, long := e.(tooLong); long {
				return nil, newError(mp.task, p.field(k).String(), ErrTooLarge, "string of %d bytes, limit %d", tl.n, mp.lim.MaxString)
			}
			return nil, newError(mp.task, p.field(k).String(), ErrWrongType, "a label is a non-empty key with a string value, got %s", rawKind(e))
		}
		out[k] = s
	}
	return out, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
