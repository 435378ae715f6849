package session

import (
	"context"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

type fixedPolicy struct {
	limit time.Duration
	err   error
	asked []string
}

func (p *fixedPolicy) StartLimit(_ context.Context, _ opsdojo.User, labID string, _ time.Time) (time.Duration, error) {
	p.asked = append(p.asked, labID)
	return p.limit, p.err
}

// TestStartPolicyRefuses: a refusal of the policy (a closed cohort) stops
// the start before any container exists, with the policy's message.
func TestStartPolicyRefuses(t *testing.T) {
	e := newEnv(t, Config{})
	p := &fixedPolicy{err: opsdojo.Errorf(opsdojo.EFORBIDDEN, "the cohort closed")}
	e.m.SetPolicy(p)
	_, err := e.m.Start(context.Background(), e.alice, "git")
	wantCode(t, err, opsdojo.EFORBIDDEN)
	if opsdojo.ErrorMessage(err) != "the cohort closed" {
		t.Fatalf("message = %q", opsdojo.ErrorMessage(err))
	}
	if n, _ := e.st.CountLiveLabSessions(context.Background(), e.alice.ID); n != 0 {
		t.Fatalf("%d live sessions after a refused start", n)
	}
}

// TestStartPolicyDeadline: a session under a time limit expires at its
// deadline however active it is, and the reaper ends it then.
func TestStartPolicyDeadline(t *testing.T) {
	e := newEnv(t, Config{TTL: time.Hour})
	e.m.SetPolicy(&fixedPolicy{limit: 90 * time.Minute})
	ctx := context.Background()
	s := e.start(t, e.alice, "git")
	start := e.clock.now()
	if !s.Deadline.Equal(start.Add(90*time.Minute)) || !s.ExpiresAt.Equal(start.Add(time.Hour)) {
		t.Fatalf("deadline %v expires %v; want +90m and +60m", s.Deadline, s.ExpiresAt)
	}
	// Active all along: the idle TTL would keep it forever.
	for range 10 {
		e.clock.advance(10 * time.Minute)
		e.m.Touch(ctx, s)
	}
	got := e.stored(t, s.ID)
	if !got.ExpiresAt.Equal(s.Deadline) {
		t.Fatalf("after 100 active minutes expires %v, want the deadline %v", got.ExpiresAt, s.Deadline)
	}
	if n, err := e.m.Reap(ctx); err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v; want the session ended at its deadline", n, err)
	}
	if got := e.stored(t, s.ID); got.State != opsdojo.SessionExpired {
		t.Fatalf("state %s, want expired", got.State)
	}
}

// TestStartPolicyLimitShorterThanTTL: a limit under the idle TTL is the
// expiry from the start.
func TestStartPolicyLimitShorterThanTTL(t *testing.T) {
	e := newEnv(t, Config{TTL: 2 * time.Hour})
	e.m.SetPolicy(&fixedPolicy{limit: 20 * time.Minute})
	s := e.start(t, e.alice, "git")
	if want := e.clock.now().Add(20 * time.Minute); !s.ExpiresAt.Equal(want) || !e.stored(t, s.ID).ExpiresAt.Equal(want) {
		t.Fatalf("expires %v, want %v", s.ExpiresAt, want)
	}
}

// TestRestartReplacesTheSession: restart ends the
// session (its container goes) and starts the same lab in a new one.
func TestRestartReplacesTheSession(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	s := e.start(t, e.alice, "git")
	next, err := e.m.Restart(ctx, e.alice, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if next.ID == s.ID || next.LabID != "git" || next.State != opsdojo.SessionRunning || next.ContainerID == s.ContainerID {
		t.Fatalf("restart gave %+v (was %+v)", next, s)
	}
	if got := e.stored(t, s.ID); got.State != opsdojo.SessionEnded {
		t.Fatalf("old session %s", got.State)
	}
	_, err = e.m.Restart(ctx, e.bob, next.ID)
	wantCode(t, err, opsdojo.ENOTFOUND)
	running, err := e.m.Running(ctx, e.alice)
	if err != nil || len(running) != 1 || running[0].ID != next.ID {
		t.Fatalf("Running = %+v, %v", running, err)
	}
}

// TestEndAllOf ends every live session of one user with the reason and
// leaves other users' alone.
func TestEndAllOf(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	a1 := e.start(t, e.alice, "git")
	a2 := e.start(t, e.alice, "docker")
	b := e.start(t, e.bob, "git")
	n, err := e.m.EndAllOf(ctx, e.alice.ID, "disabled")
	if err != nil || n != 2 {
		t.Fatalf("EndAllOf = %d, %v", n, err)
	}
	for _, id := range []string{a1.ID, a2.ID} {
		if got := e.stored(t, id); got.State != opsdojo.SessionEnded || got.EndReason != "disabled" {
			t.Fatalf("%s: %s %q", id, got.State, got.EndReason)
		}
	}
	if got := e.stored(t, b.ID); got.State != opsdojo.SessionRunning {
		t.Fatalf("bob's session %s", got.State)
	}
}
