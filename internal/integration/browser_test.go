//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// artifactsDir is where browser screenshots go (git-ignored).
func artifactsDir(t *testing.T) string {
	dir := filepath.Join(repoRoot, "test-artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts headless Chromium (Debian's package, installed by
// .ci/ensure-chromium.sh) with the flags this network needs.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed; make test installs it (.ci/ensure-chromium.sh)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1366, 860),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(artifactsDir(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("save screenshot: %v", err)
	}
}

// terminalText returns what xterm.js shows (its DOM renderer's rows).
const terminalText = `(() => { const r = document.querySelector('#terminal .xterm-rows'); return r ? r.innerText : ''; })()`

// waitJS polls a JavaScript boolean expression.
func waitJS(t *testing.T, ctx context.Context, expr string, within time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr)); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](terminalText))
			status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById('term-status')||{}).textContent||''`))
			screenshot(t, ctx, "failure-"+strings.ReplaceAll(t.Name(), "/", "-"))
			t.Fatalf("browser: %s not true within %s\nterm-status: %q\nterminal:\n%s", what, within, status, text)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// click clicks an element from inside the page, in one evaluation, once
// the document has loaded and the element is shown and enabled. A CDP
// click looks the node up first and fails with "could not find node" when
// a navigation replaced the document in between, as a loaded machine makes
// likely after sign-in or a link.
func click(t *testing.T, ctx context.Context, css, what string) {
	t.Helper()
	expr := fmt.Sprintf(`(() => {
		if (document.readyState !== 'complete') return false;
		const e = document.querySelector(%q);
		if (!e || e.disabled || e.getClientRects().length === 0) return false;
		e.click();
		return true;
	})()`, css)
	waitJS(t, ctx, expr, 20*time.Second, "click: "+what)
}

func typeInTerminal(t *testing.T, ctx context.Context, line string) {
	t.Helper()
	// Input.insertText delivers text the way a paste or an IME does;
	// synthetic key events would reach xterm.js twice (keydown and char).
	insert := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: line})
		return err
	})
	if err := chromedp.Do(ctx,
		chromedp.Focus(chromedp.CSS(`#terminal .xterm-helper-textarea`)),
		insert,
		chromedp.KeyEvent("\r"),
	); err != nil {
		t.Fatalf("type %q: %v", line, err)
	}
}

func terminalContains(s string) string {
	return fmt.Sprintf(`(%s).includes(%q)`, terminalText, s)
}

// TestBrowserLearnerLoop drives the real page in headless Chromium: sign
// up, open git-basics, see the prompt (timed: click to prompt), run a
// command, fail the first check, do the step, pass it.
func TestBrowserLearnerLoop(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	ctx := browser(t)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.url+"/signup"),
		chromedp.WaitVisible(chromedp.CSS(`#auth-form`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "browser-ada"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct-horse-battery"),
	); err != nil {
		t.Fatalf("sign-up page: %v", err)
	}
	screenshot(t, ctx, "01-signup")
	click(t, ctx, `#auth-form button[type=submit]`, "the sign-up button")
	waitJS(t, ctx, `location.pathname === '/labs' && !!document.querySelector('a.lab-card[href="/labs/git-basics"]')`, 20*time.Second, "catalog after sign-up")
	waitJS(t, ctx, `document.readyState === "complete"`, 10*time.Second, "catalog loaded")
	screenshot(t, ctx, "02-catalog")

	// Click to prompt: the cold start a learner sees (no container yet).
	start := time.Now()
	click(t, ctx, `a.lab-card[href="/labs/git-basics"]`, "the git-basics card")
	waitJS(t, ctx, terminalContains("$ "), 60*time.Second, "shell prompt in the terminal")
	coldStart := time.Since(start)
	t.Logf("cold start, click to prompt: %s", coldStart.Round(time.Millisecond))
	_ = os.WriteFile(filepath.Join(artifactsDir(t), "cold-start.txt"), []byte(coldStart.String()+"\n"), 0o644)
	screenshot(t, ctx, "03-lab-prompt")

	typeInTerminal(t, ctx, "echo $((6*7))")
	waitJS(t, ctx, `(`+terminalText+`).split('\n').some(l => l.trim() === '42')`, 20*time.Second, "42 on its own line")

	// The terminal follows the window size (fit addon + resize frame).
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1000, 700)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // debounced resize
	typeInTerminal(t, ctx, "stty size")
	waitJS(t, ctx, `/\n\d+ \d+\n/.test(`+terminalText+`)`, 20*time.Second, "stty size output")

	click(t, ctx, `.check-btn[data-step="init"]`, "Check of step init")
	waitJS(t, ctx, `document.querySelector('.check-result[data-step="init"]').dataset.status === 'fail'`, 30*time.Second, "init check fails first")
	screenshot(t, ctx, "04-check-fail")

	typeInTerminal(t, ctx, `cd ~/project && git init -q && git config --global user.email ada@example.com && git config --global user.name Ada && echo '# greeter' > README.md && git add README.md && git commit -qm 'Add README' && echo COMMITTED-$((20+1))`)
	waitJS(t, ctx, terminalContains("COMMITTED-21"), 30*time.Second, "commit done")
	click(t, ctx, `.check-btn[data-step="init"]`, "Check of step init")
	waitJS(t, ctx, `document.querySelector('.check-result[data-step="init"]').dataset.status === 'pass'`, 30*time.Second, "init check passes")
	waitJS(t, ctx, `document.getElementById('progress-passed').textContent === '1' && document.querySelector('section.step[data-step="init"]').classList.contains('passed')`, 5*time.Second, "progress shows 1 step")
	screenshot(t, ctx, "05-check-pass")
}

// TestBrowserFindings: a failing domain check shows its findings (file:line,
// message, rule) on the lab page, and hints are revealed on request.
func TestBrowserFindings(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	ctx := browser(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.url+"/signup"),
		chromedp.WaitVisible(chromedp.CSS(`#auth-form`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "browser-grace"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct-horse-battery"),
		chromedp.Click(chromedp.CSS(`#auth-form button[type=submit]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `location.pathname === '/labs'`, 20*time.Second, "catalog after sign-up")
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.url+"/labs/ci-pipeline")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, terminalContains("$ "), 60*time.Second, "shell prompt")
	typeInTerminal(t, ctx, `mkdir -p ~/repo/.github/workflows && printf 'on: push\njobs:\n  lint:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@main\n' > ~/repo/.github/workflows/ci.yml && echo WROTE-$((3+4))`)
	waitJS(t, ctx, terminalContains("WROTE-7"), 20*time.Second, "workflow written")
	click(t, ctx, `.check-btn[data-step="triggers"]`, "Check of step triggers")
	waitJS(t, ctx, `document.querySelector('.check-result[data-step="triggers"]').dataset.status === 'fail'`, 30*time.Second, "triggers check fails")
	waitJS(t, ctx, `[...document.querySelectorAll('.check-result[data-step="triggers"] .finding-loc')].some(e => /ci\.yml:\d+/.test(e.textContent))`, 5*time.Second, "a finding with file:line")
	waitJS(t, ctx, `!!document.querySelector('.check-result[data-step="triggers"] .finding-rule')`, 5*time.Second, "a finding with its rule")
	screenshot(t, ctx, "06-findings")
	click(t, ctx, `.hint-btn[data-step="triggers"]`, "the hint button of step triggers")
	waitJS(t, ctx, `document.querySelectorAll('.hints[data-step="triggers"] .hint-list li').length === 1`, 10*time.Second, "one hint revealed")
	// Revealed hints are recorded: a reload still shows them.
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.querySelectorAll('.hints[data-step="triggers"] .hint-list li').length === 1`, 10*time.Second, "hint still revealed after reload")
}
