//go:build integration

package integration

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/opsdojo/opsdojo/internal/app"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// addInstructor creates an instructor account in a data dir before its
// server starts.
func addInstructor(t *testing.T, dataDir, name string) {
	addUser(t, dataDir, name, opsdojo.RoleInstructor)
}

// TestBrowserCohortBoardFlow is the instructor's whole flow in Chromium:
// create a cohort, a learner joins through its invite link and passes a
// step in a real container with a real Check, the instructor's open board
// shows it without a reload, and the grades export is downloaded, parsed
// and matched against the database.
func TestBrowserCohortBoardFlow(t *testing.T) {
	dataDir := t.TempDir()
	addInstructor(t, dataDir, "board-teacher")
	srv := startServer(t, dataDir, nil)

	// The instructor creates a cohort of git-basics and gets its link.
	teacher := browser(t)
	signInInBrowser(t, teacher, srv, "board-teacher")
	if err := chromedp.Do(teacher, chromedp.Navigate(srv.url+"/cohorts")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, teacher, `!!document.querySelector('#cohort-new input[name=name]')`, 20*time.Second, "new cohort form")
	if err := chromedp.Do(teacher,
		chromedp.SendKeys(chromedp.CSS(`#cohort-new input[name=name]`), "Bootcamp board"),
		chromedp.SetValue(chromedp.CSS(`#cohort-new input[name=labs]`), "git-basics"),
		chromedp.SetValue(chromedp.CSS(`#cohort-new input[name=seats]`), "5"),
	); err != nil {
		t.Fatal(err)
	}
	click(t, teacher, `#cohort-new button[type=submit]`, "create cohort")
	waitJS(t, teacher, `/^\/cohorts\/\d+$/.test(location.pathname) && !!document.getElementById('invite-url') && document.getElementById('invite-url').value.includes('/join/')`,
		30*time.Second, "the new cohort's page with its invite link")
	invite := evalString(t, teacher, `document.getElementById('invite-url').value`)
	cohortID := evalString(t, teacher, `document.getElementById('cohort').dataset.cohort`)
	screenshot(t, teacher, "board-01-cohort")
	if !strings.HasPrefix(invite, srv.url+"/join/") {
		// The link names the server as the browser reached it.
		invite = srv.url + invite[strings.Index(invite, "/join/"):]
	}

	// The learner joins through the link (a new account).
	learner := browser(t)
	if err := chromedp.Do(learner, chromedp.Navigate(invite)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, learner, `!!document.querySelector('#auth-form input[name=username]')`, 20*time.Second, "join page")
	if err := chromedp.Do(learner,
		chromedp.SendKeys(chromedp.CSS(`#auth-form input[name=username]`), "board-learner"),
		chromedp.SendKeys(chromedp.CSS(`#auth-form input[name=password]`), "correct-horse-battery"),
	); err != nil {
		t.Fatal(err)
	}
	click(t, learner, `#auth-form button[type=submit]`, "join")
	waitJS(t, learner, `location.pathname === '/labs'`, 20*time.Second, "catalog after joining")

	// The instructor opens the live board.
	if err := chromedp.Do(teacher, chromedp.Navigate(srv.url+"/instructor/cohorts/"+cohortID+"?stuck_fails=5")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, teacher, `document.getElementById('board-live').dataset.state === 'live'`, 20*time.Second, "board stream live")
	waitJS(t, teacher, `!!document.querySelector('tr.board-row td[data-step="init"][data-status="not started"]')`, 10*time.Second, "the learner's row, not started")
	// Marks this document: a reload would drop it.
	if _, err := chromedp.Run(teacher, chromedp.Evaluate[bool](`(window.__boardMark = 42) === 42`)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, teacher, "board-02-before")

	// The learner does the first step of git-basics for real.
	if err := chromedp.Do(learner, chromedp.Navigate(srv.url+"/labs/git-basics")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, learner, terminalContains("$ "), 90*time.Second, "shell prompt")
	click(t, learner, `.check-btn[data-step="init"]`, "Check of step init")
	waitJS(t, learner, `document.querySelector('.check-result[data-step="init"]').dataset.status === 'fail'`, 60*time.Second, "init fails first")
	waitJS(t, teacher, `!!document.querySelector('tr.board-row td[data-step="init"][data-status="failed"]') && window.__boardMark === 42`, 20*time.Second,
		"the board shows the failed attempt without a reload")
	typeInTerminal(t, learner, `cd ~/project && git init -q && git config --global user.email b@example.com && git config --global user.name B && echo '# g' > README.md && git add README.md && git commit -qm 'Add README' && echo DONE-$((40+2))`)
	waitJS(t, learner, terminalContains("DONE-42"), 30*time.Second, "commit done")
	click(t, learner, `.check-btn[data-step="init"]`, "Check of step init")
	waitJS(t, learner, `document.querySelector('.check-result[data-step="init"]').dataset.status === 'pass'`, 60*time.Second, "init passes")
	waitJS(t, teacher, `!!document.querySelector('tr.board-row td[data-step="init"][data-status="passed"][data-attempts="2"]') && window.__boardMark === 42`, 20*time.Second,
		"the board shows the pass without a reload")
	screenshot(t, teacher, "board-03-after")

	// From the board: a message shows beside the learner's terminal, and
	// the instructor (not an admin) watches that terminal read-only.
	sessionID := evalString(t, teacher, `document.querySelector('tr.board-row .lab-actions[data-lab="git-basics"]').dataset.session || ''`)
	if sessionID == "" {
		t.Fatal("the board row has no running session to act on")
	}
	sent, err := chromedp.Run(teacher, chromedp.Evaluate[string](fmt.Sprintf(`fetch('/api/v1/staff/sessions/%s/message', {method: 'POST', headers: {'Content-Type': 'application/json',
		'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content}, body: JSON.stringify({text: 'look at git status', cohort: %s})})
		.then(async r => r.status + ' ' + await r.text())`, sessionID, cohortID), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sent, "200 ") || !strings.Contains(sent, `"terminals":1`) {
		t.Fatalf("message: %s", sent)
	}
	waitJS(t, learner, `(() => { const n = document.getElementById('term-notice'); return !!n && !n.hidden && n.textContent.includes('board-teacher') && n.textContent.includes('look at git status'); })()`,
		20*time.Second, "the message beside the learner's terminal")
	screenshot(t, learner, "board-04-message")
	if err := chromedp.Do(teacher, chromedp.Navigate(srv.url+"/admin/watch/"+sessionID+"/main")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, teacher, `!!window.__opsdojoTerm && window.__opsdojoTerm.conn.gotHello`, 30*time.Second, "the instructor watches the learner's terminal")
	if err := chromedp.Do(teacher, chromedp.Navigate(srv.url+"/instructor/cohorts/"+cohortID)); err != nil {
		t.Fatal(err)
	}

	// The cell opens the attempts with what the learner saw.
	click(t, teacher, `tr.board-row td[data-step="init"] a`, "the init cell")
	waitJS(t, teacher, `location.pathname.startsWith('/instructor/learners/') && document.querySelectorAll('section.attempt').length === 2`, 20*time.Second, "the two attempts")

	// Export: download the CSV through the board's link.
	downloads := t.TempDir()
	if err := chromedp.Do(teacher, chromedp.Navigate(srv.url+"/instructor/cohorts/"+cohortID),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			enabled := true
			_, err := cdp.Call(ctx, tg, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads, EventsEnabled: &enabled})
			return err
		})); err != nil {
		t.Fatal(err)
	}
	click(t, teacher, `#export-csv`, "CSV export")
	file := filepath.Join(downloads, "grades-cohort-"+cohortID+".csv")
	var data []byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		if data, err = os.ReadFile(file); err == nil && len(data) > 0 && strings.HasSuffix(string(data), "\n") {
			break
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(downloads)
			t.Fatalf("no download at %s within 30 s: %v", file, entries)
		}
		time.Sleep(50 * time.Millisecond)
	}
	recs, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil {
		t.Fatalf("parse the download: %v\n%s", err, data)
	}
	checkExportAgainstDB(t, dataDir, recs, "board-learner")
}

// checkExportAgainstDB matches every row of a cohort's CSV export with
// step_progress and hint_reveals in the server's database.
func checkExportAgainstDB(t *testing.T, dataDir string, recs [][]string, learner string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+app.DBPath(dataDir)+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if len(recs) < 2 || recs[0][0] != "user_id" {
		t.Fatalf("export: %v", recs)
	}
	var steps int
	rowsFor := map[string]int{}
	passedInit := false
	for _, r := range recs[1:] {
		rowsFor[r[1]]++
		id, _ := strconv.ParseInt(r[0], 10, 64)
		var passed, attempts int
		var points float64
		var first sql.NullInt64
		err := db.QueryRow(`SELECT passed, attempts, best_points, first_passed_at FROM step_progress WHERE user_id = ? AND lab_id = ? AND step_id = ?`, id, r[2], r[3]).
			Scan(&passed, &attempts, &points, &first)
		if err == sql.ErrNoRows {
			passed, attempts, points = 0, 0, 0
		} else if err != nil {
			t.Fatal(err)
		}
		var hints int
		if err := db.QueryRow(`SELECT COUNT(*) FROM hint_reveals WHERE user_id = ? AND lab_id = ? AND step_id = ?`, id, r[2], r[3]).Scan(&hints); err != nil {
			t.Fatal(err)
		}
		firstStr := ""
		if first.Valid {
			firstStr = time.UnixMilli(first.Int64).UTC().Format(time.RFC3339)
		}
		got := fmt.Sprintf("%s|%s|%s|%s", r[5], r[7], r[8], r[9])
		want := fmt.Sprintf("%s|%d|%d|%s", strconv.FormatFloat(points, 'f', -1, 64), attempts, hints, firstStr)
		if got != want {
			t.Errorf("export row %v: points|attempts|hints|first = %s, database %s", r, got, want)
		}
		if (r[4] == "passed") != (passed == 1) {
			t.Errorf("export row %v: status %s, database passed=%d", r, r[4], passed)
		}
		if r[3] == "init" && r[4] == "passed" && r[7] == "2" {
			passedInit = true
		}
		steps++
	}
	if rowsFor[learner] == 0 || len(rowsFor) != 1 || !passedInit {
		t.Fatalf("export rows per learner %v (init passed in 2 attempts: %v)", rowsFor, passedInit)
	}
}
