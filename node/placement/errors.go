package placement

import "errors"

// ErrUnsatisfiable is returned when no candidate passes the task's
// constraints; the error's text names the constraint.
var ErrUnsatisfiable = errors.New("placement: no node satisfies the task's constraints")
