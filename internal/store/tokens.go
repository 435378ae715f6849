package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

const tokenCols = `id, user_id, name, prefix, scopes, created_at, expires_at, revoked_at, last_used_at`

func scanToken(row scanner) (opsdojo.APIToken, error) {
	var t opsdojo.APIToken
	var scopes string
	var created, expires int64
	var revoked, used sql.NullInt64
	if err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.Prefix, &scopes, &created, &expires, &revoked, &used); err != nil {
		return t, err
	}
	for _, sc := range strings.Fields(scopes) {
		t.Scopes = append(t.Scopes, opsdojo.Scope(sc))
	}
	t.CreatedAt, t.ExpiresAt = fromMS(created), fromMS(expires)
	if revoked.Valid {
		r := fromMS(revoked.Int64)
		t.RevokedAt = &r
	}
	if used.Valid {
		u := fromMS(used.Int64)
		t.LastUsedAt = &u
	}
	return t, nil
}

// CreateAPIToken stores a token by its hash and returns it with its id.
func (s *Store) CreateAPIToken(ctx context.Context, t opsdojo.APIToken, hash string) (opsdojo.APIToken, error) {
	names := make([]string, len(t.Scopes))
	for i, sc := range t.Scopes {
		names[i] = string(sc)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO api_tokens(user_id, name, token_hash, prefix, scopes, created_at, expires_at) VALUES(?, ?, ?, ?, ?, ?, ?)`,
		t.UserID, t.Name, hash, t.Prefix, strings.Join(names, " "), ms(t.CreatedAt), ms(t.ExpiresAt))
	if err != nil {
		return t, fmt.Errorf("insert api token: %w", err)
	}
	if t.ID, err = res.LastInsertId(); err != nil {
		return t, fmt.Errorf("api token id: %w", err)
	}
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.Truncate(time.Millisecond).UTC(), t.ExpiresAt.Truncate(time.Millisecond).UTC()
	return t, nil
}

// APIToken returns the token with this hash and its owner. An unknown
// hash is EUNAUTHORIZED; whether it is revoked or expired is the
// caller's to check (APIToken.Usable).
func (s *Store) APIToken(ctx context.Context, hash string) (opsdojo.APIToken, opsdojo.User, error) {
	var tokenID int64
	err := s.db.QueryRowContext(ctx, `SELECT id FROM api_tokens WHERE token_hash = ?`, hash).Scan(&tokenID)
	if errors.Is(err, sql.ErrNoRows) {
		return opsdojo.APIToken{}, opsdojo.User{}, opsdojo.Errorf(opsdojo.EUNAUTHORIZED, "unknown API token")
	}
	if err != nil {
		return opsdojo.APIToken{}, opsdojo.User{}, fmt.Errorf("read api token: %w", err)
	}
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE id = ?`, tokenID))
	if err != nil {
		return t, opsdojo.User{}, fmt.Errorf("read api token: %w", err)
	}
	u, err := s.UserByID(ctx, t.UserID)
	return t, u, err
}

// APITokens lists a user's tokens, newest first.
func (s *Store) APITokens(ctx context.Context, userID int64) ([]opsdojo.APIToken, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE user_id = ? ORDER BY id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("query api tokens: %w", err)
	}
	defer rows.Close()
	out := []opsdojo.APIToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("scan api token: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query api tokens: %w", err)
	}
	return out, nil
}

// RevokeAPIToken revokes one of the user's tokens. Someone else's token,
// or none, is ENOTFOUND; revoking twice keeps the first time.
func (s *Store) RevokeAPIToken(ctx context.Context, userID, id int64, at time.Time) (opsdojo.APIToken, error) {
	if _, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND user_id = ?`, ms(at), id, userID); err != nil {
		return opsdojo.APIToken{}, fmt.Errorf("revoke api token: %w", err)
	}
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE id = ? AND user_id = ?`, id, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return t, opsdojo.Errorf(opsdojo.ENOTFOUND, "no such token")
	}
	if err != nil {
		return t, fmt.Errorf("read api token: %w", err)
	}
	return t, nil
}

// TouchAPIToken records a use, at most once a minute per token so that a
// busy script does not write on every request.
func (s *Store) TouchAPIToken(ctx context.Context, id int64, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
		ms(at), id, ms(at.Add(-time.Minute))); err != nil {
		return fmt.Errorf("touch api token: %w", err)
	}
	return nil
}
