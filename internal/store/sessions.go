package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

const sessionCols = `id, user_id, lab_id, container_id, network_id, state, created_at, last_active_at, expires_at, end_reason, deadline`

type scanner interface{ Scan(dest ...any) error }

func scanSession(row scanner) (opsdojo.LabSession, error) {
	var s opsdojo.LabSession
	var state string
	var created, active, expires, deadline int64
	if err := row.Scan(&s.ID, &s.UserID, &s.LabID, &s.ContainerID, &s.NetworkID, &state, &created, &active, &expires, &s.EndReason, &deadline); err != nil {
		return s, err
	}
	if deadline > 0 {
		s.Deadline = fromMS(deadline)
	}
	s.State = opsdojo.SessionState(state)
	s.CreatedAt, s.LastActiveAt, s.ExpiresAt = fromMS(created), fromMS(active), fromMS(expires)
	return s, nil
}

// CreateLabSession inserts a session. If the user already has a live session
// for the lab it returns ECONFLICT.
func (s *Store) CreateLabSession(ctx context.Context, ls opsdojo.LabSession) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO lab_sessions(`+sessionCols+`) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ls.ID, ls.UserID, ls.LabID, ls.ContainerID, ls.NetworkID, string(ls.State), ms(ls.CreatedAt), ms(ls.LastActiveAt), ms(ls.ExpiresAt), ls.EndReason, deadlineMS(ls.Deadline))
	if isUniqueViolation(err) {
		return opsdojo.Errorf(opsdojo.ECONFLICT, "a session for this lab already exists")
	}
	if err != nil {
		return fmt.Errorf("insert lab session: %w", err)
	}
	return nil
}

// UpdateLabSession writes the mutable fields of a session.
func (s *Store) UpdateLabSession(ctx context.Context, ls opsdojo.LabSession) error {
	res, err := s.db.ExecContext(ctx, `UPDATE lab_sessions SET container_id = ?, network_id = ?, state = ?, last_active_at = ?, expires_at = ?, end_reason = ?, deadline = ? WHERE id = ?`,
		ls.ContainerID, ls.NetworkID, string(ls.State), ms(ls.LastActiveAt), ms(ls.ExpiresAt), ls.EndReason, deadlineMS(ls.Deadline), ls.ID)
	if err != nil {
		return fmt.Errorf("update lab session: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "no such session")
	}
	return nil
}

// TouchLabSession records activity and pushes the expiry out, never past
// the session's deadline.
func (s *Store) TouchLabSession(ctx context.Context, id string, now, expires time.Time) error {
	// MAX: activity never takes back time an instructor granted
	// (ExtendLabSession); the deadline still bounds it.
	if _, err := s.db.ExecContext(ctx, `UPDATE lab_sessions SET last_active_at = ?1,
		expires_at = CASE WHEN deadline > 0 AND deadline < MAX(expires_at, ?2) THEN deadline ELSE MAX(expires_at, ?2) END
		WHERE id = ?3 AND state IN ('starting','running')`,
		ms(now), ms(expires), id); err != nil {
		return fmt.Errorf("touch lab session: %w", err)
	}
	return nil
}

// LabSession returns a session by id.
func (s *Store) LabSession(ctx context.Context, id string) (opsdojo.LabSession, error) {
	ls, err := scanSession(s.db.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM lab_sessions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return ls, opsdojo.Errorf(opsdojo.ENOTFOUND, "no such session")
	}
	if err != nil {
		return ls, fmt.Errorf("read lab session: %w", err)
	}
	return ls, nil
}

// LiveLabSession returns the user's live session for a lab, if any.
func (s *Store) LiveLabSession(ctx context.Context, userID int64, labID string) (opsdojo.LabSession, error) {
	ls, err := scanSession(s.db.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM lab_sessions
		WHERE user_id = ? AND lab_id = ? AND state IN ('starting','running')`, userID, labID))
	if errors.Is(err, sql.ErrNoRows) {
		return ls, opsdojo.Errorf(opsdojo.ENOTFOUND, "no live session")
	}
	if err != nil {
		return ls, fmt.Errorf("read live lab session: %w", err)
	}
	return ls, nil
}

// LiveLabSessions returns every session that owns a container.
func (s *Store) LiveLabSessions(ctx context.Context) ([]opsdojo.LabSession, error) {
	return s.querySessions(ctx, `SELECT `+sessionCols+` FROM lab_sessions WHERE state IN ('starting','running') ORDER BY created_at`)
}

// ExpiredLabSessions returns live sessions whose expiry is at or before now.
func (s *Store) ExpiredLabSessions(ctx context.Context, now time.Time) ([]opsdojo.LabSession, error) {
	return s.querySessions(ctx, `SELECT `+sessionCols+` FROM lab_sessions WHERE state IN ('starting','running') AND expires_at <= ? ORDER BY expires_at`, ms(now))
}

func (s *Store) querySessions(ctx context.Context, q string, args ...any) ([]opsdojo.LabSession, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query lab sessions: %w", err)
	}
	defer rows.Close()
	var out []opsdojo.LabSession
	for rows.Next() {
		ls, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("scan lab session: %w", err)
		}
		out = append(out, ls)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query lab sessions: %w", err)
	}
	return out, nil
}

// CountLiveLabSessions returns how many live sessions a user has.
func (s *Store) CountLiveLabSessions(ctx context.Context, userID int64) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM lab_sessions WHERE user_id = ? AND state IN ('starting','running')`, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count live sessions: %w", err)
	}
	return n, nil
}

// deadlineMS stores a zero deadline as 0 (none).
func deadlineMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}
