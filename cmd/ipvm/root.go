package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ipvm-go/ipvm/node"
)

// env is what every subcommand shares: the process's streams and the global
// flags.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	repoDir        string
	offline        bool
	apiURL         string
}

// exitCode is returned by a command that has already reported its failure
// and only needs the process to exit with a code.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "ipvm",
		Short: "ipvm runs content-addressed Wasm workflows and shares their signed receipts",
		Long: `ipvm is an IPVM node: it runs UCAN-authorized workflows of content-addressed
Wasm tasks, memoizes every result by its task CID, signs a receipt for each,
and shares receipts and blobs with other nodes.

The repo (identity, config, store) is $IPVM_PATH or ~/.ipvm, created on first use.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&e.repoDir, "repo", "", "repo directory (default $IPVM_PATH or ~/.ipvm)")
	root.PersistentFlags().BoolVar(&e.offline, "offline", false, "do not use a running daemon; run embedded")
	root.PersistentFlags().StringVar(&e.apiURL, "api", "", "the gateway of a daemon to use (default: the repo's api file, if a daemon answers)")
	root.AddCommand(
		newVersionCmd(e),
		newWorkflowCmd(e),
		newIDCmd(e),
		newKeyCmd(e),
		newRunCmd(e),
		newAddCmd(e),
		newBlobCmd(e),
		newReceiptCmd(e),
		newUcanCmd(e),
		newDaemonCmd(e),
		newPeersCmd(e),
		newOffersCmd(e),
		newBenchCmd(e),
		newConformanceCmd(e),
	)
	return root
}

// repoPath returns the repo directory the user asked for.
func (e *env) repoPath() string {
	if e.repoDir != "" {
		return e.repoDir
	}
	return node.DefaultRepoPath()
}

// printError writes err for a person: one line, "ipvm: " first.
func printError(w io.Writer, err error) {
	msg := err.Error()
	var ue usageError
	if errors.As(err, &ue) {
		msg += "\nRun with --help for usage."
	}
	fmt.Fprintln(w, "ipvm: "+strings.TrimSpace(msg))
}

// usageError marks errors in how a command was called.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }
