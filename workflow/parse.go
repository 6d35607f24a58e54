package workflow

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/ipvm-go/ipvm/invocation"
	"github.com/ipvm-go/ipvm/spec"
)

// ParseOptions configures Parse. The zero value is ready to use.
type ParseOptions struct {
	// Limits caps the input; zero fields take their defaults.
	Limits Limits
	// ResolveFile turns the path of a {"file": path} module (relative to
	// the workflow file, as written) into the module's CID; the caller
	// reads and stores the file (the CLI adds it to the repo). Nil: file
	// modules are refused with ErrNoResolver.
	ResolveFile func(path string) (cid.Cid, error)
}

// Parse reads a workflow in either format (a task with "run" means
// Homestar's), validates it and resolves it to a DAG of tasks with their
// CIDs. Every error is an *Error that matches ErrInvalid and a category
// sentinel with errors.Is, and names the task and field at fault. Parse does
// no I/O except through opts.ResolveFile.
func Parse(b []byte, opts ParseOptions) (*Workflow, error) {
	lim := opts.Limits.withDefaults()
	if int64(len(b)) > 4*int64(lim.MaxBytes) {
		return nil, newError("", "", ErrTooLarge, "workflow of %d bytes, limit %d", len(b), lim.MaxBytes)
	}
	raw, marked, err := decodeRaw(b, lim)
	if err != nil {
		return nil, err
	}
	p := &parser{opts: opts, lim: lim}
	wf, err := p.workflow(raw)
	if err != nil {
		return nil, err
	}
	if marked != nil {
		// A string too long or a value too deep where the second pass
		// does not look (an ignored key): still refused.
		return nil, marked
	}
	if len(b) > lim.MaxBytes {
		return nil, newError("", "", ErrTooLarge, "workflow of %d bytes, limit %d", len(b), lim.MaxBytes)
	}
	return wf, nil
}

type parser struct {
	opts     ParseOptions
	lim      Limits
	warnings []string
}

func (p *parser) warn(s string) { p.warnings = append(p.warnings, s) }

// ptask is a task being parsed.
type ptask struct {
	t        *Task
	promises []*pending
	deps     []int // indices of awaited tasks of this workflow, each once
}

func (p *parser) workflow(raw any) (*Workflow, error) {
	top, ok := raw.(map[string]any)
	if !ok {
		return nil, newError("", "", ErrWrongType, "a workflow is a JSON object with a tasks list, got %s", rawKind(raw))
	}
	rt, ok := top["tasks"]
	if !ok {
		return nil, newError("", "tasks", ErrWrongType, "missing: a workflow has a tasks list")
	}
	list, ok := rt.([]any)
	if !ok {
		if _, deep := rt.(tooDeep); deep {
			return nil, newError("", "tasks", ErrTooLarge, "JSON nested deeper than %d levels", p.lim.MaxDepth)
		}
		return nil, newError("", "tasks", ErrWrongType, "must be a list of tasks, got %s", rawKind(rt))
	}
	if len(list) == 0 {
		return nil, newError("", "tasks", ErrWrongType, "a workflow has at least one task")
	}
	if len(list) > p.lim.MaxTasks {
		return nil, newError("", "tasks", ErrTooLarge, "%d tasks, limit %d", len(list), p.lim.MaxTasks)
	}
	var (
		wf  *Workflow
		err error
	)
	if first, isMap := list[0].(map[string]any); isMap && first["run"] != nil {
		wf, err = p.homestar(top, list)
	} else {
		wf, err = p.native(top, list)
	}
	if err != nil {
		return nil, err
	}
	wf.Warnings = p.warnings
	if err := wf.finish(); err != nil {
		return nil, err
	}
	return wf, nil
}

// native parses ipvm's own format.
func (p *parser) native(top map[string]any, list []any) (*Workflow, error) {
	wf := &Workflow{Format: FormatNative}
	for _, k := range sortedKeys(top) {
		switch k {
		case "tasks":
		case "name":
			s, err := p.name(top[k], "", nil, "name")
			if err != nil {
				return nil, err
			}
			wf.Name = s
		case "sub":
			if _, err := p.did(top[k], "", nil, "sub"); err != nil {
				return nil, err
			}
		default:
			return nil, newError("", truncate(k, 40), ErrWrongType, "unknown key (a workflow has name, sub and tasks)")
		}
	}
	sub, _ := top["sub"].(string)
	tasks := make([]*ptask, len(list))
	names := make(map[string]int, len(list))
	for i, raw := range list {
		pt, err := p.nativeTask(i, raw, sub)
		if err != nil {
			return nil, err
		}
		if j, dup := names[pt.t.Name]; dup {
			return nil, newError(pt.t.Name, "name", ErrDuplicateName, "tasks #%d and #%d have the same name", j, i)
		}
		names[pt.t.Name] = i
		tasks[i] = pt
	}
	// Name promises → dependency edges.
	for _, pt := range tasks {
		for _, pr := range pt.promises {
			if pr.name == "" {
				continue
			}
			j, ok := names[pr.name]
			if !ok {
				return nil, newError(pt.t.Name, pr.field.String(), ErrUnknownAwait, "no task named %q", truncate(pr.name, 80))
			}
			pt.addDep(j)
		}
	}
	order, err := topoOrder(tasks)
	if err != nil {
		return nil, err
	}
	// Task CIDs in topological order, each after the tasks it names.
	for _, i := range order {
		pt := tasks[i]
		for _, pr := range pt.promises {
			if pr.name != "" {
				pr.link = tasks[names[pr.name]].t.CID
			}
			pr.m[pr.kind] = pr.link
		}
		c, err := pt.t.Task.CID()
		if err != nil {
			return nil, newError(pt.t.Name, "", ErrWrongType, "task CID: %v", err)
		}
		pt.t.CID = c
	}
	if err := p.linkDeps(tasks); err != nil {
		return nil, err
	}
	if order, err = topoOrder(tasks); err != nil {
		return nil, err
	}
	wf.Tasks = ordered(tasks, order)
	return wf, nil
}

// linkDeps turns link promises into dependency edges when they name a task of
// the same workflow, and into External entries otherwise; then fills Deps.
func (p *parser) linkDeps(tasks []*ptask) error {
	byCID := make(map[cid.Cid]int, len(tasks))
	for i, pt := range tasks {
		if j, dup := byCID[pt.t.CID]; dup {
			p.warn(fmt.Sprintf("tasks %q and %q are the same task (CID %s): the second is answered from the first's receipt", tasks[j].t.Name, pt.t.Name, pt.t.CID))
			continue
		}
		byCID[pt.t.CID] = i
	}
	for i, pt := range tasks {
		seen := map[cid.Cid]bool{}
		for _, pr := range pt.promises {
			if pr.name != "" {
				continue
			}
			if j, ok := byCID[pr.link]; ok {
				if j == i {
					return newError(pt.t.Name, pr.field.String(), ErrCycle, "the task awaits itself")
				}
				pt.addDep(j)
			} else if !seen[pr.link] {
				seen[pr.link] = true
				pt.t.External = append(pt.t.External, pr.link)
			}
		}
		for _, j := range pt.deps {
			pt.t.Deps = append(pt.t.Deps, tasks[j].t.Name)
		}
	}
	return nil
}

func (pt *ptask) addDep(j int) {
	for _, d := range pt.deps {
		if d == j {
			return
		}
	}
	pt.deps = append(pt.deps, j)
}

func ordered(tasks []*ptask, order []int) []*Task {
	out := make([]*Task, len(order))
	for k, i := range order {
		out[k] = tasks[i].t
	}
	return out
}

var nativeTaskKeys = "name, cmd, args, nonce, sub and meta"

func (p *parser) nativeTask(i int, raw any, wfSub string) (*ptask, error) {
	label := "#" + strconv.Itoa(i)
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, newError(label, "", ErrWrongType, "a task is an object, got %s", rawKind(raw))
	}
	name, err := p.name(m["name"], label, nil, "name")
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, newError(label, "name", ErrWrongType, "missing: every task has a name")
	}
	for _, k := range sortedKeys(m) {
		switch k {
		case "name", "cmd", "args", "nonce", "sub", "meta":
		default:
			return nil, newError(name, truncate(k, 40), ErrWrongType, "unknown key (a task has %s)", nativeTaskKeys)
		}
	}
	t := &Task{Name: name, Index: i}
	t.Task.Cmd = invocation.CmdWasmRun
	if v, has := m["cmd"]; has {
		s, ok := v.(string)
		if !ok || !strings.HasPrefix(s, "/") || len(s) > MaxNameLen {
			return nil, newError(name, "cmd", ErrWrongType, "a command is a string beginning with \"/\" of at most %d bytes, got %s", MaxNameLen, rawKind(v))
		}
		t.Task.Cmd = s
	}
	t.Task.Sub = wfSub
	if v, has := m["sub"]; has {
		if t.Task.Sub, err = p.did(v, name, nil, "sub"); err != nil {
			return nil, err
		}
	}
	conv := &converter{lim: p.lim, task: name, allowNames: true}
	root := (*pathNode)(nil)
	if v, has := m["nonce"]; has {
		switch x := v.(type) {
		case string:
			t.Task.Nonce = []byte(x)
		case map[string]any:
			b, err := conv.value(x, root.field("nonce"))
			if err != nil {
				return nil, err
			}
			if t.Task.Nonce, ok = b.([]byte); !ok {
				return nil, newError(name, "nonce", ErrWrongType, `a nonce is a string or bytes {"/": {"bytes": "…"}}, got %s`, spec.Kind(b))
			}
		default:
			if err := conv.scalarErr(v, root.field("nonce")); err != nil {
				return nil, err
			}
			return nil, newError(name, "nonce", ErrWrongType, `a nonce is a string or bytes {"/": {"bytes": "…"}}, got %s`, rawKind(v))
		}
		if len(t.Task.Nonce) == 0 {
			t.Task.Nonce = nil
		}
	}
	rawArgs, has := m["args"]
	if !has {
		return nil, newError(name, "args", ErrWrongType, "missing: every task has args")
	}
	if t.Task.Cmd == invocation.CmdWasmRun {
		t.Task.Args, err = p.wasmArgs(conv, rawArgs, root.field("args"))
	} else {
		var v any
		if v, err = conv.value(rawArgs, root.field("args")); err == nil {
			var isMap bool
			if t.Task.Args, isMap = v.(map[string]any); !isMap {
				err = newError(name, "args", ErrWrongType, "args is an object, got %s", rawKind(rawArgs))
			}
		}
	}
	if err != nil {
		return nil, err
	}
	mp := metaParser{task: name, warn: p.warn, lim: p.lim}
	if t.Meta, err = mp.parse(m["meta"], root.field("meta"), false); err != nil {
		return nil, err
	}
	return &ptask{t: t, promises: conv.promises}, nil
}

// wasmArgs reads {mod, fun, params} of a /wasm/run task.
func (p *parser) wasmArgs(conv *converter, raw any, at *pathNode) (map[string]any, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		if err := conv.scalarErr(raw, at); err != nil {
			return nil, err
		}
		return nil, conv.fail(at, ErrWrongType, "args of %s is an object {mod, fun, params}, got %s", invocation.CmdWasmRun, rawKind(raw))
	}
	for _, k := range sortedKeys(m) {
		if k != "mod" && k != "fun" && k != "params" {
			return nil, conv.fail(at.field(truncate(k, 40)), ErrWrongType, "unknown key (args of %s has mod, fun and params)", invocation.CmdWasmRun)
		}
	}
	mod, err := p.module(conv, m["mod"], at.field("mod"))
	if err != nil {
		return nil, err
	}
	fun, err := p.fun(conv, m["fun"], at.field("fun"))
	if err != nil {
		return nil, err
	}
	params := []any{}
	if rp, has := m["params"]; has {
		v, err := conv.value(rp, at.field("params"))
		if err != nil {
			return nil, err
		}
		if params, ok = v.([]any); !ok {
			return nil, conv.fail(at.field("params"), ErrWrongType, "params is a list, got %s", rawKind(rp))
		}
	}
	return map[string]any{"mod": mod, "fun": fun, "params": params}, nil
}

func (p *parser) fun(conv *converter, raw any, at *pathNode) (string, error) {
	switch x := raw.(type) {
	case string:
		if x == "" || len(x) > MaxNameLen {
			return "", conv.fail(at, ErrWrongType, "the export name is 1 to %d bytes", MaxNameLen)
		}
		return x, nil
	case nil:
		return "", conv.fail(at, ErrWrongType, "missing: the name of the export to call")
	case map[string]any:
		if isPromise(x) {
			return "", conv.fail(at, ErrBadPromise, "the export name must be known before the task runs; a promise may not stand here")
		}
	}
	if err := conv.scalarErr(raw, at); err != nil {
		return "", err
	}
	return "", conv.fail(at, ErrWrongType, "the export name is a string, got %s", rawKind(raw))
}

// module reads args.mod: a link {"/": cid}, a CID string (ipfs://cid or the
// bare CID) or {"file": path}, resolved through ParseOptions.ResolveFile.
func (p *parser) module(conv *converter, raw any, at *pathNode) (cid.Cid, error) {
	switch x := raw.(type) {
	case nil:
		return cid.Undef, conv.fail(at, ErrWrongType, `missing: the module, as {"/": "<cid>"}, "ipfs://<cid>" or {"file": "path.wasm"}`)
	case string:
		c, err := spec.ParseCID(x)
		if err != nil {
			return cid.Undef, conv.fail(at, ErrWrongType, "%v", err)
		}
		return c, nil
	case map[string]any:
		if isPromise(x) {
			return cid.Undef, conv.fail(at, ErrBadPromise, "the module must be known before the task runs; a promise may not stand here")
		}
		if f, has := x["file"]; has {
			path, ok := f.(string)
			if !ok || path == "" || len(x) != 1 {
				return cid.Undef, conv.fail(at, ErrWrongType, `a file module is {"file": "path.wasm"} and nothing else`)
			}
			if p.opts.ResolveFile == nil {
				return cid.Undef, conv.fail(at, ErrNoResolver, "file modules need a resolver (ParseOptions.ResolveFile): %q", truncate(path, 200))
			}
			c, err := p.opts.ResolveFile(path)
			if err != nil {
				return cid.Undef, conv.fail(at, ErrResolveFile, "file %q: %v", truncate(path, 200), err)
			}
			return c, nil
		}
		v, err := conv.value(x, at)
		if err != nil {
			return cid.Undef, err
		}
		if c, ok := v.(cid.Cid); ok {
			return c, nil
		}
	}
	if err := conv.scalarErr(raw, at); err != nil {
		return cid.Undef, err
	}
	return cid.Undef, conv.fail(at, ErrWrongType, `the module is {"/": "<cid>"}, "ipfs://<cid>" or {"file": "path.wasm"}, got %s`, rawKind(raw))
}

func isPromise(m map[string]any) bool {
	for k := range m {
		if strings.HasPrefix(k, "await/") {
			return true
		}
	}
	return false
}

// name reads an optional name string (nil → "").
func (p *parser) name(raw any, task string, at *pathNode, key string) (string, error) {
	switch x := raw.(type) {
	case nil:
		return "", nil
	case string:
		if len(x) > MaxNameLen {
			return "", newError(task, at.field(key).String(), ErrTooLarge, "a name is at most %d bytes, got %d", MaxNameLen, len(x))
		}
		if strings.TrimSpace(x) == "" && x != "" {
			return "", newError(task, at.field(key).String(), ErrWrongType, "a name is not blank")
		}
		return x, nil
	case tooLong:
		return "", newError(task, at.field(key).String(), ErrTooLarge, "a name is at most %d bytes, got %d", MaxNameLen, x.n)
	}
	return "", newError(task, at.field(key).String(), ErrWrongType, "a name is a string, got %s", rawKind(raw))
}

// did reads a subject DID.
func (p *parser) did(raw any, task string, at *pathNode, key string) (string, error) {
	s, ok := raw.(string)
	if !ok || !strings.HasPrefix(s, "did:") || len(s) > 4096 {
		return "", newError(task, at.field(key).String(), ErrWrongType, `sub is a DID string ("did:key:…") of at most 4096 bytes, got %s`, rawKind(raw))
	}
	return s, nil
}
