// Package store is the node's persistent state on badger/v4: blocks by CID
// (UnixFS files as ipfs imports them, see store/unixfs), receipts by receipt
// CID, the memo index from task CID to receipt, workflows, delegations,
// revocations and seen invocations.
//
// # Opening
//
// One Store owns one directory. Open takes an flock on dir/repo.lock (then
// badger takes its own), so a second Open, from another process or from this
// one, fails with an error wrapping ErrLocked that reads "repo locked by
// another process". The kernel drops the lock when the process dies, so a
// crashed node's repo opens again at once; badger replays its logs and needs
// no repair. Close is idempotent and waits for the calls in flight; every
// call after it returns ErrClosed.
//
//	s, err := store.Open(filepath.Join(repo, "store"), store.Options{})
//	if err != nil { ... }
//	defer s.Close()
//	if err := s.PutReceipt(ctx, taskCID, rcptCID, signed); err != nil { ... }
//	rcpt, b, err := s.ReceiptForTask(ctx, taskCID) // memo lookup
//
// # Durability
//
// Every write is committed to badger before its method returns: it is then
// visible to readers and survives the process being killed (kill -9), as
// badger's logs are memory-mapped files whose pages the kernel keeps. A
// write is durable (survives power loss) once synced. These methods return
// only after their write is synced:
//
//   - PutReceipt, Revoke, AddFile, Sync (which syncs every earlier write).
//
// These do not wait for a sync; their writes become durable with the next
// synced write of any kind, or Close:
//
//   - PutReceiptNoSync, PutBlock, PutWorkflow, PutDelegation, SeeInvocation.
//
// PutReceiptAsync does not even wait for the commit: it queues the receipt
// and returns. The receipt is written within microseconds, but until then it
// is invisible to readers and dies with the process. Sync (or Close) waits
// for every receipt queued before it and reports a failed commit.
//
// Syncs are group commits. Concurrent receipt writes are gathered by one
// committer goroutine into a single badger transaction, and one syncer
// goroutine makes durable every write committed before its round started,
// so concurrent durable writers share one sync; the next batch commits
// while the previous one syncs.
//
// Every write but AddFile's blocks (and receipts too large for the LSM
// tree) is also appended to the store's journal (dir/journal/, a redo log
// written with write(2), journal.go) in commit order, and a round
// fdatasyncs the journal rather than fsyncing badger's memtable log: badger
// writes that log through a shared memory map, whose fsync costs a TLB
// shootdown per dirty page, several times the CPU of the same bytes
// written and synced as a file. Open replays what the journal holds that
// badger lost; a journal segment is deleted once badger has flushed its
// writes to tables, and Close empties the journal. A round fsyncs badger's
// memtable logs only after a write the journal does not hold, the current
// value log only if a value large enough to go there was written since its
// last fsync, and, once, every log badger rotated away from (which db.Sync
// would miss). A failed sync is sticky (ErrSyncFailed): the store refuses
// durable writes from then on, since the kernel may have dropped the
// unsynced pages.
//
// A method that returns an error may still have written (for instance when
// ctx ends while it waits for the sync); it never reports a write it has
// not made.
//
// # Keys
//
// Every key is a two-byte prefix and a binary CID:
//
//	b/<cid>            block bytes (verified against the CID on PutBlock)
//	r/<receipt cid>    signed receipt bytes, or 0x00 ‖ task CID when the
//	                   receipt is the one t/<task cid> holds
//	t/<task cid>       receipt CID ‖ receipt bytes: the memo index, one read
//	w/<workflow cid>   8-byte added time (ns, big-endian) ‖ workflow bytes
//	W/<time><cid>      empty: the recent-workflows index, newest last
//	d/<cid>            delegation token bytes
//	x/<cid>            revocation: 8-byte revocation time (s)
//	i/<cid>            seen invocation, empty, badger TTL until its exp
//
// A receipt is written once: the one a task's index entry holds is found
// by its receipt CID through a pointer (a receipt, a CBOR list, never
// starts with 0x00). When a later receipt takes the index entry over, the
// earlier one is written out whole under its own CID in the same
// transaction, so every receipt stays readable by its CID.
//
// Values larger than Options.ValueThreshold (4 KiB) live in badger's value
// log, the rest in the LSM tree: receipts stay in the tree, blob chunks go
// to the log.
package store
