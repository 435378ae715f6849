package board

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

func testLab() *labs.Lab {
	return &labs.Lab{ID: "git", Title: "Git", Steps: []labs.Step{{ID: "a", Title: "A"}, {ID: "b", Title: "B"}, {ID: "c", Title: "C"}}}
}

func TestBuildStatusesAndStuck(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	passedAt := now.Add(-30 * time.Minute)
	learners := []opsdojo.User{{ID: 1, Username: "ann"}, {ID: 2, Username: "bob"}, {ID: 3, Username: "cat"}, {ID: 4, Username: "dan"}}
	recs := []opsdojo.StepRecord{
		// ann passed a, failed b three times in a row.
		{UserID: 1, LabID: "git", StepID: "a", Passed: true, Points: 2, Attempts: 1, FirstPassedAt: &passedAt, LastStatus: opsdojo.StatusPass},
		{UserID: 1, LabID: "git", StepID: "b", Attempts: 3, FailStreak: 3, LastStatus: opsdojo.StatusFail, LastAttemptAt: now.Add(-time.Minute)},
		// bob passed a long ago and has a session running since: stuck at b by time.
		{UserID: 2, LabID: "git", StepID: "a", Passed: true, Points: 2, Attempts: 1, FirstPassedAt: &passedAt, LastStatus: opsdojo.StatusPass},
		// cat asked for a hint at c only.
		{UserID: 3, LabID: "git", StepID: "c", Hints: 1},
	}
	acts := []opsdojo.LabActivity{
		{UserID: 1, LabID: "git", Started: true, Live: true, LiveSince: now.Add(-time.Hour), LiveSessionID: "s1", LastActive: now},
		{UserID: 2, LabID: "git", Started: true, Live: true, LiveSince: now.Add(-time.Hour), LiveSessionID: "s2", LastActive: now},
	}
	b := Build([]*labs.Lab{testLab()}, learners, recs, acts, Settings{StuckAfter: 20 * time.Minute, StuckFails: 3}, now)
	status := func(row, col int) string {
		c := b.Rows[row].Cells[col]
		s := string(c.Status)
		if c.Stuck {
			s += "+stuck"
		}
		return s
	}
	want := [][]string{
		{"passed", "failed+stuck", "not started"},
		{"passed", "working+stuck", "not started"},
		{"not started", "not started", "working"},
		{"not started", "not started", "not started"},
	}
	for r := range want {
		for c := range want[r] {
			if got := status(r, c); got != want[r][c] {
				t.Errorf("%s step %d: %s, want %s", learners[r].Username, c, got, want[r][c])
			}
		}
	}
	if b.Rows[0].Points != 2 || b.Rows[0].Passed != 1 || b.Rows[0].Live["git"] != "s1" || !b.Rows[0].Stuck || b.Rows[3].Stuck {
		t.Fatalf("row totals: %+v", b.Rows[0])
	}
	// Settings change who is stuck: a longer time, more failures.
	b = Build([]*labs.Lab{testLab()}, learners, recs, acts, Settings{StuckAfter: 2 * time.Hour, StuckFails: 4}, now)
	if b.Rows[0].Stuck || b.Rows[1].Stuck {
		t.Fatalf("stuck with lenient settings: %v %v", b.Rows[0].Cells, b.Rows[1].Cells)
	}
	// Without a running session nobody is stuck by time.
	b = Build([]*labs.Lab{testLab()}, learners, recs, nil, Settings{StuckAfter: time.Minute, StuckFails: 10}, now)
	if b.Rows[1].Stuck {
		t.Fatal("stuck by time without a session")
	}
}

func TestSafeCell(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+1": "'+1", "-1-1": "'-1-1", "@SUM(A1)": "'@SUM(A1)", "\t=1": "'\t=1", "\r=1": "'\r=1",
		"ann": "ann", "": "", "1.5": "1.5", "a=b": "a=b",
	} {
		if got := SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteCSVDefusesEveryCell(t *testing.T) {
	first := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rows := []GradeRow{{UserID: 7, Username: "=cmd|' /C calc'!A0", LabID: "git", StepID: "@a", Status: opsdojo.StepPassed, Points: 1.5, MaxPoints: 2, Attempts: 3, HintsUsed: 1, FirstPassedAt: &first}}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(recs[1], "|")
	want := "7|'=cmd|' /C calc'!A0|git|'@a|passed|1.5|2|3|1|2026-01-02T03:04:05Z"
	if got != want {
		t.Fatalf("row %q, want %q", got, want)
	}
}

func TestHubCoalescesAndBounds(t *testing.T) {
	h := NewHub(3, 2)
	onlyGit := func(_ int64, lab string) bool { return lab == "git" }
	a, err := h.Subscribe(1, onlyGit)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(1, onlyGit); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(1, onlyGit); opsdojo.ErrorCode(err) != opsdojo.ETOOMANY {
		t.Fatalf("third board of one user: %v", err)
	}
	if _, err := h.Subscribe(2, onlyGit); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(3, onlyGit); opsdojo.ErrorCode(err) != opsdojo.ETOOMANY {
		t.Fatalf("fourth board in all: %v", err)
	}
	// Many events, never blocking, coalesced into one wake-up.
	for i := 0; i < 5000; i++ {
		h.Publish(opsdojo.CheckEvent{UserID: int64(i % 3), LabID: "git"})
		h.Publish(opsdojo.CheckEvent{UserID: 99, LabID: "other"})
	}
	select {
	case <-a.C:
	default:
		t.Fatal("no wake-up")
	}
	users, all := a.Take()
	if all || len(users) != 3 {
		t.Fatalf("Take = %v %v, want the 3 learners of git", users, all)
	}
	if users, all := a.Take(); len(users) != 0 || all {
		t.Fatalf("second Take = %v %v", users, all)
	}
	a.Close()
	a.Close()
	if h.Count() != 2 {
		t.Fatalf("Count after Close = %d", h.Count())
	}
	if _, err := h.Subscribe(1, onlyGit); err != nil {
		t.Fatalf("a closed board frees its slot: %v", err)
	}
}
