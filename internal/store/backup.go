package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// Snapshot copies the database at path into dest (which must not exist)
// while other processes keep writing to it: VACUUM INTO reads one
// consistent snapshot of the WAL database and writes a compact copy. It
// opens the database without migrating it, so a server of another version
// can be running.
func Snapshot(ctx context.Context, path, dest string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("database path %s: %w", path, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	dsn := (&url.URL{Scheme: "file", Path: abs}).String() + "?mode=ro&_pragma=busy_timeout(30000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("open database %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dest); err != nil {
		return fmt.Errorf("copy database %s: %w", path, err)
	}
	if err := os.Chmod(dest, 0o600); err != nil {
		return fmt.Errorf("copy database: %w", err)
	}
	return nil
}

// Stats are a few counts that show a database is what it should be.
type Stats struct {
	Users, Sessions, Attempts, Recordings int
}

// Verify checks the database at path (integrity_check) and counts its
// rows. It migrates the database as Open does.
func Verify(ctx context.Context, path string) (Stats, error) {
	s, err := Open(ctx, path)
	if err != nil {
		return Stats{}, err
	}
	defer s.Close()
	var res string
	if err := s.db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return Stats{}, fmt.Errorf("integrity check: %w", err)
	}
	if res != "ok" {
		return Stats{}, fmt.Errorf("integrity check of %s: %s", path, res)
	}
	var st Stats
	for _, c := range []struct {
		table string
		n     *int
	}{{"users", &st.Users}, {"lab_sessions", &st.Sessions}, {"check_attempts", &st.Attempts}, {"recordings", &st.Recordings}} {
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+c.table).Scan(c.n); err != nil && err != sql.ErrNoRows {
			return Stats{}, fmt.Errorf("count %s: %w", c.table, err)
		}
	}
	return st, nil
}
