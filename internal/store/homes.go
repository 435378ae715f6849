package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// homeAttemptsKept bounds the save attempts kept per learner and lab.
const homeAttemptsKept = 20

// RecordHomeSave logs a save attempt and, when it saved, makes it the
// learner's current save of the lab, in one transaction.
func (s *Store) RecordHomeSave(ctx context.Context, h opsdojo.HomeSave) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record home save: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO home_saves(user_id, lab_id, session_id, at, outcome, bytes, content_bytes, files, skipped, reason)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, h.UserID, h.LabID, h.SessionID, ms(h.At), string(h.Outcome), h.Bytes, h.Content, h.Files, h.Skipped, h.Reason); err != nil {
		return fmt.Errorf("record home save: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM home_saves WHERE user_id = ? AND lab_id = ? AND id NOT IN
		(SELECT id FROM home_saves WHERE user_id = ? AND lab_id = ? ORDER BY at DESC, id DESC LIMIT ?)`,
		h.UserID, h.LabID, h.UserID, h.LabID, homeAttemptsKept); err != nil {
		return fmt.Errorf("trim home saves: %w", err)
	}
	if h.Outcome == opsdojo.HomeSaved {
		if _, err := tx.ExecContext(ctx, `INSERT INTO homes(user_id, lab_id, session_id, saved_at, bytes, content_bytes, files, skipped)
			VALUES(?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(user_id, lab_id) DO UPDATE SET session_id = excluded.session_id, saved_at = excluded.saved_at,
			bytes = excluded.bytes, content_bytes = excluded.content_bytes, files = excluded.files, skipped = excluded.skipped`,
			h.UserID, h.LabID, h.SessionID, ms(h.At), h.Bytes, h.Content, h.Files, h.Skipped); err != nil {
			return fmt.Errorf("record saved home: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record home save: %w", err)
	}
	return nil
}

const homeCols = `user_id, lab_id, session_id, saved_at, bytes, content_bytes, files, skipped`

func scanHome(row scanner) (opsdojo.HomeSave, error) {
	var h opsdojo.HomeSave
	var at int64
	err := row.Scan(&h.UserID, &h.LabID, &h.SessionID, &at, &h.Bytes, &h.Content, &h.Files, &h.Skipped)
	h.At, h.Outcome = fromMS(at), opsdojo.HomeSaved
	return h, err
}

// Home returns a learner's current saved home of a lab (ENOTFOUND: none).
func (s *Store) Home(ctx context.Context, userID int64, labID string) (opsdojo.HomeSave, error) {
	h, err := scanHome(s.db.QueryRowContext(ctx, `SELECT `+homeCols+` FROM homes WHERE user_id = ? AND lab_id = ?`, userID, labID))
	if errors.Is(err, sql.ErrNoRows) {
		return h, opsdojo.Errorf(opsdojo.ENOTFOUND, "no saved home for this lab")
	}
	if err != nil {
		return h, fmt.Errorf("read saved home: %w", err)
	}
	return h, nil
}

// LastHomeSave returns the latest save attempt of a learner's home of a
// lab, whatever its outcome (ENOTFOUND: none).
func (s *Store) LastHomeSave(ctx context.Context, userID int64, labID string) (opsdojo.HomeSave, error) {
	var h opsdojo.HomeSave
	var at int64
	var outcome string
	err := s.db.QueryRowContext(ctx, `SELECT user_id, lab_id, session_id, at, outcome, bytes, content_bytes, files, skipped, reason
		FROM home_saves WHERE user_id = ? AND lab_id = ? ORDER BY at DESC, id DESC LIMIT 1`, userID, labID).
		Scan(&h.UserID, &h.LabID, &h.SessionID, &at, &outcome, &h.Bytes, &h.Content, &h.Files, &h.Skipped, &h.Reason)
	if errors.Is(err, sql.ErrNoRows) {
		return h, opsdojo.Errorf(opsdojo.ENOTFOUND, "no save of this lab's home")
	}
	if err != nil {
		return h, fmt.Errorf("read home save: %w", err)
	}
	h.At, h.Outcome = fromMS(at), opsdojo.HomeOutcome(outcome)
	return h, nil
}

// StaleHomes returns up to limit saved homes last saved before cutoff,
// oldest first.
func (s *Store) StaleHomes(ctx context.Context, cutoff time.Time, limit int) ([]opsdojo.HomeSave, error) {
	if limit <= 0 {
		limit = 500
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+homeCols+` FROM homes WHERE saved_at < ? ORDER BY saved_at LIMIT ?`, ms(cutoff), limit)
	if err != nil {
		return nil, fmt.Errorf("stale homes: %w", err)
	}
	defer rows.Close()
	var out []opsdojo.HomeSave
	for rows.Next() {
		h, err := scanHome(rows)
		if err != nil {
			return nil, fmt.Errorf("stale homes: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// ForgetHome drops a learner's saved home of a lab (its file is the
// caller's).
func (s *Store) ForgetHome(ctx context.Context, userID int64, labID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM homes WHERE user_id = ? AND lab_id = ?`, userID, labID); err != nil {
		return fmt.Errorf("forget saved home: %w", err)
	}
	return nil
}

// HomesUsage is what saved homes hold on disk: their count and bytes.
func (s *Store) HomesUsage(ctx context.Context) (int, int64, error) {
	var n int
	var b int64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM homes`).Scan(&n, &b); err != nil {
		return 0, 0, fmt.Errorf("sum saved homes: %w", err)
	}
	return n, b, nil
}
