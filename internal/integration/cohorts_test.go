//go:build integration

package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/opsdojo/opsdojo/internal/app"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
	"github.com/opsdojo/opsdojo/internal/store"
)

// addLearner creates a learner account in a data dir before its server
// starts.
func addLearner(t *testing.T, dataDir, name string) {
	addUser(t, dataDir, name, opsdojo.RoleLearner)
}

// cleanupInstanceAfter removes, when the test ends and after its server
// stopped, every container and network of the data dir's instance: only
// this test's, whatever other tests run meanwhile.
func cleanupInstanceAfter(t *testing.T, dataDir string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, app.DBPath(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	instance, err := st.InstanceID(ctx)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeInstanceContainers(t, instance) })
}

func signInInBrowser(t *testing.T, ctx context.Context, srv *server, name string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.url+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#auth-form`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), name),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct-horse-battery"),
	); err != nil {
		t.Fatalf("sign in %s: %v", name, err)
	}
	click(t, ctx, `#auth-form button[type=submit]`, "the sign-in button")
	waitJS(t, ctx, `location.pathname !== '/login' && document.readyState === 'complete'`, 20*time.Second, name+" signed in")
}

// TestBrowserCohortFlow drives the class flow in Chromium against the
// real engine: an admin makes a user instructor; the instructor creates a
// cohort and copies its invite link; with open sign-up closed, a new
// learner signs up through the link, sees the cohort's lab on the
// catalog, starts it, and ends it from My labs (its container goes).
func TestBrowserCohortFlow(t *testing.T) {
	dataDir := t.TempDir()
	addAdmin(t, dataDir, "cohort-admin")
	addLearner(t, dataDir, "cohort-teacher")
	cleanupInstanceAfter(t, dataDir)
	srv := startServer(t, dataDir, func(c *app.Config) { c.Registration = false })

	admin := browser(t)
	signInInBrowser(t, admin, srv, "cohort-admin")
	click(t, admin, `header a[href="/admin/users"]`, "the Users link in the header")
	row := `tr[data-user="cohort-teacher"]`
	waitJS(t, admin, fmt.Sprintf(`!!document.querySelector('%s select[name=role]')`, row), 20*time.Second, "the teacher's row")
	if _, err := chromedp.Run(admin, chromedp.Evaluate[bool](fmt.Sprintf(`(document.querySelector('%s select[name=role]').value = 'instructor', true)`, row))); err != nil {
		t.Fatal(err)
	}
	click(t, admin, row+` .role-form button[type=submit]`, "Save role")
	// The page reloads with the new role selected.
	waitJS(t, admin, fmt.Sprintf(`document.readyState === 'complete' && document.querySelector('%s select[name=role]').value === 'instructor' && performance.getEntriesByType('navigation')[0].type === 'reload'`, row), 20*time.Second, "role saved")
	screenshot(t, admin, "cohort-01-users")

	teacher := browser(t)
	signInInBrowser(t, teacher, srv, "cohort-teacher")
	click(t, teacher, `header a[href="/cohorts"]`, "the Cohorts link in the header")
	waitJS(t, teacher, `!!document.querySelector('#cohort-new input[name=name]')`, 20*time.Second, "the new-cohort form")
	if err := chromedp.Do(teacher,
		chromedp.SendKeys(chromedp.CSS(`#cohort-new input[name=name]`), "Browser bootcamp"),
		chromedp.SendKeys(chromedp.CSS(`#cohort-new input[name=labs]`), "git-basics"),
	); err != nil {
		t.Fatal(err)
	}
	click(t, teacher, `#cohort-new button[type=submit]`, "Create cohort")
	waitJS(t, teacher, `/^\/cohorts\/\d+$/.test(location.pathname) && !document.getElementById('invite-box').hidden`, 20*time.Second, "the cohort page with its invite link")
	invite := evalString(t, teacher, `document.getElementById('invite-url').value`)
	if !strings.HasPrefix(invite, srv.url+"/join/") {
		t.Fatalf("invite link %q", invite)
	}
	click(t, teacher, `.copy-btn`, "Copy")
	screenshot(t, teacher, "cohort-02-created")

	learner := browser(t)
	if err := chromedp.Do(learner,
		chromedp.Navigate(invite),
		chromedp.WaitVisible(chromedp.CSS(`#auth-form`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "cohort-learner"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct-horse-battery"),
	); err != nil {
		t.Fatalf("join page: %v", err)
	}
	screenshot(t, learner, "cohort-03-join")
	click(t, learner, `#auth-form button[type=submit]`, "Sign up and join")
	waitJS(t, learner, `location.pathname === '/labs' && document.readyState === 'complete' && !!document.querySelector('.my-cohort a[data-lab="git-basics"]')`, 20*time.Second, "the cohort's lab on the catalog")
	waitJS(t, learner, `document.querySelector('.my-cohort h2').textContent.includes('Browser bootcamp')`, 5*time.Second, "the cohort's name")
	screenshot(t, learner, "cohort-04-catalog")

	// The teacher sees the new member.
	if err := chromedp.Do(teacher, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitJS(t, teacher, `!!document.querySelector('tr[data-member="cohort-learner"]')`, 20*time.Second, "the learner among the members")

	click(t, learner, `.my-cohort a[data-lab="git-basics"]`, "the cohort's lab")
	waitJS(t, learner, terminalContains("$ "), 90*time.Second, "shell prompt")
	session := evalString(t, learner, `document.getElementById('lab').dataset.session`)
	if err := chromedp.Do(learner, chromedp.Navigate(srv.url+"/labs")); err != nil {
		t.Fatal(err)
	}
	running := fmt.Sprintf(`#my-labs li.running-lab[data-session=%q]`, session)
	waitJS(t, learner, fmt.Sprintf(`document.readyState === 'complete' && !!document.querySelector('%s .time-left') && /min|h/.test(document.querySelector('%s .time-left').textContent)`, running, running), 20*time.Second, "the running lab with its time left")
	screenshot(t, learner, "cohort-05-my-labs")
	click(t, learner, running+` .end-btn`, "End")
	waitJS(t, learner, fmt.Sprintf(`document.readyState === 'complete' && !document.querySelector('%s') && document.getElementById('my-labs').textContent.includes('No lab is running')`, running), 60*time.Second, "the lab gone from My labs")
	list, err := docker.ContainerList(context.Background(), container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelSession+"="+session))})
	if err != nil || len(list) != 0 {
		t.Fatalf("the ended session's container: %d left, %v", len(list), err)
	}
}

// TestBrowserTooManyLabsOffersEnd: with three labs running, opening a
// fourth shows why it did not start and lists the three with End buttons;
// ending one and starting again gives the fourth lab a terminal.
func TestBrowserTooManyLabsOffersEnd(t *testing.T) {
	dataDir := t.TempDir()
	cleanupInstanceAfter(t, dataDir)
	srv := startServer(t, dataDir, nil)
	api := newLearner(t, srv, "busy-learner")
	var running []string
	for _, lab := range []string{"git-basics", "ci-pipeline", "prometheus-alerting"} {
		running = append(running, api.startLab(lab).ID)
	}
	ctx := browser(t)
	signInInBrowser(t, ctx, srv, "busy-learner")
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.url+"/labs/dockerfile-go-service")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.querySelectorAll('#running-labs li .end-btn').length === 3`, 30*time.Second, "the three running labs with End buttons")
	waitJS(t, ctx, termStatus+`.includes('labs running')`, 5*time.Second, "the refusal says why")
	screenshot(t, ctx, "too-many-01")
	click(t, ctx, fmt.Sprintf(`#running-labs li[data-session=%q] .end-btn`, running[0]), "End of the first lab")
	waitJS(t, ctx, fmt.Sprintf(`!document.querySelector('#running-labs li[data-session=%q]') && !!document.getElementById('start-again')`, running[0]), 60*time.Second, "the ended lab gone and a start button")
	click(t, ctx, `#start-again`, "Start this lab now")
	waitJS(t, ctx, terminalContains("$ "), 90*time.Second, "the fourth lab's shell prompt")
	var s sessionJSON
	if status := api.do("GET", "/api/v1/sessions/"+running[0], nil, &s); status != 200 || s.State != "ended" {
		t.Fatalf("the first lab after End: %d %+v", status, s)
	}
}
