// Package board builds the instructors' view of a class: the progress
// board (learners × steps with status, points, attempts, hints, last
// activity and who is stuck), the grade export, and the hub that tells
// open boards when a learner's record changed. It knows neither HTTP nor
// Docker; the web layer renders what it returns.
package board

import (
	"strconv"
	"time"

	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// Settings decide when a learner counts as stuck.
type Settings struct {
	// StuckAfter: a learner with a running session who has passed nothing
	// in the lab for this long is stuck at their current step (default
	// 10 minutes; negative: never by time).
	StuckAfter time.Duration
	// StuckFails: this many failed attempts in a row at a step not passed
	// make the learner stuck there (default 3; negative: never by fails).
	StuckFails int
}

func (s Settings) withDefaults() Settings {
	if s.StuckAfter == 0 {
		s.StuckAfter = 10 * time.Minute
	}
	if s.StuckFails == 0 {
		s.StuckFails = 3
	}
	return s
}

// Column is one step of one lab, in the cohort's order.
type Column struct {
	LabID, LabTitle   string
	StepID, StepTitle string
	// First: the first step of its lab (the page groups columns by lab).
	First bool
}

// Cell is one learner at one step.
type Cell struct {
	LabID, StepID string
	Status        opsdojo.StepStatus
	Points        float64
	Attempts      int
	Hints         int
	FailStreak    int
	FirstPassedAt *time.Time
	LastAttemptAt time.Time
	Stuck         bool
	// StuckWhy says why, for the cell's title.
	StuckWhy string
}

// Row is one learner.
type Row struct {
	UserID   int64
	Username string
	Cells    []Cell
	Points   float64
	Passed   int
	// LastActive is the latest activity across the board's labs (zero:
	// none yet).
	LastActive time.Time
	// Live maps the labs the learner has a running session of to its id.
	Live  map[string]string
	Stuck bool
}

// Board is learners × steps.
type Board struct {
	Columns []Column
	Rows    []Row
	// LabGroups counts columns per lab for the header, in order.
	LabGroups []LabGroup
	Settings  Settings
	At        time.Time
}

// LabGroup is a lab's span of columns.
type LabGroup struct {
	LabID, Title string
	Steps        int
}

// Columns lists the steps of labs in order.
func Columns(list []*labs.Lab) ([]Column, []LabGroup) {
	var cols []Column
	var groups []LabGroup
	for _, l := range list {
		groups = append(groups, LabGroup{LabID: l.ID, Title: l.Title, Steps: len(l.Steps)})
		for i, st := range l.Steps {
			cols = append(cols, Column{LabID: l.ID, LabTitle: l.Title, StepID: st.ID, StepTitle: st.Title, First: i == 0})
		}
	}
	return cols, groups
}

// Build assembles the board from what the store returned. learners fixes
// the rows' order.
func Build(list []*labs.Lab, learners []opsdojo.User, records []opsdojo.StepRecord, acts []opsdojo.LabActivity, set Settings, now time.Time) Board {
	set = set.withDefaults()
	cols, groups := Columns(list)
	type key struct {
		user      int64
		lab, step string
	}
	type lkey struct {
		user int64
		lab  string
	}
	recs := make(map[key]*opsdojo.StepRecord, len(records))
	for i := range records {
		r := &records[i]
		recs[key{r.UserID, r.LabID, r.StepID}] = r
	}
	actOf := make(map[lkey]*opsdojo.LabActivity, len(acts))
	for i := range acts {
		a := &acts[i]
		actOf[lkey{a.UserID, a.LabID}] = a
	}
	b := Board{Columns: cols, LabGroups: groups, Settings: set, At: now, Rows: make([]Row, 0, len(learners))}
	for _, u := range learners {
		row := Row{UserID: u.ID, Username: u.Username, Cells: make([]Cell, 0, len(cols)), Live: map[string]string{}}
		for _, l := range list {
			act := actOf[lkey{u.ID, l.ID}]
			if act != nil {
				row.LastActive = later(row.LastActive, act.LastActive)
				if act.Live && act.LiveSessionID != "" {
					row.Live[l.ID] = act.LiveSessionID
				}
			}
			// The latest pass in the lab: "no progress for N minutes"
			// counts from it (or from the session's start).
			var lastPass time.Time
			current := "" // the first step not passed: where the learner works
			for _, st := range l.Steps {
				r := recs[key{u.ID, l.ID, st.ID}]
				if r != nil && r.FirstPassedAt != nil {
					lastPass = later(lastPass, *r.FirstPassedAt)
				}
				if current == "" && (r == nil || !r.Passed) {
					current = st.ID
				}
			}
			for _, st := range l.Steps {
				r := recs[key{u.ID, l.ID, st.ID}]
				c := cell(l.ID, st.ID, r, act, st.ID == current, lastPass, set, now)
				if r != nil {
					row.LastActive = later(row.LastActive, r.LastAttemptAt)
				}
				row.Points += c.Points
				if c.Status == opsdojo.StepPassed {
					row.Passed++
				}
				row.Stuck = row.Stuck || c.Stuck
				row.Cells = append(row.Cells, c)
			}
		}
		b.Rows = append(b.Rows, row)
	}
	return b
}

func cell(labID, stepID string, r *opsdojo.StepRecord, act *opsdojo.LabActivity, current bool, lastPass time.Time, set Settings, now time.Time) Cell {
	c := Cell{LabID: labID, StepID: stepID, Status: opsdojo.StepNotStarted}
	started := act != nil && act.Started
	if r != nil {
		c.Points, c.Attempts, c.Hints, c.FailStreak = r.Points, r.Attempts, r.Hints, r.FailStreak
		c.FirstPassedAt, c.LastAttemptAt = r.FirstPassedAt, r.LastAttemptAt
	}
	switch {
	case r != nil && r.Passed:
		c.Status = opsdojo.StepPassed
		return c
	case r != nil && r.LastStatus == opsdojo.StatusFail:
		c.Status = opsdojo.StepFailed
	case r != nil && (r.Hints > 0 || r.LastStatus != ""):
		c.Status = opsdojo.StepWorking
	case started && current:
		c.Status = opsdojo.StepWorking
	default:
		return c
	}
	if set.StuckFails > 0 && c.FailStreak >= set.StuckFails {
		c.Stuck, c.StuckWhy = true, pluralFails(c.FailStreak)
		return c
	}
	// By time: only where the learner is now, while a session runs.
	if set.StuckAfter > 0 && current && act != nil && act.Live {
		since := later(act.LiveSince, lastPass)
		if d := now.Sub(since); d >= set.StuckAfter {
			c.Stuck, c.StuckWhy = true, "no progress for "+d.Truncate(time.Minute).String()
		}
	}
	return c
}

func pluralFails(n int) string {
	if n == 1 {
		return "1 failed attempt in a row"
	}
	return strconv.Itoa(n) + " failed attempts in a row"
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
