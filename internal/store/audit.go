package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// AddAudit appends an entry to the audit log.
func (s *Store) AddAudit(ctx context.Context, e opsdojo.AuditEntry) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO audit_log(at, actor_id, actor_name, via, action, target_user_id, target_name, cohort_id, lab_id, session_id, detail)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ms(e.At), e.ActorID, e.ActorName, e.Via, e.Action, e.TargetUserID, e.TargetName,
		e.CohortID, e.LabID, e.SessionID, e.Detail); err != nil {
		return fmt.Errorf("add audit entry: %w", err)
	}
	return nil
}

// AuditFilter selects audit entries. All: every entry (admins); else the
// entries of CohortIDs and those whose actor is ActorID.
type AuditFilter struct {
	All       bool
	CohortIDs []int64
	ActorID   int64
	// Before pages back: only entries with a smaller id (0: the newest).
	Before int64
	Limit  int
}

// AuditEntries returns entries newest first.
func (s *Store) AuditEntries(ctx context.Context, f AuditFilter) ([]opsdojo.AuditEntry, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 200
	}
	var where []string
	var args []any
	if !f.All {
		or := []string{"actor_id = ?"}
		args = append(args, f.ActorID)
		if len(f.CohortIDs) > 0 {
			or = append(or, "cohort_id IN ("+placeholders(len(f.CohortIDs))+")")
			for _, id := range f.CohortIDs {
				args = append(args, id)
			}
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	if f.Before > 0 {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	q := `SELECT id, at, actor_id, actor_name, via, action, target_user_id, target_name, cohort_id, lab_id, session_id, detail FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query audit log: %w", err)
	}
	defer rows.Close()
	out := []opsdojo.AuditEntry{}
	for rows.Next() {
		var e opsdojo.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.ActorID, &e.ActorName, &e.Via, &e.Action, &e.TargetUserID, &e.TargetName, &e.CohortID, &e.LabID, &e.SessionID, &e.Detail); err != nil {
			return nil, fmt.Errorf("scan audit entry: %w", err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query audit log: %w", err)
	}
	return out, nil
}

func placeholders(n int) string {
	if n <= 0 {
		return "NULL"
	}
	return strings.Repeat("?,", n-1) + "?"
}
