//go:build integration

package integration

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opsdojo/opsdojo/internal/app"
)

// TestBrowserHomeAndExpiry: the lab page shows the time left before an
// idle session expires, the expiry warning beside the terminal, and a
// working link to download the live home folder.
func TestBrowserHomeAndExpiry(t *testing.T) {
	srv := startServer(t, t.TempDir(), func(c *app.Config) {
		c.SessionTTL = 40 * time.Second
		c.ExpiryWarnings = []time.Duration{30 * time.Second}
	})
	ctx := browser(t)
	signUpInBrowser(t, ctx, srv, "browser-homes")
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.url+"/labs/git-basics")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, terminalContains("$ "), 60*time.Second, "shell prompt in the terminal")
	waitJS(t, ctx, `!document.getElementById('lab-home').hidden && /^\d+ s$/.test(document.getElementById('session-left').textContent)`,
		10*time.Second, "time left shown")
	waitJS(t, ctx, `!document.getElementById('home-live').hidden && document.getElementById('home-text').textContent.includes('saved when the lab session ends')`,
		10*time.Second, "home status and download link shown")
	waitPromise(t, ctx, `fetch(document.getElementById('home-live').href).then(r => r.status === 200 && r.headers.get('content-type') === 'application/gzip')`,
		30*time.Second, "live home download")
	waitJS(t, ctx, `document.getElementById('term-notice').textContent.includes('This lab session ends in')`, 30*time.Second, "expiry warning beside the terminal")
	screenshot(t, ctx, "homes-expiry-warning")
}
