//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockFile is the name of the store's own lock file in its directory.
const lockFile = "repo.lock"

// lockDir takes an exclusive, non-blocking flock on dir/repo.lock. flock
// belongs to the open file, so a second Open in the same process is refused
// too, and the kernel releases it when the process dies (kill -9 included).
// badger takes its own lock as well; ours comes first so the error is ours.
func lockDir(dir string) (release func() error, err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, unix.EROFS) || errors.Is(err, os.ErrPermission) {
		return nil, fmt.Errorf("%w: %s: %w", ErrReadOnly, dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("store: lock %s: %w", dir, err)
	}
	if f.Truncate(0) == nil {
		fmt.Fprintf(f, "%d\n", os.Getpid()) // for a human looking at the repo
	}
	return f.Close, nil // closing the file releases the lock
}
