package gateway

import (
	"encoding/json"
	"log"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// recorder remembers the status written through it, for metrics and for
// knowing whether a panic can still be answered with a 500.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (deadlines,
// flushing).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush forwards to the underlying writer.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	http.NewResponseController(r.ResponseWriter).Flush()
}

// middleware wraps every request: common headers, panic recovery (a 500
// with no stack trace; the panic is logged), and HTTP metrics by route.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.cfg.Logger.Error("gateway: handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				if rec.status == 0 {
					writeError(rec, http.StatusInternalServerError, "Internal", "internal error")
				}
			}
			path := r.Pattern
			if path == "" || path == "/" {
				path = "unmatched"
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			s.cfg.Metrics.HTTPRequests.WithLabelValues(strconv.Itoa(status), path).Inc()
			s.cfg.Metrics.HTTPDuration.WithLabelValues(path).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(rec, r)
	})
}

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error string `json:"error"`
	Name  string `json:"name"`
}

func writeError(w http.ResponseWriter, status int, name, msg string) {
	writeJSON(w, status, errorBody{Error: msg, Name: name})
}

// writeNodeError answers with the status and name an error from the node
// maps to. Messages of 5xx errors are not shown to the client.
func (s *Server) writeNodeError(w http.ResponseWriter, r *http.Request, err error) {
	status, name := statusOf(err)
	msg := err.Error()
	if status >= 500 {
		s.cfg.Logger.Error("gateway: node error", "method", r.Method, "path", r.URL.Path, "err", err)
		if status == http.StatusInternalServerError {
			msg = "internal error"
		}
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", s.retryAfter())
	}
	writeError(w, status, name, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error","name":"Internal"}`)
	}
	writeRaw(w, status, "application/json", append(b, '\n'))
}

func writeRaw(w http.ResponseWriter, status int, contentType string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	w.Write(b)
}

func itoa(i int) string { return strconv.Itoa(i) }

// slogToLog routes net/http's own error log (TLS handshakes, bad
// requests) to the configured logger at debug level.
func slogToLog(cfg Config) *log.Logger {
	return slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)
}
