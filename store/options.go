package store

import "log/slog"

// Options tunes a Store. The zero value suits a small node (a few tens of MB
// of memory for the store); every field documents its default.
type Options struct {
	// Logger receives badger's warnings and errors (its info messages at
	// debug level). Nil discards them.
	Logger *slog.Logger

	// MemTableSize is the size in bytes of one badger memtable (two are
	// kept). Default 16 MiB.
	MemTableSize int64

	// BlockCacheSize is the size in bytes of badger's block cache.
	// Default 16 MiB.
	BlockCacheSize int64

	// IndexCacheSize is the size in bytes of badger's index and bloom filter
	// cache. Default 8 MiB.
	IndexCacheSize int64

	// ValueLogFileSize is the size in bytes of one value log file, where
	// values larger than ValueThreshold go. Default 64 MiB.
	ValueLogFileSize int64

	// ValueThreshold is the size in bytes above which a value is kept in the
	// value log rather than in the LSM tree. Receipts stay below it so the
	// memo lookup is one LSM read; blob chunks go above it. Default 4 KiB.
	ValueThreshold int64

	// MinFree is the free space in bytes the store keeps on its file
	// system: below it every write fails with ErrDiskFull instead of
	// letting badger fault on a full disk. Default 3×MemTableSize +
	// ValueLogFileSize + 16 MiB (128 MiB); negative turns the check off.
	MinFree int64
}

func (o Options) withDefaults() Options {
	if o.MemTableSize <= 0 {
		o.MemTableSize = 16 << 20
	}
	if o.BlockCacheSize <= 0 {
		o.BlockCacheSize = 16 << 20
	}
	if o.IndexCacheSize <= 0 {
		o.IndexCacheSize = 8 << 20
	}
	if o.ValueLogFileSize <= 0 {
		o.ValueLogFileSize = 64 << 20
	}
	if o.ValueThreshold <= 0 {
		o.ValueThreshold = 4 << 10
	}
	return o
}
