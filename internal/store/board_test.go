package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

func TestStepRecordsStreaksAndReset(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.CreateUser(ctx, "ann", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC().Truncate(time.Millisecond)
	sess := opsdojo.LabSession{ID: "s1", UserID: u.ID, LabID: "git", State: opsdojo.SessionRunning, CreatedAt: base, LastActiveAt: base, ExpiresAt: base.Add(time.Hour)}
	if err := st.CreateLabSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	n := 0
	attempt := func(step string, status opsdojo.CheckStatus) {
		n++
		pts := 0.0
		if status == opsdojo.StatusPass {
			pts = 1
		}
		if err := st.RecordAttempt(ctx, opsdojo.Attempt{UserID: u.ID, SessionID: "s1", LabID: "git",
			Result: opsdojo.StepResult{StepID: step, Status: status, Points: pts, Max: 1}, At: base.Add(time.Duration(n) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	get := func() map[string]opsdojo.StepRecord {
		recs, err := st.StepRecords(ctx, []int64{u.ID}, []string{"git"})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]opsdojo.StepRecord{}
		for _, r := range recs {
			m[r.StepID] = r
		}
		return m
	}
	attempt("a", opsdojo.StatusFail)
	attempt("a", opsdojo.StatusFail)
	attempt("a", opsdojo.StatusError) // not the learner's: the streak stays
	attempt("b", opsdojo.StatusPass)
	attempt("b", opsdojo.StatusFail)
	if err := st.RevealHint(ctx, u.ID, "git", "a", 0, base); err != nil {
		t.Fatal(err)
	}
	m := get()
	if a := m["a"]; a.FailStreak != 2 || a.LastStatus != opsdojo.StatusError || a.Attempts != 2 || a.Passed || a.Hints != 1 || !a.LastAttemptAt.Equal(base.Add(3*time.Second)) {
		t.Fatalf("step a: %+v", a)
	}
	if b := m["b"]; b.FailStreak != 1 || !b.Passed || b.Points != 1 || b.FirstPassedAt == nil || !b.FirstPassedAt.Equal(base.Add(4*time.Second)) {
		t.Fatalf("step b: %+v", b)
	}
	attempt("a", opsdojo.StatusPass)
	if a := get()["a"]; a.FailStreak != 0 || !a.Passed {
		t.Fatalf("step a after a pass: %+v", a)
	}
	// A reset clears the records (progress and hints) but keeps attempts.
	if err := st.ResetLab(ctx, u.ID, "git", 99, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if m := get(); len(m) != 0 {
		t.Fatalf("records after reset: %+v", m)
	}
	list, err := st.StepAttempts(ctx, u.ID, "git", "a", 0)
	if err != nil || len(list) != 4 || !list[0].BeforeReset {
		t.Fatalf("attempts after reset: %d %v", len(list), err)
	}
	acts, err := st.LabActivities(ctx, []int64{u.ID}, []string{"git"})
	if err != nil || len(acts) != 0 {
		t.Fatalf("activity of a session started before the reset: %+v %v", acts, err)
	}
}
