package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

func addReady(t *testing.T, s *Store, id, lab, image string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	if err := s.AddPoolBox(ctx, opsdojo.PoolBox{ID: id, LabID: lab, Image: image, State: opsdojo.PoolCreating, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReadyPoolBox(ctx, id, "c-"+id, "n-"+id); err != nil {
		t.Fatal(err)
	}
}

// Many learners claim at once from a pool smaller than the crowd: each box
// goes to exactly one of them, the rest are told the pool is empty, and
// every claimed box is a running session under the box's own id.
func TestClaimPoolBoxNeverTwice(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	now := time.Now()
	for i := range 5 {
		addReady(t, s, fmt.Sprintf("b%d", i), "git", "img:1", now.Add(time.Duration(i)*time.Millisecond))
	}
	addReady(t, s, "other-image", "git", "img:0", now)
	addReady(t, s, "other-lab", "ci", "img:1", now)
	const learners = 12
	users := make([]opsdojo.User, learners)
	for i := range users {
		users[i] = mustUser(t, s, fmt.Sprintf("u%d", i))
	}
	var wg sync.WaitGroup
	got := make([]opsdojo.LabSession, learners)
	errs := make([]error, learners)
	for i := range learners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = s.ClaimPoolBox(ctx, "git", "img:1", session("", users[i].ID, "git", opsdojo.SessionStarting, now, time.Hour))
		}()
	}
	wg.Wait()
	owners := map[string]int64{}
	for i := range learners {
		if errs[i] != nil {
			if opsdojo.ErrorCode(errs[i]) != opsdojo.ENOTFOUND {
				t.Fatalf("claim %d: %v", i, errs[i])
			}
			continue
		}
		if prev, dup := owners[got[i].ID]; dup {
			t.Fatalf("box %s handed to users %d and %d", got[i].ID, prev, users[i].ID)
		}
		owners[got[i].ID] = users[i].ID
		stored, err := s.LabSession(ctx, got[i].ID)
		if err != nil || stored.State != opsdojo.SessionRunning || stored.UserID != users[i].ID || stored.ContainerID != "c-"+got[i].ID || stored.NetworkID != "n-"+got[i].ID {
			t.Fatalf("claimed session %+v, %v", stored, err)
		}
	}
	if len(owners) != 5 {
		t.Fatalf("%d boxes claimed, want all 5 of the lab's current image", len(owners))
	}
	left, err := s.PoolBoxes(ctx)
	if err != nil || len(left) != 2 {
		t.Fatalf("left in the pool: %+v, %v (want the other image's and the other lab's)", left, err)
	}
}

// A learner who already has a live session for the lab claims nothing:
// the box stays in the pool.
func TestClaimPoolBoxConflictKeepsBox(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	now := time.Now()
	u := mustUser(t, s, "alice")
	if err := s.CreateLabSession(ctx, session("live", u.ID, "git", opsdojo.SessionRunning, now, time.Hour)); err != nil {
		t.Fatal(err)
	}
	addReady(t, s, "b1", "git", "img:1", now)
	if _, err := s.ClaimPoolBox(ctx, "git", "img:1", session("", u.ID, "git", opsdojo.SessionStarting, now, time.Hour)); opsdojo.ErrorCode(err) != opsdojo.ECONFLICT {
		t.Fatalf("claim with a live session: %v, want ECONFLICT", err)
	}
	s = reopen(t, s, path)
	left, err := s.PoolBoxes(ctx)
	if err != nil || len(left) != 1 || left[0].ID != "b1" || left[0].State != opsdojo.PoolReady {
		t.Fatalf("pool after the refused claim: %+v, %v", left, err)
	}
	if n, err := s.CountAllLiveLabSessions(ctx); err != nil || n != 1 {
		t.Fatalf("live sessions %d, %v", n, err)
	}
	// A box whose row was drained while its container was being made
	// cannot be marked ready.
	if err := s.DeletePoolBox(ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReadyPoolBox(ctx, "b1", "c", "n"); opsdojo.ErrorCode(err) != opsdojo.ENOTFOUND {
		t.Fatalf("ready after delete: %v", err)
	}
}

// A cohort's time limit is the session's deadline, pooled or not.
func TestClaimPoolBoxKeepsTheDeadline(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	now := time.Now()
	addReady(t, s, "b0", "git", "img:1", now)
	u := mustUser(t, s, "u0")
	want := session("", u.ID, "git", opsdojo.SessionStarting, now, time.Hour)
	want.Deadline = now.Add(30 * time.Minute).Truncate(time.Millisecond)
	got, err := s.ClaimPoolBox(ctx, "git", "img:1", want)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.LabSession(ctx, got.ID)
	if err != nil || !stored.Deadline.Equal(want.Deadline) {
		t.Fatalf("deadline %v, want %v (%v)", stored.Deadline, want.Deadline, err)
	}
}
