// Package unixfs imports byte streams as UnixFS files and reads them back,
// reproducing the CIDs of `ipfs add --cid-version=1`: CIDv1, dag-pb,
// sha2-256, 256 KiB fixed-size chunks, raw leaves, balanced layout with at
// most 174 links a node. A file of one chunk or less is a single raw block
// (a bafkrei… CID), as ipfs gives.
//
// The package does no storage of its own: Add writes every block through a
// put function and Cat reads through a get function, so the caller (the
// store, a network fetcher) decides where blocks live. Cat verifies the hash
// of every block it reads and caps the bytes it returns.
//
// boxo is imported here only, so the rest of ipvm does not depend on it.
package unixfs
