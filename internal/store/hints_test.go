package store

import (
	"context"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// Check hints share hint_reveals with step hints without being counted as
// step hints, and their hints come back from the latest attempt.
func TestCheckHints(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	u := mustUser(t, s, "alice")
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, i := range []int{0, 1} {
		if err := s.RevealHint(ctx, u.ID, "git", "init", i, now); err != nil {
			t.Fatal(err)
		}
	}
	for _, pos := range []int{0, 2, 2} {
		if err := s.RevealCheckHint(ctx, u.ID, "git", "init", pos, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RevealCheckHint(ctx, u.ID, "git", "init", -1, now); err == nil {
		t.Fatal("a negative check position was accepted")
	}
	s = reopen(t, s, path)
	p, err := s.Progress(ctx, u.ID, "git")
	if err != nil {
		t.Fatal(err)
	}
	if p.HintsShown["init"] != 2 || len(p.CheckHints["init"]) != 2 || !p.CheckHintShown("init", 0) || !p.CheckHintShown("init", 2) || p.CheckHintShown("init", 1) {
		t.Fatalf("progress = %+v", p)
	}
	if p.HintsUsed() != 4 {
		t.Fatalf("hints used = %d, want 4", p.HintsUsed())
	}

	if h, err := s.LastCheckHints(ctx, u.ID, "git", "init", "c"); err != nil || h != nil {
		t.Fatalf("before any attempt: %q, %v", h, err)
	}
	if err := s.CreateLabSession(ctx, session("s1", u.ID, "git", opsdojo.SessionRunning, now, time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i, hint := range []string{"old hint", "new hint"} {
		res := opsdojo.StepResult{StepID: "init", Status: opsdojo.StatusFail, Checks: []opsdojo.CheckResult{
			{CheckID: "other", Status: opsdojo.StatusFail, Hints: []string{"not this one"}},
			{CheckID: "c", Status: opsdojo.StatusFail, Hints: []string{hint}},
		}}
		if err := s.RecordAttempt(ctx, opsdojo.Attempt{UserID: u.ID, SessionID: "s1", LabID: "git", Result: res, At: now.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	if h, err := s.LastCheckHints(ctx, u.ID, "git", "init", "c"); err != nil || len(h) != 1 || h[0] != "new hint" {
		t.Fatalf("latest attempt's hints: %q, %v", h, err)
	}
	if h, err := s.LastCheckHints(ctx, u.ID, "git", "init", "gone"); err != nil || h != nil {
		t.Fatalf("unknown check: %q, %v", h, err)
	}
}
