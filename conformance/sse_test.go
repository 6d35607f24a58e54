package conformance

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestReadSSE(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    []sseEvent
		wantErr string
	}{
		{name: "empty", in: "", want: nil},
		{
			name: "two events and a comment",
			in:   "event: workflow\nid: 1\ndata: {\"a\":1}\n\n: keep-alive\n\nevent: done\nid: 2\ndata: {}\n\n",
			want: []sseEvent{{name: "workflow", id: "1", data: `{"a":1}`}, {name: "done", id: "2", data: "{}"}},
		},
		{name: "no space after the colon", in: "event:done\nid:1\ndata:{}\n\n", want: []sseEvent{{name: "done", id: "1", data: "{}"}}},
		{name: "unterminated event", in: "event: done\nid: 1\ndata: {}\n", wantErr: "ends inside an event"},
		{name: "two data lines", in: "event: x\ndata: a\ndata: b\n\n", wantErr: "more than one data line"},
		{name: "unknown field", in: "retry: 10\n\n", wantErr: "unknown event stream field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readSSE(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// FuzzReadSSE: the stream reader never panics, and events written in
// the gateway's form read back as written.
func FuzzReadSSE(f *testing.F) {
	f.Add("event: receipt\nid: 1\ndata: {}\n\n", "receipt", "{\"name\":\"t\"}")
	f.Add(": c\n\nevent: done\n", "done", "")
	f.Add("data\n\n\n", "x", "[1,2]")
	f.Fuzz(func(t *testing.T, raw, name, data string) {
		_, _ = readSSE(strings.NewReader(raw))
		if strings.ContainsAny(name+data, "\r\n") || name == "" {
			return
		}
		in := fmt.Sprintf("event: %s\nid: 7\ndata: %s\n\n", name, data)
		got, err := readSSE(strings.NewReader(in))
		want := []sseEvent{{name: name, id: "7", data: data}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %+v, %v; want %+v", in, got, err, want)
		}
	})
}
