//go:build !unix

package store

// lockDir relies on badger's own directory lock where flock is not available;
// Open maps badger's lock error to ErrLocked.
func lockDir(string) (func() error, error) {
	return func() error { return nil }, nil
}
