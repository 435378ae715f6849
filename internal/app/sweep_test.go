package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

type fakeSweeper struct {
	mu    sync.Mutex
	calls int
	fail  bool
}

func (f *fakeSweeper) DeleteExpiredLogins(_ context.Context, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail {
		return errors.New("database is locked")
	}
	return nil
}

func (f *fakeSweeper) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// The sweep runs at once, again on every tick (also after an error), and
// stops with its context.
func TestSweepLoginsRunsUntilCancelled(t *testing.T) {
	f := &fakeSweeper{fail: true}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sweepLogins(ctx, f, 5*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for f.count() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sweeps, want at least 3", f.count())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the sweep did not stop with its context")
	}
}
