package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// CreateUser adds a user. A taken username (case-insensitive) is ECONFLICT.
func (s *Store) CreateUser(ctx context.Context, username, passwordHash string, admin bool) (opsdojo.User, error) {
	now := time.Now().UTC()
	role := opsdojo.RoleLearner
	if admin {
		role = opsdojo.RoleAdmin
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO users(username, password_hash, role, created_at) VALUES(?, ?, ?, ?)`,
		username, passwordHash, string(role), ms(now))
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
	return opsdojo.User{ID: id, Username: username, Role: role, IsAdmin: admin, CreatedAt: now.Truncate(time.Millisecond)}, nil
}

// SetUserPassword replaces a user's password hash and signs the user out
// everywhere: whoever held a login with the old password must not keep it
// (a running server closes its sockets at its next login check). admin
// makes the user an admin; without it an admin becomes a learner and an
// instructor stays one (the command line knows only the admin flag).
func (s *Store) SetUserPassword(ctx context.Context, username, passwordHash string, admin bool) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin password change: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?,
		role = CASE WHEN ? THEN 'admin' WHEN role = 'admin' THEN 'learner' ELSE role END WHERE username = ?`, passwordHash, admin, username)
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "no user %q", username)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM logins WHERE user_id = (SELECT id FROM users WHERE username = ?)`, username); err != nil {
		return fmt.Errorf("end the user's logins: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit password change: %w", err)
	}
	return nil
}

// UserByUsername returns the user and their password hash.
func (s *Store) UserByUsername(ctx context.Context, username string) (opsdojo.User, string, error) {
	var hash string
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+`, password_hash FROM users WHERE username = ?`, username), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return u, "", opsdojo.Errorf(opsdojo.ENOTFOUND, "no user %q", username)
	}
	if err != nil {
		return u, "", fmt.Errorf("read user: %w", err)
	}
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

// Login returns the user and CSRF token of an unexpired login of an
// enabled user.
func (s *Store) Login(ctx context.Context, tokenHash string) (opsdojo.User, string, error) {
	var csrf string
	u, err := scanUser(s.db.QueryRowContext(ctx, `
		SELECT u.id, u.username, u.role, u.disabled_at, u.created_at, l.csrf_token
		FROM logins l JOIN users u ON u.id = l.user_id
		WHERE l.token_hash = ? AND l.expires_at > ? AND u.disabled_at = 0`, tokenHash, ms(time.Now())), &csrf)
	if errors.Is(err, sql.ErrNoRows) {
		return u, "", opsdojo.Errorf(opsdojo.EUNAUTHORIZED, "not signed in")
	}
	if err != nil {
		return u, "", fmt.Errorf("read login: %w", err)
	}
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

// ValidLogins returns, of the given token hashes, those whose login still
// exists and has not expired, with their expiry. Terminal websockets are
// checked against it: a login ended by another process (a password reset
// through `opsdojo user add`) or past its time must not keep a socket.
func (s *Store) ValidLogins(ctx context.Context, tokenHashes []string) (map[string]time.Time, error) {
	out := make(map[string]time.Time, len(tokenHashes))
	const chunk = 500 // well under SQLite's bound-parameter limit
	for len(tokenHashes) > 0 {
		n := min(chunk, len(tokenHashes))
		part := tokenHashes[:n]
		tokenHashes = tokenHashes[n:]
		args := make([]any, 0, n+1)
		args = append(args, ms(time.Now()))
		for _, h := range part {
			args = append(args, h)
		}
		rows, err := s.db.QueryContext(ctx, `SELECT token_hash, expires_at FROM logins
			WHERE expires_at > ? AND user_id NOT IN (SELECT id FROM users WHERE disabled_at <> 0) AND token_hash IN (?`+
			strings.Repeat(",?", n-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("query logins: %w", err)
		}
		for rows.Next() {
			var h string
			var exp int64
			if err := rows.Scan(&h, &exp); err != nil {
				rows.Close()
				return nil, fmt.Errorf("scan login: %w", err)
			}
			out[h] = fromMS(exp)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("query logins: %w", err)
		}
	}
	return out, nil
}

// Secret returns the named random server secret (32 bytes), creating it
// on first use. It lives in the database so that it survives restarts.
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	key := "secret:" + name
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("generate secret %s: %w", name, err)
		}
		if _, err := s.db.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO NOTHING`, key, hex.EncodeToString(b)); err != nil {
			return nil, fmt.Errorf("store secret %s: %w", name, err)
		}
		err = s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	}
	if err != nil {
		return nil, fmt.Errorf("read secret %s: %w", name, err)
	}
	b, err := hex.DecodeString(v)
	if err != nil || len(b) < 16 {
		return nil, fmt.Errorf("secret %s in the database is malformed", name)
	}
	return b, nil
}
