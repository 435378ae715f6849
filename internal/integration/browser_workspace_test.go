//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// The workspace around the terminal in a real browser: run and copy
// buttons on the instructions' code blocks, check hints only on request,
// leaving the terminal with the keyboard, the phone layout, and axe-core
// (from npm) on every page at desktop and phone sizes, with screenshots in
// test-artifacts/.

// viewports are the sizes every page is checked and photographed at.
var viewports = []struct {
	name   string
	w, h   int64
	mobile bool
}{{"desktop", 1366, 768, false}, {"phone", 390, 844, true}}

// axeSource is axe-core's browser build from web/node_modules (npm ci).
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "web", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core is not installed (cd web && npm ci): %v", err)
	}
	return string(b)
}

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axeSerious runs axe-core on the page and returns its serious and
// critical violations.
func axeSerious(t *testing.T, ctx context.Context, src string) []axeViolation {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+";\ntrue")); err != nil {
		t.Fatalf("inject axe-core: %v", err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(
		r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => ({
			id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' | ' + (n.failureSummary || '')) }))))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe.run: %v", err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("axe result %q: %v", out, err)
	}
	return vs
}

func setViewport(t *testing.T, ctx context.Context, w, h int64, mobile bool) {
	t.Helper()
	// Not emulation's mobile mode: a mobile layout viewport grows to fit
	// overflowing content, which would hide the overflow this test looks for.
	_ = mobile
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h)); err != nil {
		t.Fatalf("viewport %dx%d: %v", w, h, err)
	}
	// Let layout (and the terminal's debounced fit) settle.
	waitJS(t, ctx, fmt.Sprintf(`window.innerWidth === %d`, w), 5*time.Second, "viewport applied")
	time.Sleep(200 * time.Millisecond)
}

// checkPage checks the current page at both sizes: no horizontal overflow,
// Sign out inside the viewport (signed in), no serious axe violations, and
// a screenshot of each.
func checkPage(t *testing.T, ctx context.Context, axe, name string, signedIn bool) {
	t.Helper()
	waitJS(t, ctx, `document.readyState === 'complete'`, 10*time.Second, name+" loaded")
	for _, vp := range viewports {
		setViewport(t, ctx, vp.w, vp.h, vp.mobile)
		screenshot(t, ctx, fmt.Sprintf("ws-%s-%dx%d", name, vp.w, vp.h))
		if sw := evalInt(t, ctx, `document.documentElement.scrollWidth`); sw > int(vp.w) {
			t.Errorf("%s at %dx%d: page is %d px wide (horizontal overflow)", name, vp.w, vp.h, sw)
		}
		if signedIn {
			inView := evalString(t, ctx, `(() => { const b = document.getElementById('logout'); if (!b) return 'no Sign out button';
				const r = b.getBoundingClientRect();
				return r.width > 0 && r.left >= 0 && r.top >= 0 && r.right <= innerWidth && r.bottom <= innerHeight ? 'ok' : JSON.stringify(r); })()`)
			if inView != "ok" {
				t.Errorf("%s at %dx%d: Sign out is not within the viewport: %s", name, vp.w, vp.h, inView)
			}
		}
		for _, v := range axeSerious(t, ctx, axe) {
			t.Errorf("%s at %dx%d: axe %s (%s): %s\n  %s", name, vp.w, vp.h, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n  "))
		}
	}
	setViewport(t, ctx, viewports[0].w, viewports[0].h, false)
}

// pressKey sends one raw key press (keydown, keyup) with modifiers
// (1 Alt, 2 Ctrl, 4 Meta, 8 Shift).
func pressKey(t *testing.T, ctx context.Context, key, code string, vk int64, mods int64) {
	t.Helper()
	press := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			if _, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, input.DispatchKeyEventParams{
				Type: typ, Modifiers: mods, Key: key, Code: code, WindowsVirtualKeyCode: vk, NativeVirtualKeyCode: vk,
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err := chromedp.Do(ctx, press); err != nil {
		t.Fatalf("press %s: %v", key, err)
	}
}

const focusInTerminal = `(() => { const a = document.activeElement; return !!a && !!a.closest('#terminal'); })()`

func TestBrowserWorkspaceUI(t *testing.T) {
	dataDir := t.TempDir()
	addAdmin(t, dataDir, "ws-admin")
	srv := startServer(t, dataDir, nil)
	axe := axeSource(t)
	ctx := browser(t)

	// The favicon: linked from every page and answered at /favicon.ico.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.url+"/signup")); err != nil {
		t.Fatal(err)
	}
	if got := fetchText(t, ctx, "/favicon.ico"); !strings.HasPrefix(got, "200 <svg") {
		t.Errorf("/favicon.ico: %.60s", got)
	}
	if got := evalString(t, ctx, `(document.querySelector('link[rel=icon]')||{}).href||''`); !strings.HasSuffix(got, "/static/favicon.svg") {
		t.Errorf("icon link: %q", got)
	}
	if got := fetchText(t, ctx, "/static/favicon.svg"); !strings.HasPrefix(got, "200 <svg") {
		t.Errorf("/static/favicon.svg: %.60s", got)
	}
	checkPage(t, ctx, axe, "signup", false)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.url+"/login")); err != nil {
		t.Fatal(err)
	}
	checkPage(t, ctx, axe, "signin", false)

	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`#auth-form`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "ws-admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct-horse-battery"),
		chromedp.Click(chromedp.CSS(`#auth-form button[type=submit]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `location.pathname === '/labs'`, 20*time.Second, "catalog after sign-in")
	checkPage(t, ctx, axe, "catalog", true)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.url+"/labs/no-such-lab")); err != nil {
		t.Fatal(err)
	}
	checkPage(t, ctx, axe, "not-found", true)

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.url+"/labs/git-basics")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, connectedWithHello("main"), 60*time.Second, "terminal connected")
	waitJS(t, ctx, fmt.Sprintf(`(%s).includes('$ ')`, bufferText("main")), 30*time.Second, "prompt")

	t.Run("copy", func(t *testing.T) {
		grantClipboard(t, ctx, srv.url)
		click(t, ctx, `section[data-step="init"] .code-block:has(pre.code-run) .code-copy`, "Copy of the run block")
		waitPromise(t, ctx, `navigator.clipboard.readText().then(s => s === 'cd ~/project\ngit init\nls -a')`, 10*time.Second, "the block's text on the clipboard")
	})

	t.Run("run", func(t *testing.T) {
		// Only run blocks have a Run button.
		if n := evalInt(t, ctx, `document.querySelectorAll('section[data-step="init"] .code-run-btn').length`); n != 1 {
			t.Fatalf("%d Run buttons in step init, want 1", n)
		}
		if n := evalInt(t, ctx, `document.querySelectorAll('section[data-step="init"] .code-copy').length`); n < 3 {
			t.Fatalf("%d Copy buttons in step init, want one per block", n)
		}
		click(t, ctx, `section[data-step="init"] .code-run-btn`, "Run of the git init block")
		// The real shell ran it: git's own output, in the learner's terminal.
		waitJS(t, ctx, linesContaining("main", "Initialized empty Git repository in /home/learner/project/.git/")+` === 1`, 20*time.Second, "git init ran in the terminal")
		waitJS(t, ctx, fmt.Sprintf(`(%s).split('\n').some(l => /^\.\s+\.\.\s.*\.git\b/.test(l.trim()))`, bufferText("main")), 20*time.Second, "ls -a ran after it")
		waitJS(t, ctx, focusInTerminal, 5*time.Second, "focus back in the terminal")
	})

	t.Run("tab escape", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(`#terminal .term-pane[data-tab="main"] .xterm-helper-textarea`))); err != nil {
			t.Fatal(err)
		}
		// By default Tab belongs to the shell (completion) and focus stays.
		pressKey(t, ctx, "Tab", "Tab", 9, 0)
		waitJS(t, ctx, focusInTerminal, 2*time.Second, "Tab kept in the terminal by default")
		// Ctrl+Shift+M: Tab moves focus, announced to screen readers.
		ctrlKey(t, ctx, 'm', true)
		waitJS(t, ctx, `document.getElementById('term-tabfocus').getAttribute('aria-pressed') === 'true'`, 5*time.Second, "Tab focus mode on")
		waitJS(t, ctx, `document.getElementById('a11y-announce').textContent.includes('Tab moves focus: on')`, 5*time.Second, "mode change announced")
		if d := evalString(t, ctx, `document.querySelector('#terminal .term-pane[data-tab="main"] .xterm-helper-textarea').getAttribute('aria-describedby')`); d != "term-keys-help" {
			t.Errorf("terminal input describedby = %q", d)
		}
		// The terminal is the page's last stop: Tab leaves the page.
		pressKey(t, ctx, "Tab", "Tab", 9, 0)
		waitJS(t, ctx, `!(`+focusInTerminal+`)`, 5*time.Second, "Tab left the terminal")
		if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(`#terminal .term-pane[data-tab="main"] .xterm-helper-textarea`))); err != nil {
			t.Fatal(err)
		}
		pressKey(t, ctx, "Tab", "Tab", 9, 8) // Shift+Tab: to what comes before (terminal bar, home links)
		waitJS(t, ctx, `!(`+focusInTerminal+`) && !!document.activeElement.closest('.lab-terminal')`, 5*time.Second, "Shift+Tab to the controls above the terminal")
		pressKey(t, ctx, "Tab", "Tab", 9, 0)
		waitJS(t, ctx, focusInTerminal, 5*time.Second, "Tab from there back into the terminal")
		ctrlKey(t, ctx, 'm', true)
		waitJS(t, ctx, `document.getElementById('term-tabfocus').getAttribute('aria-pressed') === 'false'`, 5*time.Second, "Tab focus mode off")
	})

	t.Run("hints on request", func(t *testing.T) {
		// A fresh repository without a commit: the README check fails.
		click(t, ctx, `.check-btn[data-step="init"]`, "Check of step init")
		waitJS(t, ctx, `document.querySelector('.check-result[data-step="init"]').dataset.status === 'fail'`, 30*time.Second, "init check fails")
		if n := evalInt(t, ctx, `document.querySelectorAll('.check-result[data-step="init"] .check-hint-list li').length`); n != 0 {
			t.Fatalf("a failed check showed %d hints without being asked", n)
		}
		waitJS(t, ctx, `document.getElementById('hints-used').textContent === '0'`, 2*time.Second, "no hint used yet")
		screenshot(t, ctx, "ws-hint-01-failed")
		click(t, ctx, `.check-result[data-step="init"] .check-hint-btn`, "Show a hint for this check")
		waitJS(t, ctx, `document.querySelectorAll('.check-result[data-step="init"] .check-hint-list li').length > 0`, 10*time.Second, "the check's hint shown")
		waitJS(t, ctx, `document.getElementById('hints-used').textContent === '1'`, 5*time.Second, "one hint used")
		// Backticks in hints render as inline code, as text.
		waitJS(t, ctx, `[...document.querySelectorAll('.check-result[data-step="init"] .check-hint-list code')].some(c => c.textContent === 'git status')`, 5*time.Second, "inline code in the hint")
		screenshot(t, ctx, "ws-hint-02-revealed")
	})

	t.Run("phone layout", func(t *testing.T) {
		setViewport(t, ctx, 390, 844, true)
		defer setViewport(t, ctx, 1366, 768, false)
		waitJS(t, ctx, `getComputedStyle(document.getElementById('lab-switch')).display !== 'none'`, 5*time.Second, "the view switch shows on a phone")
		click(t, ctx, `#lab-switch button[data-view="terminal"]`, "the Terminal switch")
		waitJS(t, ctx, `(() => { const r = document.getElementById('terminal').getBoundingClientRect();
			return r.top < innerHeight / 2 && r.height > 200 && r.bottom <= innerHeight + 1; })()`, 10*time.Second, "terminal fills the phone screen")
		click(t, ctx, `#lab-switch button[data-view="instructions"]`, "the Instructions switch")
		waitJS(t, ctx, `getComputedStyle(document.querySelector('.lab-terminal')).display === 'none'`, 5*time.Second, "instructions view")
		// A Run button switches to the terminal it types into.
		click(t, ctx, `section[data-step="init"] .code-run-btn`, "Run on the phone")
		waitJS(t, ctx, `document.getElementById('lab').dataset.view === 'terminal'`, 5*time.Second, "Run shows the terminal")
		waitJS(t, ctx, linesContaining("main", "Reinitialized existing Git repository")+` === 1`, 20*time.Second, "the block ran again, from the phone")
		screenshot(t, ctx, "ws-phone-terminal")
		click(t, ctx, `#lab-switch button[data-view="instructions"]`, "the Instructions switch")
	})

	checkPage(t, ctx, axe, "lab", true)

	// Recordings, the player, the admin list and the watch page.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.url+"/recordings")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `!!document.querySelector('table.recording-list a[href^="/recordings/"]')`, 20*time.Second, "recordings listed")
	checkPage(t, ctx, axe, "recordings", true)
	href := evalString(t, ctx, `document.querySelector('table.recording-list a[href^="/recordings/"]').getAttribute('href')`)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.url+href)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `!!window.__opsdojoPlayer && !document.getElementById('play').disabled`, 20*time.Second, "player ready")
	checkPage(t, ctx, axe, "player", true)
	tabLeavesReadOnlyTerminal(t, ctx, "player")
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.url+"/admin")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `!!document.querySelector('a.watch-link')`, 20*time.Second, "admin session list")
	checkPage(t, ctx, axe, "admin", true)
	click(t, ctx, `a.watch-link[href$="/main"]`, "watch link")
	waitJS(t, ctx, `!!window.__opsdojoTerm && window.__opsdojoTerm.conn.gotHello`, 30*time.Second, "watching")
	checkPage(t, ctx, axe, "watch", true)
	tabLeavesReadOnlyTerminal(t, ctx, "watch")
}

// tabLeavesReadOnlyTerminal: nothing can be typed into the watch page's
// or the player's terminal, so Tab never stays in it.
func tabLeavesReadOnlyTerminal(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(`#terminal .xterm-helper-textarea`))); err != nil {
		t.Fatalf("%s: focus the terminal: %v", page, err)
	}
	waitJS(t, ctx, focusInTerminal, 2*time.Second, page+": focus in the terminal")
	pressKey(t, ctx, "Tab", "Tab", 9, 8)
	waitJS(t, ctx, `!(`+focusInTerminal+`) && document.activeElement !== document.body`, 5*time.Second, page+": Shift+Tab leaves the read-only terminal")
}
