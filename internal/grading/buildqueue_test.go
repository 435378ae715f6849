package grading

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// queueProbe drives a BuildQueue step by step: each build is one Acquire
// in its own goroutine, and the test waits until the queue has taken it in
// before the next step, so arrival order is the order of the steps.
type queueProbe struct {
	t       *testing.T
	q       *BuildQueue
	mu      sync.Mutex
	granted map[string]func()
	waits   map[string][]int // build → the "ahead" values it was told
	cancel  map[string]context.CancelFunc
	errs    map[string]error
}

func newQueueProbe(t *testing.T, slots int) *queueProbe {
	return &queueProbe{t: t, q: NewBuildQueue(slots), granted: map[string]func(){}, waits: map[string][]int{},
		cancel: map[string]context.CancelFunc{}, errs: map[string]error{}}
}

func (p *queueProbe) acquire(build, learner string) {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel[build] = cancel
	running, waiting := p.q.Stats()
	before := running + waiting
	go func() {
		release, err := p.q.Acquire(ctx, learner, func(ahead, _ int) {
			p.mu.Lock()
			p.waits[build] = append(p.waits[build], ahead)
			p.mu.Unlock()
		})
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil {
			p.errs[build] = err
			return
		}
		p.granted[build] = release
	}()
	p.until(func() bool { r, w := p.q.Stats(); return r+w == before+1 }, "build %s to be queued", build)
}

func (p *queueProbe) until(cond func() bool, what string, args ...any) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			p.t.Fatalf("waited 10 s for "+what, args...)
		}
		time.Sleep(time.Millisecond)
	}
}

// running lists the builds holding a slot, once every granted Acquire has
// returned (grants happen under the queue's lock, so the set is settled).
func (p *queueProbe) running() []string {
	r, _ := p.q.Stats()
	p.until(func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.granted) == r
	}, "%d grants to return", r)
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for b := range p.granted {
		out = append(out, b)
	}
	slices.Sort(out)
	return out
}

func (p *queueProbe) release(build string) {
	p.mu.Lock()
	rel := p.granted[build]
	delete(p.granted, build)
	p.mu.Unlock()
	if rel == nil {
		p.t.Fatalf("release %s: it holds no slot", build)
	}
	rel()
}

func TestBuildQueueFairness(t *testing.T) {
	// Steps: "+build/learner" queues a build, "-build" ends one, "xbuild"
	// cancels a waiting one; after each step the running set must match.
	cases := []struct {
		name  string
		slots int
		steps []string
		want  []string // running after each step, comma-separated
	}{
		{
			name:  "one learner cannot hold both slots",
			slots: 2,
			steps: []string{"+a1/alice", "+a2/alice", "+b1/bob", "-a1", "-b1"},
			want:  []string{"a1", "a1", "a1,b1", "a2,b1", "a2"},
		},
		{
			name:  "first come first served across learners",
			slots: 1,
			steps: []string{"+a1/alice", "+b1/bob", "+c1/carol", "+a2/alice", "-a1", "-b1", "-c1"},
			want:  []string{"a1", "a1", "a1", "a1", "b1", "c1", "a2"},
		},
		{
			name:  "a busy learner's build is skipped, not lost",
			slots: 2,
			steps: []string{"+a1/alice", "+b1/bob", "+a2/alice", "+c1/carol", "-b1", "-a1"},
			want:  []string{"a1", "a1,b1", "a1,b1", "a1,b1", "a1,c1", "a2,c1"},
		},
		{
			name:  "cancelled waiter gives up its place",
			slots: 1,
			steps: []string{"+a1/alice", "+b1/bob", "+c1/carol", "xb1", "-a1"},
			want:  []string{"a1", "a1", "a1", "a1", "c1"},
		},
		{
			name:  "anonymous builds each count as their own learner",
			slots: 2,
			steps: []string{"+g1/", "+g2/", "+g3/", "-g1"},
			want:  []string{"g1", "g1,g2", "g1,g2", "g2,g3"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newQueueProbe(t, tc.slots)
			for i, step := range tc.steps {
				switch step[0] {
				case '+':
					build, learner, _ := strings.Cut(step[1:], "/")
					p.acquire(build, learner)
				case '-':
					p.release(step[1:])
				case 'x':
					p.cancel[step[1:]]()
					p.until(func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.errs[step[1:]] != nil }, "cancel of %s", step[1:])
				}
				if got := strings.Join(p.running(), ","); got != tc.want[i] {
					t.Fatalf("after %q: running %q, want %q", step, got, tc.want[i])
				}
			}
			for b, rel := range p.granted {
				_ = b
				rel()
			}
			if r, w := p.q.Stats(); r != 0 || w != 0 {
				t.Fatalf("left behind: %d running, %d waiting", r, w)
			}
		})
	}
}

func TestBuildQueueTellsPosition(t *testing.T) {
	p := newQueueProbe(t, 1)
	p.acquire("a1", "alice")
	p.acquire("b1", "bob")
	p.acquire("c1", "carol")
	p.until(func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.waits["c1"]) == 1 }, "c1's first position")
	p.release("a1")
	p.until(func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.waits["c1"]) == 2 }, "c1's second position")
	p.mu.Lock()
	got := fmt.Sprint(p.waits["b1"], p.waits["c1"])
	p.mu.Unlock()
	if got != "[0] [1 0]" {
		t.Fatalf("positions told: %s, want [0] [1 0]", got)
	}
	if r := p.running(); !slices.Equal(r, []string{"b1"}) {
		t.Fatalf("running %v", r)
	}
	p.release("b1")
	if r := p.running(); !slices.Equal(r, []string{"c1"}) {
		t.Fatalf("running %v", r)
	}
	p.release("c1")
}

func TestBuildQueueContextEnds(t *testing.T) {
	q := NewBuildQueue(1)
	rel, err := q.Acquire(context.Background(), "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := q.Acquire(ctx, "bob", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want deadline", err)
	}
	rel()
	rel() // a second call is harmless
	if r, w := q.Stats(); r != 0 || w != 0 {
		t.Fatalf("left behind: %d running, %d waiting", r, w)
	}
	rel2, err := q.Acquire(context.Background(), "bob", nil)
	if err != nil {
		t.Fatal(err)
	}
	rel2()
}

// TestBuildQueueRace hammers the queue from many goroutines: at no time do
// more than slots builds run, nor two of one learner.
func TestBuildQueueRace(t *testing.T) {
	q := NewBuildQueue(3)
	var mu sync.Mutex
	perLearner := map[string]int{}
	total := 0
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			learner := fmt.Sprintf("l%d", i%5)
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%7)*time.Millisecond+time.Second)
			defer cancel()
			rel, err := q.Acquire(ctx, learner, func(int, int) {})
			if err != nil {
				return
			}
			mu.Lock()
			perLearner[learner]++
			total++
			if perLearner[learner] > 1 || total > 3 {
				t.Errorf("%s: %d of theirs running, %d in all", learner, perLearner[learner], total)
			}
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			perLearner[learner]--
			total--
			mu.Unlock()
			rel()
		}()
	}
	wg.Wait()
	if r, w := q.Stats(); r != 0 || w != 0 {
		t.Fatalf("left behind: %d running, %d waiting", r, w)
	}
}
