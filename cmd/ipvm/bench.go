package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ipvm-go/ipvm/internal/bench"
)

func newBenchCmd(e *env) *cobra.Command {
	var asJSON bool
	var only []string
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure the project's performance goals, each beside its floor",
		Long: `Run every benchmark suite in this process and print one line per metric: our
figure, the floor it is compared with (the bare library call it is built on,
measured in the same run), their ratio, the goal and pass/fail. Ratios hold
across machines; absolute figures depend on the machine and its load.
Exits 1 when a goal is missed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			failed := 0
			if !asJSON {
				fmt.Fprintf(e.stdout, "%-44s %14s %14s %-8s %8s %-8s %s\n", "metric", "ours", "floor", "unit", "ratio", "goal", "result")
			}
			for _, s := range bench.Suites() {
				if len(only) > 0 && !contains(only, s.Name) {
					continue
				}
				ms, err := s.Run()
				if err != nil {
					return fmt.Errorf("suite %s: %w", s.Name, err)
				}
				for _, m := range ms {
					if !m.Pass {
						failed++
					}
					if asJSON {
						b, _ := json.Marshal(m)
						fmt.Fprintf(e.stdout, "%s\n", b)
						continue
					}
					res := "pass"
					if !m.Pass {
						res = "FAIL"
					}
					fmt.Fprintf(e.stdout, "%-44s %14.1f %14.1f %-8s %8.3f %-8s %s\n", m.Name, m.Ours, m.Floor, m.Unit, m.Ratio, m.Goal, res)
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
