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

const cohortCols = `c.id, c.name, c.seats, c.opens_at, c.closes_at, c.session_limit_ms, c.invite_hash IS NOT NULL, c.invite_expires_at, c.created_at,
	(SELECT COUNT(*) FROM cohort_members m WHERE m.cohort_id = c.id)`

// queryer is what reading a cohort needs: the database or a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func scanCohort(row scanner) (opsdojo.Cohort, error) {
	var c opsdojo.Cohort
	var opens, closes, limit, inviteExp, created int64
	if err := row.Scan(&c.ID, &c.Name, &c.Seats, &opens, &closes, &limit, &c.HasInvite, &inviteExp, &created, &c.Members); err != nil {
		return c, err
	}
	if opens > 0 {
		c.OpensAt = fromMS(opens)
	}
	if closes > 0 {
		c.ClosesAt = fromMS(closes)
	}
	if c.HasInvite {
		c.InviteExpiresAt = fromMS(inviteExp)
	}
	c.SessionLimit = time.Duration(limit) * time.Millisecond
	c.CreatedAt = fromMS(created)
	return c, nil
}

// fillCohorts reads the labs and owners of cohorts.
func fillCohorts(ctx context.Context, q queryer, cs []opsdojo.Cohort) error {
	for i := range cs {
		c := &cs[i]
		c.Labs, c.Owners = []string{}, []int64{}
		rows, err := q.QueryContext(ctx, `SELECT lab_id FROM cohort_labs WHERE cohort_id = ? ORDER BY position`, c.ID)
		if err != nil {
			return fmt.Errorf("query cohort labs: %w", err)
		}
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				rows.Close()
				return fmt.Errorf("scan cohort lab: %w", err)
			}
			c.Labs = append(c.Labs, l)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("query cohort labs: %w", err)
		}
		rows, err = q.QueryContext(ctx, `SELECT user_id FROM cohort_owners WHERE cohort_id = ? ORDER BY user_id`, c.ID)
		if err != nil {
			return fmt.Errorf("query cohort owners: %w", err)
		}
		for rows.Next() {
			var o int64
			if err := rows.Scan(&o); err != nil {
				rows.Close()
				return fmt.Errorf("scan cohort owner: %w", err)
			}
			c.Owners = append(c.Owners, o)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("query cohort owners: %w", err)
		}
	}
	return nil
}

func (s *Store) queryCohorts(ctx context.Context, q queryer, where string, args ...any) ([]opsdojo.Cohort, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+cohortCols+` FROM cohorts c `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("query cohorts: %w", err)
	}
	out := []opsdojo.Cohort{}
	for rows.Next() {
		c, err := scanCohort(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan cohort: %w", err)
		}
		out = append(out, c)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("query cohorts: %w", err)
	}
	if err := fillCohorts(ctx, q, out); err != nil {
		return nil, err
	}
	return out, nil
}

func validateCohort(c opsdojo.Cohort) error {
	switch {
	case strings.TrimSpace(c.Name) == "" || len(c.Name) > 100:
		return opsdojo.Errorf(opsdojo.EINVALID, "a cohort needs a name of 1 to 100 characters")
	case c.Seats < 1 || c.Seats > 100000:
		return opsdojo.Errorf(opsdojo.EINVALID, "seats must be between 1 and 100000")
	case !c.OpensAt.IsZero() && !c.ClosesAt.IsZero() && !c.OpensAt.Before(c.ClosesAt):
		return opsdojo.Errorf(opsdojo.EINVALID, "the cohort must open before it closes")
	case c.SessionLimit < 0 || c.SessionLimit > 30*24*time.Hour:
		return opsdojo.Errorf(opsdojo.EINVALID, "the session time limit must be between 0 (none) and 30 days")
	case len(c.Labs) > 200:
		return opsdojo.Errorf(opsdojo.EINVALID, "a cohort has at most 200 labs")
	case len(c.Owners) == 0:
		return opsdojo.Errorf(opsdojo.EINVALID, "a cohort needs at least one instructor")
	}
	seen := map[string]bool{}
	for _, l := range c.Labs {
		if seen[l] {
			return opsdojo.Errorf(opsdojo.EINVALID, "the lab %q is listed twice", l)
		}
		seen[l] = true
	}
	return nil
}

// writeCohortLists replaces a cohort's labs and owners inside tx; every
// owner must be an instructor or an admin.
func writeCohortLists(ctx context.Context, tx *sql.Tx, c opsdojo.Cohort) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM cohort_labs WHERE cohort_id = ?`, c.ID); err != nil {
		return fmt.Errorf("clear cohort labs: %w", err)
	}
	for i, l := range c.Labs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cohort_labs(cohort_id, position, lab_id) VALUES(?, ?, ?)`, c.ID, i, l); err != nil {
			return fmt.Errorf("insert cohort lab: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM cohort_owners WHERE cohort_id = ?`, c.ID); err != nil {
		return fmt.Errorf("clear cohort owners: %w", err)
	}
	for _, o := range c.Owners {
		var role string
		err := tx.QueryRowContext(ctx, `SELECT role FROM users WHERE id = ?`, o).Scan(&role)
		if errors.Is(err, sql.ErrNoRows) {
			return opsdojo.Errorf(opsdojo.EINVALID, "no such instructor")
		}
		if err != nil {
			return fmt.Errorf("read owner: %w", err)
		}
		if !opsdojo.Role(role).Teaches() {
			return opsdojo.Errorf(opsdojo.EINVALID, "an owner of a cohort must be an instructor or an admin")
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO cohort_owners(cohort_id, user_id) VALUES(?, ?)`, c.ID, o); err != nil {
			return fmt.Errorf("insert cohort owner: %w", err)
		}
	}
	return nil
}

// CreateCohort adds a cohort (without an invite link) and returns it.
func (s *Store) CreateCohort(ctx context.Context, c opsdojo.Cohort) (opsdojo.Cohort, error) {
	if err := validateCohort(c); err != nil {
		return opsdojo.Cohort{}, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return opsdojo.Cohort{}, fmt.Errorf("begin create cohort: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO cohorts(name, seats, opens_at, closes_at, session_limit_ms, created_at) VALUES(?, ?, ?, ?, ?, ?)`,
		strings.TrimSpace(c.Name), c.Seats, deadlineMS(c.OpensAt), deadlineMS(c.ClosesAt), c.SessionLimit.Milliseconds(), ms(time.Now()))
	if err != nil {
		return opsdojo.Cohort{}, fmt.Errorf("insert cohort: %w", err)
	}
	if c.ID, err = res.LastInsertId(); err != nil {
		return opsdojo.Cohort{}, fmt.Errorf("cohort id: %w", err)
	}
	if err := writeCohortLists(ctx, tx, c); err != nil {
		return opsdojo.Cohort{}, err
	}
	if err := tx.Commit(); err != nil {
		return opsdojo.Cohort{}, fmt.Errorf("commit create cohort: %w", err)
	}
	return s.Cohort(ctx, c.ID)
}

// UpdateCohort writes a cohort's name, seats, window, session limit, labs
// and owners (not its invite or members). Fewer seats than members is
// allowed: nobody is removed, nobody more can join.
func (s *Store) UpdateCohort(ctx context.Context, c opsdojo.Cohort) error {
	if err := validateCohort(c); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin update cohort: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE cohorts SET name = ?, seats = ?, opens_at = ?, closes_at = ?, session_limit_ms = ? WHERE id = ?`,
		strings.TrimSpace(c.Name), c.Seats, deadlineMS(c.OpensAt), deadlineMS(c.ClosesAt), c.SessionLimit.Milliseconds(), c.ID)
	if err != nil {
		return fmt.Errorf("update cohort: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "no such cohort")
	}
	if err := writeCohortLists(ctx, tx, c); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit update cohort: %w", err)
	}
	return nil
}

// Cohort returns a cohort by id.
func (s *Store) Cohort(ctx context.Context, id int64) (opsdojo.Cohort, error) {
	cs, err := s.queryCohorts(ctx, s.db, `WHERE c.id = ?`, id)
	if err != nil {
		return opsdojo.Cohort{}, err
	}
	if len(cs) == 0 {
		return opsdojo.Cohort{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "no such cohort")
	}
	return cs[0], nil
}

// AllCohorts returns every cohort, newest first.
func (s *Store) AllCohorts(ctx context.Context) ([]opsdojo.Cohort, error) {
	return s.queryCohorts(ctx, s.db, `ORDER BY c.id DESC`)
}

// CohortsOwnedBy returns the cohorts an instructor runs, newest first.
func (s *Store) CohortsOwnedBy(ctx context.Context, userID int64) ([]opsdojo.Cohort, error) {
	return s.queryCohorts(ctx, s.db, `WHERE c.id IN (SELECT cohort_id FROM cohort_owners WHERE user_id = ?) ORDER BY c.id DESC`, userID)
}

// CohortsOfMember returns the cohorts a learner joined, oldest join first.
func (s *Store) CohortsOfMember(ctx context.Context, userID int64) ([]opsdojo.Cohort, error) {
	return s.queryCohorts(ctx, s.db, `JOIN cohort_members j ON j.cohort_id = c.id AND j.user_id = ? ORDER BY j.joined_at, c.id`, userID)
}

// CohortMembers returns a cohort's learners in the order they joined.
func (s *Store) CohortMembers(ctx context.Context, cohortID int64) ([]opsdojo.CohortMember, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT m.user_id, u.username, m.joined_at FROM cohort_members m JOIN users u ON u.id = m.user_id
		WHERE m.cohort_id = ? ORDER BY m.joined_at, m.user_id`, cohortID)
	if err != nil {
		return nil, fmt.Errorf("query cohort members: %w", err)
	}
	defer rows.Close()
	out := []opsdojo.CohortMember{}
	for rows.Next() {
		var m opsdojo.CohortMember
		var joined int64
		if err := rows.Scan(&m.UserID, &m.Username, &joined); err != nil {
			return nil, fmt.Errorf("scan cohort member: %w", err)
		}
		m.JoinedAt = fromMS(joined)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query cohort members: %w", err)
	}
	return out, nil
}

// SetCohortInvite stores the hash of a new invite token for a cohort,
// replacing any previous one (which stops working at once).
func (s *Store) SetCohortInvite(ctx context.Context, cohortID int64, tokenHash string, expires time.Time) error {
	if tokenHash == "" {
		return opsdojo.Errorf(opsdojo.EINVALID, "empty invite token")
	}
	res, err := s.db.ExecContext(ctx, `UPDATE cohorts SET invite_hash = ?, invite_expires_at = ? WHERE id = ?`, tokenHash, ms(expires), cohortID)
	if err != nil {
		return fmt.Errorf("set cohort invite: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "no such cohort")
	}
	return nil
}

// RevokeCohortInvite removes a cohort's invite link.
func (s *Store) RevokeCohortInvite(ctx context.Context, cohortID int64) error {
	res, err := s.db.ExecContext(ctx, `UPDATE cohorts SET invite_hash = NULL, invite_expires_at = 0 WHERE id = ?`, cohortID)
	if err != nil {
		return fmt.Errorf("revoke cohort invite: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "no such cohort")
	}
	return nil
}

// errBadInvite is the one answer for an unknown, revoked or expired
// invite: which of them it is tells an outsider nothing useful.
func errBadInvite() error {
	return opsdojo.Errorf(opsdojo.ENOTFOUND, "this invite link is not valid: it may have expired or been replaced; ask your instructor for a new one")
}

// cohortByInvite reads the cohort of a valid, unexpired invite.
func (s *Store) cohortByInvite(ctx context.Context, q queryer, tokenHash string, now time.Time) (opsdojo.Cohort, error) {
	if tokenHash == "" {
		return opsdojo.Cohort{}, errBadInvite()
	}
	cs, err := s.queryCohorts(ctx, q, `WHERE c.invite_hash = ? AND c.invite_expires_at > ?`, tokenHash, ms(now))
	if err != nil {
		return opsdojo.Cohort{}, err
	}
	if len(cs) == 0 {
		return opsdojo.Cohort{}, errBadInvite()
	}
	return cs[0], nil
}

// CohortByInvite returns the cohort a valid, unexpired invite token hash
// leads to, or ENOTFOUND.
func (s *Store) CohortByInvite(ctx context.Context, tokenHash string, now time.Time) (opsdojo.Cohort, error) {
	return s.cohortByInvite(ctx, s.db, tokenHash, now)
}

// join adds userID to the cohort of the invite inside tx. The database
// serialises writers (every transaction begins IMMEDIATE), so counting
// the seats and taking one cannot interleave with another join.
func (s *Store) join(ctx context.Context, tx *sql.Tx, tokenHash string, userID int64, now time.Time) (opsdojo.Cohort, error) {
	c, err := s.cohortByInvite(ctx, tx, tokenHash, now)
	if err != nil {
		return c, err
	}
	if err := c.WindowError(now, "join it"); err != nil {
		return c, err
	}
	var already int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM cohort_members WHERE cohort_id = ? AND user_id = ?`, c.ID, userID).Scan(&already); err != nil {
		return c, fmt.Errorf("read membership: %w", err)
	}
	if already > 0 {
		return c, nil
	}
	if c.Members >= c.Seats {
		return c, opsdojo.Errorf(opsdojo.ECONFLICT, "the cohort %q is full (%d seats); ask your instructor", c.Name, c.Seats)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO cohort_members(cohort_id, user_id, joined_at) VALUES(?, ?, ?)`, c.ID, userID, ms(now)); err != nil {
		return c, fmt.Errorf("join cohort: %w", err)
	}
	c.Members++
	return c, nil
}

// JoinCohort makes an existing user a member of the invite's cohort:
// refused when the invite is not valid (ENOTFOUND), the cohort is outside
// its window (EFORBIDDEN) or full (ECONFLICT). Joining twice is a no-op.
func (s *Store) JoinCohort(ctx context.Context, tokenHash string, userID int64, now time.Time) (opsdojo.Cohort, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return opsdojo.Cohort{}, fmt.Errorf("begin join: %w", err)
	}
	defer tx.Rollback()
	c, err := s.join(ctx, tx, tokenHash, userID, now)
	if err != nil {
		return c, err
	}
	if err := tx.Commit(); err != nil {
		return c, fmt.Errorf("commit join: %w", err)
	}
	return c, nil
}

// CreateUserWithInvite creates a learner and makes them a member of the
// invite's cohort in one transaction: an invite that is not valid, a
// closed window or a full cohort leaves no account behind.
func (s *Store) CreateUserWithInvite(ctx context.Context, tokenHash, username, passwordHash string, now time.Time) (opsdojo.User, opsdojo.Cohort, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return opsdojo.User{}, opsdojo.Cohort{}, fmt.Errorf("begin sign-up: %w", err)
	}
	defer tx.Rollback()
	// The invite first: a full cohort answers "full", not "name taken".
	if _, err := s.cohortByInvite(ctx, tx, tokenHash, now); err != nil {
		return opsdojo.User{}, opsdojo.Cohort{}, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO users(username, password_hash, role, created_at) VALUES(?, ?, 'learner', ?)`, username, passwordHash, ms(now))
	if isUniqueViolation(err) {
		return opsdojo.User{}, opsdojo.Cohort{}, opsdojo.Errorf(opsdojo.ECONFLICT, "the username %q is taken", username)
	}
	if err != nil {
		return opsdojo.User{}, opsdojo.Cohort{}, fmt.Errorf("insert user: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return opsdojo.User{}, opsdojo.Cohort{}, fmt.Errorf("user id: %w", err)
	}
	c, err := s.join(ctx, tx, tokenHash, id, now)
	if err != nil {
		return opsdojo.User{}, c, err
	}
	if err := tx.Commit(); err != nil {
		return opsdojo.User{}, c, fmt.Errorf("commit sign-up: %w", err)
	}
	return opsdojo.User{ID: id, Username: username, Role: opsdojo.RoleLearner, CreatedAt: now.UTC().Truncate(time.Millisecond)}, c, nil
}

// RemoveCohortMember takes a learner out of a cohort (their progress stays).
func (s *Store) RemoveCohortMember(ctx context.Context, cohortID, userID int64) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM cohort_members WHERE cohort_id = ? AND user_id = ?`, cohortID, userID); err != nil {
		return fmt.Errorf("remove cohort member: %w", err)
	}
	return nil
}
