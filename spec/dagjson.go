package spec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
)

// EncodeJSON returns the DAG-JSON form of v: links as {"/": "bafy…"}, bytes
// as {"/": {"bytes": "<base64, no padding>"}}, map keys sorted bytewise,
// floats always with a fraction or an exponent so that they decode as floats.
func EncodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := writeJSON(&buf, v, 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// MustJSON is EncodeJSON for values known to be encodable; on error it
// returns a JSON string describing the error. It is meant for messages and
// logs, never for data that is hashed or signed.
func MustJSON(v any) string {
	b, err := EncodeJSON(v)
	if err != nil {
		return strconv.Quote("<" + err.Error() + ">")
	}
	return string(b)
}

func writeJSON(w *bytes.Buffer, v any, depth int) error {
	if depth > maxEncodeDepth {
		return fmt.Errorf("%w: nesting deeper than %d", ErrTooLarge, maxEncodeDepth)
	}
	v = Normalize(v)
	switch x := v.(type) {
	case nil:
		w.WriteString("null")
	case bool:
		w.WriteString(strconv.FormatBool(x))
	case int64:
		w.WriteString(strconv.FormatInt(x, 10))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: float %v", ErrUnsupportedValue, x)
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		w.WriteString(s)
	case string:
		if !utf8.ValidString(x) {
			return fmt.Errorf("%w: string is not valid UTF-8", ErrUnsupportedValue)
		}
		b, _ := json.Marshal(x)
		w.Write(b)
	case []byte:
		w.WriteString(`{"/":{"bytes":"`)
		w.WriteString(base64.RawStdEncoding.EncodeToString(x))
		w.WriteString(`"}}`)
	case cid.Cid:
		if !x.Defined() {
			return fmt.Errorf("%w: undefined CID", ErrUnsupportedValue)
		}
		w.WriteString(`{"/":"`)
		w.WriteString(x.String())
		w.WriteString(`"}`)
	case []any:
		w.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				w.WriteByte(',')
			}
			if err := writeJSON(w, e, depth+1); err != nil {
				return err
			}
		}
		w.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		w.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				w.WriteByte(',')
			}
			if err := writeJSON(w, k, depth+1); err != nil {
				return err
			}
			w.WriteByte(':')
			if err := writeJSON(w, x[k], depth+1); err != nil {
				return fmt.Errorf("key %q: %w", k, err)
			}
		}
		w.WriteByte('}')
	default:
		return fmt.Errorf("%w: Go type %T", ErrUnsupportedValue, v)
	}
	return nil
}

// DecodeJSON decodes one DAG-JSON value that fills all of b. Numbers without
// a fraction or exponent are integers (ErrIntRange past int64), others floats.
// {"/": "<cid>"} is a link and {"/": {"bytes": "<base64>"}} is bytes; any
// other map with a "/" key is an error, as DAG-JSON reserves it. Duplicate map
// keys are an error.
func DecodeJSON(b []byte, lim Limits) (any, error) {
	lim = lim.withDefaults()
	if len(b) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), lim.MaxBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	jd := jsonDecoder{dec: dec, lim: lim}
	v, err := jd.value(0)
	if err != nil {
		return nil, jd.wrap(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, jd.wrap(fmt.Errorf("%w: trailing data after the value", ErrMalformed))
	}
	return v, nil
}

type jsonDecoder struct {
	dec   *json.Decoder
	items int
	lim   Limits
}

func (d *jsonDecoder) wrap(err error) error {
	return fmt.Errorf("at byte %d: %w", d.dec.InputOffset(), err)
}

func (d *jsonDecoder) token() (json.Token, error) {
	t, err := d.dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%w: unexpected end of input", ErrMalformed)
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, se)
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return t, nil
}

func (d *jsonDecoder) value(depth int) (any, error) {
	d.items++
	if d.items > d.lim.MaxItems {
		return nil, fmt.Errorf("%w: more than %d values", ErrTooLarge, d.lim.MaxItems)
	}
	t, err := d.token()
	if err != nil {
		return nil, err
	}
	return d.fromToken(t, depth)
}

func (d *jsonDecoder) fromToken(t json.Token, depth int) (any, error) {
	switch x := t.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		return ParseJSONNumber(string(x))
	case json.Delim:
		if depth >= d.lim.MaxDepth {
			return nil, fmt.Errorf("%w: nesting deeper than %d", ErrTooLarge, d.lim.MaxDepth)
		}
		switch x {
		case '[':
			l := []any{}
			for d.dec.More() {
				e, err := d.value(depth + 1)
				if err != nil {
					return nil, err
				}
				l = append(l, e)
			}
			if _, err := d.token(); err != nil { // ']'
				return nil, err
			}
			return l, nil
		case '{':
			m := map[string]any{}
			for d.dec.More() {
				kt, err := d.token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("%w: map key is not a string", ErrMalformed)
				}
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("%w: duplicate map key %q", ErrMalformed, k)
				}
				v, err := d.value(depth + 1)
				if err != nil {
					return nil, fmt.Errorf("key %q: %w", k, err)
				}
				m[k] = v
			}
			if _, err := d.token(); err != nil { // '}'
				return nil, err
			}
			if slash, ok := m["/"]; ok {
				return reserved(m, slash)
			}
			return m, nil
		}
	}
	return nil, fmt.Errorf("%w: unexpected token %v", ErrMalformed, t)
}

// reserved interprets a DAG-JSON map with a "/" key.
func reserved(m map[string]any, slash any) (any, error) {
	if len(m) != 1 {
		return nil, fmt.Errorf("%w: a map with a \"/\" key must have no other key", ErrMalformed)
	}
	switch s := slash.(type) {
	case string:
		c, err := cid.Decode(s)
		if err != nil {
			return nil, fmt.Errorf("%w: link %q: %v", ErrMalformed, truncate(s, 80), err)
		}
		return c, nil
	case map[string]any:
		b64, ok := s["bytes"].(string)
		if !ok || len(s) != 1 {
			return nil, fmt.Errorf("%w: {\"/\": {...}} must be {\"/\": {\"bytes\": \"...\"}}", ErrMalformed)
		}
		b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(b64, "="))
		if err != nil {
			return nil, fmt.Errorf("%w: bytes: %v", ErrMalformed, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("%w: \"/\" must hold a CID string or {\"bytes\": ...}", ErrMalformed)
}

// ParseJSONNumber turns a JSON number literal into int64 or float64 by the
// DAG-JSON rule: a literal with a fraction or exponent is a float.
func ParseJSONNumber(s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: %s", ErrIntRange, truncate(s, 40))
		}
		return i, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: float %s: %v", ErrMalformed, truncate(s, 40), err)
	}
	return f, nil
}
