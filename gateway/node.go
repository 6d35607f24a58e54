package gateway

import (
	"context"
	"io"

	"github.com/ipfs/go-cid"
)

// Node is what the gateway needs from a node. The node package implements
// it; tests use a fake. Every method may be called from many goroutines at
// once. Errors map to HTTP status codes as described in errors.go.
type Node interface {
	// Submit parses and authorizes the workflow JSON in body and starts it.
	// ctx bounds the submission only (parsing, authorization, starting):
	// the workflow runs on under the node's own lifetime, whether or not the
	// HTTP client stays. On success the returned Submission's Events
	// channel receives one TaskEvent per task as it finishes (cached ones
	// included) and is closed when the workflow is done, or when the node
	// stops (after a final event with Err set). The gateway always drains
	// Events to the end, so the node may block on sends.
	// Errors: ErrBadRequest (bad JSON, schema, promise naming an unknown
	// task), ErrUnauthorized / ErrForbidden (UCAN refusals; give the UCAN
	// error name through an ErrorName method or a *spec.Failure in the
	// chain), ErrBusy (node saturated).
	Submit(ctx context.Context, body []byte, auth Auth) (*Submission, error)

	// Workflow returns the status of every task of a workflow submitted to
	// this node, by workflow CID. ErrNotFound when the node does not know it.
	Workflow(ctx context.Context, c cid.Cid) (WorkflowStatus, error)

	// Receipt returns a verified receipt by receipt CID or by task CID,
	// from the local store or the network. ErrNotFound when none is found.
	Receipt(ctx context.Context, c cid.Cid) (ReceiptView, error)

	// PutBlob stores the bytes read from r (the gateway caps their size)
	// and returns their CID (raw codec) and size. auth is the caller's, so
	// the node may refuse remote uploads (ErrUnauthorized, ErrForbidden).
	PutBlob(ctx context.Context, r io.Reader, auth Auth) (cid.Cid, uint64, error)

	// Blob opens a stored blob for reading and returns its size. The
	// caller closes the reader. ErrNotFound when the node does not hold it.
	Blob(ctx context.Context, c cid.Cid) (io.ReadCloser, uint64, error)

	// Revoke records the revocation of a UCAN delegation: every chain that
	// holds it is refused from then on. auth is the caller's; the node
	// decides who may revoke (ErrUnauthorized, ErrForbidden).
	Revoke(ctx context.Context, c cid.Cid, auth Auth) error

	// Offers returns what this node offers (commands, limits, load, blobs
	// held) as a value encoding/json can marshal.
	Offers(ctx context.Context) (any, error)

	// Identity returns who this node is. It must not block.
	Identity() Identity

	// Peers returns the peers the node is connected to (empty, not an
	// error, when the node has no network).
	Peers(ctx context.Context) ([]PeerInfo, error)
}

// Auth is what the gateway knows about the caller of a request.
type Auth struct {
	// Token is the bearer token from "Authorization: Bearer <token>" (a
	// go-ucan container, as sent), or nil when the request had none.
	Token []byte
	// Loopback is true when the TCP peer address is in 127.0.0.0/8 or is
	// ::1. Proxy headers such as X-Forwarded-For are never consulted.
	Loopback bool
	// RemoteAddr is the request's RemoteAddr, for logs.
	RemoteAddr string
}

// Submission is a started workflow.
type Submission struct {
	// Workflow is the CID of the workflow's canonical form.
	Workflow cid.Cid
	// Tasks lists the workflow's tasks in the order of the workflow file.
	Tasks []TaskRef
	// Events receives one event per finished task and is closed at the end.
	Events <-chan TaskEvent
}

// TaskRef names one task of a workflow.
type TaskRef struct {
	Name string
	Task cid.Cid
}

// TaskEvent reports that a task finished: its receipt is stored.
type TaskEvent struct {
	// Name is the task's name in the workflow.
	Name string
	// Task is the task CID; Receipt the CID of its signed receipt.
	Task, Receipt cid.Cid
	// Out is the receipt's out as an IPLD value: map{"ok": value} or
	// map{"err": map{"name": string, "message": string}}.
	Out any
	// Cached is true when the receipt came from the memo table (local or
	// network) instead of a fresh execution.
	Cached bool
	// Err, when non-nil, means the workflow stopped before all its tasks
	// finished (node shutting down, internal failure); the other fields
	// may be empty. It is the last event before Events is closed.
	Err error
}

// WorkflowStatus is the state of a workflow known to the node.
type WorkflowStatus struct {
	// Workflow is the workflow's CID and Name its name (may be empty).
	Workflow cid.Cid
	Name     string
	// Done is true when every task has a receipt or the workflow stopped.
	Done bool
	// Tasks lists every task in workflow order.
	Tasks []TaskStatus
}

// Task states reported in TaskStatus.State.
const (
	StatePending = "pending" // waiting for its inputs or a slot
	StateRunning = "running" // executing now
	StateDone    = "done"    // receipt stored with out.ok
	StateFailed  = "failed"  // receipt stored with out.err
)

// TaskStatus is the state of one task of a workflow.
type TaskStatus struct {
	Name string
	Task cid.Cid
	// State is one of StatePending, StateRunning, StateDone, StateFailed.
	State string
	// Receipt is cid.Undef until the task has a receipt.
	Receipt cid.Cid
	// Out is the receipt's out (as in TaskEvent), nil until it has one.
	Out any
	// Cached is as in TaskEvent.
	Cached bool
}

// ReceiptView is a receipt as the node found it.
type ReceiptView struct {
	// Receipt is the receipt CID (of Bytes) and Task the task it ran.
	Receipt, Task cid.Cid
	// Bytes is the signed envelope in DAG-CBOR, exactly as stored.
	Bytes []byte
	// Value is the receipt as an IPLD value (decoded from Bytes), served
	// as DAG-JSON.
	Value any
	// Verified is true when the node checked the signature, the issuer and
	// that the receipt ran Task.
	Verified bool
}

// Identity says who a node is.
type Identity struct {
	// DID is the node's did:key; PeerID its libp2p peer ID (empty without
	// a network).
	DID    string `json:"did"`
	PeerID string `json:"peer_id,omitempty"`
	// Addrs are the node's libp2p listen addresses, as multiaddr strings.
	Addrs []string `json:"addrs,omitempty"`
	// Version is the software version.
	Version string `json:"version"`
}

// PeerInfo describes a connected peer.
type PeerInfo struct {
	// ID is the peer ID, Addrs its known multiaddrs.
	ID    string   `json:"id"`
	Addrs []string `json:"addrs,omitempty"`
	// DID is the peer's did:key when known.
	DID string `json:"did,omitempty"`
}
