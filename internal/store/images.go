package store

import (
	"context"
	"fmt"
)

// AddSessionImages records images a session's build made, in build order.
func (s *Store) AddSessionImages(ctx context.Context, sessionID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record session images: %w", err)
	}
	defer tx.Rollback()
	var next int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM session_images WHERE session_id = ?`, sessionID).Scan(&next); err != nil {
		return fmt.Errorf("record session images: %w", err)
	}
	for i, id := range ids {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO session_images(session_id, image_id, seq) VALUES(?, ?, ?)`, sessionID, id, next+int64(i)); err != nil {
			return fmt.Errorf("record session image: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record session images: %w", err)
	}
	return nil
}

// SessionImages returns the images recorded for a session, oldest first.
func (s *Store) SessionImages(ctx context.Context, sessionID string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT image_id FROM session_images WHERE session_id = ? ORDER BY seq`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("session images: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("session images: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("session images: %w", err)
	}
	return ids, nil
}

// ForgetSessionImages drops a session's image list once they are removed.
func (s *Store) ForgetSessionImages(ctx context.Context, sessionID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM session_images WHERE session_id = ?`, sessionID); err != nil {
		return fmt.Errorf("forget session images: %w", err)
	}
	return nil
}
