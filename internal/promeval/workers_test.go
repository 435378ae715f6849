package promeval

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestWorkersQueue: with every slot taken a check waits, gives up with its
// context, and runs once a slot frees up.
func TestWorkersQueue(t *testing.T) {
	w := NewWorkers(1)
	if cap(w.slots) != 1 {
		t.Fatalf("NewWorkers(1) has %d slots", cap(w.slots))
	}
	if n := cap(NewWorkers(0).slots); n < 1 {
		t.Fatalf("NewWorkers(0) has %d slots", n)
	}
	req := Request{
		Rules:  []byte("groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum(up)\n"),
		Tests:  []byte("rule_files: [rules.yml]\ntests:\n  - interval: 1m\n    input_series:\n      - {series: 'up{job=\"a\"}', values: '1x5'}\n    promql_expr_test:\n      - expr: job:up:sum\n        eval_time: 2m\n        exp_samples:\n          - {labels: 'job:up:sum', value: 1}\n"),
		Limits: Limits{Timeout: 20 * time.Second},
	}

	w.slots <- struct{}{} // a check in progress
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := w.Evaluate(ctx, req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with no free slot: %v, want the context's deadline", err)
	}

	done := make(chan error, 1)
	go func() {
		res, err := w.Evaluate(context.Background(), req)
		if err == nil && (!res.Passed() || len(res.Tests) != 1) {
			err = fmt.Errorf("want one passing test, got %+v", res)
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("evaluated while the only slot was taken (%v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	<-w.slots // the other check ends
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(w.slots) != 0 {
		t.Fatal("the slot was not given back")
	}
}
