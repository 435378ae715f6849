package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// RecordAttempt stores a check attempt and updates the step's progress in
// one transaction, so progress never disagrees with the attempts behind it.
func (s *Store) RecordAttempt(ctx context.Context, a opsdojo.Attempt) error {
	result, err := json.Marshal(a.Result)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	var log string
	for _, c := range a.Result.Checks {
		if c.Log != "" {
			log += "## " + c.CheckID + "\n" + c.Log + "\n"
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin attempt: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO check_attempts(user_id, session_id, lab_id, step_id, status, points, max_points, result_json, log, duration_ms, created_at)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.UserID, a.SessionID, a.LabID, a.Result.StepID, string(a.Result.Status), a.Result.Points, a.Result.Max,
		string(result), log, a.Result.Duration.Milliseconds(), ms(a.At)); err != nil {
		return fmt.Errorf("insert attempt: %w", err)
	}
	passed := a.Result.Status == opsdojo.StatusPass
	var firstPassed any
	if passed {
		firstPassed = ms(a.At)
	}
	// A grader error is not the learner's attempt: it does not count.
	counts := 1
	if a.Result.Status == opsdojo.StatusError {
		counts = 0
	}
	// last_status, last_attempt_at and fail_streak are for the board: the
	// failed attempts since the latest pass (a grader error changes nothing).
	streak := 0
	if a.Result.Status == opsdojo.StatusFail {
		streak = 1
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO step_progress(user_id, lab_id, step_id, passed, attempts, first_passed_at, updated_at, best_points,
			last_status, last_attempt_at, fail_streak)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(user_id, lab_id, step_id) DO UPDATE SET
			passed = MAX(passed, excluded.passed),
			attempts = attempts + excluded.attempts,
			first_passed_at = COALESCE(first_passed_at, excluded.first_passed_at),
			updated_at = excluded.updated_at,
			best_points = MAX(best_points, excluded.best_points),
			last_status = excluded.last_status,
			last_attempt_at = excluded.last_attempt_at,
			fail_streak = CASE excluded.last_status WHEN 'pass' THEN 0 WHEN 'fail' THEN fail_streak + 1 ELSE fail_streak END`,
		a.UserID, a.LabID, a.Result.StepID, passed, counts, firstPassed, ms(a.At), a.Result.Points,
		string(a.Result.Status), ms(a.At), streak); err != nil {
		return fmt.Errorf("update progress: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit attempt: %w", err)
	}
	return nil
}

// Progress returns which steps of a lab the user has passed.
func (s *Store) Progress(ctx context.Context, userID int64, labID string) (opsdojo.Progress, error) {
	p := opsdojo.Progress{Passed: map[string]bool{}, Points: map[string]float64{}, HintsShown: map[string]int{}, CheckHints: map[string][]int{}}
	rows, err := s.db.QueryContext(ctx, `SELECT step_id, passed, best_points FROM step_progress WHERE user_id = ? AND lab_id = ?`, userID, labID)
	if err != nil {
		return p, fmt.Errorf("query progress: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var step string
		var passed bool
		var points float64
		if err := rows.Scan(&step, &passed, &points); err != nil {
			return p, fmt.Errorf("scan progress: %w", err)
		}
		if passed {
			p.Passed[step] = true
		}
		p.Points[step] = points
	}
	if err := rows.Err(); err != nil {
		return p, fmt.Errorf("query progress: %w", err)
	}
	hrows, err := s.db.QueryContext(ctx, `SELECT step_id, hint_index FROM hint_reveals WHERE user_id = ? AND lab_id = ? ORDER BY step_id, hint_index DESC`, userID, labID)
	if err != nil {
		return p, fmt.Errorf("query hints: %w", err)
	}
	defer hrows.Close()
	for hrows.Next() {
		var step string
		var index int
		if err := hrows.Scan(&step, &index); err != nil {
			return p, fmt.Errorf("scan hints: %w", err)
		}
		if index >= 0 {
			p.HintsShown[step]++
		} else {
			p.CheckHints[step] = append(p.CheckHints[step], checkHintPos(index))
		}
	}
	return p, hrows.Err()
}

// Check hints share hint_reveals (migration 0002) with step hints: a
// step's own hints are indexes 0, 1, ...; the hint of the check at
// position pos is index -1-pos, so the two never collide and no migration
// is needed.
func checkHintIndex(pos int) int { return -1 - pos }
func checkHintPos(index int) int { return -1 - index }

// RevealCheckHint records that the user asked for the hint of the check at
// position pos (0-based) of a step. Asking twice is harmless.
func (s *Store) RevealCheckHint(ctx context.Context, userID int64, labID, stepID string, pos int, at time.Time) error {
	if pos < 0 {
		return fmt.Errorf("record check hint: negative check position %d", pos)
	}
	return s.RevealHint(ctx, userID, labID, stepID, checkHintIndex(pos), at)
}

// RevealHint records that the user asked for hint number index (0-based)
// of a step. Asking twice is harmless.
func (s *Store) RevealHint(ctx context.Context, userID int64, labID, stepID string, index int, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO hint_reveals(user_id, lab_id, step_id, hint_index, revealed_at) VALUES(?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, userID, labID, stepID, index, ms(at)); err != nil {
		return fmt.Errorf("record hint: %w", err)
	}
	return nil
}

// AttemptCount returns how many attempts a user made at a step, errors included.
func (s *Store) AttemptCount(ctx context.Context, userID int64, labID, stepID string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM check_attempts WHERE user_id = ? AND lab_id = ? AND step_id = ?`, userID, labID, stepID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count attempts: %w", err)
	}
	return n, nil
}

// LastCheckHints returns the hints the check checkID gave in the user's
// latest attempt at a step (nil when there is none): a check's hints are
// kept from the learner until they ask, then read back from here.
func (s *Store) LastCheckHints(ctx context.Context, userID int64, labID, stepID, checkID string) ([]string, error) {
	var raw string
	err := s.db.QueryRowContext(ctx, `SELECT result_json FROM check_attempts WHERE user_id = ? AND lab_id = ? AND step_id = ? ORDER BY id DESC LIMIT 1`,
		userID, labID, stepID).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read last attempt: %w", err)
	}
	var res opsdojo.StepResult
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		return nil, fmt.Errorf("decode last attempt: %w", err)
	}
	for _, c := range res.Checks {
		if c.CheckID == checkID {
			return c.Hints, nil
		}
	}
	return nil, nil
}
