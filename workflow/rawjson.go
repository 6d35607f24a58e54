package workflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The first pass reads the JSON into plain Go values (nil, bool, string,
// json.Number, []any, map[string]any) without interpreting it, so that
// numbers keep their literal (Homestar's fuel is past int64) and so that a
// string too long or a subtree too deep does not stop the read: it is
// replaced by a marker, and the second pass, which knows the task and field,
// reports it.

// tooLong marks a string longer than Limits.MaxString.
type tooLong struct{ n int }

// tooDeep marks a subtree nested deeper than Limits.MaxDepth.
type tooDeep struct{}

// pathNode is a field path built as the passes descend; it is rendered only
// when an error needs it.
type pathNode struct {
	parent *pathNode
	key    string // map key, or "" for a list index
	idx    int
}

func (p *pathNode) field(k string) *pathNode { return &pathNode{parent: p, key: k} }
func (p *pathNode) index(i int) *pathNode    { return &pathNode{parent: p, idx: i} }

// String renders the path as "args.params[0].x".
func (p *pathNode) String() string {
	var segs []*pathNode
	for n := p; n != nil; n = n.parent {
		segs = append(segs, n)
	}
	var sb strings.Builder
	for i := len(segs) - 1; i >= 0; i-- {
		n := segs[i]
		if n.key == "" {
			sb.WriteString("[" + strconv.Itoa(n.idx) + "]")
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(n.key)
	}
	s := sb.String()
	if len(s) > 200 {
		s = s[:100] + "…" + s[len(s)-60:]
	}
	return s
}

type rawDecoder struct {
	dec *json.Decoder
	lim Limits
}

// decodeRaw reads one JSON value that fills b.
func decodeRaw(b []byte, lim Limits) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	d := rawDecoder{dec: dec, lim: lim}
	v, err := d.value(nil, 1)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{Reason: "trailing data after the workflow object", Offset: dec.InputOffset(), Err: ErrMalformed}
	}
	return v, nil
}

func (d *rawDecoder) token() (json.Token, error) {
	t, err := d.dec.Token()
	if err == nil {
		return t, nil
	}
	off := d.dec.InputOffset()
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case err == io.EOF:
		err = io.ErrUnexpectedEOF
	}
	return nil, &Error{Reason: "not valid JSON: " + err.Error(), Offset: off, Err: ErrMalformed}
}

func (d *rawDecoder) value(p *pathNode, depth int) (any, error) {
	t, err := d.token()
	if err != nil {
		return nil, err
	}
	switch x := t.(type) {
	case string:
		if len(x) > d.lim.MaxString {
			return tooLong{len(x)}, nil
		}
		return x, nil
	case json.Delim:
		if depth > d.lim.MaxDepth {
			return tooDeep{}, d.skip()
		}
		if x == '[' {
			l := []any{}
			for d.dec.More() {
				v, err := d.value(p.index(len(l)), depth+1)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			_, err := d.token()
			return l, err
		}
		m := map[string]any{}
		for d.dec.More() {
			kt, err := d.token()
			if err != nil {
				return nil, err
			}
			k := kt.(string) // the decoder only yields strings as keys
			if len(k) > d.lim.MaxString {
				return nil, rawError(p, fmt.Sprintf("object key of %d bytes, limit %d", len(k), d.lim.MaxString), ErrTooLarge)
			}
			if _, dup := m[k]; dup {
				return nil, rawError(p, fmt.Sprintf("duplicate key %q", k), ErrMalformed)
			}
			v, err := d.value(p.field(k), depth+1)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		_, err := d.token()
		return m, err
	}
	return t, nil // nil, bool, json.Number
}

// skip reads the rest of a subtree whose opening delimiter was just read.
func (d *rawDecoder) skip() error {
	for n := 1; n > 0; {
		t, err := d.token()
		if err != nil {
			return err
		}
		if delim, ok := t.(json.Delim); ok {
			if delim == '[' || delim == '{' {
				n++
			} else {
				n--
			}
		}
	}
	return nil
}

// rawError builds an Error at a path of the raw document, naming the task by
// its position when the path is inside "tasks".
func rawError(p *pathNode, reason string, sentinel error) *Error {
	task, field := splitTaskPath(p)
	return &Error{Task: task, Field: field, Reason: reason, Offset: -1, Err: sentinel}
}

// splitTaskPath turns tasks[3].args into task "#3", field "args".
func splitTaskPath(p *pathNode) (task, field string) {
	var segs []*pathNode
	for n := p; n != nil; n = n.parent {
		segs = append(segs, n)
	}
	if len(segs) >= 2 && segs[len(segs)-1].key == "tasks" && segs[len(segs)-2].key == "" {
		task = "#" + strconv.Itoa(segs[len(segs)-2].idx)
		var rest *pathNode
		for i := len(segs) - 3; i >= 0; i-- {
			if segs[i].key == "" {
				rest = rest.index(segs[i].idx)
			} else {
				rest = rest.field(segs[i].key)
			}
		}
		if rest != nil {
			field = rest.String()
		}
		return task, field
	}
	if p != nil {
		field = p.String()
	}
	return "", field
}
