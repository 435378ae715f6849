package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// Recording is one terminal's asciicast file.
type Recording struct {
	ID        string     `json:"id"`
	SessionID string     `json:"session"`
	UserID    int64      `json:"-"`
	Username  string     `json:"user"`
	LabID     string     `json:"lab"`
	Tab       string     `json:"tab"`
	Path      string     `json:"-"`
	Bytes     int64      `json:"bytes"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at"`
	// Truncated says why the recording stopped before its terminal did;
	// empty when it did not.
	Truncated string `json:"truncated,omitempty"`
}

const recordingCols = `r.id, r.session_id, r.user_id, u.username, r.lab_id, r.tab, r.path, r.bytes, r.started_at, r.ended_at, r.truncated`

func scanRecording(row scanner) (Recording, error) {
	var r Recording
	var started int64
	var ended sql.NullInt64
	if err := row.Scan(&r.ID, &r.SessionID, &r.UserID, &r.Username, &r.LabID, &r.Tab, &r.Path, &r.Bytes, &started, &ended, &r.Truncated); err != nil {
		return r, err
	}
	r.StartedAt = fromMS(started)
	if ended.Valid {
		t := fromMS(ended.Int64)
		r.EndedAt = &t
	}
	return r, nil
}

// CreateRecording inserts a recording that has just started.
func (s *Store) CreateRecording(ctx context.Context, r Recording) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO recordings(id, session_id, user_id, lab_id, tab, path, bytes, started_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.SessionID, r.UserID, r.LabID, r.Tab, r.Path, r.Bytes, ms(r.StartedAt)); err != nil {
		return fmt.Errorf("insert recording: %w", err)
	}
	return nil
}

// FinishRecording records a recording's size and end.
func (s *Store) FinishRecording(ctx context.Context, id string, bytes int64, ended time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE recordings SET bytes = ?, ended_at = ? WHERE id = ?`, bytes, ms(ended), id); err != nil {
		return fmt.Errorf("finish recording: %w", err)
	}
	return nil
}

// MarkRecordingTruncated records why a recording stopped early.
func (s *Store) MarkRecordingTruncated(ctx context.Context, id, why string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE recordings SET truncated = ? WHERE id = ?`, why, id); err != nil {
		return fmt.Errorf("mark recording truncated: %w", err)
	}
	return nil
}

// UserRecordings is what a user's recordings hold on disk: the bytes of
// the finished ones, and the files of those that never finished (a live
// terminal's, or one the server stopped under), whose size only the file
// knows.
type UserRecordings struct {
	Finished   int64
	Unfinished []string
}

// UserRecordingUsage sums a user's recordings, for their recordings
// budget.
func (s *Store) UserRecordingUsage(ctx context.Context, userID int64) (UserRecordings, error) {
	var u UserRecordings
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(bytes), 0) FROM recordings WHERE user_id = ? AND ended_at IS NOT NULL`, userID).Scan(&u.Finished); err != nil {
		return u, fmt.Errorf("sum recordings: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT path FROM recordings WHERE user_id = ? AND ended_at IS NULL`, userID)
	if err != nil {
		return u, fmt.Errorf("unfinished recordings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return u, fmt.Errorf("unfinished recordings: %w", err)
		}
		u.Unfinished = append(u.Unfinished, p)
	}
	if err := rows.Err(); err != nil {
		return u, fmt.Errorf("unfinished recordings: %w", err)
	}
	return u, nil
}

// Recording returns one recording.
func (s *Store) Recording(ctx context.Context, id string) (Recording, error) {
	r, err := scanRecording(s.db.QueryRowContext(ctx, `SELECT `+recordingCols+` FROM recordings r JOIN users u ON u.id = r.user_id WHERE r.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, opsdojo.Errorf(opsdojo.ENOTFOUND, "no such recording")
	}
	if err != nil {
		return r, fmt.Errorf("read recording: %w", err)
	}
	return r, nil
}

// RecordingFilter selects recordings; zero fields select all.
type RecordingFilter struct {
	UserID   int64
	Username string
	Limit    int // default 500
}

// Recordings returns recordings, newest first.
func (s *Store) Recordings(ctx context.Context, f RecordingFilter) ([]Recording, error) {
	q := `SELECT ` + recordingCols + ` FROM recordings r JOIN users u ON u.id = r.user_id WHERE 1=1`
	var args []any
	if f.UserID != 0 {
		q += ` AND r.user_id = ?`
		args = append(args, f.UserID)
	}
	if f.Username != "" {
		q += ` AND u.username = ?`
		args = append(args, f.Username)
	}
	if f.Limit <= 0 {
		f.Limit = 500
	}
	q += ` ORDER BY r.started_at DESC, r.id LIMIT ?`
	args = append(args, f.Limit)
	return s.queryRecordings(ctx, q, args...)
}

func (s *Store) queryRecordings(ctx context.Context, q string, args ...any) ([]Recording, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query recordings: %w", err)
	}
	defer rows.Close()
	out := []Recording{}
	for rows.Next() {
		r, err := scanRecording(rows)
		if err != nil {
			return nil, fmt.Errorf("scan recording: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query recordings: %w", err)
	}
	return out, nil
}

// ExpiredRecordings returns up to limit recordings that ended before
// cutoff, oldest first. A recording that never ended (the server stopped
// while it ran) counts from its start.
func (s *Store) ExpiredRecordings(ctx context.Context, cutoff time.Time, limit int) ([]Recording, error) {
	if limit <= 0 {
		limit = 500
	}
	return s.queryRecordings(ctx, `SELECT `+recordingCols+` FROM recordings r JOIN users u ON u.id = r.user_id
		WHERE COALESCE(r.ended_at, r.started_at) < ? ORDER BY COALESCE(r.ended_at, r.started_at), r.id LIMIT ?`, ms(cutoff), limit)
}

// DeleteRecording forgets a recording (its file is the caller's).
func (s *Store) DeleteRecording(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM recordings WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete recording: %w", err)
	}
	return nil
}
