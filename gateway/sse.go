package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/ipvm-go/ipvm/spec"
)

// receiptEvent is the data of an SSE "receipt" event.
type receiptEvent struct {
	Name    string          `json:"name"`
	Task    string          `json:"task"`
	Receipt string          `json:"receipt"`
	Out     json.RawMessage `json:"out"`
	Cached  bool            `json:"cached"`
}

// appendReceiptEvent appends the receipt event's JSON, the fields of
// receiptEvent in order, without json.Marshal re-validating the DAG-JSON of
// out (spec encodes it valid and compact): this runs once per task on the
// gateway's hottest path.
func appendReceiptEvent(dst []byte, ev TaskEvent) []byte {
	name, _ := json.Marshal(ev.Name)
	dst = append(dst, `{"name":`...)
	dst = append(dst, name...)
	dst = append(dst, `,"task":"`...)
	dst = append(dst, ev.Task.String()...)
	dst = append(dst, `","receipt":"`...)
	dst = append(dst, ev.Receipt.String()...)
	dst = append(dst, `","out":`...)
	dst = append(dst, spec.MustJSON(ev.Out)...)
	dst = append(dst, `,"cached":`...)
	dst = strconv.AppendBool(dst, ev.Cached)
	return append(dst, '}')
}

// doneEvent is the data of the final SSE "done" event.
type doneEvent struct {
	Workflow string `json:"workflow"`
	Tasks    int    `json:"tasks"`
	Ok       int    `json:"ok"`
	Failed   int    `json:"failed"`
	Cached   int    `json:"cached"`
}

// sseWriter writes Server-Sent Events, extending the write deadline
// before each so a long stream is not cut by the server's WriteTimeout.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	id      int
	buf     bytes.Buffer
	err     error
}

// event writes one event; data must be one line (JSON from
// encoding/json or spec.EncodeJSON is). After a write error it does
// nothing and returns the error.
func (sw *sseWriter) event(name string, data []byte) error {
	if sw.err != nil {
		return sw.err
	}
	sw.id++
	sw.buf.Reset()
	sw.buf.WriteString("event: ")
	sw.buf.WriteString(name)
	sw.buf.WriteString("\nid: ")
	sw.buf.WriteString(strconv.Itoa(sw.id))
	sw.buf.WriteString("\ndata: ")
	sw.buf.Write(data)
	sw.buf.WriteString("\n\n")
	return sw.write(sw.buf.Bytes())
}

// comment writes an SSE comment line, used as a keep-alive.
func (sw *sseWriter) comment(text string) error {
	if sw.err != nil {
		return sw.err
	}
	return sw.write([]byte(": " + text + "\n\n"))
}

func (sw *sseWriter) write(b []byte) error {
	_ = sw.rc.SetWriteDeadline(time.Now().Add(sw.timeout))
	if _, err := sw.w.Write(b); err != nil {
		sw.err = err
		return err
	}
	if err := sw.rc.Flush(); err != nil {
		sw.err = err
	}
	return sw.err
}

// stream answers a submission with an SSE stream: a "workflow" event (the
// 202 body), one "receipt" event per finished task, then "done", or
// "error" when the workflow stopped early. If the client goes away or the
// server closes, the events are drained in the background instead.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, e *entry, sub *Submission) {
	s.streams.Add(1)
	defer s.streams.Done()
	rc := http.NewResponseController(w)
	// The body is read; lift the read deadline so ReadTimeout does not end
	// the stream (the connection's background read still sees the client
	// go away).
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", MediaSSE)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	h.Set("Location", "/v1/workflows/"+sub.Workflow.String())
	w.WriteHeader(http.StatusOK)
	sw := &sseWriter{w: w, rc: rc, timeout: s.cfg.WriteTimeout}
	first, _ := json.Marshal(submittedBody(sub))
	sw.event("workflow", first)

	events := sub.Events
	handOff := func() { go s.drain(e, events) }
	if events == nil {
		handOff()
		done, _ := json.Marshal(doneEvent{Workflow: sub.Workflow.String(), Tasks: len(sub.Tasks)})
		sw.event("done", done)
		return
	}
	keep := time.NewTicker(s.cfg.KeepAlive)
	defer keep.Stop()
	sum := doneEvent{Workflow: sub.Workflow.String(), Tasks: len(sub.Tasks)}
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil
				handOff() // records the end and frees the slot
				done, _ := json.Marshal(sum)
				sw.event("done", done)
				return
			}
			e.update(ev)
			if ev.Err != nil {
				status, name := statusOf(ev.Err)
				msg := ev.Err.Error()
				if status == http.StatusInternalServerError {
					msg = "internal error"
				}
				data, _ := json.Marshal(errorBody{Error: msg, Name: name})
				sw.event("error", data)
				continue
			}
			if failed(ev.Out) {
				sum.Failed++
			} else {
				sum.Ok++
			}
			if ev.Cached {
				sum.Cached++
			}
			data := appendReceiptEvent(nil, ev)
			if sw.event("receipt", data) != nil {
				handOff()
				return
			}
		case <-keep.C:
			if sw.comment("keep-alive") != nil {
				handOff()
				return
			}
		case <-r.Context().Done():
			handOff()
			return
		case <-s.done:
			data, _ := json.Marshal(errorBody{Error: "gateway closing; the workflow goes on", Name: "Stopped"})
			sw.event("error", data)
			handOff()
			return
		}
	}
}

// failed reports whether an out value is {"err": ...}.
func failed(out any) bool {
	m, ok := out.(map[string]any)
	if !ok {
		return false
	}
	_, isErr := m["err"]
	return isErr
}
