package workflow

import (
	"errors"
	"fmt"
	"strconv"
)

// Parse and validation errors. Every error Parse returns is an *Error that
// matches ErrInvalid with errors.Is, and also the more specific sentinel
// below that names its category.
var (
	// ErrInvalid matches every error Parse returns.
	ErrInvalid = errors.New("workflow: invalid workflow")
	// ErrMalformed is for input that is not JSON at all (the Error carries
	// the byte offset).
	ErrMalformed = errors.New("workflow: malformed JSON")
	// ErrTooLarge is for input past a cap of Limits: size, nesting depth,
	// string length, task count.
	ErrTooLarge = errors.New("workflow: too large")
	// ErrWrongType is for a field of the wrong JSON type, a missing
	// required field, an unknown field or a value out of its range.
	ErrWrongType = errors.New("workflow: wrong field")
	// ErrDuplicateName is for two tasks with the same name.
	ErrDuplicateName = errors.New("workflow: duplicate task name")
	// ErrUnknownAwait is for a promise that names no task of the workflow.
	ErrUnknownAwait = errors.New("workflow: unknown await target")
	// ErrBadPromise is for a promise written wrongly: extra keys beside
	// the await key, a target that is neither a name nor a link, a
	// promise where none may stand (args.mod, args.fun) or an unknown
	// await/ kind.
	ErrBadPromise = errors.New("workflow: bad promise")
	// ErrCycle is for tasks that await each other in a cycle.
	ErrCycle = errors.New("workflow: cycle")
	// ErrNoResolver is for a {"file": path} module when ParseOptions has
	// no ResolveFile hook.
	ErrNoResolver = errors.New("workflow: file modules need a resolver")
)

// Scheduler errors: misuse of the Scheduler by its driver.
var (
	// ErrUnknownTask is returned by Scheduler.Done for a name that is not a
	// task of the workflow.
	ErrUnknownTask = errors.New("workflow: no task of that name")
	// ErrNotRunning is returned by Scheduler.Done for a task that Ready has
	// not handed out, or that is already done.
	ErrNotRunning = errors.New("workflow: task is not running")
	// ErrNotAwaited is returned by Scheduler.Resolve and NotFound for a CID
	// no task awaits as an external link, or one already resolved.
	ErrNotAwaited = errors.New("workflow: CID is not an awaited external task")
)

// Error is a parse or validation error that names where the problem is.
// Callers match its category with errors.Is (ErrInvalid and one of the
// specific sentinels) and read its fields for display.
type Error struct {
	// Task names the task: its name, or "#i" (its position in the tasks
	// list, from 0) when the name is not known. Empty for a problem with
	// the workflow as a whole.
	Task string
	// Field is the path of the field inside the task (or inside the
	// workflow when Task is empty), e.g. "args.params[0]". Empty when the
	// problem is not about one field.
	Field string
	// Reason says what is wrong, for people.
	Reason string
	// Offset is the byte offset in the input for malformed JSON, else -1.
	Offset int64
	// Err is the category sentinel (ErrMalformed, ErrCycle, ...).
	Err error
}

// Error formats the error as "workflow: task "a": field args.fun: reason".
func (e *Error) Error() string {
	s := "workflow: "
	if e.Task != "" {
		s += "task " + strconv.Quote(e.Task) + ": "
	}
	if e.Field != "" {
		s += "field " + e.Field + ": "
	}
	if e.Offset >= 0 {
		s += fmt.Sprintf("at byte %d: ", e.Offset)
	}
	return s + e.Reason
}

// Unwrap returns the category sentinel.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalid, which every *Error matches.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// ErrResolveFile is for a {"file": path} module the ResolveFile hook could
// not resolve; the Error's Reason carries the hook's message.
var ErrResolveFile = errors.New("workflow: file module not resolved")
