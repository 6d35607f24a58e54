package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ipvm-go/ipvm/node"
	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/ucan"
)

func newUcanCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "ucan",
		Short: "Delegate, inspect and revoke UCAN tokens",
	}
	c.AddCommand(newDelegateCmd(e), newInspectCmd(e), newRevokeCmd(e), newInvokeCmd(e))
	return c
}

func newDelegateCmd(e *env) *cobra.Command {
	var to, cmdName, pol, sub, out string
	var ttl time.Duration
	var powerline bool
	c := &cobra.Command{
		Use:   "delegate --to DID",
		Short: "Let another identity run work on this identity's authority",
		Long: `Write a delegation token from this repo's identity to another DID. The token
goes to the other user as a file; they present it with "ipvm run --proof FILE".
The policy (--pol) constrains the invocation's args, e.g. only one module:
  --pol '[["==", ".mod", {"/": "bafy..."}]]'
or only one function:
  --pol '[["==", ".fun", "add_one"]]'`,
		Example: `  ipvm ucan delegate --to did:key:z6Mk... --cmd /wasm/run --ttl 24h --out bob.ucan`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return usageError{fmt.Errorf("--to DID is required")}
			}
			repo, err := node.OpenRepo(e.repoPath())
			if err != nil {
				return err
			}
			opts := []ucan.Option{ucan.WithTTL(ttl)}
			if pol != "" {
				p, err := ucan.ParsePolicyJSON([]byte(pol))
				if err != nil {
					return usageError{fmt.Errorf("--pol: %w", err)}
				}
				opts = append(opts, ucan.WithPolicy(p))
			}
			switch {
			case powerline && sub != "":
				return usageError{fmt.Errorf("--sub and --powerline exclude each other")}
			case powerline:
				opts = append(opts, ucan.WithPowerline())
			case sub != "":
				opts = append(opts, ucan.WithSubject(sub))
			}
			tok, err := ucan.Delegate(repo.Key, to, cmdName, opts...)
			if err != nil {
				return err
			}
			text, err := ucan.EncodeContainer(tok)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				fmt.Fprintln(e.stdout, text)
			} else if err := os.WriteFile(out, []byte(text+"\n"), 0o600); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "delegation %s: %s may run %s as %s\n", tok.CID, to, cmdName, orPowerline(tok.Subject))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&to, "to", "", "the DID that receives the delegation (required)")
	f.StringVar(&cmdName, "cmd", "/wasm/run", "the command delegated (a prefix covers its subcommands; / covers all)")
	f.StringVar(&pol, "pol", "", "a UCAN policy as JSON, checked against every task's args")
	f.DurationVar(&ttl, "ttl", 24*time.Hour, "how long the delegation is valid")
	f.StringVar(&sub, "sub", "", "the subject, when re-delegating a right received from another DID (default: this identity)")
	f.BoolVar(&powerline, "powerline", false, "delegate for any subject this identity holds rights on (sub: null)")
	f.StringVar(&out, "out", "", "write the token to FILE (mode 0600) instead of stdout")
	return c
}

func orPowerline(sub string) string {
	if sub == "" {
		return "any subject (powerline)"
	}
	return sub
}

func newInspectCmd(e *env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Show a token or container decoded, with its CID and whether it verifies",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := readCapped(args[0], 64<<20)
			if err != nil {
				return err
			}
			ins, err := ucan.Inspect(b)
			if err != nil {
				return err
			}
			for _, in := range ins {
				if asJSON {
					if err := json.NewEncoder(e.stdout).Encode(in); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintln(e.stdout, in.String())
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per token")
	return c
}

func newRevokeCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke CID",
		Short: "Revoke a delegation: every chain holding it is refused from now on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := spec.ParseCID(args[0])
			if err != nil {
				return usageError{err}
			}
			ctx := cmd.Context()
			if err := e.viaDaemon(ctx, func(cl *client) error {
				resp, err := cl.do(ctx, http.MethodPost, "/v1/revocations/"+c.String(), nil, nil)
				if err != nil {
					return err
				}
				return resp.Body.Close()
			}, func(n *node.Node) error {
				return n.Revoke(ctx, c)
			}); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked %s\n", c)
			return nil
		},
	}
}

func newInvokeCmd(e *env) *cobra.Command {
	var proofFiles []string
	var aud string
	var ttl time.Duration
	c := &cobra.Command{
		Use:   "invoke FILE",
		Short: "Print a bearer token that authorizes running the workflow FILE",
		Long: `Sign, with this repo's key, the invocation that asks a node to run the workflow
FILE (on your own authority, or on the authority the --proof delegations carry)
and print it with its chain as a container, for
  curl -H "Authorization: Bearer $(ipvm ucan invoke wf.json)" --data-binary @wf.json ...
The token names the workflow by CID: it authorizes that body and nothing else,
once, until it expires.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := node.OpenRepo(e.repoPath())
			if err != nil {
				return err
			}
			wf, err := parseWorkflowFile(cmd.Context(), args[0], hashOnly)
			if err != nil {
				return err
			}
			var proofs []*ucan.Token
			for _, f := range proofFiles {
				b, err := readCapped(f, 1<<20)
				if err != nil {
					return err
				}
				toks, err := ucan.ReadTokens(b, ucan.Limits{})
				if err != nil {
					return fmt.Errorf("--proof %s: %w", f, err)
				}
				proofs = append(proofs, toks...)
			}
			inv, err := node.SignWorkflow(repo.Key, wf.CID, proofs, aud, ttl)
			if err != nil {
				return err
			}
			text, err := ucan.EncodeContainer(append([]*ucan.Token{inv}, proofs...)...)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, text)
			return nil
		},
	}
	c.Flags().StringArrayVar(&proofFiles, "proof", nil, "a delegation file; repeatable")
	c.Flags().StringVar(&aud, "aud", "", "the DID of the node that is to run it (default: any)")
	c.Flags().DurationVar(&ttl, "ttl", 5*time.Minute, "how long the token is valid")
	return c
}
