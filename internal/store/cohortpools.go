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

// CohortPool returns a cohort's warm seats (Warm 0 when never set), or
// ENOTFOUND when there is no such cohort.
func (s *Store) CohortPool(ctx context.Context, cohortID int64) (opsdojo.CohortPool, error) {
	p := opsdojo.CohortPool{CohortID: cohortID}
	var exists int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM cohorts WHERE id = ?`, cohortID).Scan(&exists); err != nil {
		return p, fmt.Errorf("read cohort: %w", err)
	}
	if exists == 0 {
		return p, opsdojo.Errorf(opsdojo.ENOTFOUND, "no such cohort")
	}
	var starts int64
	err := s.db.QueryRowContext(ctx, `SELECT warm, lab_id, starts_at FROM cohort_pools WHERE cohort_id = ?`, cohortID).Scan(&p.Warm, &p.LabID, &starts)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("read cohort pool: %w", err)
	}
	if starts > 0 {
		p.StartsAt = fromMS(starts)
	}
	return p, nil
}

// SetCohortPool stores a cohort's warm seats. Checked against the cohort
// in the same transaction: at most its seats, a lab of the cohort, and,
// when on, a lab and a class start to warm for. The server-wide cap is
// the caller's (it is a flag, not data).
func (s *Store) SetCohortPool(ctx context.Context, p opsdojo.CohortPool) error {
	p.LabID = strings.TrimSpace(p.LabID)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin set cohort pool: %w", err)
	}
	defer tx.Rollback()
	cs, err := s.queryCohorts(ctx, tx, `WHERE c.id = ?`, p.CohortID)
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "no such cohort")
	}
	c := cs[0]
	switch {
	case p.Warm < 0 || p.Warm > c.Seats:
		return opsdojo.Errorf(opsdojo.EINVALID, "warm seats must be from 0 (off) to the cohort's %d seats", c.Seats)
	case p.LabID != "" && !c.HasLab(p.LabID):
		return opsdojo.Errorf(opsdojo.EINVALID, "the lab %q is not one of this cohort's labs", p.LabID)
	case p.Warm > 0 && p.Lab(c) == "":
		return opsdojo.Errorf(opsdojo.EINVALID, "the cohort has no labs to keep warm: add a lab first")
	case p.Warm > 0 && p.ClassStart(c).IsZero():
		return opsdojo.Errorf(opsdojo.EINVALID, "warm seats need a class start: set when the class starts, or when the cohort opens")
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO cohort_pools(cohort_id, warm, lab_id, starts_at) VALUES(?, ?, ?, ?)
		ON CONFLICT(cohort_id) DO UPDATE SET warm = excluded.warm, lab_id = excluded.lab_id, starts_at = excluded.starts_at`,
		p.CohortID, p.Warm, p.LabID, deadlineMS(p.StartsAt)); err != nil {
		return fmt.Errorf("write cohort pool: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit cohort pool: %w", err)
	}
	return nil
}

// CohortPoolPlans returns every cohort with warm seats switched on, with
// its settings.
func (s *Store) CohortPoolPlans(ctx context.Context) ([]opsdojo.CohortPoolPlan, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT cohort_id, warm, lab_id, starts_at FROM cohort_pools WHERE warm > 0 ORDER BY cohort_id`)
	if err != nil {
		return nil, fmt.Errorf("query cohort pools: %w", err)
	}
	pools := map[int64]opsdojo.CohortPool{}
	for rows.Next() {
		var p opsdojo.CohortPool
		var starts int64
		if err := rows.Scan(&p.CohortID, &p.Warm, &p.LabID, &starts); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan cohort pool: %w", err)
		}
		if starts > 0 {
			p.StartsAt = fromMS(starts)
		}
		pools[p.CohortID] = p
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("query cohort pools: %w", err)
	}
	out := []opsdojo.CohortPoolPlan{}
	if len(pools) == 0 {
		return out, nil
	}
	cs, err := s.queryCohorts(ctx, s.db, `WHERE c.id IN (SELECT cohort_id FROM cohort_pools WHERE warm > 0) ORDER BY c.id`)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if p, ok := pools[c.ID]; ok {
			out = append(out, opsdojo.CohortPoolPlan{Pool: p, Cohort: c})
		}
	}
	return out, nil
}

// CohortLabStarts counts the cohort's members who started labID since
// then (fresh or from the pool, ended or not): their seats need no warm
// box any more.
func (s *Store) CohortLabStarts(ctx context.Context, cohortID int64, labID string, since time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT l.user_id) FROM lab_sessions l
		JOIN cohort_members m ON m.user_id = l.user_id AND m.cohort_id = ?
		WHERE l.lab_id = ? AND l.created_at >= ?`, cohortID, labID, ms(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count cohort lab starts: %w", err)
	}
	return n, nil
}
