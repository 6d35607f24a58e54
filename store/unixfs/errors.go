package unixfs

import "errors"

// Errors returned by Cat, CatTo and Size. They are wrapped with the CID
// concerned; test with errors.Is.
var (
	// ErrTooLarge means the file is larger than the cap the caller gave.
	ErrTooLarge = errors.New("unixfs: file larger than the cap")

	// ErrNotFile means the root or a child is a dag-pb node that is not a
	// UnixFS file (a directory, symlink or HAMT shard), which Cat does not read.
	ErrNotFile = errors.New("unixfs: not a file")

	// ErrMalformed means a block does not decode as dag-pb/UnixFS, its codec
	// is neither raw nor dag-pb, or the tree is inconsistent (sizes that do
	// not add up, too deep).
	ErrMalformed = errors.New("unixfs: malformed file DAG")
)
