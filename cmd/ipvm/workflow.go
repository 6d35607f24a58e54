package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ipfs/go-cid"
	"github.com/spf13/cobra"

	"github.com/ipvm-go/ipvm/store/unixfs"
	"github.com/ipvm-go/ipvm/workflow"
)

func newWorkflowCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "workflow",
		Short: "Inspect workflow files without running them",
	}
	var asJSON bool
	cids := &cobra.Command{
		Use:   "cids FILE",
		Short: "Print each task's name and task CID, without running anything",
		Long: `Print each task's name and task CID, in the order the tasks would run, without
running anything or touching the repo. Modules given as {"file": path} are hashed
the way "ipvm add" would store them. Warnings go to stderr.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			wf, err := parseWorkflowFile(cmd.Context(), args[0], hashOnly)
			if err != nil {
				return err
			}
			for _, w := range wf.Warnings {
				fmt.Fprintf(e.stderr, "warning: %s\n", w)
			}
			enc := json.NewEncoder(e.stdout)
			for _, t := range wf.Tasks {
				if asJSON {
					if err := enc.Encode(map[string]string{"name": t.Name, "task": t.CID.String()}); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(e.stdout, "%s\t%s\n", t.Name, t.CID)
			}
			return nil
		},
	}
	cids.Flags().BoolVar(&asJSON, "json", false, `print one {"name", "task"} object per line`)
	c.AddCommand(cids)
	return c
}

// fileAdder stores (or only hashes) the file behind a {"file": path} module
// and returns its CID.
type fileAdder func(ctx context.Context, path string) (cid.Cid, error)

// hashOnly computes a file's UnixFS CID without storing anything.
func hashOnly(ctx context.Context, path string) (cid.Cid, error) {
	f, err := os.Open(path)
	if err != nil {
		return cid.Undef, err
	}
	defer f.Close()
	root, _, err := unixfs.Add(ctx, f, func(context.Context, cid.Cid, []byte) error { return nil })
	return root, err
}

// maxWorkflowFile caps the workflow files the CLI reads.
const maxWorkflowFile = 64 << 20

// parseWorkflowFile reads and parses a workflow file, resolving file modules
// relative to the file's folder through add.
func parseWorkflowFile(ctx context.Context, path string, add fileAdder) (*workflow.Workflow, error) {
	b, err := readCapped(path, maxWorkflowFile)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	wf, err := workflow.Parse(b, workflow.ParseOptions{
		ResolveFile: func(p string) (cid.Cid, error) {
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			return add(ctx, p)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return wf, nil
}

func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d a workflow may have", path, fi.Size(), limit)
	}
	return os.ReadFile(path)
}
