package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// CreateUser adds a user. A taken username (case-insensitive) is ECONFLICT.
func (s *Store) CreateUser(ctx context.Context, username, passwordHash string, admin bool) (opsdojo.User, error) {
	now := time.Now().UTC()
	res, err := s.db.ExecContext(ctx, `INSERT INTO users(username, password_hash, is_admin, created_at) VALUES(?, ?, ?, ?)`,
		username, passwordHash, admin, ms(now))
	if isUniqueViolation(err) {
		return opsdojo.User{}, opsdojo.Errorf(opsdojo.ECONFLICT, "the username %q is taken", username)
	}
	if err != nil {
		return opsdojo.User{}, fmt.Errorf("insert user: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return opsdojo.User{}, fmt.Errorf("user id: %w", err)
	}
	return opsdojo.User{ID: id, Username: username, IsAdmin: admin, CreatedAt: now.Truncate(time.Millisecond)}, nil
}

// SetUserPassword replaces a user's password hash and admin flag.
func (s *Store) SetUserPassword(ctx context.Context, username, passwordHash string, admin bool) error {
	res, err := s.db.ExecContext(ctx, `UPDATE users SET password_hash = ?, is_admin = ? WHERE username = ?`, passwordHash, admin, username)
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "no user %q", username)
	}
	return nil
}

// UserByUsername returns the user and their password hash.
func (s *Store) UserByUsername(ctx context.Context, username string) (opsdojo.User, string, error) {
	var u opsdojo.User
	var hash string
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT id, username, password_hash, is_admin, created_at FROM users WHERE username = ?`, username).
		Scan(&u.ID, &u.Username, &hash, &u.IsAdmin, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return u, "", opsdojo.Errorf(opsdojo.ENOTFOUND, "no user %q", username)
	}
	if err != nil {
		return u, "", fmt.Errorf("read user: %w", err)
	}
	u.CreatedAt = fromMS(created)
	return u, hash, nil
}

// CountUsers returns how many users exist.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// CreateLogin stores a login session by the hash of its token.
func (s *Store) CreateLogin(ctx context.Context, userID int64, tokenHash, csrf string, expires time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO logins(token_hash, user_id, csrf_token, created_at, expires_at) VALUES(?, ?, ?, ?, ?)`,
		tokenHash, userID, csrf, ms(time.Now()), ms(expires))
	if err != nil {
		return fmt.Errorf("insert login: %w", err)
	}
	return nil
}

// Login returns the user and CSRF token of an unexpired login.
func (s *Store) Login(ctx context.Context, tokenHash string) (opsdojo.User, string, error) {
	var u opsdojo.User
	var csrf string
	var created int64
	err := s.db.QueryRowContext(ctx, `
		SELECT u.id, u.username, u.is_admin, u.created_at, l.csrf_token
		FROM logins l JOIN users u ON u.id = l.user_id
		WHERE l.token_hash = ? AND l.expires_at > ?`, tokenHash, ms(time.Now())).
		Scan(&u.ID, &u.Username, &u.IsAdmin, &created, &csrf)
	if errors.Is(err, sql.ErrNoRows) {
		return u, "", opsdojo.Errorf(opsdojo.EUNAUTHORIZED, "not signed in")
	}
	if err != nil {
		return u, "", fmt.Errorf("read login: %w", err)
	}
	u.CreatedAt = fromMS(created)
	return u, csrf, nil
}

// DeleteLogin signs a login out.
func (s *Store) DeleteLogin(ctx context.Context, tokenHash string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM logins WHERE token_hash = ?`, tokenHash); err != nil {
		return fmt.Errorf("delete login: %w", err)
	}
	return nil
}

// DeleteExpiredLogins removes logins past their expiry.
func (s *Store) DeleteExpiredLogins(ctx context.Context, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM logins WHERE expires_at <= ?`, ms(now)); err != nil {
		return fmt.Errorf("delete expired logins: %w", err)
	}
	return nil
}
