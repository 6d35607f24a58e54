package store

import (
	badger "github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-cid"
)

// Stats are counters since Open, for metrics.
type Stats struct {
	// ReceiptsCommitted counts receipts written by PutReceipt and
	// PutReceiptNoSync.
	ReceiptsCommitted uint64
	// Syncs counts group-commit rounds that fsynced badger's logs; with
	// ReceiptsCommitted it gives the receipts a sync carried.
	Syncs uint64
	// Commits counts the committer's badger transactions; with
	// ReceiptsCommitted it gives the receipts a transaction carried.
	Commits uint64
	// ReceiptsReplayed counts the receipts Open wrote back from the journal
	// because badger had lost them (its memtable log died with the
	// machine); zero after a clean Close or a killed process.
	ReceiptsReplayed uint64
}

// Stats returns the store's counters. It is cheap and safe to call at any
// time, also after Close.
func (s *Store) Stats() Stats {
	return Stats{
		ReceiptsCommitted: s.commit.receipts.Load(),
		Syncs:             s.sync.syncs.Load(),
		Commits:           s.commit.commits.Load(),
		ReceiptsReplayed:  s.replayed,
	}
}

// FloorGet is the floor the memo lookup is benchmarked against (scripts and
// `ipvm bench` compare ReceiptForTask with it in one process): one bare
// badger read transaction, Get and ValueCopy of the memo entry of task,
// without the store's lock, decoding or error wrapping. It is not meant for
// anything else.
func (s *Store) FloorGet(task cid.Cid) ([]byte, error) {
	var v []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key(pfxTask, task))
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	return v, err
}
