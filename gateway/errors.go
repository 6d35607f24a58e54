package gateway

import (
	"errors"
	"net/http"

	"github.com/ipvm-go/ipvm/spec"
)

// Errors a Node returns (wrapped or not) to choose the HTTP status. The
// response body is always JSON {"error": message, "name": name}; the name
// is taken from the first error in the chain with an ErrorName() string
// method or a *spec.Failure, and otherwise defaults per status below.
var (
	// ErrBadRequest: the request is malformed (bad workflow JSON, schema
	// violation, unknown promise name). 400, default name "BadRequest".
	ErrBadRequest = errors.New("gateway: bad request")
	// ErrUnauthorized: no credentials, or credentials that do not verify
	// (bad signature, expired, malformed token). 401, name "Unauthorized".
	ErrUnauthorized = errors.New("gateway: unauthorized")
	// ErrForbidden: valid credentials that do not grant this request
	// (policy, command, subject, replayed invocation). 403, name
	// "Forbidden".
	ErrForbidden = errors.New("gateway: forbidden")
	// ErrNotFound: no such workflow, receipt or blob. 404, name "NotFound".
	ErrNotFound = errors.New("gateway: not found")
	// ErrBusy: the node cannot take more work now. 429 with Retry-After,
	// name "Busy".
	ErrBusy = errors.New("gateway: busy")
	// ErrStopped: the node or the gateway is shutting down. 503, name
	// "Stopped".
	ErrStopped = errors.New("gateway: stopped")
)

// Errors of the gateway itself.
var (
	// ErrClosed is returned by Serve after Close or Shutdown.
	ErrClosed = errors.New("gateway: server closed")
	// ErrConfig is wrapped by New for an invalid Config.
	ErrConfig = errors.New("gateway: invalid config")
)

// StatusError lets a Node error choose its HTTP status and error name
// directly, for cases the sentinels do not cover. Status codes outside
// 400..599 are ignored.
type StatusError interface {
	error
	HTTPStatus() int
	ErrorName() string
}

// statusOf maps a node error to an HTTP status and an error name.
func statusOf(err error) (int, string) {
	var se StatusError
	if errors.As(err, &se) {
		if s := se.HTTPStatus(); s >= 400 && s <= 599 {
			return s, se.ErrorName()
		}
	}
	status, name := http.StatusInternalServerError, "Internal"
	switch {
	case errors.Is(err, ErrBadRequest):
		status, name = http.StatusBadRequest, "BadRequest"
	case errors.Is(err, ErrUnauthorized):
		status, name = http.StatusUnauthorized, spec.ErrNameUnauthorized
	case errors.Is(err, ErrForbidden):
		status, name = http.StatusForbidden, "Forbidden"
	case errors.Is(err, ErrNotFound):
		status, name = http.StatusNotFound, "NotFound"
	case errors.Is(err, ErrBusy):
		status, name = http.StatusTooManyRequests, "Busy"
	case errors.Is(err, ErrStopped):
		status, name = http.StatusServiceUnavailable, "Stopped"
	}
	var named interface{ ErrorName() string }
	var f *spec.Failure
	switch {
	case errors.As(err, &named) && named.ErrorName() != "":
		name = named.ErrorName()
	case errors.As(err, &f) && f.Name != "":
		name = f.Name
	}
	return status, name
}
