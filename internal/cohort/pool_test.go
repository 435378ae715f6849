package cohort

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// fakePoolStore is the store's answers: the plans, and how many members
// of each cohort started a lab since a time (the since is recorded).
type fakePoolStore struct {
	plans  []opsdojo.CohortPoolPlan
	starts map[int64]int
	since  map[int64]time.Time
	err    error
}

func (f *fakePoolStore) CohortPool(context.Context, int64) (opsdojo.CohortPool, error) {
	return opsdojo.CohortPool{}, errors.New("not used")
}

func (f *fakePoolStore) SetCohortPool(context.Context, opsdojo.CohortPool) error {
	return errors.New("not used")
}

func (f *fakePoolStore) CohortPoolPlans(context.Context) ([]opsdojo.CohortPoolPlan, error) {
	return f.plans, f.err
}

func (f *fakePoolStore) CohortLabStarts(_ context.Context, cohortID int64, _ string, since time.Time) (int, error) {
	if f.since == nil {
		f.since = map[int64]time.Time{}
	}
	f.since[cohortID] = since
	return f.starts[cohortID], nil
}

// TestPoolTargets: a cohort's warm seats raise its lab's pool from the
// lead before its class start until the hold after it, less the members
// who already started, within the cohort's seats and the server-wide cap
// (earliest class first), never cutting the --pool sizes.
func TestPoolTargets(t *testing.T) {
	start := time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)
	lead, hold := 15*time.Minute, 30*time.Minute
	cohortA := opsdojo.Cohort{ID: 1, Labs: []string{"git", "ci"}, Seats: 10}
	cohortB := opsdojo.Cohort{ID: 2, Labs: []string{"git"}, Seats: 10}
	warm := func(c opsdojo.Cohort, n int, lab string, at time.Time) opsdojo.CohortPoolPlan {
		return opsdojo.CohortPoolPlan{Pool: opsdojo.CohortPool{CohortID: c.ID, Warm: n, LabID: lab, StartsAt: at}, Cohort: c}
	}
	opensAt := cohortA
	opensAt.OpensAt = start
	closed := cohortA
	closed.ClosesAt = start.Add(-time.Minute)
	fewSeats := cohortA
	fewSeats.Seats = 2
	noCI := cohortA
	noCI.Labs = []string{"git"}

	for _, tc := range []struct {
		name   string
		base   map[string]int
		max    int
		plans  []opsdojo.CohortPoolPlan
		starts map[int64]int
		now    time.Time
		want   map[string]int
	}{
		{name: "no cohorts: the flag sizes", base: map[string]int{"git": 2}, max: 30, now: start, want: map[string]int{"git": 2}},
		{name: "before the lead", max: 30, plans: []opsdojo.CohortPoolPlan{warm(cohortA, 5, "", start)}, now: start.Add(-lead - time.Second), want: map[string]int{}},
		{name: "at the lead", max: 30, plans: []opsdojo.CohortPoolPlan{warm(cohortA, 5, "", start)}, now: start.Add(-lead), want: map[string]int{"git": 5}},
		{name: "added to the flag size", base: map[string]int{"git": 2, "ci": 1}, max: 30, plans: []opsdojo.CohortPoolPlan{warm(cohortA, 5, "", start)}, now: start, want: map[string]int{"git": 7, "ci": 1}},
		{name: "its chosen lab", max: 30, plans: []opsdojo.CohortPoolPlan{warm(cohortA, 3, "ci", start)}, now: start, want: map[string]int{"ci": 3}},
		{name: "just before the hold ends", max: 30, plans: []opsdojo.CohortPoolPlan{warm(cohortA, 5, "", start)}, now: start.Add(hold - time.Millisecond), want: map[string]int{"git": 5}},
		{name: "after the hold", base: map[string]int{"git": 1}, max: 30, plans: []opsdojo.CohortPoolPlan{warm(cohortA, 5, "", start)}, now: start.Add(hold), want: map[string]int{"git": 1}},
		{name: "the opening as class start", max: 30, plans: []opsdojo.CohortPoolPlan{warm(opensAt, 4, "", time.Time{})}, now: start.Add(-time.Minute), want: map[string]int{"git": 4}},
		{name: "the opening is not the start when one is set", max: 30, plans: []opsdojo.CohortPoolPlan{warm(opensAt, 4, "", start.Add(time.Hour))}, now: start, want: map[string]int{}},
		{name: "members who started need no box", max: 30, plans: []opsdojo.CohortPoolPlan{warm(cohortA, 5, "", start)}, starts: map[int64]int{1: 3}, now: start, want: map[string]int{"git": 2}},
		{name: "every seat started", max: 30, plans: []opsdojo.CohortPoolPlan{warm(cohortA, 5, "", start)}, starts: map[int64]int{1: 7}, now: start, want: map[string]int{}},
		{name: "at most the seats", max: 30, plans: []opsdojo.CohortPoolPlan{warm(fewSeats, 5, "", start)}, now: start, want: map[string]int{"git": 2}},
		{name: "capped by --pool-max", base: map[string]int{"ci": 3}, max: 5, plans: []opsdojo.CohortPoolPlan{warm(cohortA, 4, "", start)}, now: start, want: map[string]int{"git": 2, "ci": 3}},
		{name: "the earliest class first under the cap", max: 6,
			plans: []opsdojo.CohortPoolPlan{warm(cohortA, 4, "ci", start.Add(5*time.Minute)), warm(cohortB, 4, "", start)}, now: start, want: map[string]int{"git": 4, "ci": 2}},
		{name: "two classes of one lab add up", max: 30,
			plans: []opsdojo.CohortPoolPlan{warm(cohortA, 3, "", start), warm(cohortB, 4, "", start.Add(10*time.Minute))}, now: start, want: map[string]int{"git": 7}},
		{name: "flag sizes over the cap are kept, cohorts add nothing", base: map[string]int{"git": 8}, max: 5, plans: []opsdojo.CohortPoolPlan{warm(cohortA, 4, "", start)}, now: start, want: map[string]int{"git": 8}},
		{name: "cap 0: cohorts add nothing", max: 0, plans: []opsdojo.CohortPoolPlan{warm(cohortA, 4, "", start)}, now: start, want: map[string]int{}},
		{name: "a lab taken off the cohort", max: 30, plans: []opsdojo.CohortPoolPlan{warm(noCI, 4, "ci", start)}, now: start, want: map[string]int{}},
		{name: "a closed cohort", max: 30, plans: []opsdojo.CohortPoolPlan{warm(closed, 4, "", start)}, now: start, want: map[string]int{}},
		{name: "a lab the pool cannot hold", max: 30, plans: []opsdojo.CohortPoolPlan{warm(cohortA, 4, "ci", start)}, now: start, want: map[string]int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &fakePoolStore{plans: tc.plans, starts: tc.starts}
			p := NewPool(st, PoolConfig{Base: tc.base, Lead: lead, Hold: hold, Max: tc.max, Poolable: func(lab string) error {
				if lab == "ci" && tc.name == "a lab the pool cannot hold" {
					return errors.New("docker CLI")
				}
				return nil
			}}, func() time.Time { return tc.now }, slog.New(slog.DiscardHandler))
			if got := p.Targets(context.Background()); !maps.Equal(got, tc.want) {
				t.Fatalf("Targets = %v, want %v", got, tc.want)
			}
			for id, since := range st.since {
				// Starts count from the window's beginning.
				if wantSince := tc.plans[0].Pool.ClassStart(tc.plans[0].Cohort).Add(-lead); len(tc.plans) == 1 && !since.Equal(wantSince) {
					t.Fatalf("cohort %d: starts counted since %v, want %v", id, since, wantSince)
				}
			}
		})
	}
}

// TestPoolTargetsKeepLastOnError: a store error does not drain a class's
// boxes; the last sizes hold until the store answers again.
func TestPoolTargetsKeepLastOnError(t *testing.T) {
	start := time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)
	c := opsdojo.Cohort{ID: 1, Labs: []string{"git"}, Seats: 10}
	st := &fakePoolStore{plans: []opsdojo.CohortPoolPlan{{Pool: opsdojo.CohortPool{CohortID: 1, Warm: 3, StartsAt: start}, Cohort: c}}}
	now := start
	p := NewPool(st, PoolConfig{Base: map[string]int{"ci": 1}, Lead: time.Minute, Hold: time.Minute, Max: 10}, func() time.Time { return now },
		slog.New(slog.DiscardHandler))
	if got := p.Targets(context.Background()); !maps.Equal(got, map[string]int{"git": 3, "ci": 1}) {
		t.Fatalf("Targets = %v", got)
	}
	st.err = errors.New("database is locked")
	if got := p.Targets(context.Background()); !maps.Equal(got, map[string]int{"git": 3, "ci": 1}) {
		t.Fatalf("Targets on a store error = %v, want the last sizes", got)
	}
	st.err, now = nil, start.Add(2*time.Minute)
	if got := p.Targets(context.Background()); !maps.Equal(got, map[string]int{"ci": 1}) {
		t.Fatalf("Targets after the window = %v", got)
	}
	// The first answer ever failing: the flag sizes.
	st.err = errors.New("database is locked")
	fresh := NewPool(st, PoolConfig{Base: map[string]int{"ci": 1}, Max: 10}, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	if got := fresh.Targets(context.Background()); !maps.Equal(got, map[string]int{"ci": 1}) {
		t.Fatalf("Targets on a first error = %v", got)
	}
}
