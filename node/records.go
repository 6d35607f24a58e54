package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/store"
)

// WorkflowRecord is what the node keeps about a workflow it ran.
type WorkflowRecord struct {
	// Name is the workflow's name.
	Name string
	// Tasks are the workflow's tasks in run order.
	Tasks []TaskRef
}

// TaskRef names a task of a workflow.
type TaskRef struct {
	Name string
	Task cid.Cid
}

// WorkflowRecord returns the record of a workflow this node ran.
func (n *Node) WorkflowRecord(ctx context.Context, c cid.Cid) (WorkflowRecord, error) {
	b, err := n.store.Workflow(ctx, c)
	if errors.Is(err, store.ErrNotFound) {
		return WorkflowRecord{}, fmt.Errorf("%w: workflow %s", ErrNotFound, c)
	}
	if err != nil {
		return WorkflowRecord{}, err
	}
	v, err := spec.DecodeCBOR(b, spec.Limits{})
	if err != nil {
		return WorkflowRecord{}, fmt.Errorf("node: workflow record %s: %w", c, err)
	}
	m, _ := v.(map[string]any)
	rec := WorkflowRecord{}
	rec.Name, _ = m["name"].(string)
	list, _ := m["tasks"].([]any)
	for _, e := range list {
		t, _ := e.(map[string]any)
		name, _ := t["name"].(string)
		tc, ok := t["task"].(cid.Cid)
		if !ok {
			return WorkflowRecord{}, fmt.Errorf("node: workflow record %s: task without a CID", c)
		}
		rec.Tasks = append(rec.Tasks, TaskRef{Name: name, Task: tc})
	}
	return rec, nil
}

// BlobSize returns the size of a stored blob.
func (n *Node) BlobSize(ctx context.Context, c cid.Cid) (uint64, error) {
	s, err := n.store.BlobSize(ctx, c)
	if errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("%w: blob %s", ErrNotFound, c)
	}
	return s, err
}
