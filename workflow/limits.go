package workflow

// Default caps, used where a Limits field is zero.
const (
	// DefaultMaxBytes caps the size of a workflow file: 8 MiB.
	DefaultMaxBytes = 8 << 20
	// DefaultMaxTasks caps the number of tasks in one workflow.
	DefaultMaxTasks = 10_000
	// DefaultMaxDepth caps JSON nesting (objects and arrays) in the file.
	DefaultMaxDepth = 64
	// DefaultMaxString caps the length of any one JSON string: 1 MiB.
	DefaultMaxString = 1 << 20
	// MaxNameLen caps the length of a task or workflow name, in bytes.
	MaxNameLen = 256
)

// Limits caps what Parse accepts. The zero value of each field means its
// default (the Default* constants); a negative value is not allowed and
// also means the default.
type Limits struct {
	// MaxBytes is the largest input, in bytes. Zero: DefaultMaxBytes.
	// Input up to 4×MaxBytes is still read to find a more precise error
	// (a string too long in a named field) before the size error is
	// reported; larger input is refused before it is read.
	MaxBytes int
	// MaxTasks is the largest number of tasks. Zero: DefaultMaxTasks.
	MaxTasks int
	// MaxDepth is the deepest JSON nesting, counting the top-level object
	// as 1. Zero: DefaultMaxDepth.
	MaxDepth int
	// MaxString is the longest JSON string (or object key), in bytes.
	// Zero: DefaultMaxString.
	MaxString int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxTasks <= 0 {
		l.MaxTasks = DefaultMaxTasks
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxString <= 0 {
		l.MaxString = DefaultMaxString
	}
	return l
}
