// Package store is the node's persistent state on badger/v4: blobs by CID,
// receipts by receipt CID, the memo index from task CID to receipt CID,
// workflows, delegations, revocations and seen invocations.
package store
