package workflow

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The first pass reads the JSON into plain Go values (nil, bool, string,
// json.Number, []any, map[string]any) without interpreting it, so that
// numbers keep their literal (Homestar's fuel is past int64) and so that a
// string too long or a subtree too deep does not stop the read: it is
// replaced by a marker, and the second pass, which knows the task and field,
// reports it. A marker the second pass ignores (under a key it only warns
// about) still fails the parse, at its path (see decodeRaw).
//
// It is a small hand-written scanner rather than encoding/json's Decoder,
// whose Token API costs about half of a small workflow's parse time.

// tooLong marks a string longer than Limits.MaxString.
type tooLong struct{ n int }

// tooDeep marks a subtree nested deeper than Limits.MaxDepth.
type tooDeep struct{}

// pathNode is a field path built as the second pass descends; it is
// rendered only when an error needs it.
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
		s = truncate(s, 100) + s[len(s)-60:]
	}
	return s
}

// seg is one step of the scanner's current path: a key, or an index when
// key is "".
type seg struct {
	key string
	idx int
}

type scanner struct {
	b    []byte
	i    int
	lim  Limits
	path []seg
	// first marker left in the tree, to fail on if the second pass
	// ignores it
	marked *Error
}

// decodeRaw reads one JSON value that fills b.
func decodeRaw(b []byte, lim Limits) (any, *Error, error) {
	s := scanner{b: b, lim: lim}
	v, err := s.value(1)
	if err != nil {
		return nil, nil, err
	}
	s.ws()
	if s.i < len(s.b) {
		return nil, nil, s.syntax("trailing data after the workflow object")
	}
	return v, s.marked, nil
}

func (s *scanner) syntax(format string, args ...any) *Error {
	return &Error{Reason: "not valid JSON: " + fmt.Sprintf(format, args...), Offset: int64(s.i), Err: ErrMalformed}
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) value(depth int) (any, error) {
	s.ws()
	if s.i >= len(s.b) {
		return nil, s.syntax("unexpected end of input")
	}
	switch c := s.b[s.i]; {
	case c == '{' || c == '[':
		if depth > s.lim.MaxDepth {
			s.mark(ErrTooLarge, "JSON nested deeper than %d levels", s.lim.MaxDepth)
			return tooDeep{}, s.skip()
		}
		if c == '[' {
			return s.list(depth)
		}
		return s.object(depth)
	case c == '"':
		str, err := s.str()
		if err != nil {
			return nil, err
		}
		if len(str) > s.lim.MaxString {
			s.mark(ErrTooLarge, "string of %d bytes, limit %d", len(str), s.lim.MaxString)
			return tooLong{len(str)}, nil
		}
		return str, nil
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case s.lit("true"):
		return true, nil
	case s.lit("false"):
		return false, nil
	case s.lit("null"):
		return nil, nil
	}
	return nil, s.syntax("invalid character %q looking for a value", s.b[s.i])
}

func (s *scanner) lit(w string) bool {
	if strings.HasPrefix(string(s.b[s.i:min(len(s.b), s.i+len(w))]), w) {
		s.i += len(w)
		return true
	}
	return false
}

func (s *scanner) list(depth int) (any, error) {
	s.i++ // [
	l := []any{}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return l, nil
	}
	for {
		s.path = append(s.path, seg{idx: len(l)})
		v, err := s.value(depth + 1)
		s.path = s.path[:len(s.path)-1]
		if err != nil {
			return nil, err
		}
		l = append(l, v)
		s.ws()
		if s.i >= len(s.b) {
			return nil, s.syntax("unexpected end of input in a list")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return l, nil
		default:
			return nil, s.syntax("invalid character %q after a list element", s.b[s.i])
		}
	}
}

func (s *scanner) object(depth int) (any, error) {
	s.i++ // {
	m := map[string]any{}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return m, nil
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return nil, s.syntax("expected a string key")
		}
		k, err := s.str()
		if err != nil {
			return nil, err
		}
		if len(k) > s.lim.MaxString {
			return nil, s.errorHere(ErrTooLarge, "object key of %d bytes, limit %d", len(k), s.lim.MaxString)
		}
		if _, dup := m[k]; dup {
			return nil, s.errorHere(ErrMalformed, "duplicate key %q", truncate(k, 40))
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return nil, s.syntax("expected ':' after an object key")
		}
		s.i++
		s.path = append(s.path, seg{key: k})
		v, err := s.value(depth + 1)
		s.path = s.path[:len(s.path)-1]
		if err != nil {
			return nil, err
		}
		m[k] = v
		s.ws()
		if s.i >= len(s.b) {
			return nil, s.syntax("unexpected end of input in an object")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return m, nil
		default:
			return nil, s.syntax("invalid character %q after an object value", s.b[s.i])
		}
	}
}

// str reads a string literal; invalid UTF-8 and lone surrogates become
// U+FFFD, as encoding/json does.
func (s *scanner) str() (string, error) {
	s.i++ // opening quote
	start := s.i
	// Fast path: no escapes, ASCII or valid UTF-8.
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c == '"' {
			str := string(s.b[start:s.i])
			s.i++
			if !utf8.ValidString(str) {
				str = validUTF8(str)
			}
			return str, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		s.i++
	}
	var sb strings.Builder
	sb.Write(s.b[start:s.i])
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			str := sb.String()
			if !utf8.ValidString(str) {
				str = validUTF8(str)
			}
			return str, nil
		case c < 0x20:
			return "", s.syntax("control character %q in a string", c)
		case c != '\\':
			sb.WriteByte(c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			break
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			sb.WriteByte(e)
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return "", s.syntax("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					save := s.i
					s.i += 2
					if r2, ok = s.hex4(); !ok {
						return "", s.syntax("bad \\u escape")
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
					} else {
						s.i = save // not a pair: the second escape stands alone
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			sb.WriteRune(r)
		default:
			s.i--
			return "", s.syntax("invalid escape \\%c in a string", e)
		}
	}
	return "", s.syntax("unexpected end of input in a string")
}

func (s *scanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s.b[s.i:s.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	s.i += 4
	return rune(n), true
}

// number reads a number literal by the JSON grammar, keeping it as text.
func (s *scanner) number() (any, error) {
	start := s.i
	if s.b[s.i] == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return nil, s.syntax("bad number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return nil, s.syntax("bad number: no digits after '.'")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return nil, s.syntax("bad number: no digits in the exponent")
		}
	}
	return json.Number(s.b[start:s.i]), nil
}

// skip passes over the container that starts at s.i without building it;
// it only balances brackets outside strings. Its content is never used:
// the marker it leaves fails the parse.
func (s *scanner) skip() error {
	n := 0
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '[', '{':
			n++
		case ']', '}':
			n--
			if n == 0 {
				s.i++
				return nil
			}
		case '"':
			for s.i++; s.i < len(s.b) && s.b[s.i] != '"'; s.i++ {
				if s.b[s.i] == '\\' {
					s.i++
				}
			}
		}
		s.i++
	}
	return s.syntax("unexpected end of input in a nested value")
}

// mark records the first marker, with its path.
func (s *scanner) mark(sentinel error, format string, args ...any) {
	if s.marked == nil {
		s.marked = s.errorHere(sentinel, format, args...)
	}
}

// errorHere builds an Error at the current path, naming the task by its
// position when the path is inside "tasks".
func (s *scanner) errorHere(sentinel error, format string, args ...any) *Error {
	var p *pathNode
	task := ""
	segs := s.path
	if len(segs) >= 2 && segs[0].key == "tasks" && segs[1].key == "" {
		task = "#" + strconv.Itoa(segs[1].idx)
		segs = segs[2:]
	}
	for _, sg := range segs {
		if sg.key == "" {
			p = p.index(sg.idx)
		} else {
			p = p.field(sg.key)
		}
	}
	field := ""
	if p != nil {
		field = p.String()
	}
	return newError(task, field, sentinel, format, args...)
}

// validUTF8 replaces each byte of invalid UTF-8 by U+FFFD, as encoding/json
// does.
func validUTF8(s string) string {
	var sb strings.Builder
	for _, r := range s {
		sb.WriteRune(r) // ranging yields RuneError for each invalid byte
	}
	return sb.String()
}
