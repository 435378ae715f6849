package store

import (
	"context"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// TestCohortPoolSettings: a cohort's warm seats default to off, are
// stored and read back, are checked against the cohort (seats, its labs,
// a lab and a class start when on), and go with the cohort's plans only
// while on.
func TestCohortPoolSettings(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	ins := mustInstructor(t, s, "ina")
	opens := time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)
	c := mustCohort(t, s, opsdojo.Cohort{Name: "A", Labs: []string{"git", "ci"}, Owners: []int64{ins.ID}, Seats: 5, OpensAt: opens})
	bare := mustCohort(t, s, opsdojo.Cohort{Name: "B", Owners: []int64{ins.ID}, Seats: 5})

	p, err := s.CohortPool(ctx, c.ID)
	if err != nil || p != (opsdojo.CohortPool{CohortID: c.ID}) {
		t.Fatalf("unset CohortPool = %+v, %v; want off", p, err)
	}
	_, err = s.CohortPool(ctx, 999)
	wantCode(t, err, opsdojo.ENOTFOUND)
	wantCode(t, s.SetCohortPool(ctx, opsdojo.CohortPool{CohortID: 999, Warm: 1}), opsdojo.ENOTFOUND)

	for name, bad := range map[string]opsdojo.CohortPool{
		"more than the seats": {CohortID: c.ID, Warm: 6},
		"negative":            {CohortID: c.ID, Warm: -1},
		"not a cohort lab":    {CohortID: c.ID, Warm: 1, LabID: "other"},
		"no labs to warm":     {CohortID: bare.ID, Warm: 1},
	} {
		wantCode(t, s.SetCohortPool(ctx, bad), opsdojo.EINVALID)
		if got, _ := s.CohortPool(ctx, bad.CohortID); got.Warm != 0 && bad.CohortID != 999 {
			t.Fatalf("%s: refused settings were stored: %+v", name, got)
		}
	}
	// No class start: neither a time nor an opening.
	noOpen := mustCohort(t, s, opsdojo.Cohort{Name: "C", Labs: []string{"git"}, Owners: []int64{ins.ID}, Seats: 5})
	wantCode(t, s.SetCohortPool(ctx, opsdojo.CohortPool{CohortID: noOpen.ID, Warm: 2}), opsdojo.EINVALID)
	// Off needs nothing.
	if err := s.SetCohortPool(ctx, opsdojo.CohortPool{CohortID: noOpen.ID}); err != nil {
		t.Fatal(err)
	}

	starts := opens.Add(2 * time.Hour)
	want := opsdojo.CohortPool{CohortID: c.ID, Warm: 5, LabID: "ci", StartsAt: starts}
	if err := s.SetCohortPool(ctx, want); err != nil {
		t.Fatal(err)
	}
	// The opening is enough as a start.
	if err := s.SetCohortPool(ctx, opsdojo.CohortPool{CohortID: bare.ID}); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, path)
	if got, err := s.CohortPool(ctx, c.ID); err != nil || got != want {
		t.Fatalf("CohortPool = %+v, %v; want %+v", got, err, want)
	}
	plans, err := s.CohortPoolPlans(ctx)
	if err != nil || len(plans) != 1 || plans[0].Pool != want || plans[0].Cohort.ID != c.ID || plans[0].Cohort.Seats != 5 {
		t.Fatalf("CohortPoolPlans = %+v, %v; want only cohort A", plans, err)
	}
	// Switched off: no plan, settings kept.
	want.Warm = 0
	if err := s.SetCohortPool(ctx, want); err != nil {
		t.Fatal(err)
	}
	if plans, err := s.CohortPoolPlans(ctx); err != nil || len(plans) != 0 {
		t.Fatalf("CohortPoolPlans after off = %+v, %v", plans, err)
	}
	if got, _ := s.CohortPool(ctx, c.ID); got != want {
		t.Fatalf("CohortPool after off = %+v", got)
	}
}

// TestCohortLabStarts counts the cohort's members who started the lab
// since a time, each once, and nobody else.
func TestCohortLabStarts(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	ins := mustInstructor(t, s, "ina")
	c := mustCohort(t, s, opsdojo.Cohort{Name: "A", Labs: []string{"git"}, Owners: []int64{ins.ID}, Seats: 5})
	now := time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)
	if err := s.SetCohortInvite(ctx, c.ID, "h1", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	member := func(name string) opsdojo.User {
		u, _, err := s.CreateUserWithInvite(ctx, "h1", name, "pw", now)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	a, b := member("a"), member("b")
	outsider := mustUser(t, s, "out")
	n := 0
	start := func(u opsdojo.User, lab string, at time.Time, state opsdojo.SessionState) {
		n++
		ls := opsdojo.LabSession{ID: "s" + string(rune('a'+n)), UserID: u.ID, LabID: lab, State: state, CreatedAt: at, LastActiveAt: at, ExpiresAt: at.Add(time.Hour)}
		if err := s.CreateLabSession(ctx, ls); err != nil {
			t.Fatal(err)
		}
	}
	since := now.Add(-15 * time.Minute)
	start(a, "git", now, opsdojo.SessionEnded)
	start(a, "git", now.Add(time.Minute), opsdojo.SessionRunning)  // a again: one seat
	start(b, "git", since.Add(-time.Second), opsdojo.SessionEnded) // before the window
	start(b, "ci", now, opsdojo.SessionRunning)                    // another lab
	start(outsider, "git", now, opsdojo.SessionRunning)            // not a member
	if got, err := s.CohortLabStarts(ctx, c.ID, "git", since); err != nil || got != 1 {
		t.Fatalf("CohortLabStarts = %d, %v; want 1", got, err)
	}
	start(b, "git", now, opsdojo.SessionRunning)
	if got, err := s.CohortLabStarts(ctx, c.ID, "git", since); err != nil || got != 2 {
		t.Fatalf("CohortLabStarts = %d, %v; want 2", got, err)
	}
}
