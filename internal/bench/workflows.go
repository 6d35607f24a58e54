package bench

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/workflow"
)

// addOneJSON is the workflow JSON of one task calling add_one(p) on mod.
func addOneJSON(name string, mod cid.Cid, p int) string {
	return fmt.Sprintf(`{"name":%q,"args":{"mod":{"/":"%s"},"fun":"add_one","params":[%d]}}`, name, mod, p)
}

// independentJSON is a workflow of k independent add_one tasks t0…tk-1
// with params from, from+1, ….
func independentJSON(name string, mod cid.Cid, from, k int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"name":%q,"tasks":[`, name)
	for i := range k {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(addOneJSON(fmt.Sprint("t", i), mod, from+i))
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// runJSON parses a workflow and runs it on n as its owner; a task that
// fails is an error. It returns the parsed workflow and how long Run took.
func runJSON(ctx context.Context, n *node.Node, body []byte) (*workflow.Workflow, time.Duration, error) {
	wf, err := workflow.Parse(body, workflow.ParseOptions{})
	if err != nil {
		return nil, 0, err
	}
	start := time.Now()
	sum, err := n.Run(ctx, wf, node.RunOptions{Grant: n.OwnerGrant(wf)})
	el := time.Since(start)
	if err != nil {
		return nil, 0, err
	}
	if sum.Failed != 0 || len(sum.Events) != len(wf.Tasks) {
		return nil, 0, fmt.Errorf("%w: %s: %d of %d tasks failed, %d answered", ErrMismatch, wf.Name, sum.Failed, len(wf.Tasks), len(sum.Events))
	}
	return wf, el, nil
}
