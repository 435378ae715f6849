package cohort

import (
	"cmp"
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// PoolStore is what the warm seats of cohorts read from the store.
type PoolStore interface {
	CohortPool(ctx context.Context, cohortID int64) (opsdojo.CohortPool, error)
	SetCohortPool(ctx context.Context, p opsdojo.CohortPool) error
	CohortPoolPlans(ctx context.Context) ([]opsdojo.CohortPoolPlan, error)
	CohortLabStarts(ctx context.Context, cohortID int64, labID string, since time.Time) (int, error)
}

// PoolConfig is the server's side of the warm seats.
type PoolConfig struct {
	// Base is each lab's pool size from `--pool`, always kept.
	Base map[string]int
	// Lead is how long before a class starts its warm seats are made
	// (`--pool-lead`); Hold how long after the start they are kept for
	// late learners (`--pool-hold`).
	Lead, Hold time.Duration
	// Max bounds the boxes of all labs together (`--pool-max`): cohorts
	// add boxes only up to it, so several classes starting at once do not
	// overrun the engine. The Base sizes are never cut. 0: cohorts add
	// nothing.
	Max int
	// Poolable says why a lab cannot have warm boxes (nil: it can); nil
	// func: every lab can.
	Poolable func(labID string) error
}

// Raise is one cohort's addition to its lab's pool now.
type Raise struct {
	CohortID int64  `json:"cohort_id"`
	LabID    string `json:"lab_id"`
	// From and Until bound the window: the class start minus the lead to
	// the start plus the hold.
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
	// Want is the warm seats still to serve: the setting (at most the
	// seats) less the members who already started the lab in the window.
	// Granted is what the server-wide cap leaves of it.
	Want    int `json:"want"`
	Granted int `json:"granted"`
}

// Plan is the pool's sizing now.
type Plan struct {
	// Targets is each lab's pool size: Base plus the granted raises.
	Targets map[string]int
	// Raises are the cohorts inside their window, earliest class first.
	Raises []Raise
}

// Pool sizes the warm pool from `--pool` and the warm seats of cohorts
// whose class is about to start or has just started. Its Targets is the
// session.PoolConfig.Targets hook.
type Pool struct {
	store PoolStore
	cfg   PoolConfig
	now   func() time.Time
	log   *slog.Logger

	mu   sync.Mutex
	last map[string]int
}

// NewPool returns the sizing of the warm pool; now is the clock.
func NewPool(store PoolStore, cfg PoolConfig, now func() time.Time, log *slog.Logger) *Pool {
	return &Pool{store: store, cfg: cfg, now: now, log: log, last: maps.Clone(cfg.Base)}
}

// Max is the server-wide cap on warm boxes.
func (p *Pool) Max() int { return p.cfg.Max }

// Window is when a class starting at start has its warm seats.
func (p *Pool) Window(start time.Time) (from, until time.Time) {
	return start.Add(-p.cfg.Lead), start.Add(p.cfg.Hold)
}

// Poolable says why a lab cannot have warm boxes, or nil.
func (p *Pool) Poolable(labID string) error {
	if p.cfg.Poolable == nil {
		return nil
	}
	return p.cfg.Poolable(labID)
}

// Settings returns a cohort's warm seats.
func (p *Pool) Settings(ctx context.Context, cohortID int64) (opsdojo.CohortPool, error) {
	return p.store.CohortPool(ctx, cohortID)
}

// Set stores the warm seats of cohort c. The server's rules are checked
// here (the cap, a lab the pool can hold); the store checks the cohort's
// (its seats and labs, a class start).
func (p *Pool) Set(ctx context.Context, c opsdojo.Cohort, wp opsdojo.CohortPool) error {
	wp.CohortID = c.ID
	if wp.Warm > p.cfg.Max {
		if p.cfg.Max == 0 {
			return opsdojo.Errorf(opsdojo.EINVALID, "warm seats are off on this server (--pool-max 0)")
		}
		return opsdojo.Errorf(opsdojo.EINVALID, "warm seats must be from 0 (off) to %d, this server's cap (--pool-max)", p.cfg.Max)
	}
	if wp.Warm > 0 {
		if err := p.Poolable(wp.Lab(c)); err != nil {
			return opsdojo.Errorf(opsdojo.EINVALID, "the lab %q cannot have warm seats: %v", wp.Lab(c), err)
		}
	}
	return p.store.SetCohortPool(ctx, wp)
}

// Targets is each lab's pool size now. When the store does not answer it
// keeps the last sizes, so a database hiccup does not drain a class's
// warm boxes minutes before it starts.
func (p *Pool) Targets(ctx context.Context) map[string]int {
	plan, err := p.Plan(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("warm pool: cohort warm seats unreadable; keeping the last sizes", "err", err)
		}
		return maps.Clone(p.last)
	}
	p.last = plan.Targets
	return maps.Clone(plan.Targets)
}

// Plan computes the pool's sizing now.
func (p *Pool) Plan(ctx context.Context) (Plan, error) {
	now := p.now()
	plan := Plan{Targets: maps.Clone(p.cfg.Base), Raises: []Raise{}}
	if plan.Targets == nil {
		plan.Targets = map[string]int{}
	}
	total := 0
	for _, n := range p.cfg.Base {
		total += n
	}
	list, err := p.store.CohortPoolPlans(ctx)
	if err != nil {
		return plan, err
	}
	type active struct {
		Raise
		start time.Time
	}
	var act []active
	for _, cp := range list {
		c, lab, start := cp.Cohort, cp.Pool.Lab(cp.Cohort), cp.Pool.ClassStart(cp.Cohort)
		from, until := p.Window(start)
		switch {
		case cp.Pool.Warm <= 0 || lab == "" || start.IsZero():
			continue
		case !c.HasLab(lab): // the lab was taken off the cohort since
			continue
		case now.Before(from) || !now.Before(until):
			continue
		case !c.ClosesAt.IsZero() && !now.Before(c.ClosesAt): // nobody may start any more
			continue
		case p.Poolable(lab) != nil:
			continue
		}
		started, err := p.store.CohortLabStarts(ctx, c.ID, lab, from)
		if err != nil {
			return plan, err
		}
		want := max(min(cp.Pool.Warm, c.Seats)-started, 0)
		act = append(act, active{Raise: Raise{CohortID: c.ID, LabID: lab, From: from, Until: until, Want: want}, start: start})
	}
	// The earliest class first: it is the one about to need its boxes.
	slices.SortStableFunc(act, func(a, b active) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return cmp.Compare(a.CohortID, b.CohortID)
	})
	for _, a := range act {
		a.Granted = max(min(a.Want, p.cfg.Max-total), 0)
		total += a.Granted
		if a.Granted > 0 {
			plan.Targets[a.LabID] += a.Granted
		}
		plan.Raises = append(plan.Raises, a.Raise)
	}
	return plan, nil
}
