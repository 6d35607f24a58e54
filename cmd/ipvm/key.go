package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/ipvm-go/ipvm/node"
)

func newKeyCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "key",
		Short: "Move this repo's identity between machines",
	}
	var force bool
	export := &cobra.Command{
		Use:   "export FILE",
		Short: "Write the repo's private key to FILE (mode 0600)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := node.OpenRepo(e.repoPath())
			if err != nil {
				return err
			}
			if _, err := os.Stat(args[0]); err == nil && !force {
				return usageError{fmt.Errorf("%s exists; use --force to overwrite", args[0])}
			}
			if err := node.WriteKeyFile(args[0], repo.Key); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "wrote the key of %s to %s; keep it secret\n", repo.Key.DID(), args[0])
			return nil
		},
	}
	export.Flags().BoolVar(&force, "force", false, "overwrite FILE if it exists")
	var replace bool
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Make the key in FILE this repo's identity",
		Long: `Make the key in FILE this repo's identity. A repo that already has a different
identity keeps it unless --replace is given; the old key is then kept as key.old.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			k, err := node.ParseKeyFile(b)
			if err != nil {
				return err
			}
			dir := e.repoPath()
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			path := dir + string(os.PathSeparator) + node.KeyFile
			if old, err := os.ReadFile(path); err == nil {
				ok, perr := node.ParseKeyFile(old)
				if perr == nil && ok.DID() == k.DID() {
					fmt.Fprintf(e.stdout, "%s\n", k.DID())
					return nil
				}
				if !replace {
					return usageError{fmt.Errorf("repo %s already has an identity; use --replace to replace it", dir)}
				}
				if err := os.WriteFile(path+".old", old, 0o600); err != nil {
					return err
				}
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if err := node.WriteKeyFile(path, k); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s\n", k.DID())
			return nil
		},
	}
	imp.Flags().BoolVar(&replace, "replace", false, "replace an existing, different identity")
	c.AddCommand(export, imp)
	return c
}
