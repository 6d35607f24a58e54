package gateway

import (
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// jsonDepth returns the deepest nesting of arrays and objects in b, or an
// error as soon as it passes max. It is a byte scan that skips strings
// (with their escapes) and does not validate anything else: the node's
// parser does that, once the depth is known to be safe.
func jsonDepth(b []byte, max int) (int, error) {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > max {
					return deepest, fmt.Errorf("JSON nested deeper than %d", max)
				}
			}
		case ']', '}':
			depth--
		}
	}
	return deepest, nil
}

// wantsSSE reports whether the Accept header asks for text/event-stream.
// A header that does not parse, or that accepts neither JSON nor an event
// stream, is an error (400 and 406).
func wantsSSE(accept string) (bool, error) {
	if accept == "" {
		return false, nil
	}
	sse, other := false, false
	for _, part := range strings.Split(accept, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		mt, params, err := mime.ParseMediaType(part)
		if err != nil {
			return false, fmt.Errorf("%w: %v", errBadAccept, err)
		}
		if q, ok := params["q"]; ok {
			f, err := strconv.ParseFloat(q, 64)
			if err != nil || f < 0 || f > 1 {
				return false, fmt.Errorf("%w: bad q value %q", errBadAccept, q)
			}
			if f == 0 {
				continue
			}
		}
		switch mt {
		case "text/event-stream":
			sse = true
		case "application/json", "application/*", "*/*", "application/vnd.ipld.dag-json":
			other = true
		}
	}
	if !sse && !other {
		return false, errNotAcceptable
	}
	return sse, nil
}

var (
	errBadAccept     = errors.New("malformed Accept header")
	errNotAcceptable = errors.New("Accept allows neither application/json nor text/event-stream")
)

// accepts reports whether the Accept header names media type mt exactly
// (with a non-zero q).
func accepts(accept, mt string) bool {
	for _, part := range strings.Split(accept, ",") {
		t, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || t != mt {
			continue
		}
		if q, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
				continue
			}
		}
		return true
	}
	return false
}

// isLoopback reports whether a RemoteAddr ("ip:port") is a loopback
// address. Only the TCP peer counts; forwarding headers are never read.
func isLoopback(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	return ap.Addr().Unmap().IsLoopback()
}

// isLoopbackHost reports whether a Host header names this machine:
// localhost, or a loopback IP, with or without a port.
func isLoopbackHost(host string) bool {
	h := host
	if hp, _, err := net.SplitHostPort(host); err == nil {
		h = hp
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

// sameOrigin refuses a request whose Origin header (sent by browsers with
// every POST) names another origin than the Host it was sent to: without
// it, any web page could make a visitor's browser submit work to their
// local daemon. Requests without Origin (curl, the CLI) pass.
func sameOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
		return &namedError{fmt.Errorf("%w: cross-origin request from %.100q", ErrForbidden, origin), "CrossOrigin"}
	}
	return nil
}

// namedError gives an error a name for the JSON error body.
type namedError struct {
	error
	name string
}

func (e *namedError) ErrorName() string { return e.name }
func (e *namedError) Unwrap() error     { return e.error }

// bearer extracts the token of "Authorization: Bearer <token>". It returns
// nil, nil when the header is absent, and an error when it is present in
// another form.
func bearer(h string) ([]byte, error) {
	if h == "" {
		return nil, nil
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return nil, fmt.Errorf("%w: Authorization must be \"Bearer <token>\"", ErrUnauthorized)
	}
	return []byte(strings.TrimSpace(tok)), nil
}
