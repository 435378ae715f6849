package web

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/auth"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/store"
)

// classEnv is a server with two instructors, each owning a cohort of the
// demo lab, and learners in them.
type classEnv struct {
	*testEnv
	st         *store.Store
	admin      *client
	teacherA   *client
	teacherB   *client
	cohortA    int64
	cohortB    int64
	learnerA   *client // in cohort A
	learnerB   *client // in cohort B
	learnerAID int64
	learnerBID int64
}

func (c *client) userID() int64 {
	c.t.Helper()
	status, out := c.api("GET", "/api/v1/auth/me", "")
	if status != http.StatusOK {
		c.t.Fatalf("me: %d %v", status, out)
	}
	return int64(out["user"].(map[string]any)["id"].(float64))
}

func newClassEnv(t *testing.T) *classEnv {
	t.Helper()
	e := newEnv(t, Config{Registration: true})
	st := e.server.users.(*store.Store)
	ctx := context.Background()
	ce := &classEnv{testEnv: e, st: st}
	mk := func(name string, role opsdojo.Role) *client {
		c := e.client(t)
		c.register(name)
		if role != opsdojo.RoleLearner {
			if err := st.SetUserRole(ctx, c.userID(), role); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	ce.admin = mk("root", opsdojo.RoleAdmin)
	ce.teacherA = mk("teach-a", opsdojo.RoleInstructor)
	ce.teacherB = mk("teach-b", opsdojo.RoleInstructor)
	ce.learnerA = mk("learn-a", opsdojo.RoleLearner)
	ce.learnerB = mk("learn-b", opsdojo.RoleLearner)
	ce.learnerAID, ce.learnerBID = ce.learnerA.userID(), ce.learnerB.userID()
	cohort := func(name string, owner *client, learner int64) int64 {
		c, err := st.CreateCohort(ctx, opsdojo.Cohort{Name: name, Labs: []string{"demo"}, Owners: []int64{owner.userID()}, Seats: 10})
		if err != nil {
			t.Fatal(err)
		}
		hash := auth.HashToken(name)
		if err := st.SetCohortInvite(ctx, c.ID, hash, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := st.JoinCohort(ctx, hash, learner, time.Now()); err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	ce.cohortA = cohort("class-a", ce.teacherA, ce.learnerAID)
	ce.cohortB = cohort("class-b", ce.teacherB, ce.learnerBID)
	return ce
}

// startAndCheck starts the demo lab for a learner and presses Check once
// (the fake engine's exit code decides pass or fail).
func startAndCheck(t *testing.T, c *client, exit int) string {
	t.Helper()
	status, out := c.api("POST", "/api/v1/labs/demo/session", "")
	if status != http.StatusOK {
		t.Fatalf("start: %d %v", status, out)
	}
	id := out["id"].(string)
	c.env.box.mu.Lock()
	c.env.box.exitCode = exit
	c.env.box.mu.Unlock()
	status, out = c.api("POST", "/api/v1/sessions/"+id+"/steps/one/check", "")
	if status != http.StatusOK {
		t.Fatalf("check: %d %v", status, out)
	}
	return id
}

func (c *client) bearer(method, path, token, body string) (int, map[string]any) {
	c.t.Helper()
	h := map[string]string{}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	resp, text := c.req(method, path, ct, body, h)
	var out map[string]any
	_ = json.Unmarshal([]byte(text), &out)
	return resp.StatusCode, out
}

func (c *client) newToken(name string, scopes ...string) (string, int64) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]any{"name": name, "scopes": scopes, "days": 7})
	status, out := c.api("POST", "/api/v1/tokens", string(b))
	if status != http.StatusCreated {
		c.t.Fatalf("create token: %d %v", status, out)
	}
	return out["token"].(string), int64(out["id"].(float64))
}

func TestAPITokensScopedRevocableExpiring(t *testing.T) {
	ce := newClassEnv(t)
	ctx := context.Background()
	tok, id := ce.teacherA.newToken("board reader", "read:progress")
	anon := ce.client(t) // no cookie at all: a script
	board := fmt.Sprintf("/api/v1/cohorts/%d/board", ce.cohortA)

	if status, out := anon.bearer("GET", board, tok, ""); status != http.StatusOK || len(out["rows"].([]any)) != 1 {
		t.Fatalf("board with a read:progress token: %d %v", status, out)
	}
	// Out of scope: export and session management are refused.
	if status, out := anon.bearer("GET", fmt.Sprintf("/api/v1/cohorts/%d/grades", ce.cohortA), tok, ""); status != http.StatusForbidden {
		t.Fatalf("export with a read:progress token: %d %v", status, out)
	}
	if status, out := anon.bearer("POST", fmt.Sprintf("/api/v1/learners/%d/labs/demo/reset", ce.learnerAID), tok, `{"confirm":"demo"}`); status != http.StatusForbidden {
		t.Fatalf("reset with a read:progress token: %d %v", status, out)
	}
	// Another instructor's cohort is not found, token or not.
	if status, _ := anon.bearer("GET", fmt.Sprintf("/api/v1/cohorts/%d/board", ce.cohortB), tok, ""); status != http.StatusNotFound {
		t.Fatalf("other cohort's board with a token: %d", status)
	}
	// Tokens work on the instructor API only, never as a login.
	for _, path := range []string{"/api/v1/auth/me", "/api/v1/tokens", "/api/v1/audit"} {
		if status, _ := anon.bearer("GET", path, tok, ""); status != http.StatusUnauthorized {
			t.Fatalf("GET %s with a token: %d, want 401", path, status)
		}
	}
	if status, _ := anon.bearer("POST", "/api/v1/labs/demo/session", tok, ""); status != http.StatusUnauthorized {
		t.Fatalf("start a lab with a token: %d, want 401", status)
	}
	// Garbage and malformed headers.
	for _, bad := range []string{"odj_nope", tok + "x", "Basic " + tok} {
		h := map[string]string{"Authorization": "Bearer " + bad}
		if strings.HasPrefix(bad, "Basic") {
			h["Authorization"] = bad
		}
		resp, _ := anon.req("GET", board, "", "", h)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("Authorization %q: %d, want 401", h["Authorization"], resp.StatusCode)
		}
	}
	// Only the hash is stored.
	var hash string
	if err := ce.st.DB().QueryRowContext(ctx, `SELECT token_hash FROM api_tokens WHERE id = ?`, id).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if hash != auth.HashToken(tok) || strings.Contains(hash, tok) {
		t.Fatalf("stored %q for the token", hash)
	}
	// Revoked: refused at once.
	if status, out := ce.teacherA.api("DELETE", "/api/v1/tokens/"+strconv.FormatInt(id, 10), ""); status != http.StatusOK {
		t.Fatalf("revoke: %d %v", status, out)
	}
	if status, _ := anon.bearer("GET", board, tok, ""); status != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d, want 401", status)
	}
	// Another instructor cannot revoke A's tokens.
	tok2, id2 := ce.teacherA.newToken("exporter", "export")
	if status, _ := ce.teacherB.api("DELETE", "/api/v1/tokens/"+strconv.FormatInt(id2, 10), ""); status != http.StatusNotFound {
		t.Fatalf("revoke someone else's token: %d", status)
	}
	if status, _ := anon.bearer("GET", fmt.Sprintf("/api/v1/cohorts/%d/grades?format=json", ce.cohortA), tok2, ""); status != http.StatusOK {
		t.Fatalf("export token: %d", status)
	}
	// Expired: refused.
	if _, err := ce.st.DB().ExecContext(ctx, `UPDATE api_tokens SET expires_at = ? WHERE id = ?`, time.Now().Add(-time.Second).UnixMilli(), id2); err != nil {
		t.Fatal(err)
	}
	if status, _ := anon.bearer("GET", fmt.Sprintf("/api/v1/cohorts/%d/grades", ce.cohortA), tok2, ""); status != http.StatusUnauthorized {
		t.Fatalf("expired token: %d, want 401", status)
	}
	// An instructor demoted to learner: their tokens stop working.
	tok3, _ := ce.teacherA.newToken("reader", "read:progress")
	if err := ce.st.SetUserRole(ctx, ce.teacherA.userID(), opsdojo.RoleLearner); err != nil {
		t.Fatal(err)
	}
	if status, _ := anon.bearer("GET", board, tok3, ""); status != http.StatusForbidden {
		t.Fatalf("demoted owner's token: %d, want 403", status)
	}
	// Learners cannot create tokens.
	if status, _ := ce.learnerA.api("POST", "/api/v1/tokens", `{"name":"x","scopes":["export"]}`); status != http.StatusNotFound {
		t.Fatalf("learner creates a token: %d", status)
	}
	// Bad requests are clear errors.
	for _, body := range []string{`{"name":"","scopes":["export"]}`, `{"name":"a","scopes":["root"]}`, `{"name":"a","scopes":[]}`, `{"name":"a","scopes":["export"],"days":999}`} {
		if status, out := ce.admin.api("POST", "/api/v1/tokens", body); status != http.StatusBadRequest {
			t.Fatalf("create %s: %d %v", body, status, out)
		}
	}
}

func TestBearerDoesNotBypassCSRFOfBrowserRoutes(t *testing.T) {
	ce := newClassEnv(t)
	tok, _ := ce.teacherA.newToken("manager", "manage:sessions")
	// The instructor's browser (cookie) adds a token but no CSRF header on
	// a cookie route: still refused, the token is not looked at there.
	resp, _ := ce.teacherA.req("POST", "/api/v1/labs/demo/session", "application/json", "", map[string]string{"Authorization": "Bearer " + tok})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cookie route with a bearer token and no CSRF: %d, want 403", resp.StatusCode)
	}
	// On the instructor API without a token, the cookie needs its CSRF token.
	resp, _ = ce.teacherA.req("POST", fmt.Sprintf("/api/v1/learners/%d/labs/demo/reset", ce.learnerAID), "application/json", `{"confirm":"demo"}`, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("staff route with a cookie and no CSRF: %d, want 403", resp.StatusCode)
	}
	// A bad token is refused even with a valid cookie: no fallback.
	resp, _ = ce.teacherA.req("GET", fmt.Sprintf("/api/v1/cohorts/%d/board", ce.cohortA), "", "", map[string]string{"Authorization": "Bearer odj_wrong"})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad token with a good cookie: %d, want 401", resp.StatusCode)
	}
}

func TestBoardAndActionsOnlyForTheLearnersInstructors(t *testing.T) {
	ce := newClassEnv(t)
	sid := startAndCheck(t, ce.learnerA, 0)
	boardA := fmt.Sprintf("/api/v1/cohorts/%d/board", ce.cohortA)
	for name, c := range map[string]*client{"teacher B": ce.teacherB, "learner A": ce.learnerA, "learner B": ce.learnerB} {
		if status, _ := c.api("GET", boardA, ""); status != http.StatusNotFound {
			t.Errorf("%s reads cohort A's board: %d", name, status)
		}
		if status, _ := c.api("POST", "/api/v1/staff/sessions/"+sid+"/message", `{"text":"hi"}`); status != http.StatusNotFound {
			t.Errorf("%s messages learner A: %d", name, status)
		}
		if status, _ := c.api("POST", "/api/v1/staff/sessions/"+sid+"/end", `{}`); status != http.StatusNotFound {
			t.Errorf("%s ends learner A's session: %d", name, status)
		}
		if status, _ := c.api("POST", fmt.Sprintf("/api/v1/learners/%d/labs/demo/reset", ce.learnerAID), `{"confirm":"demo"}`); status != http.StatusNotFound {
			t.Errorf("%s resets learner A: %d", name, status)
		}
		resp, _ := c.req("GET", fmt.Sprintf("/instructor/learners/%d/labs/demo/steps/one", ce.learnerAID), "", "", nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s opens learner A's attempts: %d", name, resp.StatusCode)
		}
		resp, _ = c.req("GET", "/admin/watch/"+sid+"/main", "", "", nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s watches learner A: %d", name, resp.StatusCode)
		}
	}
	// Teacher B naming cohort B does not reach learner A either.
	if status, _ := ce.teacherB.api("POST", "/api/v1/staff/sessions/"+sid+"/extend", fmt.Sprintf(`{"minutes":5,"cohort":%d}`, ce.cohortB)); status != http.StatusNotFound {
		t.Errorf("teacher B through cohort B: %d", status)
	}
	status, out := ce.teacherA.api("GET", boardA, "")
	if status != http.StatusOK {
		t.Fatalf("teacher A's board: %d %v", status, out)
	}
	rows := out["rows"].([]any)
	if len(rows) != 1 || rows[0].(map[string]any)["username"] != "learn-a" {
		t.Fatalf("cohort A's board rows: %v", rows)
	}
	cell := rows[0].(map[string]any)["cells"].([]any)[0].(map[string]any)
	if cell["status"] != "passed" || cell["attempts"].(float64) != 1 || cell["points"].(float64) != 1 {
		t.Fatalf("cell after a passing check: %v", cell)
	}
	// Teacher A and the admin may watch learner A; that is audited.
	for _, c := range []*client{ce.teacherA, ce.admin} {
		resp, _ := c.req("GET", "/admin/watch/"+sid+"/main", "", "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("watch page: %d", resp.StatusCode)
		}
	}
	entries, err := ce.st.AuditEntries(context.Background(), store.AuditFilter{All: true})
	if err != nil {
		t.Fatal(err)
	}
	watches := 0
	for _, e := range entries {
		if e.Action == opsdojo.AuditWatch && e.TargetUserID == ce.learnerAID && e.SessionID == sid {
			watches++
		}
	}
	if watches != 2 {
		t.Fatalf("audited watches = %d, want 2: %+v", watches, entries)
	}
}

func TestStaffActionsAndAudit(t *testing.T) {
	ce := newClassEnv(t)
	ctx := context.Background()
	sid := startAndCheck(t, ce.learnerA, 1) // a failed attempt
	before, err := ce.st.LabSession(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	// Extend.
	status, out := ce.teacherA.api("POST", "/api/v1/staff/sessions/"+sid+"/extend", fmt.Sprintf(`{"minutes":45,"cohort":%d}`, ce.cohortA))
	if status != http.StatusOK {
		t.Fatalf("extend: %d %v", status, out)
	}
	after, _ := ce.st.LabSession(ctx, sid)
	if got := after.ExpiresAt.Sub(before.ExpiresAt); got != 45*time.Minute {
		t.Fatalf("extend moved the expiry by %s, want 45m", got)
	}
	// Activity does not take the extension back.
	ce.learnerA.api("GET", "/api/v1/sessions/"+sid+"/terminals", "")
	if err := ce.st.TouchLabSession(ctx, sid, time.Now(), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if touched, _ := ce.st.LabSession(ctx, sid); !touched.ExpiresAt.Equal(after.ExpiresAt) {
		t.Fatalf("a touch moved the extended expiry from %s to %s", after.ExpiresAt, touched.ExpiresAt)
	}
	if status, _ := ce.teacherA.api("POST", "/api/v1/staff/sessions/"+sid+"/extend", `{"minutes":100000}`); status != http.StatusBadRequest {
		t.Fatalf("extend by too much: %d", status)
	}
	// Message (no terminal open: reported as not seen).
	status, out = ce.teacherA.api("POST", "/api/v1/staff/sessions/"+sid+"/message", `{"text":"try git init"}`)
	if status != http.StatusOK || out["terminals"].(float64) != 0 {
		t.Fatalf("message: %d %v", status, out)
	}
	if status, _ := ce.teacherA.api("POST", "/api/v1/staff/sessions/"+sid+"/message", `{"text":"   "}`); status != http.StatusBadRequest {
		t.Fatalf("empty message: %d", status)
	}
	// Reset needs the lab id as confirmation.
	if status, _ := ce.teacherA.api("POST", fmt.Sprintf("/api/v1/learners/%d/labs/demo/reset", ce.learnerAID), `{}`); status != http.StatusBadRequest {
		t.Fatalf("reset without confirmation: %d", status)
	}
	if p, _ := ce.st.Progress(ctx, ce.learnerAID, "demo"); len(p.Points) == 0 {
		t.Fatal("an unconfirmed reset cleared the progress")
	}
	startAndCheck(t, ce.learnerA, 0) // now passed, in the same session
	if status, out := ce.teacherA.api("POST", fmt.Sprintf("/api/v1/learners/%d/labs/demo/reset", ce.learnerAID), `{"confirm":"demo"}`); status != http.StatusNoContent {
		t.Fatalf("reset: %d %v", status, out)
	}
	if s, _ := ce.st.LabSession(ctx, sid); s.State != opsdojo.SessionEnded || !strings.Contains(s.EndReason, "reset") {
		t.Fatalf("session after reset: %s %q", s.State, s.EndReason)
	}
	p, _ := ce.st.Progress(ctx, ce.learnerAID, "demo")
	if len(p.Passed) != 0 || len(p.Points) != 0 {
		t.Fatalf("progress after reset: %+v", p)
	}
	attempts, err := ce.st.StepAttempts(ctx, ce.learnerAID, "demo", "one", 0)
	if err != nil || len(attempts) != 2 || !attempts[0].BeforeReset || !attempts[1].BeforeReset {
		t.Fatalf("attempts after reset (kept, marked): %+v %v", attempts, err)
	}
	status, out = ce.teacherA.api("GET", fmt.Sprintf("/api/v1/cohorts/%d/board", ce.cohortA), "")
	cell := out["rows"].([]any)[0].(map[string]any)["cells"].([]any)[0].(map[string]any)
	if status != http.StatusOK || cell["status"] != "not started" || cell["attempts"].(float64) != 0 {
		t.Fatalf("board after reset: %d %v", status, cell)
	}
	// End (a new session).
	sid2 := startAndCheck(t, ce.learnerA, 1)
	if status, out := ce.admin.api("POST", "/api/v1/staff/sessions/"+sid2+"/end", `{}`); status != http.StatusOK {
		t.Fatalf("end: %d %v", status, out)
	}
	if s, _ := ce.st.LabSession(ctx, sid2); s.State != opsdojo.SessionEnded || s.EndReason != "ended by root" {
		t.Fatalf("ended session: %s %q", s.State, s.EndReason)
	}
	if status, _ := ce.admin.api("POST", "/api/v1/staff/sessions/"+sid2+"/end", `{}`); status != http.StatusConflict {
		t.Fatalf("end twice: %d", status)
	}
	// The audit log: who, what, when, whom; teacher B sees none of it.
	status, out = ce.admin.api("GET", "/api/v1/audit", "")
	if status != http.StatusOK {
		t.Fatalf("audit: %d", status)
	}
	var actions []string
	for _, e := range out["entries"].([]any) {
		m := e.(map[string]any)
		actions = append(actions, m["action"].(string)+":"+m["actor"].(string)+":"+fmt.Sprint(m["target"]))
		if m["at"] == nil || m["via"] != "browser" {
			t.Fatalf("audit entry without time or via: %v", m)
		}
	}
	want := []string{"end:root:learn-a", "reset:teach-a:learn-a", "message:teach-a:learn-a", "extend:teach-a:learn-a"}
	if strings.Join(actions, " ") != strings.Join(want, " ") {
		t.Fatalf("audit actions = %v, want %v", actions, want)
	}
	if status, out := ce.teacherB.api("GET", "/api/v1/audit", ""); status != http.StatusOK || len(out["entries"].([]any)) != 0 {
		t.Fatalf("teacher B's audit view: %d %v", status, out)
	}
	if status, out := ce.teacherA.api("GET", "/api/v1/audit", ""); status != http.StatusOK || len(out["entries"].([]any)) != 3 {
		t.Fatalf("teacher A's audit view: %d %v", status, out)
	}
	if status, _ := ce.learnerA.api("GET", "/api/v1/audit", ""); status != http.StatusNotFound {
		t.Fatalf("learner's audit view: %d", status)
	}
}

func TestGradeExportMatchesTheDatabase(t *testing.T) {
	ce := newClassEnv(t)
	ctx := context.Background()
	// A learner whose name a spreadsheet would compute.
	formula := ce.client(t)
	formula.register("-1-1")
	fid := formula.userID()
	hash := auth.HashToken("class-a")
	if _, err := ce.st.JoinCohort(ctx, hash, fid, time.Now()); err != nil {
		t.Fatal(err)
	}
	// And one created past the sign-up rules (an admin's import, say).
	evil, err := ce.st.CreateUser(ctx, "=HYPERLINK(\"http://x\")", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ce.st.JoinCohort(ctx, hash, evil.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	startAndCheck(t, ce.learnerA, 1)
	startAndCheck(t, ce.learnerA, 0)
	startAndCheck(t, formula, 1)
	if status, _ := ce.learnerA.api("POST", "/api/v1/labs/demo/steps/one/hints", ""); status != http.StatusOK {
		t.Fatalf("hint: %d", status)
	}

	resp, text := ce.teacherA.req("GET", fmt.Sprintf("/api/v1/cohorts/%d/grades?format=csv", ce.cohortA), "", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("csv export: %d %v", resp.StatusCode, resp.Header)
	}
	recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatalf("parse csv: %v\n%s", err, text)
	}
	if strings.Join(recs[0], ",") != "user_id,username,lab,step,status,points,max_points,attempts,hints_used,first_passed_at" {
		t.Fatalf("header: %v", recs[0])
	}
	_, jtext := ce.teacherA.req("GET", fmt.Sprintf("/api/v1/cohorts/%d/grades?format=json", ce.cohortA), "", "", nil)
	var js struct {
		Rows []struct {
			UserID        int64      `json:"user_id"`
			Username      string     `json:"username"`
			Lab           string     `json:"lab"`
			Step          string     `json:"step"`
			Status        string     `json:"status"`
			Points        float64    `json:"points"`
			Attempts      int        `json:"attempts"`
			HintsUsed     int        `json:"hints_used"`
			FirstPassedAt *time.Time `json:"first_passed_at"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(jtext), &js); err != nil {
		t.Fatal(err)
	}
	if len(recs)-1 != 3 || len(js.Rows) != 3 {
		t.Fatalf("rows: csv %d json %d, want 3 (3 learners × 1 step)", len(recs)-1, len(js.Rows))
	}
	// Every row against the database.
	for i, r := range recs[1:] {
		id, _ := strconv.ParseInt(r[0], 10, 64)
		var passed, attempts int
		var points float64
		var first *int64
		err := ce.st.DB().QueryRowContext(ctx, `SELECT passed, attempts, best_points, first_passed_at FROM step_progress WHERE user_id = ? AND lab_id = 'demo' AND step_id = 'one'`, id).
			Scan(&passed, &attempts, &points, &first)
		if err != nil && id != evil.ID {
			t.Fatalf("row %v: %v", r, err)
		}
		var hints int
		ce.st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM hint_reveals WHERE user_id = ? AND lab_id = 'demo' AND step_id = 'one'`, id).Scan(&hints)
		status := "not started"
		switch {
		case passed == 1:
			status = "passed"
		case attempts > 0:
			status = "failed"
		}
		firstStr := ""
		if first != nil {
			firstStr = time.UnixMilli(*first).UTC().Format(time.RFC3339)
		}
		want := []string{r[0], r[1], "demo", "one", status, strconv.FormatFloat(points, 'f', -1, 64), "1", strconv.Itoa(attempts), strconv.Itoa(hints), firstStr}
		if strings.Join(r, "|") != strings.Join(want, "|") {
			t.Errorf("csv row %v, database says %v", r, want)
		}
		j := js.Rows[i]
		if j.UserID != id || j.Status != status || j.Points != points || j.Attempts != attempts || j.HintsUsed != hints || (j.FirstPassedAt == nil) != (first == nil) {
			t.Errorf("json row %+v, database says %v", j, want)
		}
	}
	names := map[string]bool{}
	for _, r := range recs[1:] {
		names[r[1]] = true
	}
	if !names["'-1-1"] || !names[`'=HYPERLINK("http://x")`] || !names["learn-a"] {
		t.Fatalf("usernames in the csv (formulas must be defused): %v", names)
	}
	// Teacher B cannot export A's cohort; a lab export is for admins only.
	if resp, _ := ce.teacherB.req("GET", fmt.Sprintf("/api/v1/cohorts/%d/grades", ce.cohortA), "", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("teacher B exports A: %d", resp.StatusCode)
	}
	if resp, _ := ce.teacherA.req("GET", "/api/v1/labs/demo/grades", "", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("instructor exports a whole lab: %d", resp.StatusCode)
	}
	resp, text = ce.admin.req("GET", "/api/v1/labs/demo/grades?format=csv", "", "", nil)
	if recs, _ := csv.NewReader(strings.NewReader(text)).ReadAll(); resp.StatusCode != http.StatusOK || len(recs) != 3 {
		t.Fatalf("admin's lab export (everyone who opened the lab: 2): %d %d\n%s", resp.StatusCode, len(recs), text)
	}
	if resp, _ := ce.admin.req("GET", "/api/v1/labs/demo/grades?format=xml", "", "", nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad format: %d", resp.StatusCode)
	}
	entries, _ := ce.st.AuditEntries(ctx, store.AuditFilter{All: true})
	exports := 0
	for _, e := range entries {
		if e.Action == opsdojo.AuditExport {
			exports++
		}
	}
	if exports != 3 {
		t.Fatalf("audited exports = %d, want 3", exports)
	}
}

// sseEvent reads the next event of a server-sent event stream.
func sseEvent(r *bufio.Reader) (string, string, error) {
	var event, data string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return event, data, err
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if event != "" {
				return event, data, nil
			}
		case strings.HasPrefix(line, "event: "):
			event = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		}
	}
}

func TestBoardStreamsARowOnCheck(t *testing.T) {
	ce := newClassEnv(t)
	req, _ := http.NewRequest("GET", ce.srv.URL+fmt.Sprintf("/api/v1/cohorts/%d/board/events?stuck_fails=1", ce.cohortA), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := ce.teacherA.http.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	r := bufio.NewReader(resp.Body)
	if ev, _, err := sseEvent(r); ev != "ready" || err != nil {
		t.Fatalf("first event %q %v", ev, err)
	}
	// A learner of another cohort checking does not concern this board.
	startAndCheck(t, ce.learnerB, 0)
	startAndCheck(t, ce.learnerA, 1)
	for {
		ev, data, err := sseEvent(r)
		if err != nil {
			t.Fatalf("stream ended: %v", err)
		}
		if ev != "row" {
			continue
		}
		var msg struct {
			User int64  `json:"user"`
			HTML string `json:"html"`
		}
		if err := json.Unmarshal([]byte(data), &msg); err != nil {
			t.Fatal(err)
		}
		if msg.User != ce.learnerAID {
			t.Fatalf("row of user %d on cohort A's board", msg.User)
		}
		if strings.Contains(msg.HTML, `data-status="failed"`) {
			if !strings.Contains(msg.HTML, "stuck") || !strings.Contains(msg.HTML, `<tr data-user="`+strconv.FormatInt(ce.learnerAID, 10)+`"`) {
				t.Fatalf("failed row without stuck (stuck_fails=1): %s", msg.HTML)
			}
			break
		}
	}
	// Bounded: an instructor cannot open streams without end.
	var open []*http.Response
	defer func() {
		for _, r := range open {
			r.Body.Close()
		}
	}()
	got429 := false
	for i := 0; i < maxBoardStreamsUser+1 && !got429; i++ {
		r, err := ce.teacherA.http.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, r)
		got429 = r.StatusCode == http.StatusTooManyRequests
	}
	if !got429 {
		t.Fatalf("%d streams of one instructor were all accepted", maxBoardStreamsUser+1)
	}
}

func TestBoardPages(t *testing.T) {
	ce := newClassEnv(t)
	startAndCheck(t, ce.learnerA, 1)
	resp, html := ce.teacherA.req("GET", fmt.Sprintf("/instructor/cohorts/%d", ce.cohortA), "", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(html, `data-user="`+strconv.FormatInt(ce.learnerAID, 10)+`"`) || !strings.Contains(html, `data-status="failed"`) {
		t.Fatalf("board page: %d\n%s", resp.StatusCode, html)
	}
	resp, html = ce.teacherA.req("GET", fmt.Sprintf("/instructor/learners/%d/labs/demo/steps/one?cohort=%d", ce.learnerAID, ce.cohortA), "", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(html, "data-attempt=") || !strings.Contains(html, "fail") {
		t.Fatalf("attempts page: %d\n%s", resp.StatusCode, html)
	}
	for _, path := range []string{"/instructor", "/instructor/tokens", "/instructor/audit"} {
		if resp, _ := ce.teacherA.req("GET", path, "", "", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		if resp, _ := ce.learnerA.req("GET", path, "", "", nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("learner %s: %d", path, resp.StatusCode)
		}
	}
	if resp, _ := ce.teacherA.req("GET", fmt.Sprintf("/instructor/cohorts/%d?stuck_minutes=0", ce.cohortA), "", "", nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad stuck_minutes: %d", resp.StatusCode)
	}
}
