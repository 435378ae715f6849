package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// recordKey names one learner's step.
type recordKey struct {
	user      int64
	lab, step string
}

// inArgs returns placeholders and arguments for "IN (...)" of users, then labs.
func inArgs(users []int64, labs []string) (string, string, []any) {
	args := make([]any, 0, len(users)+len(labs))
	for _, u := range users {
		args = append(args, u)
	}
	for _, l := range labs {
		args = append(args, l)
	}
	return placeholders(len(users)), placeholders(len(labs)), args
}

// resetCutoff is the SQL for the time of the latest reset of a's lab for
// a's learner (0 without one); a is the outer table's alias.
const resetCutoff = `COALESCE((SELECT MAX(r.at) FROM lab_resets r WHERE r.user_id = a.user_id AND r.lab_id = a.lab_id), 0)`

// StepRecords returns what is stored about each of users at every step of
// labs they touched since the lab's last reset: progress, hints, and the
// latest attempts' outcome. Steps never touched have no record. A few
// queries for the whole board, whatever its size.
func (s *Store) StepRecords(ctx context.Context, users []int64, labs []string) ([]opsdojo.StepRecord, error) {
	if len(users) == 0 || len(labs) == 0 {
		return []opsdojo.StepRecord{}, nil
	}
	recs := map[recordKey]*opsdojo.StepRecord{}
	var order []recordKey
	get := func(k recordKey) *opsdojo.StepRecord {
		r := recs[k]
		if r == nil {
			r = &opsdojo.StepRecord{UserID: k.user, LabID: k.lab, StepID: k.step}
			recs[k] = r
			order = append(order, k)
		}
		return r
	}
	up, lp, args := inArgs(users, labs)
	// The latest attempt and the fail streak are kept in step_progress by
	// RecordAttempt (a reset deletes the row): no scan of the attempts.
	rows, err := s.db.QueryContext(ctx, `SELECT user_id, lab_id, step_id, passed, attempts, best_points, first_passed_at,
		last_status, last_attempt_at, fail_streak
		FROM step_progress WHERE user_id IN (`+up+`) AND lab_id IN (`+lp+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("query progress: %w", err)
	}
	for rows.Next() {
		var k recordKey
		var passed bool
		var attempts int
		var points float64
		var first sql.NullInt64
		var lastStatus string
		var lastAt int64
		var streak int
		if err := rows.Scan(&k.user, &k.lab, &k.step, &passed, &attempts, &points, &first, &lastStatus, &lastAt, &streak); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan progress: %w", err)
		}
		r := get(k)
		r.Passed, r.Attempts, r.Points = passed, attempts, points
		r.LastStatus, r.FailStreak = opsdojo.CheckStatus(lastStatus), streak
		if lastAt > 0 {
			r.LastAttemptAt = fromMS(lastAt)
		}
		if first.Valid {
			t := fromMS(first.Int64)
			r.FirstPassedAt = &t
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query progress: %w", err)
	}
	rows, err = s.db.QueryContext(ctx, `SELECT user_id, lab_id, step_id, COUNT(*) FROM hint_reveals
		WHERE user_id IN (`+up+`) AND lab_id IN (`+lp+`) GROUP BY user_id, lab_id, step_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("query hints: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k recordKey
		var n int
		if err := rows.Scan(&k.user, &k.lab, &k.step, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan hints: %w", err)
		}
		get(k).Hints = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query hints: %w", err)
	}
	out := make([]opsdojo.StepRecord, 0, len(order))
	for _, k := range order {
		out = append(out, *recs[k])
	}
	return out, nil
}

// LabActivities returns, for each of users and labs they opened, whether a
// session runs and when they were last active (since the lab's last reset).
func (s *Store) LabActivities(ctx context.Context, users []int64, labs []string) ([]opsdojo.LabActivity, error) {
	if len(users) == 0 || len(labs) == 0 {
		return []opsdojo.LabActivity{}, nil
	}
	up, lp, args := inArgs(users, labs)
	rows, err := s.db.QueryContext(ctx, `SELECT a.user_id, a.lab_id, COUNT(*), MAX(a.last_active_at),
		MIN(CASE WHEN a.state IN ('starting','running') THEN a.created_at END),
		COALESCE(MAX(CASE WHEN a.state IN ('starting','running') THEN a.id END), ''), `+resetCutoff+`
		FROM lab_sessions a WHERE a.user_id IN (`+up+`) AND a.lab_id IN (`+lp+`) AND a.created_at >= `+resetCutoff+`
		GROUP BY a.user_id, a.lab_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("query lab activity: %w", err)
	}
	defer rows.Close()
	out := []opsdojo.LabActivity{}
	for rows.Next() {
		var a opsdojo.LabActivity
		var n int
		var last, reset int64
		var live sql.NullInt64
		if err := rows.Scan(&a.UserID, &a.LabID, &n, &last, &live, &a.LiveSessionID, &reset); err != nil {
			return nil, fmt.Errorf("scan lab activity: %w", err)
		}
		a.Started = n > 0
		a.LastActive = fromMS(last)
		if live.Valid {
			a.Live, a.LiveSince = true, fromMS(live.Int64)
		}
		if reset > 0 {
			a.ResetAt = fromMS(reset)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query lab activity: %w", err)
	}
	return out, nil
}

// StoredAttempt is one stored check attempt with what the learner saw.
type StoredAttempt struct {
	ID        int64              `json:"id"`
	SessionID string             `json:"session"`
	At        time.Time          `json:"at"`
	Result    opsdojo.StepResult `json:"result"`
	// Log is the graders' output not shown to the learner.
	Log string `json:"log,omitempty"`
	// BeforeReset: the attempt predates the lab's latest reset (kept for
	// grading records, not counted on the board).
	BeforeReset bool `json:"before_reset"`
}

// StepAttempts returns a learner's attempts at a step, newest first, at
// most limit.
func (s *Store) StepAttempts(ctx context.Context, userID int64, labID, stepID string, limit int) ([]StoredAttempt, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	var reset int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(at), 0) FROM lab_resets WHERE user_id = ? AND lab_id = ?`, userID, labID).Scan(&reset); err != nil {
		return nil, fmt.Errorf("read lab reset: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, session_id, created_at, result_json, log FROM check_attempts
		WHERE user_id = ? AND lab_id = ? AND step_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, userID, labID, stepID, limit)
	if err != nil {
		return nil, fmt.Errorf("query attempts: %w", err)
	}
	defer rows.Close()
	out := []StoredAttempt{}
	for rows.Next() {
		var a StoredAttempt
		var at int64
		var result string
		if err := rows.Scan(&a.ID, &a.SessionID, &at, &result, &a.Log); err != nil {
			return nil, fmt.Errorf("scan attempt: %w", err)
		}
		if err := json.Unmarshal([]byte(result), &a.Result); err != nil {
			return nil, fmt.Errorf("decode attempt %d: %w", a.ID, err)
		}
		a.At = fromMS(at)
		a.BeforeReset = at < reset
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query attempts: %w", err)
	}
	return out, nil
}

// ResetLab clears a learner's progress in a lab (steps passed, points,
// attempt counts, hints shown) and records the reset. The check attempts
// themselves stay: they are the grading record.
func (s *Store) ResetLab(ctx context.Context, userID int64, labID string, by int64, at time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin reset: %w", err)
	}
	defer tx.Rollback()
	for _, q := range []string{`DELETE FROM step_progress WHERE user_id = ? AND lab_id = ?`, `DELETE FROM hint_reveals WHERE user_id = ? AND lab_id = ?`} {
		if _, err := tx.ExecContext(ctx, q, userID, labID); err != nil {
			return fmt.Errorf("reset lab: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO lab_resets(user_id, lab_id, at, by_user_id) VALUES(?, ?, ?, ?)`, userID, labID, ms(at), by); err != nil {
		return fmt.Errorf("record reset: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit reset: %w", err)
	}
	return nil
}

// LabLearners returns every user who ever opened a session of the lab,
// by username: the board of a lab for admins.
func (s *Store) LabLearners(ctx context.Context, labID string) ([]opsdojo.User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userCols+` FROM users
		WHERE id IN (SELECT user_id FROM lab_sessions WHERE lab_id = ?) ORDER BY username COLLATE NOCASE`, labID)
	if err != nil {
		return nil, fmt.Errorf("query lab learners: %w", err)
	}
	defer rows.Close()
	out := []opsdojo.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("scan lab learner: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query lab learners: %w", err)
	}
	return out, nil
}

// ExtendLabSession pushes a live session's expiry, and its deadline (a
// cohort's time limit) when it has one, out by d. A session that is not
// live is ECONFLICT.
func (s *Store) ExtendLabSession(ctx context.Context, id string, d time.Duration) (opsdojo.LabSession, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE lab_sessions SET expires_at = expires_at + ?1,
		deadline = CASE WHEN deadline > 0 THEN deadline + ?1 ELSE 0 END WHERE id = ?2 AND state IN ('starting','running')`, d.Milliseconds(), id)
	if err != nil {
		return opsdojo.LabSession{}, fmt.Errorf("extend lab session: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return opsdojo.LabSession{}, opsdojo.Errorf(opsdojo.ECONFLICT, "the lab session is not running")
	}
	return s.LabSession(ctx, id)
}

// DB is the underlying database, for tests of other packages that check
// what the server answers against what is stored.
func (s *Store) DB() *sql.DB { return s.db }
