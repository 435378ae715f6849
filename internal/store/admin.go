package store

import (
	"context"
	"fmt"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// LiveSession is a live lab session with its learner's name, for admins.
type LiveSession struct {
	opsdojo.LabSession
	Username string `json:"user"`
}

// LiveSessionsWithUsers returns every session that owns a container, oldest
// first, with the learner's username.
func (s *Store) LiveSessionsWithUsers(ctx context.Context) ([]LiveSession, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT s.id, s.user_id, s.lab_id, s.container_id, s.network_id, s.state, s.created_at, s.last_active_at, s.expires_at, u.username
		FROM lab_sessions s JOIN users u ON u.id = s.user_id WHERE s.state IN ('starting','running') ORDER BY s.created_at`)
	if err != nil {
		return nil, fmt.Errorf("query live sessions: %w", err)
	}
	defer rows.Close()
	out := []LiveSession{}
	for rows.Next() {
		var ls LiveSession
		var state string
		var created, active, expires int64
		if err := rows.Scan(&ls.ID, &ls.UserID, &ls.LabID, &ls.ContainerID, &ls.NetworkID, &state, &created, &active, &expires, &ls.Username); err != nil {
			return nil, fmt.Errorf("scan live session: %w", err)
		}
		ls.State = opsdojo.SessionState(state)
		ls.CreatedAt, ls.LastActiveAt, ls.ExpiresAt = fromMS(created), fromMS(active), fromMS(expires)
		out = append(out, ls)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query live sessions: %w", err)
	}
	return out, nil
}
