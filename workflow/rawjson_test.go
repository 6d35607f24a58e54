package workflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzRawJSON checks the hand-written scanner against encoding/json: the
// same inputs are valid (except duplicate keys, which the scanner refuses)
// and they decode to the same values.
func FuzzRawJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,-2.5e+3,"x\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t",true,false,null,{}]}`,
		`"\ud800"`, `"\ud800\u0041"`, `"\xff"`, `[01]`, `[1.]`, `-`, `{"a" 1}`, `{"a":1,}`, `[1,]`,
		`{"a":1,"a":2}`, " \t\n[ ] ", `"a` + "\x01" + `"`, `0.0e-0`, `[[[[[[[[]]]]]]]]`,
	} {
		f.Add([]byte(s))
	}
	lim := Limits{MaxBytes: 1 << 20, MaxDepth: 1 << 20, MaxString: 1 << 20, MaxTasks: 1}.withDefaults()
	f.Fuzz(func(t *testing.T, b []byte) {
		got, marked, err := decodeRaw(b, lim)
		var want any
		var werr error
		if !json.Valid(b) {
			werr = errors.New("invalid")
		} else {
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber()
			if werr = dec.Decode(&want); werr != nil {
				t.Fatal(werr)
			}
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			if werr == nil && !bytes.Contains([]byte(e.Reason), []byte("duplicate key")) {
				t.Fatalf("scanner refuses valid JSON %q: %v", b, err)
			}
			return
		}
		if werr != nil {
			t.Fatalf("scanner accepts invalid JSON %q (encoding/json: %v)", b, werr)
		}
		if marked != nil {
			t.Fatalf("marker without caps: %v", marked)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: scanner %#v, encoding/json %#v", b, got, want)
		}
	})
}
