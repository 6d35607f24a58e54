package workflow_test

import (
	"fmt"

	"github.com/ipvm-go/ipvm/spec"
	"github.com/ipvm-go/ipvm/workflow"
)

// A driver loop: run each ready task (here: add one to its input) and feed
// the result back until the workflow is finished.
func ExampleScheduler() {
	src := `{"name": "pipeline", "tasks": [
	  {"name": "one", "args": {"mod": "ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq", "fun": "add_one", "params": [1]}},
	  {"name": "two", "args": {"mod": "ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq", "fun": "add_one", "params": [{"await/ok": "one"}]}}]}`
	wf, err := workflow.Parse([]byte(src), workflow.ParseOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	s := workflow.NewScheduler(wf)
	for !s.Finished() {
		for _, st := range s.Ready() {
			if st.Fail != nil {
				_ = s.Done(st.Task.Name, spec.Fail(st.Fail))
				continue
			}
			in := st.Args["params"].([]any)[0].(int64)
			fmt.Printf("%s(%d) = %d\n", st.Task.Name, in, in+1)
			_ = s.Done(st.Task.Name, spec.OK(in+1))
		}
	}
	// Output:
	// one(1) = 2
	// two(2) = 3
}

// Errors name the task and the field.
func ExampleParse_error() {
	src := `{"tasks": [
	  {"name": "a", "args": {"mod": "ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq", "fun": "f", "params": [{"await/ok": "b"}]}},
	  {"name": "b", "args": {"mod": "ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq", "fun": "f", "params": [{"await/ok": "a"}]}}]}`
	_, err := workflow.Parse([]byte(src), workflow.ParseOptions{})
	fmt.Println(err)
	// Output:
	// workflow: task "a": field args.params[0]: cycle: a → b → a (each task awaits the next)
}
