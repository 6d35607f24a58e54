package spec

import (
	"encoding/hex"
	"errors"
	"testing"
)

// TestDecodeCBORLenient: the lenient decoder accepts well-formed,
// non-canonical encodings (whose canonical re-encoding is the value's
// identity) and still refuses malformed ones.
func TestDecodeCBORLenient(t *testing.T) {
	for _, tc := range []struct {
		name, hex string
		want      any    // nil with wantErr
		canon     string // canonical re-encoding, hex
		wantErr   error
	}{
		{name: "long int head", hex: "1801", want: int64(1), canon: "01"},
		{name: "long length head", hex: "5900026869", want: []byte("hi"), canon: "426869"},
		{name: "keys out of order", hex: "a2626262016161 02", want: map[string]any{"bb": int64(1), "a": int64(2)}, canon: "a261610262626201"},
		{name: "half float", hex: "f93e00", want: 1.5, canon: "fb3ff8000000000000"},
		{name: "single float", hex: "fa3fc00000", want: 1.5, canon: "fb3ff8000000000000"},
		{name: "duplicate key", hex: "a2616101616102", wantErr: ErrMalformed},
		{name: "indefinite length", hex: "9f01ff", wantErr: ErrNotCanonical},
		{name: "other tag", hex: "c100", wantErr: ErrMalformed},
		{name: "trailing bytes", hex: "0101", wantErr: ErrMalformed},
		{name: "half infinity", hex: "f97c00", wantErr: ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := hex.DecodeString(stripSpaces(tc.hex))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeCBOR(b, Limits{}); err == nil {
				t.Fatal("the strict decoder accepted a non-canonical input")
			}
			v, err := DecodeCBORLenient(b, Limits{})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || !Equal(v, tc.want) {
				t.Fatalf("got %#v, %v; want %#v", v, err, tc.want)
			}
			c, err := EncodeCBOR(v)
			if err != nil || hex.EncodeToString(c) != tc.canon {
				t.Fatalf("canonical form %x, want %s", c, tc.canon)
			}
		})
	}
}

func stripSpaces(s string) string {
	out := make([]byte, 0, len(s))
	for i := range len(s) {
		if s[i] != ' ' {
			out = append(out, s[i])
		}
	}
	return string(out)
}
