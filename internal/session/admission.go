package session

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// AdmissionConfig bounds how many lab sessions live and how many
// containers are created at once. A start that does not fit waits in one
// first-come, first-served queue and, after Wait, is answered with its
// place (opsdojo.QueuedError) instead of hanging until a proxy times out;
// the learner's page asks again and keeps that place.
type AdmissionConfig struct {
	// MaxLive caps live lab sessions on the server, all learners
	// together; zero: no cap.
	MaxLive int
	// MaxCreates bounds container creates running at once (live starts
	// and pool refills; a claim from the warm pool is not a create), so a
	// class's burst does not pile thirty creates on the engine at once
	// (docs/benchmarks.md has the measurements). Zero: 4.
	MaxCreates int
	// Wait is how long one start request waits for its turn before it
	// answers with the learner's place (zero: 5 s).
	Wait time.Duration
	// TicketTTL is how long a queued learner keeps their place without
	// asking again (a closed tab must not hold the queue; zero: 30 s).
	TicketTTL time.Duration
	// RefillQuiet is how long after the last admitted start pool refills
	// wait: a class that starts together opens its terminals right after
	// its claims, and a refill then would compete with them for the CPU
	// and the engine (zero: 3 s).
	RefillQuiet time.Duration
}

func (c *AdmissionConfig) defaults() {
	if c.MaxCreates <= 0 {
		c.MaxCreates = 4
	}
	if c.Wait <= 0 {
		c.Wait = 5 * time.Second
	}
	if c.TicketTTL <= 0 {
		c.TicketTTL = 30 * time.Second
	}
	if c.RefillQuiet <= 0 {
		c.RefillQuiet = 3 * time.Second
	}
}

// admission is the queue in front of Start. One mutex guards counters that
// change only a few times per start, so it is never contended for long;
// the live count comes from the database under it, so two starts cannot
// both take the last place.
type admission struct {
	cfg  AdmissionConfig
	live func(ctx context.Context) (int, error) // live sessions in the database
	pool func(lab string) int                   // ready warm-pool boxes of a lab
	now  func() time.Time

	mu       sync.Mutex
	queue    []*ticket
	inflight int            // admitted starts not yet over (counted against MaxLive)
	creating int            // creates running: live ones and refills
	reserved map[string]int // lab → pool boxes promised to admitted starts
	refills  map[*refill]struct{}
	changed  chan struct{} // closed and replaced on every change
	// lastAdmit is when a start was last admitted (refills wait for
	// RefillQuiet after it).
	lastAdmit time.Time
}

type ticket struct {
	key, lab string
	seen     time.Time
	waiting  int // requests waiting on it now
}

type refill struct{ cancel context.CancelFunc }

func newAdmission(cfg AdmissionConfig, live func(context.Context) (int, error), pool func(string) int, now func() time.Time) *admission {
	cfg.defaults()
	return &admission{cfg: cfg, live: live, pool: pool, now: now, reserved: map[string]int{},
		refills: map[*refill]struct{}{}, changed: make(chan struct{})}
}

// grant is an admitted start. release must be called once the session's
// row says running or ended, so it is counted by the database again.
type grant struct {
	a      *admission
	lab    string
	pooled bool // admitted on a warm-pool box rather than a create slot
	create bool // holds a create slot
	once   sync.Once
}

func (a *admission) notifyLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

// notify wakes queued starts: a session ended, a pool box became ready.
func (a *admission) notify() {
	a.mu.Lock()
	a.notifyLocked()
	a.mu.Unlock()
}

func (g *grant) release() {
	g.once.Do(func() {
		a := g.a
		a.mu.Lock()
		a.inflight--
		if g.create {
			a.creating--
		}
		if g.pooled {
			a.reserved[g.lab]--
		}
		a.notifyLocked()
		a.mu.Unlock()
	})
}

// acquire admits a start of lab by key (learner and lab) or, after
// cfg.Wait, returns a *opsdojo.QueuedError with its place in the queue.
func (a *admission) acquire(ctx context.Context, key, lab string) (*grant, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.ticketLocked(key, lab)
	t.waiting++
	defer func() { t.waiting-- }()
	timer := time.NewTimer(a.cfg.Wait)
	defer timer.Stop()
	// The live count can drop without a notification (a session marked
	// lost elsewhere), so a waiter looks again now and then.
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		t.seen = a.now()
		g, pos, reason, err := a.tryLocked(ctx, t)
		if err != nil {
			return nil, err
		}
		if g != nil {
			return g, nil
		}
		ch := a.changed
		a.mu.Unlock()
		expired := false
		select {
		case <-ch:
		case <-tick.C:
		case <-timer.C:
			expired = true
		case <-ctx.Done():
		}
		a.mu.Lock()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if expired {
			t.seen = a.now()
			return nil, &opsdojo.QueuedError{Position: pos, Reason: reason}
		}
	}
}

// pruneLocked drops the tickets of learners who stopped asking (a
// closed tab must not hold the queue).
func (a *admission) pruneLocked() {
	now := a.now()
	kept := a.queue[:0]
	for _, t := range a.queue {
		if t.waiting == 0 && now.Sub(t.seen) > a.cfg.TicketTTL {
			continue
		}
		kept = append(kept, t)
	}
	clear(a.queue[len(kept):])
	a.queue = kept
}

func (a *admission) ticketLocked(key, lab string) *ticket {
	a.pruneLocked()
	now := a.now()
	var mine *ticket
	for _, t := range a.queue {
		if t.key == key {
			mine = t
		}
	}
	if mine == nil {
		mine = &ticket{key: key, lab: lab, seen: now}
		a.queue = append(a.queue, mine)
	}
	return mine
}

// tryLocked walks the queue in order and admits t if every ticket ahead
// of it leaves room. Each ticket ahead takes a live place whether or not
// it can go yet (first come, first served for the cap); a ticket whose lab
// has a ready pool box goes without a create slot, so a class claiming
// its warm boxes is not held up behind creates of another lab.
func (a *admission) tryLocked(ctx context.Context, t *ticket) (*grant, int, string, error) {
	a.pruneLocked()
	liveFree := int(^uint(0) >> 1)
	reason := fmt.Sprintf("%d labs are being started", a.creating)
	if a.cfg.MaxLive > 0 {
		n, err := a.live(ctx)
		if err != nil {
			return nil, 0, "", err
		}
		liveFree = a.cfg.MaxLive - n - a.inflight
		if liveFree <= 0 {
			reason = fmt.Sprintf("the server runs its maximum of %d lab sessions", a.cfg.MaxLive)
		}
	}
	createFree := a.cfg.MaxCreates - a.creating
	poolFree := map[string]int{}
	blockedOnCreate := false
	for i, q := range a.queue {
		if liveFree <= 0 {
			return nil, i + 1, reason, nil
		}
		if _, ok := poolFree[q.lab]; !ok {
			poolFree[q.lab] = a.pool(q.lab) - a.reserved[q.lab]
		}
		liveFree--
		pooled, create := false, false
		switch {
		case poolFree[q.lab] > 0:
			poolFree[q.lab]--
			pooled = true
		case createFree > 0:
			createFree--
			create = true
		default:
			blockedOnCreate = true
		}
		if q != t {
			continue
		}
		if !pooled && !create {
			a.preemptRefillLocked()
			return nil, i + 1, reason, nil
		}
		a.queue = append(a.queue[:i], a.queue[i+1:]...)
		a.inflight++
		a.lastAdmit = a.now()
		if create {
			a.creating++
		} else {
			a.reserved[t.lab]++
		}
		return &grant{a: a, lab: t.lab, pooled: pooled, create: create}, 0, "", nil
	}
	if blockedOnCreate {
		a.preemptRefillLocked()
	}
	return nil, len(a.queue), reason, nil
}

// preemptRefillLocked cancels one pool refill so that a learner who waits
// for a create slot gets it: live starts come before the pool.
func (a *admission) preemptRefillLocked() {
	for r := range a.refills {
		r.cancel()
		delete(a.refills, r)
		return
	}
}

// claimed records that a pooled grant took its box: the box leaves the
// pool's ready count and the grant's reservation in one step, under the
// admission lock. Counting it twice for a moment (gone from the pool, still
// reserved) made later starts of a burst miss boxes that were there.
func (g *grant) claimed(take func()) {
	a := g.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if g.pooled {
		g.pooled = false
		a.reserved[g.lab]--
	}
	take()
	a.notifyLocked()
}

// toCreate turns a pooled grant whose box turned out unusable into a
// create: it waits (bounded by ctx) for a create slot, ahead of refills.
func (g *grant) toCreate(ctx context.Context) error {
	a := g.a
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.creating >= a.cfg.MaxCreates {
		a.preemptRefillLocked()
		ch := a.changed
		a.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		a.mu.Lock()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	a.creating++
	g.create = true
	if g.pooled {
		g.pooled = false
		a.reserved[g.lab]--
	}
	return nil
}

// startRefill lets the pool create one box when no learner waits or
// starts, none did for RefillQuiet, and a create slot is free. The returned context is cancelled if a learner
// needs the slot; done must be called when the create is over.
func (a *admission) startRefill(ctx context.Context) (context.Context, func(), bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pruneLocked(); len(a.queue) > 0 || a.inflight > 0 || a.now().Sub(a.lastAdmit) < a.cfg.RefillQuiet {
		return nil, nil, false // learners go first
	}
	if a.creating >= a.cfg.MaxCreates {
		return nil, nil, false
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &refill{cancel: cancel}
	a.refills[r] = struct{}{}
	a.creating++
	var once sync.Once
	return rctx, func() {
		once.Do(func() {
			cancel()
			a.mu.Lock()
			delete(a.refills, r)
			a.creating--
			a.notifyLocked()
			a.mu.Unlock()
		})
	}, true
}

// QueueLength is how many starts wait for admission now.
func (a *admission) queueLength() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.queue)
}
