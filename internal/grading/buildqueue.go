package grading

import (
	"context"
	"strconv"
	"sync"
)

// BuildQueue hands out build slots: at most `slots` builds run at once and
// at most one per learner, and waiting builds start first come, first
// served, skipping a learner who already has one running. So one learner
// clicking Check in three labs cannot hold every slot while another
// learner's one-second build waits behind them.
type BuildQueue struct {
	mu       sync.Mutex
	slots    int
	running  map[string]int // learner → builds running (0 or 1)
	nrunning int
	waiting  []*buildWaiter // in arrival order
	anon     uint64         // numbers anonymous learners apart
}

type buildWaiter struct {
	learner string
	ready   chan struct{} // closed when the slot is granted
	granted bool
	ahead   int
	moved   chan struct{} // a token when ahead changed
}

// NewBuildQueue returns a queue of slots slots (at least 1).
func NewBuildQueue(slots int) *BuildQueue {
	return &BuildQueue{slots: max(slots, 1), running: map[string]int{}}
}

// Acquire waits for a build slot for learner ("" is a learner of its own
// each time, e.g. `opsdojo grade`). While it waits, onWait (may be nil) is
// called from the caller's goroutine with the number of builds that wait
// ahead of this one and the number running, first at once and then
// whenever that changes. It returns the function that gives the slot back
// (call it exactly once), or ctx's error if ctx ends first.
func (q *BuildQueue) Acquire(ctx context.Context, learner string, onWait func(ahead, running int)) (func(), error) {
	q.mu.Lock()
	if learner == "" {
		q.anon++
		learner = "\x00anon" + strconv.FormatUint(q.anon, 10)
	}
	w := &buildWaiter{learner: learner, ready: make(chan struct{}), moved: make(chan struct{}, 1), ahead: len(q.waiting)}
	q.waiting = append(q.waiting, w)
	q.dispatchLocked()
	granted, ahead, running := w.granted, w.ahead, q.nrunning
	q.mu.Unlock()
	var once sync.Once
	release := func() { once.Do(func() { q.release(learner) }) }
	if granted {
		return release, nil
	}
	if onWait != nil {
		onWait(ahead, running)
	}
	for {
		select {
		case <-w.ready:
			return release, nil
		case <-w.moved:
			q.mu.Lock()
			ahead, running, granted := w.ahead, q.nrunning, w.granted
			q.mu.Unlock()
			if !granted && onWait != nil {
				onWait(ahead, running)
			}
		case <-ctx.Done():
			q.mu.Lock()
			if w.granted {
				q.mu.Unlock()
				release()
				return nil, ctx.Err()
			}
			for i, x := range q.waiting {
				if x == w {
					q.waiting = append(q.waiting[:i], q.waiting[i+1:]...)
					break
				}
			}
			q.dispatchLocked() // those behind move up
			q.mu.Unlock()
			return nil, ctx.Err()
		}
	}
}

func (q *BuildQueue) release(learner string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.running[learner]--
	if q.running[learner] <= 0 {
		delete(q.running, learner)
	}
	q.nrunning--
	q.dispatchLocked()
}

// dispatchLocked starts the oldest waiting builds whose learner has none
// running, while slots are free, then tells the rest where they stand.
func (q *BuildQueue) dispatchLocked() {
	kept := q.waiting[:0]
	for _, w := range q.waiting {
		if q.nrunning < q.slots && q.running[w.learner] == 0 {
			q.running[w.learner]++
			q.nrunning++
			w.granted = true
			close(w.ready)
			continue
		}
		kept = append(kept, w)
	}
	for i := len(kept); i < len(q.waiting); i++ {
		q.waiting[i] = nil
	}
	q.waiting = kept
	for i, w := range q.waiting {
		if w.ahead != i {
			w.ahead = i
			select {
			case w.moved <- struct{}{}:
			default:
			}
		}
	}
}

// Stats returns how many builds run and wait.
func (q *BuildQueue) Stats() (running, waiting int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.nrunning, len(q.waiting)
}
