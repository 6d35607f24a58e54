package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ipvm-go/ipvm/internal/bench"
)

func newBenchCmd(e *env) *cobra.Command {
	var asJSON bool
	var only []string
	var cfg bench.Config
	var cpuProfile string
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure the project's performance goals, each beside its floor",
		Long: `Run every benchmark suite in this process and print one line per metric: our
figure, the floor it is compared with (the bare library call it is built on,
measured in the same run), their ratio, the goal and pass/fail. Ratios hold
across machines; absolute figures depend on the machine and its load.
Rows with goal "info" are reported for orientation. Figures in cpu-ns/op
are this process's CPU time per operation, which other jobs on a shared
machine do not inflate. Exits 1 when a goal is missed. Run it from the
repository root: the fuel suite reads fuel/testdata/gosha.wasm.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, name := range only {
				if !contains(strings.Split(suiteNames(), ", "), name) {
					return fmt.Errorf("no suite %q (the suites: %s)", name, suiteNames())
				}
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			failed := 0
			if !asJSON {
				fmt.Fprintf(e.stdout, "%-56s %14s %14s %-9s %8s %-6s %s\n", "metric", "ours", "floor", "unit", "ratio", "goal", "result")
			}
			for _, s := range bench.Suites() {
				if len(only) > 0 && !contains(only, s.Name) {
					continue
				}
				ms, err := s.Run(cfg)
				if err != nil {
					return fmt.Errorf("suite %s: %w", s.Name, err)
				}
				for _, m := range ms {
					if !m.Pass {
						failed++
					}
					if asJSON {
						enc := json.NewEncoder(e.stdout)
						enc.SetEscapeHTML(false) // goals read "<= 2"
						if err := enc.Encode(m); err != nil {
							return err
						}
						continue
					}
					res := "pass"
					if !m.Pass {
						res = "FAIL"
					}
					fmt.Fprintf(e.stdout, "%-56s %14.1f %14.1f %-9s %8.3f %-6s %s\n", m.Name, m.Ours, m.Floor, m.Unit, m.Ratio, m.Goal, res)
				}
			}
			if failed > 0 {
				if !asJSON {
					fmt.Fprintf(e.stderr, "%d goal(s) missed\n", failed)
				}
				return exitCode(1)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per metric")
	c.Flags().BoolVar(&cfg.Short, "short", false, "run every suite in a reduced form (checks it works; figures too noisy to read)")
	c.Flags().StringVar(&cfg.Repo, "repo-root", "", "the ipvm checkout, for test modules (default: found from the working directory)")
	c.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof; each suite's phases carry a pprof label \"bench\")")
	c.Flags().StringSliceVar(&only, "suite", nil, "run only these suites: "+suiteNames())
	return c
}

func suiteNames() string {
	var names []string
	for _, s := range bench.Suites() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
