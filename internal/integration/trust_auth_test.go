//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opsdojo/opsdojo/internal/terminal"
)

// TestTrustAuthLogoutClosesTerminal: signing out through the API closes
// the terminal websockets that sign-in opened (driver and viewer) within
// a bounded time with 4401, and input sent after the logout never
// reaches the shell; the shell itself survives for the next sign-in.
func TestTrustAuthLogoutClosesTerminal(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)

	driver := alice.openTerm(sess.ID, "tab=main&cols=100&rows=30", 0)
	viewer := alice.openTerm(sess.ID, "tab=main&watch=1", 0)
	driver.typeLine("echo ready-$((6*7))")
	driver.expect("ready-42", 30*time.Second)

	if status := alice.do("POST", "/api/v1/auth/logout", nil, nil); status != http.StatusNoContent {
		t.Fatalf("logout: %d", status)
	}
	// Straight after the 204, before the client has read any close frame.
	driver.typeLine("touch /home/learner/after-logout; echo leaked-$((5*5))")
	start := time.Now()
	if code := driver.closeCode(10 * time.Second); code != terminal.CloseSignedOut {
		t.Fatalf("driver closed with %d, want %d", code, terminal.CloseSignedOut)
	}
	if code := viewer.closeCode(10 * time.Second); code != terminal.CloseSignedOut {
		t.Fatalf("viewer closed with %d, want %d", code, terminal.CloseSignedOut)
	}
	t.Logf("logout to both sockets closed: %s", time.Since(start).Round(time.Millisecond))

	// The old cookie opens nothing any more.
	if _, status, err := alice.tryTerm(sess.ID, "tab=main", 0); err == nil || status != http.StatusUnauthorized {
		t.Fatalf("terminal with the signed-out cookie: status %d, %v", status, err)
	}

	// Sign in again: the same shell (within the grace period), and it
	// never saw the late input. A shell runs its input in order, so once
	// the probe's answer is back, anything typed before it has run.
	again := login(t, srv, "alice")
	d2 := again.openTerm(sess.ID, "tab=main", driver.seq())
	if d2.hello.Reset {
		t.Fatalf("a new shell after signing in again: %+v", *d2.hello)
	}
	d2.typeLine("echo probe-$((3*3))")
	d2.expect("probe-9", 30*time.Second)
	if bytes.Contains(d2.output(), []byte("leaked-25")) || bytes.Contains(driver.output(), []byte("leaked-25")) {
		t.Fatal("input sent after the logout ran in the shell")
	}
	if code, out := execIn(t, inspect(t, sess.ID).ID, "learner", "test", "-e", "/home/learner/after-logout"); code == 0 {
		t.Fatalf("input sent after the logout created a file (%s)", out)
	}
}

// TestTrustAuthSignInLimits: on a real server, spraying one password over
// many usernames from one address ends in 429 with Retry-After, while the
// browser a learner signed in with before still gets in, also after a
// restart (the device cookie key is kept in the database).
func TestTrustAuthSignInLimits(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, nil)
	ada := newLearner(t, srv, "ada") // signing up sets the device cookie
	srv.stop()
	srv = startServer(t, dataDir, nil)
	ada.srv = srv

	jar, _ := cookiejar.New(nil)
	sprayer := &learner{t: t, srv: srv, http: &http.Client{Jar: jar, Timeout: time.Minute}}
	var limited *http.Response
	for i := 0; i < 200 && limited == nil; i++ {
		req, _ := http.NewRequest("POST", srv.url+"/api/v1/auth/login",
			strings.NewReader(fmt.Sprintf(`{"username":"learner%03d","password":"Winter2026!"}`, i)))
		req.Header.Set("Content-Type", "application/json")
		// Forged: no trusted proxies, so this must not matter.
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
		resp, err := sprayer.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusTooManyRequests:
			limited = resp
			t.Logf("spraying refused after %d failures", i)
		case http.StatusUnauthorized:
		default:
			t.Fatalf("spray attempt %d: %d", i, resp.StatusCode)
		}
	}
	if limited == nil {
		t.Fatal("200 sprayed sign-ins from one address were all tried")
	}
	if s, err := strconv.Atoi(limited.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("429 without Retry-After: %q", limited.Header.Get("Retry-After"))
	}
	// A new browser of the same classroom waits; ada's does not.
	if status := newBrowser(t, srv).do("POST", "/api/v1/auth/login", map[string]string{"username": "ada", "password": "correct-horse-battery"}, nil); status != http.StatusTooManyRequests {
		t.Fatalf("new browser while the address is limited: %d, want 429", status)
	}
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	if status := ada.do("POST", "/api/v1/auth/login", map[string]string{"username": "ada", "password": "correct-horse-battery"}, &out); status != http.StatusOK || out.CSRFToken == "" {
		t.Fatalf("ada's browser with its device cookie: %d, want 200", status)
	}
}

func newBrowser(t *testing.T, srv *server) *learner {
	jar, _ := cookiejar.New(nil)
	return &learner{t: t, srv: srv, http: &http.Client{Jar: jar, Timeout: time.Minute}}
}

// TestTrustAuthLoginPageInBrowser: in Chromium, the sign-in page never
// sends a learner off-site through next (/%09/evil.example), and a
// limited sign-in shows the server's message and holds the button.
func TestTrustAuthLoginPageInBrowser(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	newLearner(t, srv, "ada")
	newLearner(t, srv, "bob")
	ctx := browser(t)

	signIn := func(user string) {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.WaitVisible(chromedp.CSS(`#auth-form`)),
			chromedp.SendKeys(chromedp.CSS(`input[name=username]`), user),
			chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct-horse-battery"),
		); err != nil {
			t.Fatalf("fill the sign-in form: %v", err)
		}
		click(t, ctx, `#auth-form button[type=submit]`, "the sign-in button")
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.url+"/login?next=/%09/evil.example")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.getElementById('auth-form').dataset.next === '/'`, 10*time.Second, "next replaced by /")
	signIn("ada")
	waitJS(t, ctx, fmt.Sprintf(`location.origin === %q && location.pathname === '/labs'`, srv.url), 20*time.Second, "the catalog on this site")

	// Spray from the same address until it is limited; bob's first
	// sign-in in this browser (no device cookie for bob) must wait.
	sprayer := newBrowser(t, srv)
	for i := 0; i < 200; i++ {
		if sprayer.do("POST", "/api/v1/auth/login", map[string]string{"username": fmt.Sprintf("victim%d", i), "password": "Winter2026!"}, nil) == http.StatusTooManyRequests {
			break
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.url+"/login")); err != nil {
		t.Fatal(err)
	}
	signIn("bob")
	waitJS(t, ctx, `(() => { const e = document.getElementById('auth-error');
		return !!e && !e.hidden && e.textContent.includes('too many failed sign-ins from your network') && /try again in \d+ seconds/.test(e.textContent); })()`,
		10*time.Second, "the limit's message on the page")
	held, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#auth-form button[type=submit]').disabled`))
	if err != nil || !held {
		t.Fatalf("the sign-in button is not held while limited: %v %v", held, err)
	}
	screenshot(t, ctx, "trust-auth-limited")
}
