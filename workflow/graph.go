package workflow

import "strings"

// topoOrder returns the task indices in an order where every task follows
// the tasks it awaits; tasks are taken in file order, each after its
// dependencies (a depth-first post-order). A cycle is an ErrCycle naming
// its tasks in order, each awaiting the next: "a → b → c → a".
func topoOrder(tasks []*ptask) ([]int, error) {
	const (
		white = iota
		gray
		black
	)
	color := make([]uint8, len(tasks))
	order := make([]int, 0, len(tasks))
	var stack []int
	var visit func(i int) error
	visit = func(i int) error {
		color[i] = gray
		stack = append(stack, i)
		for _, j := range tasks[i].deps {
			switch color[j] {
			case gray:
				return cycleError(tasks, stack, j)
			case white:
				if err := visit(j); err != nil {
					return err
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
		order = append(order, i)
		return nil
	}
	for i := range tasks {
		if color[i] == white {
			if err := visit(i); err != nil {
				return nil, err
			}
		}
	}
	return order, nil
}

func cycleError(tasks []*ptask, stack []int, start int) error {
	k := len(stack) - 1
	for stack[k] != start {
		k--
	}
	names := make([]string, 0, len(stack)-k+1)
	for _, i := range stack[k:] {
		names = append(names, tasks[i].t.Name)
	}
	names = append(names, tasks[start].t.Name)
	first := tasks[start].t.Name
	// Name the field of the first task's promise on the cycle.
	field := "args"
	next := names[1]
	for _, pr := range tasks[start].promises {
		if pr.name == next {
			field = pr.field.String()
			break
		}
	}
	return newError(first, field, ErrCycle, "cycle: %s (each task awaits the next)", strings.Join(names, " → "))
}
