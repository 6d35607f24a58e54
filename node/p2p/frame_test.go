package p2p

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/multiformats/go-varint"

	"github.com/ipvm-go/ipvm/spec"
)

func TestReadFrame(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 300)
	cases := []struct {
		name string
		in   []byte
		max  int
		want []byte
		err  error
	}{
		{"empty frame", []byte{0}, 10, []byte{}, nil},
		{"small", append([]byte{3}, "abc"...), 10, []byte("abc"), nil},
		{"two-byte prefix", appendFrame(nil, big), 300, big, nil},
		{"at cap", append([]byte{3}, "abc"...), 3, []byte("abc"), nil},
		{"over cap", append([]byte{4}, "abcd"...), 3, nil, ErrFrameTooLarge},
		{"100 MB declared", varint.ToUvarint(100 << 20), 1 << 20, nil, ErrFrameTooLarge},
		{"non-minimal prefix", []byte{0x83, 0x00, 'a', 'b', 'c'}, 10, nil, ErrBadFrame},
		{"overlong prefix", bytes.Repeat([]byte{0xff}, 10), 10, nil, ErrBadFrame},
		{"truncated payload", append([]byte{5}, "ab"...), 10, nil, io.ErrUnexpectedEOF},
		{"no prefix", nil, 10, nil, io.EOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readFrame(bytes.NewReader(tc.in), tc.max)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestReadFrameLeavesTheRest(t *testing.T) {
	r := bytes.NewReader(append(appendFrame(nil, []byte("one")), appendFrame(nil, []byte("two"))...))
	for _, want := range []string{"one", "two"} {
		got, err := readFrame(r, 10)
		if err != nil || string(got) != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
}

func TestParseResponse(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want []byte
		err  error
	}{
		{"ok", response(statusOK, []byte("x")), []byte("x"), nil},
		{"ok empty", response(statusOK, nil), []byte{}, nil},
		{"not found", response(statusNotFound, nil), nil, ErrNotFound},
		{"not found with body", response(statusNotFound, []byte("x")), nil, ErrBadFrame},
		{"error", response(statusError, []byte("refused")), nil, ErrRemote},
		{"error too long", response(statusError, make([]byte, maxErrorMessage+1)), nil, ErrBadFrame},
		{"unknown status", []byte{9}, nil, ErrBadFrame},
		{"empty", nil, nil, ErrBadFrame},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseResponse(tc.in)
			if !errors.Is(err, tc.err) || (tc.err == nil && !bytes.Equal(got, tc.want)) {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestRequestCID(t *testing.T) {
	c := spec.SumCBOR([]byte{0xa0})
	if got, err := requestCID(c.Bytes()); err != nil || !got.Equals(c) {
		t.Fatalf("valid CID: %v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, []byte("not a cid"), append(c.Bytes(), 0), c.Bytes()[:10]} {
		if _, err := requestCID(bad); !errors.Is(err, ErrBadFrame) {
			t.Fatalf("%x: %v, want ErrBadFrame", bad, err)
		}
	}
}

// FuzzFrame: any bytes either fail to parse as a frame, response and
// request CID with an error, or parse into values that re-encode to the
// same bytes. Never a panic, never a buffer past the cap.
func FuzzFrame(f *testing.F) {
	c := spec.SumCBOR([]byte{0xa0})
	f.Add(appendFrame(nil, c.Bytes()))
	f.Add(appendFrame(nil, response(statusOK, []byte("receipt"))))
	f.Add(appendFrame(nil, response(statusNotFound, nil)))
	f.Add(appendFrame(nil, response(statusError, []byte("msg"))))
	f.Add(varint.ToUvarint(100 << 20))
	f.Add([]byte{0x83, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		const max = 1 << 10
		p, err := readFrame(bytes.NewReader(in), max)
		if err != nil {
			return
		}
		if len(p) > max {
			t.Fatalf("frame of %d bytes past the cap", len(p))
		}
		if !bytes.Equal(appendFrame(nil, p), in[:varint.UvarintSize(uint64(len(p)))+len(p)]) {
			t.Fatal("frame does not re-encode to its bytes")
		}
		if body, err := parseResponse(p); err == nil && !bytes.Equal(response(p[0], body), p) {
			t.Fatal("response does not re-encode")
		}
		if c, err := requestCID(p); err == nil && !bytes.Equal(c.Bytes(), p) {
			t.Fatal("request CID does not re-encode")
		}
	})
}
