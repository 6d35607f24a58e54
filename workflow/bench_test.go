package workflow

import (
	"fmt"
	"os"
	"testing"

	"github.com/ipvm-go/ipvm/spec"
)

func BenchmarkParseHomestarAddOne(b *testing.B) {
	src, err := os.ReadFile("../../shared/vectors/homestar/workflow-add-one.json")
	if err != nil {
		b.Skip(err)
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := Parse(src, ParseOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// chain returns a native workflow of n tasks, each awaiting the previous.
func chain(n int) []byte {
	tasks := make([]string, n)
	for i := range n {
		params := "[1]"
		if i > 0 {
			params = fmt.Sprintf(`[{"await/ok":"t%d"}]`, i-1)
		}
		tasks[i] = task(fmt.Sprintf("t%d", i), params)
	}
	return []byte(wf(tasks...))
}

func BenchmarkParseChain1000(b *testing.B) {
	src := chain(1000)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := Parse(src, ParseOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSchedulerChain1000 drives a 1000-task chain to the end; divide
// by 1000 for the cost per task.
func BenchmarkSchedulerChain1000(b *testing.B) {
	w, err := Parse(chain(1000), ParseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	r := spec.OK(int64(1))
	for b.Loop() {
		s := NewScheduler(w)
		for !s.Finished() {
			for _, st := range s.Ready() {
				_ = s.Done(st.Task.Name, r)
			}
		}
	}
}
