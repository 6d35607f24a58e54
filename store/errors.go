package store

import "errors"

// Errors of the store. Methods wrap them with the key concerned; test with
// errors.Is.
var (
	// ErrNotFound means the store holds nothing under the CID asked for.
	ErrNotFound = errors.New("store: not found")

	// ErrLocked means another process, or another Store in this process, has
	// the repo open.
	ErrLocked = errors.New("store: repo locked by another process")

	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("store: closed")

	// ErrHashMismatch means PutBlock was given bytes that do not hash to the
	// CID they were given with.
	ErrHashMismatch = errors.New("store: bytes do not match the CID")

	// ErrSyncFailed means an fsync of the store failed. The store refuses
	// further durable writes after one: the kernel may have dropped the
	// unsynced pages, so nothing later can be promised to be on disk.
	ErrSyncFailed = errors.New("store: sync failed")

	// ErrDiskFull means the file system holding the store has less free
	// space than the store keeps in reserve (Options.MinFree); nothing was
	// written. Writes succeed again once space is freed.
	ErrDiskFull = errors.New("store: disk full")

	// ErrReadOnly means the store's directory cannot be written (a
	// read-only mount or missing permission). The store writes even to
	// serve reads (its lock, badger's logs), so it does not open.
	ErrReadOnly = errors.New("store: repo is not writable (the store needs write access even to read)")
)
