package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/auth"
	"github.com/opsdojo/opsdojo/internal/cohort"
	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/session"
	"github.com/opsdojo/opsdojo/internal/store"
	"github.com/opsdojo/opsdojo/internal/terminal"
)

// cohortEnv is a server with the cohort routes on the real store, two
// labs (demo, demo2), and the cohort start policy.
type cohortEnv struct {
	*testEnv
	st  *store.Store
	mgr *session.Manager
}

func newCohortEnv(t *testing.T, cfg Config, sc session.Config) *cohortEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	root := writeLab(t)
	yaml, err := os.ReadFile(filepath.Join(root, "demo", "lab.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(root, "demo2"), os.DirFS(filepath.Join(root, "demo"))); err != nil {
		t.Fatal(err)
	}
	second := strings.Replace(strings.Replace(string(yaml), "id: demo", "id: demo2", 1), "title: Demo lab", "title: Second lab", 1)
	if err := os.WriteFile(filepath.Join(root, "demo2", "lab.yaml"), []byte(second), 0o644); err != nil {
		t.Fatal(err)
	}
	list, problems := labs.LoadAll(root, nil)
	if len(problems) > 0 || len(list) != 2 {
		t.Fatal(problems, len(list))
	}
	log := slog.New(slog.DiscardHandler)
	box := &fakeSandbox{}
	mgr := session.New(st, box, fakeImages{}, labs.NewCatalog(list), grading.NewRunner(log), sc, log)
	mgr.SetPolicy(cohort.Policy{Store: st})
	cfg.Cohorts = st
	s, err := New(cfg, st, mgr, box, log)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() { s.CloseWebsockets(context.Background()); hs.Close() })
	return &cohortEnv{testEnv: &testEnv{srv: hs, box: box, server: s}, st: st, mgr: mgr}
}

var testHash = func() string {
	h, err := auth.HashPassword("long-enough-pw")
	if err != nil {
		panic(err)
	}
	return h
}()

// user creates a user with a role and signs them in.
func (e *cohortEnv) user(t *testing.T, name string, role opsdojo.Role) (*client, opsdojo.User) {
	t.Helper()
	ctx := context.Background()
	u, err := e.st.CreateUser(ctx, name, testHash, role == opsdojo.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if role == opsdojo.RoleInstructor {
		if err := e.st.SetUserRole(ctx, u.ID, role); err != nil {
			t.Fatal(err)
		}
	}
	u.Role = role
	return e.signIn(t, name), u
}

func (e *cohortEnv) cohort(t *testing.T, owner opsdojo.User, c opsdojo.Cohort) (opsdojo.Cohort, string) {
	t.Helper()
	c.Owners = []int64{owner.ID}
	if c.Seats == 0 {
		c.Seats = 30
	}
	co, err := e.st.CreateCohort(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	token, hash, err := cohort.NewInvite()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetCohortInvite(context.Background(), co.ID, hash, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	return co, token
}

// TestRoutesEnforceRoles: every route of roles and cohorts, as nobody, a
// learner, an instructor who does not own the cohort, its instructor and
// an admin. Refused is a 404 (401 for the learner API when signed out),
// so the routes' existence tells nothing; allowed is anything else.
func TestRoutesEnforceRoles(t *testing.T) {
	ref := &storeRef{}
	warm := cohort.NewPool(ref, cohort.PoolConfig{Lead: 15 * time.Minute, Hold: 30 * time.Minute, Max: 4,
		Poolable: func(string) error { return nil }}, time.Now, slog.New(slog.DiscardHandler))
	e := newCohortEnv(t, Config{WarmSeats: warm}, session.Config{})
	ref.Store = e.st
	admin, _ := e.user(t, "root", opsdojo.RoleAdmin)
	learner, _ := e.user(t, "lee", opsdojo.RoleLearner)
	other, _ := e.user(t, "otto", opsdojo.RoleInstructor)
	owner, ownerU := e.user(t, "ina", opsdojo.RoleInstructor)
	anon := e.client(t)
	_, victim := e.user(t, "vic", opsdojo.RoleLearner)
	co, token := e.cohort(t, ownerU, opsdojo.Cohort{Name: "A", Labs: []string{"demo"}})

	const (
		admins   = "admin"
		teachers = "admin instructor owner"
		owners   = "admin owner"
		users    = "admin instructor owner learner"
	)
	vic := fmt.Sprint(victim.ID)
	cid := fmt.Sprint(co.ID)
	newCohort := `{"name":"N","labs":"demo","seats":"5"}`
	routes := []struct {
		method, path, body, who string
		anonStatus              int
	}{
		{"GET", "/admin", "", admins, 404},
		{"GET", "/admin/users", "", admins, 404},
		{"POST", "/api/v1/admin/users/" + vic + "/role", `{"role":"learner"}`, admins, 404},
		{"POST", "/api/v1/admin/users/" + vic + "/password", `{"password":"another-long-pw"}`, admins, 404},
		{"POST", "/api/v1/admin/users/" + vic + "/disable", `{}`, admins, 404},
		{"POST", "/api/v1/admin/users/" + vic + "/enable", `{}`, admins, 404},
		{"GET", "/cohorts", "", teachers, 404},
		{"GET", "/api/v1/cohorts", "", teachers, 404},
		{"POST", "/api/v1/cohorts", newCohort, teachers, 404},
		{"GET", "/cohorts/" + cid, "", owners, 404},
		{"PUT", "/api/v1/cohorts/" + cid, `{"name":"A2","labs":"demo","seats":"30"}`, owners, 404},
		{"GET", "/api/v1/cohorts/" + cid + "/members", "", owners, 404},
		{"POST", "/api/v1/cohorts/" + cid + "/invite", `{"days":"3"}`, owners, 404},
		{"DELETE", "/api/v1/cohorts/" + cid + "/invite", "", owners, 404},
		{"GET", "/api/v1/cohorts/" + cid + "/pool", "", owners, 404},
		{"PUT", "/api/v1/cohorts/" + cid + "/pool", `{"warm":"0"}`, owners, 404},
		{"GET", "/api/v1/me/sessions", "", users, 401},
		{"GET", "/api/v1/me/cohorts", "", users, 401},
		{"POST", "/api/v1/join/" + token, `{}`, users, 401},
		{"GET", "/api/v1/auth/me", "", users, 401},
		{"GET", "/api/v1/recordings", "", users, 401},
	}
	who := []struct {
		name string
		c    *client
	}{{"anonymous", anon}, {"learner", learner}, {"instructor", other}, {"owner", owner}, {"admin", admin}}
	for _, r := range routes {
		for _, w := range who {
			t.Run(w.name+" "+r.method+" "+r.path, func(t *testing.T) {
				resp, body := w.c.req(r.method, r.path, "application/json", r.body, map[string]string{"X-CSRF-Token": w.c.csrf})
				allowed := strings.Contains(" "+r.who+" ", " "+w.name+" ")
				switch {
				case w.name == "anonymous":
					if resp.StatusCode != r.anonStatus {
						t.Fatalf("anonymous got %d %s, want %d", resp.StatusCode, body, r.anonStatus)
					}
				case allowed:
					if resp.StatusCode == 404 || resp.StatusCode == 401 || resp.StatusCode == 403 || resp.StatusCode >= 500 {
						t.Fatalf("%s refused: %d %s", w.name, resp.StatusCode, body)
					}
				default:
					if resp.StatusCode != 404 {
						t.Fatalf("%s got %d %s, want 404", w.name, resp.StatusCode, body)
					}
				}
			})
		}
		if r.path == "/api/v1/cohorts/"+cid+"/invite" && r.method == "DELETE" {
			// Revoked above: joins from here on need a fresh link.
			tok, hash, _ := cohort.NewInvite()
			if err := e.st.SetCohortInvite(context.Background(), co.ID, hash, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			for i := range routes {
				routes[i].path = strings.Replace(routes[i].path, token, tok, 1)
			}
			token = tok
		}
	}
	// State-changing routes want the CSRF token, role or not.
	resp, _ := admin.req("POST", "/api/v1/admin/users/"+vic+"/role", "application/json", `{"role":"instructor"}`, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("role change without CSRF: %d", resp.StatusCode)
	}
	// The nav shows each role its pages only.
	_, page := learner.req("GET", "/labs", "", "", nil)
	if strings.Contains(page, `href="/cohorts"`) || strings.Contains(page, `href="/admin/users"`) {
		t.Fatal("a learner's nav links to cohorts or users")
	}
	_, page = owner.req("GET", "/labs", "", "", nil)
	if !strings.Contains(page, `href="/cohorts"`) || strings.Contains(page, `href="/admin/users"`) {
		t.Fatal("an instructor's nav should link to cohorts only")
	}
}

// TestInstructorSeesOnlyOwnCohorts: the list and the API of one
// instructor never show another's cohort.
func TestInstructorSeesOnlyOwnCohorts(t *testing.T) {
	e := newCohortEnv(t, Config{}, session.Config{})
	a, au := e.user(t, "ina", opsdojo.RoleInstructor)
	_, bu := e.user(t, "otto", opsdojo.RoleInstructor)
	admin, _ := e.user(t, "root", opsdojo.RoleAdmin)
	e.cohort(t, au, opsdojo.Cohort{Name: "Mine"})
	e.cohort(t, bu, opsdojo.Cohort{Name: "Theirs"})
	_, page := a.req("GET", "/cohorts", "", "", nil)
	if !strings.Contains(page, "Mine") || strings.Contains(page, "Theirs") {
		t.Fatalf("instructor's cohort page: %s", page)
	}
	_, out := a.api("GET", "/api/v1/cohorts", "")
	if list := out["cohorts"].([]any); len(list) != 1 {
		t.Fatalf("instructor sees %d cohorts, want 1", len(list))
	}
	_, out = admin.api("GET", "/api/v1/cohorts", "")
	if list := out["cohorts"].([]any); len(list) != 2 {
		t.Fatalf("admin sees %d cohorts, want 2", len(list))
	}
}

// TestCreateCohortAndInviteLink: an instructor creates a cohort through
// the API; the invite link comes back once, works, and a new one replaces
// it.
func TestCreateCohortAndInviteLink(t *testing.T) {
	e := newCohortEnv(t, Config{}, session.Config{})
	ins, _ := e.user(t, "ina", opsdojo.RoleInstructor)
	status, out := ins.api("POST", "/api/v1/cohorts", `{"name":"Bootcamp","labs":"demo2, demo","seats":"2","session_minutes":"45","invite_days":"3"}`)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, out)
	}
	co := out["cohort"].(map[string]any)
	inv := out["invite"].(map[string]any)
	link := inv["url"].(string)
	if !strings.HasPrefix(link, e.srv.URL+"/join/") || co["labs"].([]any)[0] != "demo2" {
		t.Fatalf("cohort %v invite %v", co, inv)
	}
	token := strings.TrimPrefix(link, e.srv.URL+"/join/")
	got, err := e.st.Cohort(context.Background(), int64(co["id"].(float64)))
	if err != nil || !got.HasInvite || got.SessionLimit != 45*time.Minute {
		t.Fatalf("stored cohort %+v %v", got, err)
	}
	for name, bad := range map[string]string{
		"no such lab": `{"name":"x","labs":"nope","seats":"2"}`,
		"bad seats":   `{"name":"x","labs":"demo","seats":"many"}`,
		"bad time":    `{"name":"x","labs":"demo","seats":"2","opens_at":"tomorrow"}`,
		"not owner":   `{"name":"x","labs":"demo","seats":"2","owners":"nobody"}`,
	} {
		if status, out := ins.api("POST", "/api/v1/cohorts", bad); status != 400 {
			t.Errorf("%s: %d %v, want 400", name, status, out)
		}
	}
	anon := e.client(t)
	resp, page := anon.req("GET", "/join/"+token, "", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, "Join Bootcamp") || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("join page: %d %s", resp.StatusCode, page)
	}
	id := fmt.Sprint(co["id"])
	status, out = ins.api("POST", "/api/v1/cohorts/"+id+"/invite", `{"days":"1"}`)
	if status != 200 {
		t.Fatalf("new invite: %d %v", status, out)
	}
	if resp, _ := anon.req("GET", "/join/"+token, "", "", nil); resp.StatusCode != 404 {
		t.Fatalf("the replaced link still works: %d", resp.StatusCode)
	}
}

// TestInviteSignUpWithRegistrationClosed: with open sign-up off, a whole
// class signs up through one invite from one address, past the per-address
// sign-up limit, up to the seats; the next is refused as full and leaves
// no account; bad tokens are counted against the address.
func TestInviteSignUpWithRegistrationClosed(t *testing.T) {
	e := newCohortEnv(t, Config{Registration: false}, session.Config{})
	_, ins := e.user(t, "ina", opsdojo.RoleInstructor)
	_, token := e.cohort(t, ins, opsdojo.Cohort{Name: "Class", Labs: []string{"demo"}, Seats: 15})
	anon := e.client(t)
	if status, out := anon.api("POST", "/api/v1/auth/register", `{"username":"x1","password":"long-enough-pw"}`); status != 403 {
		t.Fatalf("open sign-up: %d %v, want 403", status, out)
	}
	// 15 learners behind one NAT at once: more than the 10 a minute an
	// address may sign up.
	var wg sync.WaitGroup
	codes := make([]int, 15)
	for i := range 15 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.client(t)
			codes[i], _ = c.api("POST", "/api/v1/auth/register-invite/"+token, fmt.Sprintf(`{"username":"learner%02d","password":"long-enough-pw"}`, i))
		}()
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusCreated {
			t.Fatalf("learner %d: %d", i, code)
		}
	}
	c := e.client(t)
	status, out := c.api("POST", "/api/v1/auth/register-invite/"+token, `{"username":"late","password":"long-enough-pw"}`)
	if status != http.StatusConflict || !strings.Contains(errMsg(out), "full") {
		t.Fatalf("16th: %d %v, want 409 full", status, out)
	}
	if _, _, err := e.st.UserByUsername(context.Background(), "late"); opsdojo.ErrorCode(err) != opsdojo.ENOTFOUND {
		t.Fatalf("a refused sign-up left an account: %v", err)
	}
	// A new learner sees the cohort and its labs on the catalog.
	learner := e.signIn(t, "learner03")
	_, page := learner.req("GET", "/labs", "", "", nil)
	if !strings.Contains(page, `class="my-cohort"`) || !strings.Contains(page, "Class") || !strings.Contains(page, `data-lab="demo"`) {
		t.Fatalf("catalog of a member: %s", page)
	}
	// Guessing tokens costs the address's sign-up budget.
	guesser := e.client(t)
	saw429 := false
	for i := range 12 {
		bad := strings.Repeat(string(rune('A'+i)), 43)
		status, _ := guesser.api("POST", "/api/v1/auth/register-invite/"+bad, `{"username":"g","password":"long-enough-pw"}`)
		if status == http.StatusTooManyRequests {
			saw429 = true
			break
		}
		if status != http.StatusNotFound {
			t.Fatalf("bad token: %d", status)
		}
	}
	if !saw429 {
		t.Fatal("12 bad invite tokens from one address were never limited")
	}
}

func errMsg(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

// TestExistingUserJoinsAndWindow: a signed-in learner joins with the link;
// outside the window joining and starting the cohort's labs are refused
// with a message that says so, other labs still start; the cohort's
// time limit caps the session.
func TestExistingUserJoinsAndWindow(t *testing.T) {
	e := newCohortEnv(t, Config{}, session.Config{TTL: 2 * time.Hour})
	ctx := context.Background()
	_, ins := e.user(t, "ina", opsdojo.RoleInstructor)
	co, token := e.cohort(t, ins, opsdojo.Cohort{Name: "Class", Labs: []string{"demo"}, SessionLimit: 30 * time.Minute})
	lee, _ := e.user(t, "lee", opsdojo.RoleLearner)
	if status, out := lee.api("POST", "/api/v1/join/"+token, `{}`); status != 200 {
		t.Fatalf("join: %d %v", status, out)
	}
	status, out := lee.api("POST", "/api/v1/labs/demo/session", `{}`)
	if status != 200 {
		t.Fatalf("start: %d %v", status, out)
	}
	exp, _ := time.Parse(time.RFC3339, out["expires_at"].(string))
	if d := time.Until(exp); d > 31*time.Minute || d < 25*time.Minute {
		t.Fatalf("session expires in %v; the cohort's limit is 30 min", d)
	}
	lee.api("DELETE", "/api/v1/sessions/"+out["id"].(string), "")
	// Closed now.
	co.ClosesAt = time.Now().Add(-time.Minute)
	co.OpensAt = time.Now().Add(-time.Hour)
	if err := e.st.UpdateCohort(ctx, co); err != nil {
		t.Fatal(err)
	}
	status, out = lee.api("POST", "/api/v1/labs/demo/session", `{}`)
	if status != 403 || !strings.Contains(errMsg(out), "closed") {
		t.Fatalf("start after close: %d %v", status, out)
	}
	if status, out := lee.api("POST", "/api/v1/labs/demo2/session", `{}`); status != 200 {
		t.Fatalf("a lab outside the cohort: %d %v", status, out)
	}
	late, _ := e.user(t, "late", opsdojo.RoleLearner)
	if status, out := late.api("POST", "/api/v1/join/"+token, `{}`); status != 403 || !strings.Contains(errMsg(out), "closed") {
		t.Fatalf("join after close: %d %v", status, out)
	}
	_, page := lee.req("GET", "/labs", "", "", nil)
	if !strings.Contains(page, "closed") {
		t.Fatal("the catalog does not say the cohort closed")
	}
}

// TestMyLabsEndRestartAndTooMany: the catalog lists running labs with
// time left and End/Restart; a start refused for too many running labs
// says so; restart gives a fresh session of the same lab.
func TestMyLabsEndRestartAndTooMany(t *testing.T) {
	e := newCohortEnv(t, Config{}, session.Config{MaxPerUser: 1})
	lee, _ := e.user(t, "lee", opsdojo.RoleLearner)
	status, out := lee.api("POST", "/api/v1/labs/demo/session", `{}`)
	if status != 200 {
		t.Fatalf("start: %d %v", status, out)
	}
	first := out["id"].(string)
	_, page := lee.req("GET", "/labs", "", "", nil)
	if !strings.Contains(page, `data-session="`+first+`"`) || !strings.Contains(page, "/api/v1/sessions/"+first+"/restart") ||
		!strings.Contains(page, `class="time-left"`) {
		t.Fatalf("My labs: %s", page)
	}
	status, out = lee.api("POST", "/api/v1/labs/demo2/session", `{}`)
	if status != 429 || errCode(out) != opsdojo.ETOOMANY {
		t.Fatalf("second lab: %d %v", status, out)
	}
	status, out = lee.api("GET", "/api/v1/me/sessions", "")
	list := out["sessions"].([]any)
	if status != 200 || len(list) != 1 || list[0].(map[string]any)["title"] != "Demo lab" || list[0].(map[string]any)["left"] == "" {
		t.Fatalf("me/sessions: %d %v", status, out)
	}
	status, out = lee.api("POST", "/api/v1/sessions/"+first+"/restart", `{}`)
	if status != 200 || out["id"] == first || out["lab"] != "demo" || out["state"] != "running" {
		t.Fatalf("restart: %d %v", status, out)
	}
	old, _ := e.st.LabSession(context.Background(), first)
	if old.State != opsdojo.SessionEnded {
		t.Fatalf("the restarted session is %s", old.State)
	}
	// Someone else's session cannot be restarted.
	bob, _ := e.user(t, "bob", opsdojo.RoleLearner)
	if status, _ := bob.api("POST", "/api/v1/sessions/"+out["id"].(string)+"/restart", `{}`); status != 404 {
		t.Fatalf("restart of another's session: %d", status)
	}
}

// TestDisableUser: the user's sign-ins end, their terminal sockets close
// at once (not at the periodic re-check), their running labs end with a
// reason, and they cannot sign in again until enabled.
func TestDisableUser(t *testing.T) {
	e := newCohortEnv(t, Config{LoginRecheck: time.Hour}, session.Config{})
	admin, _ := e.user(t, "root", opsdojo.RoleAdmin)
	lee, leeU := e.user(t, "lee", opsdojo.RoleLearner)
	_, out := lee.api("POST", "/api/v1/labs/demo/session", `{}`)
	sid := out["id"].(string)
	ws := lee.openTerminal(sid, "tab=main")
	status, out := admin.api("POST", fmt.Sprintf("/api/v1/admin/users/%d/disable", leeU.ID), `{}`)
	if status != 200 || out["sessions_ended"].(float64) != 1 {
		t.Fatalf("disable: %d %v", status, out)
	}
	if code, _ := ws.closed(t); code != terminal.CloseSignedOut && code != terminal.CloseSessionEnded {
		t.Fatalf("socket closed with %d", code)
	}
	s, _ := e.st.LabSession(context.Background(), sid)
	if s.State != opsdojo.SessionEnded || s.EndReason != disabledReason {
		t.Fatalf("session after disable: %s %q", s.State, s.EndReason)
	}
	if status, _ := lee.api("GET", "/api/v1/auth/me", ""); status != 401 {
		t.Fatalf("old sign-in after disable: %d", status)
	}
	status, out = e.client(t).api("POST", "/api/v1/auth/login", loginBody("lee", "long-enough-pw"))
	if status != 403 || !strings.Contains(errMsg(out), "disabled") {
		t.Fatalf("sign-in of a disabled user: %d %v", status, out)
	}
	if status, _ := e.client(t).api("POST", "/api/v1/auth/login", loginBody("lee", "wrong-password")); status != 401 {
		t.Fatalf("a wrong password for a disabled user must not say disabled: %d", status)
	}
	_, page := admin.req("GET", "/admin/users", "", "", nil)
	if !strings.Contains(page, `data-user="lee" class="disabled"`) {
		t.Fatalf("users page: %s", page)
	}
	admin.api("POST", fmt.Sprintf("/api/v1/admin/users/%d/enable", leeU.ID), `{}`)
	if status, _ := e.client(t).api("POST", "/api/v1/auth/login", loginBody("lee", "long-enough-pw")); status != 200 {
		t.Fatalf("sign-in after enable: %d", status)
	}
}

// TestAdminResetsPasswordAndRole: a reset ends the user's sign-ins and
// closes their sockets at once; the old password stops working. A role
// change takes effect on the user's next request.
func TestAdminResetsPasswordAndRole(t *testing.T) {
	e := newCohortEnv(t, Config{LoginRecheck: time.Hour}, session.Config{})
	admin, adminU := e.user(t, "root", opsdojo.RoleAdmin)
	lee, leeU := e.user(t, "lee", opsdojo.RoleLearner)
	_, out := lee.api("POST", "/api/v1/labs/demo/session", `{}`)
	ws := lee.openTerminal(out["id"].(string), "tab=main")
	if status, out := admin.api("POST", fmt.Sprintf("/api/v1/admin/users/%d/password", leeU.ID), `{"password":"short"}`); status != 400 {
		t.Fatalf("short password: %d %v", status, out)
	}
	if status, out := admin.api("POST", fmt.Sprintf("/api/v1/admin/users/%d/password", leeU.ID), `{"password":"brand-new-password"}`); status != 200 {
		t.Fatalf("reset: %d %v", status, out)
	}
	if code, _ := ws.closed(t); code != terminal.CloseSignedOut {
		t.Fatalf("socket closed with %d, want %d", code, terminal.CloseSignedOut)
	}
	if status, _ := e.client(t).api("POST", "/api/v1/auth/login", loginBody("lee", "long-enough-pw")); status != 401 {
		t.Fatalf("old password: %d", status)
	}
	lee2 := e.client(t)
	status, out := lee2.api("POST", "/api/v1/auth/login", loginBody("lee", "brand-new-password"))
	if status != 200 {
		t.Fatalf("new password: %d", status)
	}
	lee2.csrf = out["csrf_token"].(string)
	if status, _ := lee2.api("GET", "/api/v1/cohorts", ""); status != 404 {
		t.Fatalf("learner on cohorts: %d", status)
	}
	if status, out := admin.api("POST", fmt.Sprintf("/api/v1/admin/users/%d/role", leeU.ID), `{"role":"instructor"}`); status != 200 {
		t.Fatalf("role: %d %v", status, out)
	}
	if status, _ := lee2.api("GET", "/api/v1/cohorts", ""); status != 200 {
		t.Fatalf("new instructor on cohorts: %d", status)
	}
	if status, out := admin.api("POST", fmt.Sprintf("/api/v1/admin/users/%d/role", leeU.ID), `{"role":"god"}`); status != 400 {
		t.Fatalf("unknown role: %d %v", status, out)
	}
	// The last admin cannot step down.
	if status, out := admin.api("POST", fmt.Sprintf("/api/v1/admin/users/%d/role", adminU.ID), `{"role":"learner"}`); status != 409 {
		t.Fatalf("last admin demoted: %d %v", status, out)
	}
	var me struct {
		User opsdojo.User `json:"user"`
	}
	_, body := admin.req("GET", "/api/v1/auth/me", "", "", nil)
	if err := json.Unmarshal([]byte(body), &me); err != nil || me.User.Role != opsdojo.RoleAdmin {
		t.Fatalf("me: %s", body)
	}
}

func TestHumanLeft(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		-time.Second:                    "ending now",
		0:                               "ending now",
		59 * time.Second:                "under a minute left",
		42*time.Minute + 59*time.Second: "42 min left",
		65 * time.Minute:                "1 h 05 min left",
	} {
		if got := humanLeft(now, now.Add(d)); got != want {
			t.Errorf("humanLeft(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestRemoveCohortMember: the cohort's instructor takes a learner out of
// the cohort from its page; the seat is free again, the removal is in the
// audit log, and nobody else can remove members.
func TestRemoveCohortMember(t *testing.T) {
	e := newCohortEnv(t, Config{}, session.Config{})
	owner, ownerU := e.user(t, "ina", opsdojo.RoleInstructor)
	other, _ := e.user(t, "otto", opsdojo.RoleInstructor)
	lee, leeU := e.user(t, "lee", opsdojo.RoleLearner)
	mia, _ := e.user(t, "mia", opsdojo.RoleLearner)
	co, token := e.cohort(t, ownerU, opsdojo.Cohort{Name: "Spring", Labs: []string{"demo"}, Seats: 1})
	if status, out := lee.api("POST", "/api/v1/join/"+token, `{}`); status != http.StatusOK {
		t.Fatalf("join: %d %v", status, out)
	}
	if status, _ := mia.api("POST", "/api/v1/join/"+token, `{}`); status == http.StatusOK {
		t.Fatal("a second learner joined a cohort of one seat")
	}
	path := fmt.Sprintf("/api/v1/cohorts/%d/members/%d", co.ID, leeU.ID)

	// The page offers it.
	if resp, page := owner.req("GET", fmt.Sprintf("/cohorts/%d", co.ID), "", "", nil); resp.StatusCode != 200 || !strings.Contains(page, `data-endpoint="`+path+`"`) {
		t.Fatalf("cohort page %d has no Remove for lee:\n%s", resp.StatusCode, page)
	}
	for name, c := range map[string]*client{"another instructor": other, "the learner": lee, "another learner": mia} {
		if status, _ := c.api("DELETE", path, ""); status != http.StatusNotFound {
			t.Fatalf("%s removed a member: %d", name, status)
		}
	}
	if status, _ := owner.api("DELETE", fmt.Sprintf("/api/v1/cohorts/%d/members/%d", co.ID, ownerU.ID), ""); status != http.StatusNotFound {
		t.Fatalf("removing a non-member: %d, want 404", status)
	}
	if status, _ := owner.api("DELETE", fmt.Sprintf("/api/v1/cohorts/%d/members/x", co.ID), ""); status != http.StatusNotFound {
		t.Fatalf("removing member x: %d, want 404", status)
	}
	if status, out := owner.api("DELETE", path, ""); status != http.StatusNoContent {
		t.Fatalf("owner's remove: %d %v", status, out)
	}
	members, err := e.st.CohortMembers(context.Background(), co.ID)
	if err != nil || len(members) != 0 {
		t.Fatalf("members after the remove: %v, %v", members, err)
	}
	if status, out := mia.api("POST", "/api/v1/join/"+token, `{}`); status != http.StatusOK {
		t.Fatalf("the freed seat: %d %v", status, out)
	}
	status, out := owner.api("GET", "/api/v1/audit", "")
	if status != http.StatusOK {
		t.Fatalf("audit: %d", status)
	}
	found := false
	for _, x := range out["entries"].([]any) {
		m := x.(map[string]any)
		found = found || (m["action"] == opsdojo.AuditRemove && m["actor"] == "ina" && m["target"] == "lee")
	}
	if !found {
		t.Fatalf("no audit entry of the removal: %v", out["entries"])
	}
}
