package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// openTemp opens a fresh database in a temporary folder and closes it when
// the test ends. It returns the store and the database path so a test can
// reopen it.
func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "opsdojo.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func reopen(t *testing.T, s *Store, path string) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s2, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("reopen %s: %v", path, err)
	}
	t.Cleanup(func() { s2.Close() })
	return s2
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want code %q", code)
	}
	if got := opsdojo.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (err: %v), want %q", got, err, code)
	}
}

func mustUser(t *testing.T, s *Store, name string) opsdojo.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), name, "hash-of-"+name, false)
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", name, err)
	}
	return u
}

func migrationFiles(t *testing.T) int {
	t.Helper()
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no embedded migrations")
	}
	return len(names)
}

func TestOpenAppliesMigrationsIdempotently(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	want := migrationFiles(t)

	countMigrations := func(s *Store) int {
		t.Helper()
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
			t.Fatalf("count schema_migrations: %v", err)
		}
		return n
	}
	if got := countMigrations(s); got != want {
		t.Fatalf("after first open: %d migrations recorded, want %d", got, want)
	}
	for _, table := range []string{"meta", "users", "logins", "lab_sessions", "step_progress", "check_attempts"} {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("table %s missing after migration", table)
		}
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	u := mustUser(t, s, "alice")

	// Reopening must neither re-run a migration (CREATE TABLE would fail)
	// nor lose data.
	for i := 0; i < 2; i++ {
		s = reopen(t, s, path)
		if got := countMigrations(s); got != want {
			t.Fatalf("after reopen %d: %d migrations recorded, want %d", i+1, got, want)
		}
	}
	got, _, err := s.UserByUsername(ctx, "alice")
	if err != nil {
		t.Fatalf("UserByUsername after reopen: %v", err)
	}
	if got.ID != u.ID {
		t.Fatalf("user id after reopen = %d, want %d", got.ID, u.ID)
	}
}

func TestOpenCreatesDataDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "c", "db.sqlite")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open in missing nested dir: %v", err)
	}
	s.Close()
}

// The database and its WAL files hold password hashes and session
// secrets: readable by the server's user only, whatever the umask.
func TestOpenCreatesPrivateFiles(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "db.sqlite")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.InstanceID(context.Background()); err != nil { // a write: the WAL exists
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode&0o077 != 0 {
			t.Errorf("%s has mode %o, want no access for group or others", filepath.Base(p), mode)
		}
	}
}

func TestCreateUser(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)

	n, err := s.CountUsers(ctx)
	if err != nil || n != 0 {
		t.Fatalf("CountUsers on empty db = %d, %v", n, err)
	}
	before := time.Now().Add(-time.Second)
	admin, err := s.CreateUser(ctx, "Alice", "h1", true)
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if admin.ID == 0 || admin.Username != "Alice" || !admin.IsAdmin {
		t.Fatalf("CreateUser returned %+v", admin)
	}
	if admin.CreatedAt.Before(before) || admin.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("CreatedAt = %v, not about now", admin.CreatedAt)
	}

	for _, dup := range []string{"Alice", "alice", "ALICE", "aLiCe"} {
		_, err := s.CreateUser(ctx, dup, "h2", false)
		wantCode(t, err, opsdojo.ECONFLICT)
	}

	bob, err := s.CreateUser(ctx, "bob", "h3", false)
	if err != nil {
		t.Fatalf("CreateUser bob: %v", err)
	}
	if bob.ID == admin.ID {
		t.Fatal("two users share an id")
	}
	if n, err := s.CountUsers(ctx); err != nil || n != 2 {
		t.Fatalf("CountUsers = %d, %v; want 2", n, err)
	}

	u, hash, err := s.UserByUsername(ctx, "Alice")
	if err != nil {
		t.Fatalf("UserByUsername: %v", err)
	}
	if u.ID != admin.ID || hash != "h1" || !u.IsAdmin || !u.CreatedAt.Equal(admin.CreatedAt) {
		t.Fatalf("UserByUsername = %+v %q; want %+v h1", u, hash, admin)
	}
	_, _, err = s.UserByUsername(ctx, "carol")
	wantCode(t, err, opsdojo.ENOTFOUND)

	if err := s.SetUserPassword(ctx, "bob", "h4", true); err != nil {
		t.Fatalf("SetUserPassword: %v", err)
	}
	u, hash, err = s.UserByUsername(ctx, "bob")
	if err != nil || hash != "h4" || !u.IsAdmin {
		t.Fatalf("after SetUserPassword: %+v %q %v", u, hash, err)
	}
	wantCode(t, s.SetUserPassword(ctx, "nobody", "h", false), opsdojo.ENOTFOUND)
}

func TestLogins(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	u := mustUser(t, s, "alice")

	if err := s.CreateLogin(ctx, u.ID, "tok-live", "csrf-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("CreateLogin: %v", err)
	}
	if err := s.CreateLogin(ctx, u.ID, "tok-expired", "csrf-2", time.Now().Add(-time.Minute)); err != nil {
		t.Fatalf("CreateLogin expired: %v", err)
	}

	got, csrf, err := s.Login(ctx, "tok-live")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if got.ID != u.ID || got.Username != "alice" || csrf != "csrf-1" {
		t.Fatalf("Login = %+v %q", got, csrf)
	}

	_, _, err = s.Login(ctx, "tok-expired")
	wantCode(t, err, opsdojo.EUNAUTHORIZED)
	_, _, err = s.Login(ctx, "tok-unknown")
	wantCode(t, err, opsdojo.EUNAUTHORIZED)

	if err := s.DeleteLogin(ctx, "tok-live"); err != nil {
		t.Fatalf("DeleteLogin: %v", err)
	}
	_, _, err = s.Login(ctx, "tok-live")
	wantCode(t, err, opsdojo.EUNAUTHORIZED)
	// Deleting twice is harmless.
	if err := s.DeleteLogin(ctx, "tok-live"); err != nil {
		t.Fatalf("DeleteLogin again: %v", err)
	}

	// A login with the same token hash cannot be created twice.
	if err := s.CreateLogin(ctx, u.ID, "tok-x", "c", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLogin(ctx, u.ID, "tok-x", "c", time.Now().Add(time.Hour)); err == nil {
		t.Fatal("duplicate token hash accepted")
	}

	if err := s.DeleteExpiredLogins(ctx, time.Now()); err != nil {
		t.Fatalf("DeleteExpiredLogins: %v", err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM logins`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d logins left after DeleteExpiredLogins, want 1 (tok-x)", n)
	}
	if _, _, err := s.Login(ctx, "tok-x"); err != nil {
		t.Fatalf("unexpired login removed: %v", err)
	}
}

func session(id string, userID int64, lab string, state opsdojo.SessionState, now time.Time, ttl time.Duration) opsdojo.LabSession {
	return opsdojo.LabSession{ID: id, UserID: userID, LabID: lab, ContainerID: "c-" + id, NetworkID: "n-" + id, State: state,
		CreatedAt: now, LastActiveAt: now, ExpiresAt: now.Add(ttl)}
}

func TestLabSessionOneLivePerUserAndLab(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	alice := mustUser(t, s, "alice")
	bob := mustUser(t, s, "bob")
	now := time.Now().UTC().Truncate(time.Millisecond)

	first := session("s1", alice.ID, "git", opsdojo.SessionStarting, now, time.Hour)
	if err := s.CreateLabSession(ctx, first); err != nil {
		t.Fatalf("CreateLabSession: %v", err)
	}
	wantCode(t, s.CreateLabSession(ctx, session("s2", alice.ID, "git", opsdojo.SessionStarting, now, time.Hour)), opsdojo.ECONFLICT)
	// Also when the live one is running rather than starting.
	first.State = opsdojo.SessionRunning
	if err := s.UpdateLabSession(ctx, first); err != nil {
		t.Fatalf("UpdateLabSession: %v", err)
	}
	wantCode(t, s.CreateLabSession(ctx, session("s2", alice.ID, "git", opsdojo.SessionRunning, now, time.Hour)), opsdojo.ECONFLICT)

	// Other labs and other users are not affected.
	if err := s.CreateLabSession(ctx, session("s3", alice.ID, "docker", opsdojo.SessionRunning, now, time.Hour)); err != nil {
		t.Fatalf("second lab for same user: %v", err)
	}
	if err := s.CreateLabSession(ctx, session("s4", bob.ID, "git", opsdojo.SessionRunning, now, time.Hour)); err != nil {
		t.Fatalf("same lab for another user: %v", err)
	}
	if n, err := s.CountLiveLabSessions(ctx, alice.ID); err != nil || n != 2 {
		t.Fatalf("CountLiveLabSessions(alice) = %d, %v; want 2", n, err)
	}

	live, err := s.LiveLabSession(ctx, alice.ID, "git")
	if err != nil {
		t.Fatalf("LiveLabSession: %v", err)
	}
	if live.ID != "s1" || live.State != opsdojo.SessionRunning || live.ContainerID != "c-s1" || live.NetworkID != "n-s1" ||
		!live.CreatedAt.Equal(now) || !live.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("LiveLabSession = %+v", live)
	}

	// Once the first is over, a new live session is allowed; every
	// finished state counts as over.
	for i, st := range []opsdojo.SessionState{opsdojo.SessionEnded, opsdojo.SessionExpired, opsdojo.SessionLost} {
		cur, err := s.LiveLabSession(ctx, alice.ID, "git")
		if err != nil {
			t.Fatalf("round %d: LiveLabSession: %v", i, err)
		}
		cur.State = st
		if err := s.UpdateLabSession(ctx, cur); err != nil {
			t.Fatalf("mark %s: %v", st, err)
		}
		if _, err := s.LiveLabSession(ctx, alice.ID, "git"); opsdojo.ErrorCode(err) != opsdojo.ENOTFOUND {
			t.Fatalf("after marking %s, LiveLabSession err = %v, want ENOTFOUND", st, err)
		}
		next := session(fmt.Sprintf("n%d", i), alice.ID, "git", opsdojo.SessionStarting, now, time.Hour)
		if err := s.CreateLabSession(ctx, next); err != nil {
			t.Fatalf("new session after the previous was %s: %v", st, err)
		}
	}

	old, err := s.LabSession(ctx, "s1")
	if err != nil || old.State != opsdojo.SessionEnded {
		t.Fatalf("LabSession(s1) = %+v, %v; want ended", old, err)
	}
	_, err = s.LabSession(ctx, "nope")
	wantCode(t, err, opsdojo.ENOTFOUND)
	wantCode(t, s.UpdateLabSession(ctx, session("nope", alice.ID, "git", opsdojo.SessionEnded, now, 0)), opsdojo.ENOTFOUND)
}

func TestLiveAndExpiredLabSessions(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	u := mustUser(t, s, "alice")
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

	for _, ls := range []opsdojo.LabSession{
		session("past-running", u.ID, "a", opsdojo.SessionRunning, now.Add(-2*time.Hour), time.Hour),   // expired 1h ago
		session("past-starting", u.ID, "b", opsdojo.SessionStarting, now.Add(-3*time.Hour), time.Hour), // expired 2h ago
		session("exact", u.ID, "c", opsdojo.SessionRunning, now.Add(-time.Hour), time.Hour),            // expires exactly now
		session("future", u.ID, "d", opsdojo.SessionRunning, now, time.Hour),
		session("past-ended", u.ID, "e", opsdojo.SessionEnded, now.Add(-5*time.Hour), time.Hour),
		session("past-lost", u.ID, "f", opsdojo.SessionLost, now.Add(-5*time.Hour), time.Hour),
	} {
		if err := s.CreateLabSession(ctx, ls); err != nil {
			t.Fatalf("CreateLabSession(%s): %v", ls.ID, err)
		}
	}

	expired, err := s.ExpiredLabSessions(ctx, now)
	if err != nil {
		t.Fatalf("ExpiredLabSessions: %v", err)
	}
	// Ordered by expiry, oldest first; only live sessions.
	if got, want := ids(expired), "past-starting,past-running,exact"; got != want {
		t.Fatalf("ExpiredLabSessions = %s, want %s", got, want)
	}
	none, err := s.ExpiredLabSessions(ctx, now.Add(-24*time.Hour))
	if err != nil || len(none) != 0 {
		t.Fatalf("ExpiredLabSessions a day earlier = %v, %v; want none", ids(none), err)
	}

	live, err := s.LiveLabSessions(ctx)
	if err != nil {
		t.Fatalf("LiveLabSessions: %v", err)
	}
	if got, want := ids(live), "past-starting,past-running,exact,future"; got != want {
		t.Fatalf("LiveLabSessions = %s, want %s (ordered by creation)", got, want)
	}

	// Touch pushes the expiry out of the expired set...
	if err := s.TouchLabSession(ctx, "exact", now, now.Add(time.Hour)); err != nil {
		t.Fatalf("TouchLabSession: %v", err)
	}
	expired, _ = s.ExpiredLabSessions(ctx, now)
	if got, want := ids(expired), "past-starting,past-running"; got != want {
		t.Fatalf("after touch, ExpiredLabSessions = %s, want %s", got, want)
	}
	touched, _ := s.LabSession(ctx, "exact")
	if !touched.LastActiveAt.Equal(now) || !touched.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("touched session = %+v", touched)
	}
	// ...but does not revive a finished session.
	if err := s.TouchLabSession(ctx, "past-ended", now, now.Add(time.Hour)); err != nil {
		t.Fatalf("TouchLabSession ended: %v", err)
	}
	ended, _ := s.LabSession(ctx, "past-ended")
	if ended.State != opsdojo.SessionEnded || ended.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("touch changed an ended session: %+v", ended)
	}
}

func ids(list []opsdojo.LabSession) string {
	var out []string
	for _, s := range list {
		out = append(out, s.ID)
	}
	return strings.Join(out, ",")
}

func result(step string, status opsdojo.CheckStatus, points float64) opsdojo.StepResult {
	return opsdojo.StepResult{StepID: step, Status: status, Points: points, Max: 2, Duration: 1500 * time.Millisecond,
		Checks: []opsdojo.CheckResult{{CheckID: "c1", Status: status, Points: points, Max: 2, Messages: []string{}, Hints: []string{}, Log: "log line"}}}
}

type progressRow struct {
	passed   bool
	attempts int
	first    *int64
}

func readProgress(t *testing.T, s *Store, userID int64, lab, step string) progressRow {
	t.Helper()
	var r progressRow
	err := s.db.QueryRowContext(context.Background(), `SELECT passed, attempts, first_passed_at FROM step_progress WHERE user_id = ? AND lab_id = ? AND step_id = ?`,
		userID, lab, step).Scan(&r.passed, &r.attempts, &r.first)
	if err != nil {
		t.Fatalf("read step_progress %s/%s: %v", lab, step, err)
	}
	return r
}

func TestRecordAttemptProgress(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	u := mustUser(t, s, "alice")
	other := mustUser(t, s, "bob")
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := s.CreateLabSession(ctx, session("s1", u.ID, "git", opsdojo.SessionRunning, now, time.Hour)); err != nil {
		t.Fatal(err)
	}
	record := func(step string, status opsdojo.CheckStatus, at time.Time) {
		t.Helper()
		if err := s.RecordAttempt(ctx, opsdojo.Attempt{UserID: u.ID, SessionID: "s1", LabID: "git", Result: result(step, status, 0), At: at}); err != nil {
			t.Fatalf("RecordAttempt(%s, %s): %v", step, status, err)
		}
	}

	p, err := s.Progress(ctx, u.ID, "git")
	if err != nil || len(p.Passed) != 0 {
		t.Fatalf("Progress before any attempt = %v, %v", p, err)
	}

	record("init", opsdojo.StatusFail, now)
	if r := readProgress(t, s, u.ID, "git", "init"); r.passed || r.attempts != 1 || r.first != nil {
		t.Fatalf("after one fail: %+v", r)
	}
	record("init", opsdojo.StatusError, now.Add(time.Second))
	if r := readProgress(t, s, u.ID, "git", "init"); r.passed || r.attempts != 1 {
		t.Fatalf("a grader error counted as an attempt: %+v", r)
	}
	passAt := now.Add(2 * time.Second)
	record("init", opsdojo.StatusPass, passAt)
	r := readProgress(t, s, u.ID, "git", "init")
	if !r.passed || r.attempts != 2 || r.first == nil || *r.first != passAt.UnixMilli() {
		t.Fatalf("after pass: %+v (first want %d)", r, passAt.UnixMilli())
	}
	record("init", opsdojo.StatusFail, now.Add(3*time.Second))
	record("init", opsdojo.StatusPass, now.Add(4*time.Second))
	r = readProgress(t, s, u.ID, "git", "init")
	if !r.passed {
		t.Fatal("a later fail un-passed the step")
	}
	if r.attempts != 4 {
		t.Fatalf("attempts = %d, want 4 (errors excluded)", r.attempts)
	}
	if *r.first != passAt.UnixMilli() {
		t.Fatalf("first_passed_at moved from %d to %d", passAt.UnixMilli(), *r.first)
	}
	// An error-only step: a row exists but is neither passed nor attempted.
	record("branch", opsdojo.StatusError, now)
	if r := readProgress(t, s, u.ID, "git", "branch"); r.passed || r.attempts != 0 {
		t.Fatalf("error-only step: %+v", r)
	}

	p, err = s.Progress(ctx, u.ID, "git")
	if err != nil {
		t.Fatalf("Progress: %v", err)
	}
	if !p.Passed["init"] || p.Passed["branch"] || len(p.Passed) != 1 {
		t.Fatalf("Progress = %v, want only init passed", p.Passed)
	}
	if n := p.Count([]string{"init", "branch", "merge"}); n != 1 {
		t.Fatalf("Count = %d, want 1", n)
	}
	if p, _ := s.Progress(ctx, other.ID, "git"); len(p.Passed) != 0 {
		t.Fatalf("another user's progress leaked: %v", p.Passed)
	}
	if p, _ := s.Progress(ctx, u.ID, "docker"); len(p.Passed) != 0 {
		t.Fatalf("another lab's progress leaked: %v", p.Passed)
	}

	// Every attempt is kept, errors included.
	if n, err := s.AttemptCount(ctx, u.ID, "git", "init"); err != nil || n != 5 {
		t.Fatalf("AttemptCount = %d, %v; want 5", n, err)
	}
	var logText, resultJSON string
	var durMS int64
	if err := s.db.QueryRowContext(ctx, `SELECT log, result_json, duration_ms FROM check_attempts ORDER BY id LIMIT 1`).Scan(&logText, &resultJSON, &durMS); err != nil {
		t.Fatal(err)
	}
	if logText != "## c1\nlog line\n" {
		t.Fatalf("attempt log = %q", logText)
	}
	if strings.Contains(resultJSON, "log line") {
		t.Fatalf("check log leaked into result_json: %s", resultJSON)
	}
	if durMS != 1500 {
		t.Fatalf("duration_ms = %d, want 1500", durMS)
	}
}

func TestRecordAttemptRequiresKnownSession(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	u := mustUser(t, s, "alice")
	err := s.RecordAttempt(ctx, opsdojo.Attempt{UserID: u.ID, SessionID: "missing", LabID: "git", Result: result("init", opsdojo.StatusPass, 1), At: time.Now()})
	if err == nil {
		t.Fatal("attempt for an unknown session was stored")
	}
	// The failed transaction must not have touched progress.
	if p, _ := s.Progress(ctx, u.ID, "git"); len(p.Passed) != 0 {
		t.Fatalf("progress changed by a rolled back attempt: %v", p.Passed)
	}
}

func TestProgressSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	u := mustUser(t, s, "alice")
	now := time.Now().UTC()
	if err := s.CreateLabSession(ctx, session("s1", u.ID, "git", opsdojo.SessionRunning, now, time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{"init", "branch"} {
		if err := s.RecordAttempt(ctx, opsdojo.Attempt{UserID: u.ID, SessionID: "s1", LabID: "git", Result: result(st, opsdojo.StatusPass, 2), At: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordAttempt(ctx, opsdojo.Attempt{UserID: u.ID, SessionID: "s1", LabID: "git", Result: result("merge", opsdojo.StatusFail, 0), At: now}); err != nil {
		t.Fatal(err)
	}

	s = reopen(t, s, path)
	p, err := s.Progress(ctx, u.ID, "git")
	if err != nil {
		t.Fatalf("Progress after reopen: %v", err)
	}
	if !p.Passed["init"] || !p.Passed["branch"] || p.Passed["merge"] || len(p.Passed) != 2 {
		t.Fatalf("Progress after reopen = %v", p.Passed)
	}
	if n, _ := s.AttemptCount(ctx, u.ID, "git", "merge"); n != 1 {
		t.Fatalf("merge attempts after reopen = %d, want 1", n)
	}
	ls, err := s.LabSession(ctx, "s1")
	if err != nil || ls.State != opsdojo.SessionRunning {
		t.Fatalf("session after reopen = %+v, %v", ls, err)
	}
}

func TestInstanceIDStable(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	id, err := s.InstanceID(ctx)
	if err != nil {
		t.Fatalf("InstanceID: %v", err)
	}
	if len(id) != 12 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Fatalf("InstanceID = %q, want 12 hex digits", id)
	}
	again, err := s.InstanceID(ctx)
	if err != nil || again != id {
		t.Fatalf("second InstanceID = %q, %v; want %q", again, err, id)
	}
	s = reopen(t, s, path)
	after, err := s.InstanceID(ctx)
	if err != nil || after != id {
		t.Fatalf("InstanceID after reopen = %q, %v; want %q", after, err, id)
	}

	// Another database has another id.
	other, _ := openTemp(t)
	oid, err := other.InstanceID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if oid == id {
		t.Fatalf("two databases share instance id %q", id)
	}
}

func TestInstanceIDConcurrentFirstUse(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	const n = 8
	got := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got[i], errs[i] = s.InstanceID(ctx)
		}(i)
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatalf("InstanceID #%d: %v", i, errs[i])
		}
		if got[i] != got[0] {
			t.Fatalf("concurrent first use gave different ids: %q", got)
		}
	}
}

func TestConcurrentRecordAttempt(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	const workers, each = 8, 10
	users := make([]opsdojo.User, 2)
	for i := range users {
		users[i] = mustUser(t, s, fmt.Sprintf("user%d", i))
		if err := s.CreateLabSession(ctx, session(fmt.Sprintf("s%d", i), users[i].ID, "git", opsdojo.SessionRunning, time.Now(), time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errc := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			u := users[w%len(users)]
			for i := 0; i < each; i++ {
				status := opsdojo.StatusFail
				if i == each-1 && w < len(users) {
					status = opsdojo.StatusPass
				}
				err := s.RecordAttempt(ctx, opsdojo.Attempt{UserID: u.ID, SessionID: fmt.Sprintf("s%d", w%len(users)), LabID: "git",
					Result: result("init", status, 0), At: time.Now()})
				if err != nil {
					errc <- fmt.Errorf("worker %d attempt %d: %w", w, i, err)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	perUser := workers / len(users) * each
	for _, u := range users {
		if n, err := s.AttemptCount(ctx, u.ID, "git", "init"); err != nil || n != perUser {
			t.Errorf("AttemptCount(%s) = %d, %v; want %d", u.Username, n, err, perUser)
		}
		r := readProgress(t, s, u.ID, "git", "init")
		if r.attempts != perUser || !r.passed {
			t.Errorf("progress of %s = %+v; want %d attempts, passed", u.Username, r, perUser)
		}
	}
}

func TestClosedStoreErrors(t *testing.T) {
	s, _ := openTemp(t)
	s.Close()
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("Ping on a closed store succeeded")
	}
	if _, err := s.CreateUser(context.Background(), "x", "y", false); err == nil {
		t.Fatal("CreateUser on a closed store succeeded")
	}
}

// TestOpenPathWithSpecialCharacters opens databases whose folder names hold
// characters that mean something in a SQLite URI ("file:...?..."): the
// database must be the file at exactly the given path.
func TestOpenPathWithSpecialCharacters(t *testing.T) {
	// The temporary folder is made here, not in the subtests, so that its
	// own name does not contain the characters.
	root := t.TempDir()
	for i, name := range []string{"with space", "amp&x", "hash#x", "question?x=1", "percent%41b"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			parent := filepath.Join(root, fmt.Sprintf("case%d", i))
			if err := os.MkdirAll(parent, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(parent, name, "opsdojo.db")
			s, err := Open(ctx, path)
			if err != nil {
				t.Fatalf("Open(%q): %v", path, err)
			}
			if _, err := s.CreateUser(ctx, "alice", "h", false); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			s.Close()
			if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
				t.Fatalf("no database at %q (stat: %v); the data went elsewhere", path, err)
			}
			entries, _ := os.ReadDir(parent)
			for _, e := range entries {
				if e.Name() != name {
					t.Errorf("Open created a stray %q next to %q", e.Name(), name)
				}
			}
			s, err = Open(ctx, path)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer s.Close()
			if _, _, err := s.UserByUsername(ctx, "alice"); err != nil {
				t.Fatalf("user lost on reopen: %v", err)
			}
		})
	}
}

func TestRecordAttemptBestPoints(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	u := mustUser(t, s, "alice")
	now := time.Now().UTC()
	if err := s.CreateLabSession(ctx, session("s1", u.ID, "git", opsdojo.SessionRunning, now, time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct {
		step   string
		status opsdojo.CheckStatus
		points float64
	}{
		{"init", opsdojo.StatusFail, 0.5},
		{"init", opsdojo.StatusFail, 1.5},
		{"init", opsdojo.StatusFail, 1.0}, // a worse later attempt does not lower the best
		{"init", opsdojo.StatusError, 0},
		{"branch", opsdojo.StatusPass, 2},
		{"branch", opsdojo.StatusFail, 0},
	} {
		if err := s.RecordAttempt(ctx, opsdojo.Attempt{UserID: u.ID, SessionID: "s1", LabID: "git", Result: result(a.step, a.status, a.points), At: now}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.Progress(ctx, u.ID, "git")
	if err != nil {
		t.Fatal(err)
	}
	if p.Points["init"] != 1.5 || p.Points["branch"] != 2 {
		t.Fatalf("best points = %v, want init 1.5, branch 2", p.Points)
	}
	if got := p.Score([]string{"init", "branch", "merge"}); got != 3.5 {
		t.Fatalf("Score = %v, want 3.5", got)
	}
	if p.Passed["init"] || !p.Passed["branch"] {
		t.Fatalf("Passed = %v", p.Passed)
	}
}

func TestRevealHint(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	alice := mustUser(t, s, "alice")
	bob := mustUser(t, s, "bob")
	now := time.Now()

	p, err := s.Progress(ctx, alice.ID, "git")
	if err != nil || p.HintsShown == nil || len(p.HintsShown) != 0 {
		t.Fatalf("HintsShown before any = %v, %v", p.HintsShown, err)
	}
	for _, h := range []struct {
		user  int64
		step  string
		index int
	}{
		{alice.ID, "init", 0},
		{alice.ID, "init", 0}, // asking twice is harmless
		{alice.ID, "init", 1},
		{alice.ID, "branch", 0},
		{bob.ID, "init", 0},
	} {
		if err := s.RevealHint(ctx, h.user, "git", h.step, h.index, now); err != nil {
			t.Fatalf("RevealHint(%d, %s, %d): %v", h.user, h.step, h.index, err)
		}
	}
	p, err = s.Progress(ctx, alice.ID, "git")
	if err != nil {
		t.Fatal(err)
	}
	if p.HintsShown["init"] != 2 || p.HintsShown["branch"] != 1 || len(p.HintsShown) != 2 {
		t.Fatalf("alice HintsShown = %v, want init 2, branch 1", p.HintsShown)
	}
	if p, _ := s.Progress(ctx, bob.ID, "git"); p.HintsShown["init"] != 1 || len(p.HintsShown) != 1 {
		t.Fatalf("bob HintsShown = %v", p.HintsShown)
	}
	if p, _ := s.Progress(ctx, alice.ID, "docker"); len(p.HintsShown) != 0 {
		t.Fatalf("another lab's hints leaked: %v", p.HintsShown)
	}
}

// TestMigrateExistingDatabase opens a database made by an older version
// (only the first migration applied, with data in it): Open must apply the
// rest and keep the data.
func TestMigrateExistingDatabase(t *testing.T) {
	ctx := context.Background()
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil || len(names) < 2 {
		t.Skipf("needs at least two migrations (have %d)", len(names))
	}
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	first, err := migrations.ReadFile(names[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`,
		string(first),
		`INSERT INTO schema_migrations(version, applied_at) VALUES(1, 0)`,
		`INSERT INTO users(id, username, password_hash, is_admin, created_at) VALUES(7, 'old-user', 'h', 0, 0)`,
		`INSERT INTO lab_sessions(id, user_id, lab_id, state, created_at, last_active_at, expires_at) VALUES('s1', 7, 'git', 'ended', 0, 0, 0)`,
		`INSERT INTO step_progress(user_id, lab_id, step_id, passed, attempts, updated_at) VALUES(7, 'git', 'init', 1, 3, 0)`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatalf("build old database: %v\n%s", err, q)
		}
	}
	old.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open of an old database: %v", err)
	}
	defer s.Close()
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(names) {
		t.Fatalf("schema_migrations has %d rows, %v; want %d", n, err, len(names))
	}
	u, _, err := s.UserByUsername(ctx, "old-user")
	if err != nil || u.ID != 7 {
		t.Fatalf("old user = %+v, %v", u, err)
	}
	p, err := s.Progress(ctx, 7, "git")
	if err != nil || !p.Passed["init"] {
		t.Fatalf("old progress = %+v, %v", p, err)
	}
	// The new schema works on old rows.
	if err := s.RecordAttempt(ctx, opsdojo.Attempt{UserID: 7, SessionID: "s1", LabID: "git", Result: result("init", opsdojo.StatusPass, 2), At: time.Now()}); err != nil {
		t.Fatalf("RecordAttempt on a migrated database: %v", err)
	}
	if p, _ := s.Progress(ctx, 7, "git"); p.Points["init"] != 2 {
		t.Fatalf("best points after migration = %v", p.Points)
	}
}
