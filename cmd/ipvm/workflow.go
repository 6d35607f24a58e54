package main

import (
	"github.com/spf13/cobra"
)

func newWorkflowCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "workflow",
		Short: "Inspect workflow files without running them",
	}
	return c
}
