package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

const userCols = `id, username, role, disabled_at, created_at`

// scanUser reads userCols, then extra.
func scanUser(row scanner, extra ...any) (opsdojo.User, error) {
	var u opsdojo.User
	var role string
	var disabled, created int64
	if err := row.Scan(append([]any{&u.ID, &u.Username, &role, &disabled, &created}, extra...)...); err != nil {
		return opsdojo.User{}, err
	}
	u.Role = opsdojo.Role(role)
	u.IsAdmin = u.Role == opsdojo.RoleAdmin
	u.Disabled = disabled != 0
	u.CreatedAt = fromMS(created)
	return u, nil
}

// ListUsers returns every user by username.
func (s *Store) ListUsers(ctx context.Context) ([]opsdojo.User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY username COLLATE NOCASE`)
	if err != nil {
		return nil, fmt.Errorf("query users: %w", err)
	}
	defer rows.Close()
	out := []opsdojo.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("scan user: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query users: %w", err)
	}
	return out, nil
}

// UserByID returns a user.
func (s *Store) UserByID(ctx context.Context, id int64) (opsdojo.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return u, opsdojo.Errorf(opsdojo.ENOTFOUND, "no such user")
	}
	if err != nil {
		return u, fmt.Errorf("read user: %w", err)
	}
	return u, nil
}

// lastAdminGuard refuses, inside tx, a change that would leave no enabled
// admin: nobody could manage users any more but from the command line.
func lastAdminGuard(ctx context.Context, tx *sql.Tx, userID int64) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at = 0 AND id <> ?`, userID).Scan(&n); err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if n == 0 {
		return opsdojo.Errorf(opsdojo.ECONFLICT, "this is the last enabled admin; make another user admin first")
	}
	return nil
}

// SetUserRole changes a user's role. Taking the role of the last enabled
// admin is ECONFLICT. The user's sign-ins stay: every request reads the
// role afresh.
func (s *Store) SetUserRole(ctx context.Context, userID int64, role opsdojo.Role) error {
	if _, err := opsdojo.ParseRole(string(role)); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin role change: %w", err)
	}
	defer tx.Rollback()
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "no such user")
	}
	if err != nil {
		return fmt.Errorf("read user: %w", err)
	}
	if u.Role == opsdojo.RoleAdmin && role != opsdojo.RoleAdmin {
		if err := lastAdminGuard(ctx, tx, userID); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ? WHERE id = ?`, string(role), userID); err != nil {
		return fmt.Errorf("update role: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit role change: %w", err)
	}
	return nil
}

// endLogins deletes every login of a user inside tx and returns their
// token hashes, so that the web layer can close their sockets at once.
func endLogins(ctx context.Context, tx *sql.Tx, userID int64) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `DELETE FROM logins WHERE user_id = ? RETURNING token_hash`, userID)
	if err != nil {
		return nil, fmt.Errorf("end the user's logins: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("end the user's logins: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("end the user's logins: %w", err)
	}
	return out, nil
}

// ResetUserPassword sets a user's password hash and ends all their
// logins, returning the ended logins' token hashes.
func (s *Store) ResetUserPassword(ctx context.Context, userID int64, passwordHash string) ([]string, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin password reset: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, passwordHash, userID)
	if err != nil {
		return nil, fmt.Errorf("update password: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "no such user")
	}
	ended, err := endLogins(ctx, tx, userID)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit password reset: %w", err)
	}
	return ended, nil
}

// DisableUser keeps a user from signing in and ends all their logins,
// returning the ended logins' token hashes. Disabling the last enabled
// admin is ECONFLICT; disabling a disabled user changes nothing.
func (s *Store) DisableUser(ctx context.Context, userID int64, at time.Time) ([]string, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin disable: %w", err)
	}
	defer tx.Rollback()
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "no such user")
	}
	if err != nil {
		return nil, fmt.Errorf("read user: %w", err)
	}
	if u.Role == opsdojo.RoleAdmin && !u.Disabled {
		if err := lastAdminGuard(ctx, tx, userID); err != nil {
			return nil, err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled_at = ? WHERE id = ? AND disabled_at = 0`, max(1, ms(at)), userID); err != nil {
		return nil, fmt.Errorf("disable user: %w", err)
	}
	ended, err := endLogins(ctx, tx, userID)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit disable: %w", err)
	}
	return ended, nil
}

// EnableUser lets a disabled user sign in again.
func (s *Store) EnableUser(ctx context.Context, userID int64) error {
	res, err := s.db.ExecContext(ctx, `UPDATE users SET disabled_at = 0 WHERE id = ?`, userID)
	if err != nil {
		return fmt.Errorf("enable user: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "no such user")
	}
	return nil
}

// LiveLabSessionsOf returns the user's sessions that own a container,
// oldest first.
func (s *Store) LiveLabSessionsOf(ctx context.Context, userID int64) ([]opsdojo.LabSession, error) {
	return s.querySessions(ctx, `SELECT `+sessionCols+` FROM lab_sessions WHERE user_id = ? AND state IN ('starting','running') ORDER BY created_at`, userID)
}
