package workflow

import (
	"fmt"
	"strconv"

	"github.com/ipvm-go/ipvm/invocation"
	"github.com/ipvm-go/ipvm/spec"
)

// homestarOp is the only Homestar operation: run a Wasm function.
const homestarOp = "wasm/run"

// homestar parses Homestar's workflow format:
//
//	{"tasks": [{"run": {"op": "wasm/run", "rsc": "ipfs://…",
//	  "input": {"func": "…", "args": […]}, "nnc": ""},
//	  "meta": {"fuel": …, "memory": …, "time": …}, "prf": [], "cause": null}]}
//
// Each task's CID is Homestar's instruction CID (sha3-256) and its promises
// are links to other instructions of the file or to earlier work.
func (p *parser) homestar(top map[string]any, list []any) (*Workflow, error) {
	wf := &Workflow{Format: FormatHomestar}
	for _, k := range sortedKeys(top) {
		switch k {
		case "tasks":
		case "name":
			s, err := p.name(top[k], "", nil, "name")
			if err != nil {
				return nil, err
			}
			wf.Name = s
		default:
			p.warn(fmt.Sprintf("workflow: key %q ignored", truncate(k, 40)))
		}
	}
	tasks := make([]*ptask, len(list))
	for i, raw := range list {
		pt, err := p.homestarTask(i, raw)
		if err != nil {
			return nil, err
		}
		tasks[i] = pt
	}
	if err := p.linkDeps(tasks); err != nil {
		return nil, err
	}
	order, err := topoOrder(tasks)
	if err != nil {
		return nil, err
	}
	wf.Tasks = ordered(tasks, order)
	return wf, nil
}

func (p *parser) homestarTask(i int, raw any) (*ptask, error) {
	label := "#" + strconv.Itoa(i)
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, newError(label, "", ErrWrongType, "a task is an object, got %s", rawKind(raw))
	}
	root := (*pathNode)(nil)
	run, ok := m["run"].(map[string]any)
	if !ok {
		return nil, newError(label, "run", ErrWrongType, "a Homestar task has a run object, got %s", rawKind(m["run"]))
	}
	for _, k := range sortedKeys(run) {
		switch k {
		case "op", "rsc", "input", "nnc":
		default:
			return nil, newError(label, "run."+truncate(k, 40), ErrWrongType, "unknown key (run has op, rsc, input and nnc)")
		}
	}
	conv := &converter{lim: p.lim, task: label}
	at := root.field("run")
	op, ok := run["op"].(string)
	if !ok || op != homestarOp {
		return nil, conv.fail(at.field("op"), ErrWrongType, "only op %q is supported, got %s", homestarOp, describe(run["op"]))
	}
	rsc, ok := run["rsc"].(string)
	if !ok {
		if err := conv.scalarErr(run["rsc"], at.field("rsc")); err != nil {
			return nil, err
		}
		return nil, conv.fail(at.field("rsc"), ErrWrongType, "rsc is an ipfs:// URL of the module, got %s", rawKind(run["rsc"]))
	}
	mod, err := spec.ParseCID(rsc)
	if err != nil {
		return nil, conv.fail(at.field("rsc"), ErrWrongType, "%v", err)
	}
	in, ok := run["input"].(map[string]any)
	if !ok {
		return nil, conv.fail(at.field("input"), ErrWrongType, "input is an object {func, args}, got %s", rawKind(run["input"]))
	}
	for _, k := range sortedKeys(in) {
		if k != "func" && k != "args" {
			return nil, conv.fail(at.field("input").field(truncate(k, 40)), ErrWrongType, "unknown key (input has func and args)")
		}
	}
	fun, err := p.fun(conv, in["func"], at.field("input").field("func"))
	if err != nil {
		return nil, err
	}
	name := truncate(fun, MaxNameLen-8) + "." + strconv.Itoa(i)
	conv.task = name
	args, err := conv.value(in["args"], at.field("input").field("args"))
	if err != nil {
		return nil, err
	}
	params, ok := args.([]any)
	if !ok {
		return nil, conv.fail(at.field("input").field("args"), ErrWrongType, "args is a list, got %s", rawKind(in["args"]))
	}
	for _, pr := range conv.promises {
		pr.m[pr.kind] = pr.link // Homestar promises are links already
	}
	t := &Task{Name: name, Index: i}
	t.Task = invocation.Task{
		Cmd:  invocation.CmdWasmRun,
		Args: map[string]any{"mod": mod, "fun": fun, "params": params},
	}
	h := &invocation.HomestarInstruction{Rsc: rsc, Op: op, Input: map[string]any{"func": fun, "args": params}}
	var nncBytes []byte
	switch x := run["nnc"].(type) {
	case string:
		h.Nnc = x
		if x != "" {
			t.Task.Nonce = []byte(x)
		}
	case map[string]any:
		v, err := conv.value(x, at.field("nnc"))
		if err != nil {
			return nil, err
		}
		if nncBytes, ok = v.([]byte); !ok {
			return nil, conv.fail(at.field("nnc"), ErrWrongType, "nnc is a string or bytes, got %s", spec.Kind(v))
		}
		if len(nncBytes) > 0 {
			t.Task.Nonce = nncBytes
		}
	default:
		if err := conv.scalarErr(run["nnc"], at.field("nnc")); err != nil {
			return nil, err
		}
		return nil, conv.fail(at.field("nnc"), ErrWrongType, "nnc is a string or bytes, got %s", rawKind(run["nnc"]))
	}
	h.NncBytes = nncBytes
	t.Task.Homestar = h
	t.CID, err = h.CID()
	if err != nil {
		return nil, conv.fail(nil, ErrWrongType, "instruction CID: %v", err)
	}
	mp := metaParser{task: name, warn: p.warn, lim: p.lim}
	if t.Meta, err = mp.parse(m["meta"], root.field("meta"), true); err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(m) {
		switch k {
		case "run", "meta":
		case "prf":
			if l, ok := m[k].([]any); !ok || len(l) > 0 {
				p.warn(fmt.Sprintf("task %q: prf ignored (in ipvm, proofs travel with the invocation)", name))
			}
		case "cause":
			if m[k] != nil {
				p.warn(fmt.Sprintf("task %q: cause ignored", name))
			}
		default:
			p.warn(fmt.Sprintf("task %q: key %q ignored", name, truncate(k, 40)))
		}
	}
	return &ptask{t: t, promises: conv.promises}, nil
}

// describe shows a raw scalar for a message.
func describe(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(truncate(s, 40))
	}
	return rawKind(v)
}
