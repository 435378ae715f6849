package board

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// GradeRow is one learner × step of a grade export.
type GradeRow struct {
	UserID        int64              `json:"user_id"`
	Username      string             `json:"username"`
	LabID         string             `json:"lab"`
	StepID        string             `json:"step"`
	Status        opsdojo.StepStatus `json:"status"`
	Points        float64            `json:"points"`
	MaxPoints     float64            `json:"max_points"`
	Attempts      int                `json:"attempts"`
	HintsUsed     int                `json:"hints_used"`
	FirstPassedAt *time.Time         `json:"first_passed_at"`
}

// Grades flattens a board into export rows: every learner × every step,
// in the board's order. maxPoints gives each step's worth by lab/step.
func Grades(b Board, maxPoints map[string]float64) []GradeRow {
	out := make([]GradeRow, 0, len(b.Rows)*len(b.Columns))
	for _, r := range b.Rows {
		for _, c := range r.Cells {
			out = append(out, GradeRow{UserID: r.UserID, Username: r.Username, LabID: c.LabID, StepID: c.StepID, Status: c.Status,
				Points: c.Points, MaxPoints: maxPoints[c.LabID+"/"+c.StepID], Attempts: c.Attempts, HintsUsed: c.Hints, FirstPassedAt: c.FirstPassedAt})
		}
	}
	return out
}

// CSVHeader is the export's first line.
var CSVHeader = []string{"user_id", "username", "lab", "step", "status", "points", "max_points", "attempts", "hints_used", "first_passed_at"}

// WriteCSV writes rows as CSV (RFC 4180, times in RFC 3339 UTC). Every cell
// goes through SafeCell: usernames are chosen by learners.
func WriteCSV(w io.Writer, rows []GradeRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, r := range rows {
		first := ""
		if r.FirstPassedAt != nil {
			first = r.FirstPassedAt.UTC().Format(time.RFC3339)
		}
		rec := []string{strconv.FormatInt(r.UserID, 10), r.Username, r.LabID, r.StepID, string(r.Status),
			num(r.Points), num(r.MaxPoints), strconv.Itoa(r.Attempts), strconv.Itoa(r.HintsUsed), first}
		for i := range rec {
			rec[i] = SafeCell(rec[i])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes rows as {"rows": [...]}.
func WriteJSON(w io.Writer, rows []GradeRow) error {
	return json.NewEncoder(w).Encode(struct {
		Rows []GradeRow `json:"rows"`
	}{rows})
}

// SafeCell defuses spreadsheet formulas: a cell that starts with = + - @
// (or a tab or carriage return, which some spreadsheets strip before
// looking) gets a leading apostrophe, so it is shown as text, never run.
// Numbers are written without a sign (points are never negative), so no
// real number is changed.
func SafeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
