package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

const poolCols = `id, lab_id, image, container_id, network_id, state, created_at`

func scanPoolBox(row scanner) (opsdojo.PoolBox, error) {
	var b opsdojo.PoolBox
	var state string
	var created int64
	if err := row.Scan(&b.ID, &b.LabID, &b.Image, &b.ContainerID, &b.NetworkID, &state, &created); err != nil {
		return b, err
	}
	b.State, b.CreatedAt = opsdojo.PoolBoxState(state), fromMS(created)
	return b, nil
}

// AddPoolBox records a warm-pool box, before its container is created.
func (s *Store) AddPoolBox(ctx context.Context, b opsdojo.PoolBox) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO pool_boxes(`+poolCols+`) VALUES(?, ?, ?, ?, ?, ?, ?)`,
		b.ID, b.LabID, b.Image, b.ContainerID, b.NetworkID, string(b.State), ms(b.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert pool box: %w", err)
	}
	return nil
}

// ReadyPoolBox marks a box ready with what its create made. ENOTFOUND
// means the row is gone (drained meanwhile): the caller removes the
// container.
func (s *Store) ReadyPoolBox(ctx context.Context, id, containerID, networkID string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE pool_boxes SET state = 'ready', container_id = ?, network_id = ? WHERE id = ? AND state = 'creating'`,
		containerID, networkID, id)
	if err != nil {
		return fmt.Errorf("mark pool box ready: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "no such pool box")
	}
	return nil
}

// DeletePoolBox forgets a box (its container is removed by the caller).
func (s *Store) DeletePoolBox(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM pool_boxes WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete pool box: %w", err)
	}
	return nil
}

// PoolBoxes returns every box, oldest first.
func (s *Store) PoolBoxes(ctx context.Context) ([]opsdojo.PoolBox, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+poolCols+` FROM pool_boxes ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("pool boxes: %w", err)
	}
	defer rows.Close()
	var out []opsdojo.PoolBox
	for rows.Next() {
		b, err := scanPoolBox(rows)
		if err != nil {
			return nil, fmt.Errorf("scan pool box: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pool boxes: %w", err)
	}
	return out, nil
}

// ClaimPoolBox hands the oldest ready box of a lab's image to a learner:
// in one transaction it deletes the box's row and inserts ls as a running
// session with the box's id, container and network. Two claims never get
// one box (the delete is the claim; transactions are IMMEDIATE), and a
// crash leaves either the box in the pool or the learner's session, never
// both or neither. ENOTFOUND: no ready box; ECONFLICT: the learner already
// has a live session for the lab (nothing claimed).
func (s *Store) ClaimPoolBox(ctx context.Context, labID, image string, ls opsdojo.LabSession) (opsdojo.LabSession, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return ls, fmt.Errorf("claim pool box: %w", err)
	}
	defer tx.Rollback()
	b, err := scanPoolBox(tx.QueryRowContext(ctx, `DELETE FROM pool_boxes WHERE id = (
		SELECT id FROM pool_boxes WHERE lab_id = ? AND image = ? AND state = 'ready' ORDER BY created_at, id LIMIT 1)
		RETURNING `+poolCols, labID, image))
	if errors.Is(err, sql.ErrNoRows) {
		return ls, opsdojo.Errorf(opsdojo.ENOTFOUND, "no ready box in the pool of %s", labID)
	}
	if err != nil {
		return ls, fmt.Errorf("claim pool box: %w", err)
	}
	ls.ID, ls.ContainerID, ls.NetworkID, ls.State = b.ID, b.ContainerID, b.NetworkID, opsdojo.SessionRunning
	_, err = tx.ExecContext(ctx, `INSERT INTO lab_sessions(`+sessionCols+`) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ls.ID, ls.UserID, ls.LabID, ls.ContainerID, ls.NetworkID, string(ls.State), ms(ls.CreatedAt), ms(ls.LastActiveAt), ms(ls.ExpiresAt), ls.EndReason, deadlineMS(ls.Deadline))
	if isUniqueViolation(err) {
		return ls, opsdojo.Errorf(opsdojo.ECONFLICT, "a session for this lab already exists")
	}
	if err != nil {
		return ls, fmt.Errorf("claim pool box: insert session: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return ls, fmt.Errorf("claim pool box: %w", err)
	}
	return ls, nil
}

// CountAllLiveLabSessions returns how many sessions own a container, all
// learners together (the admission cap).
func (s *Store) CountAllLiveLabSessions(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM lab_sessions WHERE state IN ('starting','running')`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count live sessions: %w", err)
	}
	return n, nil
}
