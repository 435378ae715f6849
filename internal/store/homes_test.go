package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// A refused attempt is logged but leaves the current save alone; the log
// keeps the last homeAttemptsKept attempts.
func TestHomeSaves(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.CreateUser(ctx, "alice", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := st.Home(ctx, u.ID, "git"); opsdojo.ErrorCode(err) != opsdojo.ENOTFOUND {
		t.Fatalf("no save: %v", err)
	}
	saved := opsdojo.HomeSave{UserID: u.ID, LabID: "git", SessionID: "s1", At: t0, Outcome: opsdojo.HomeSaved, Bytes: 10, Content: 20, Files: 2}
	if err := st.RecordHomeSave(ctx, saved); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= homeAttemptsKept+5; i++ {
		if err := st.RecordHomeSave(ctx, opsdojo.HomeSave{UserID: u.ID, LabID: "git", SessionID: "s2", At: t0.Add(time.Duration(i) * time.Minute),
			Outcome: opsdojo.HomeRefused, Reason: "too big"}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := st.Home(ctx, u.ID, "git")
	if err != nil || h.SessionID != "s1" || h.Bytes != 10 || !h.At.Equal(t0) {
		t.Fatalf("current save %+v %v", h, err)
	}
	last, err := st.LastHomeSave(ctx, u.ID, "git")
	if err != nil || last.Outcome != opsdojo.HomeRefused || last.Reason != "too big" {
		t.Fatalf("last %+v %v", last, err)
	}
	var n int
	st.db.QueryRow(`SELECT COUNT(*) FROM home_saves`).Scan(&n)
	if n != homeAttemptsKept {
		t.Fatalf("attempts kept %d", n)
	}
	stale, err := st.StaleHomes(ctx, t0.Add(time.Second), 10)
	if err != nil || len(stale) != 1 {
		t.Fatalf("stale %v %v", stale, err)
	}
	if c, b, _ := st.HomesUsage(ctx); c != 1 || b != 10 {
		t.Fatalf("usage %d %d", c, b)
	}
	if err := st.ForgetHome(ctx, u.ID, "git"); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := st.HomesUsage(ctx); c != 0 {
		t.Fatal("forgotten home counted")
	}
}
