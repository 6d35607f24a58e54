//go:build wasip1

// Command wasi is a guest on ipvm's WASI command ABI (SPEC §6.4): a plain
// wasip1 program with no SDK. It reads the task's params as a DAG-JSON list
// on stdin, picks the function from argv[1], and prints the result as
// DAG-JSON on stdout; a non-zero exit fails the task.
//
//	GOOS=wasip1 GOARCH=wasm go build -o examples/wasi.wasm ./examples/wasi
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

func main() {
	var params []any
	dec := json.NewDecoder(os.Stdin)
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil {
		fail("read params: %v", err)
	}
	fun := ""
	if len(os.Args) > 1 {
		fun = os.Args[1]
	}
	var out any
	switch fun {
	case "stats": // stats(numbers...) -> {"count", "sum", "mean"}
		var sum float64
		for _, p := range params {
			n, ok := p.(json.Number)
			if !ok {
				fail("stats: %v is not a number", p)
			}
			f, _ := n.Float64()
			sum += f
		}
		mean := 0.0
		if len(params) > 0 {
			mean = sum / float64(len(params))
		}
		out = map[string]any{"count": len(params), "sum": sum, "mean": mean}
	case "greet": // greet(name) -> "Hello, NAME!"
		if len(params) != 1 {
			fail("greet takes one name")
		}
		out = fmt.Sprintf("Hello, %s!", strings.TrimSpace(fmt.Sprint(params[0])))
	default:
		fail("unknown function %q (have stats, greet)", fun)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail("write result: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}
