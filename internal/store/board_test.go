package store

import (
	"context"
	"fmt"
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

// TestLabResetsMigrationBackfills: step records of attempts made before
// migration 0011 get their latest status, time and fail streak from the
// stored attempts.
func TestLabResetsMigrationBackfills(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Back to the schema before 0011: drop what it added.
	for _, q := range []string{`DROP TABLE lab_resets`, `DROP INDEX check_attempts_lab`, `DROP INDEX lab_sessions_user_lab`,
		`ALTER TABLE step_progress DROP COLUMN last_status`, `ALTER TABLE step_progress DROP COLUMN last_attempt_at`,
		`ALTER TABLE step_progress DROP COLUMN fail_streak`, `DELETE FROM schema_migrations WHERE version = 11`} {
		if _, err := st.db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	u, err := st.CreateUser(ctx, "old", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.ExecContext(ctx, `INSERT INTO lab_sessions(id, user_id, lab_id, state, created_at, last_active_at, expires_at) VALUES('s', ?, 'git', 'ended', 1, 1, 1)`, u.ID); err != nil {
		t.Fatal(err)
	}
	for i, a := range []struct{ step, status string }{{"a", "fail"}, {"a", "pass"}, {"a", "fail"}, {"a", "error"}, {"a", "fail"}, {"b", "fail"}} {
		if _, err := st.db.ExecContext(ctx, `INSERT INTO check_attempts(user_id, session_id, lab_id, step_id, status, points, max_points, result_json, log, duration_ms, created_at)
			VALUES(?, 's', 'git', ?, ?, 0, 1, '{}', '', 1, ?)`, u.ID, a.step, a.status, 1000+i); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []string{"a", "b"} {
		if _, err := st.db.ExecContext(ctx, `INSERT INTO step_progress(user_id, lab_id, step_id, passed, attempts, updated_at) VALUES(?, 'git', ?, ?, 1, 1)`, u.ID, step, step == "a"); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.migrate(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := st.StepRecords(ctx, []int64{u.ID}, []string{"git"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range recs {
		got[r.StepID] = fmt.Sprintf("%s %d %d", r.LastStatus, r.FailStreak, r.LastAttemptAt.UnixMilli())
	}
	if got["a"] != "fail 2 1004" || got["b"] != "fail 1 1005" {
		t.Fatalf("backfilled records: %v", got)
	}
}
