//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// The terminal in a real browser (docs/terminal-protocol.md): reconnect
// without losing the shell or duplicating output, resize, flow control
// under `yes`, tabs, exit and a new shell, search and font size. The
// page exposes its terminals as window.__opsdojoTerms (tabs) and
// window.__opsdojoTerm (the active one).

// bufferText is the whole xterm.js buffer (scrollback included) of a tab,
// one line per row, trailing blanks trimmed.
func bufferText(tab string) string {
	return fmt.Sprintf(`(() => {
		const ts = window.__opsdojoTerms; const v = ts && ts.views.get(%q);
		if (!v) return '';
		const b = v.term.buffer.active, out = [];
		for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true));
		return out.join('\n');
	})()`, tab)
}

// linesEqual counts the buffer lines of a tab that are exactly want (after
// trimming): an output line, not the command that printed it.
func linesEqual(tab, want string) string {
	return fmt.Sprintf(`(%s).split('\n').filter(l => l.trim() === %q).length`, bufferText(tab), want)
}

func linesContaining(tab, want string) string {
	return fmt.Sprintf(`(%s).split('\n').filter(l => l.includes(%q)).length`, bufferText(tab), want)
}

const termStatus = `((document.getElementById('term-status')||{}).textContent||'')`

// activeTab is the name of the tab whose pane shows.
const activeTab = `(() => { const p = document.querySelector('#terminal .term-pane:not([hidden])'); return p ? p.dataset.tab : ''; })()`

func evalString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

// fetchText fetches a URL from the page: "STATUS BODY".
func fetchText(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		fmt.Sprintf(`fetch(%q).then(async r => r.status + ' ' + await r.text())`, url), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("fetch %s: %v", url, err)
	}
	return s
}

func evalInt(t *testing.T, ctx context.Context, expr string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return n
}

// typeInTab types a line (and Enter) into a tab's terminal.
func typeInTab(t *testing.T, ctx context.Context, tab, line string) {
	t.Helper()
	insert := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: line})
		return err
	})
	if err := chromedp.Do(ctx,
		chromedp.Focus(chromedp.CSS(fmt.Sprintf(`#terminal .term-pane[data-tab=%q] .xterm-helper-textarea`, tab))),
		insert,
		enterKey,
	); err != nil {
		t.Fatalf("type %q in %s: %v", line, tab, err)
	}
}

// enterKey presses Enter once (a raw key press: chromedp.KeyEvent("\r")
// reaches xterm.js as keydown and char, i.e. twice).
var enterKey = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
		}); err != nil {
			return err
		}
	}
	return nil
})

// ctrlKey presses Ctrl(+Shift)+letter as a raw key press (no text, so
// xterm.js sees one keydown, as from a keyboard).
func ctrlKey(t *testing.T, ctx context.Context, letter byte, shift bool) {
	t.Helper()
	upper := strings.ToUpper(string(letter))
	mods := int64(2) // Ctrl
	key := string(letter)
	if shift {
		mods |= 8 // Shift
		key = upper
	}
	press := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
				Type:                  typ,
				Modifiers:             mods,
				Key:                   key,
				Code:                  "Key" + upper,
				WindowsVirtualKeyCode: int64(upper[0]),
				NativeVirtualKeyCode:  int64(upper[0]),
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err := chromedp.Do(ctx, press); err != nil {
		t.Fatalf("ctrl+%c: %v", letter, err)
	}
}

// grantClipboard lets the page read and write the clipboard.
func grantClipboard(t *testing.T, ctx context.Context, origin string) {
	t.Helper()
	b := chromedp.FromContext(ctx).Browser
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := cdp.Call(ctx, b, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: name},
			Setting:    cdpbrowser.PermissionSettingGranted,
			Origin:     origin,
		}); err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
}

// waitPromise polls a JavaScript expression that yields a Promise<boolean>.
func waitPromise(t *testing.T, ctx context.Context, expr string, within time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	var lastErr error
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr, chromedp.EvalAwaitPromise))
		if err == nil && ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			screenshot(t, ctx, "failure-"+strings.ReplaceAll(t.Name(), "/", "-"))
			t.Fatalf("browser: %s not true within %s (%v)", what, within, lastErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func signUpInBrowser(t *testing.T, ctx context.Context, srv *server, name string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.url+"/signup"),
		chromedp.WaitVisible(chromedp.CSS(`#auth-form`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), name),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct-horse-battery"),
		chromedp.Click(chromedp.CSS(`#auth-form button[type=submit]`)),
	); err != nil {
		t.Fatalf("sign up: %v", err)
	}
	waitJS(t, ctx, `location.pathname === '/labs'`, 20*time.Second, "catalog after sign-up")
}

// connectedWithHello: the active tab's socket is open and the server
// answered hello (a v2 server).
func connectedWithHello(tab string) string {
	return fmt.Sprintf(`(() => { const v = window.__opsdojoTerms && window.__opsdojoTerms.views.get(%q);
		return !!v && !!v.socket && v.socket.readyState === 1 && v.conn.gotHello; })()`, tab)
}

// screenLines is a tab's buffer as lines without the trailing blank ones.
func screenLines(t *testing.T, ctx context.Context, tab string) []string {
	t.Helper()
	lines := strings.Split(evalString(t, ctx, bufferText(tab)), "\n")
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// continues checks that the screen after a reconnect is the screen before
// it plus new output: every line shown before is still there once, in
// place (the last one, the prompt, may have grown), nothing was repeated.
func continues(t *testing.T, before, after []string, what string) {
	t.Helper()
	ok := len(after) >= len(before)
	for i := 0; ok && i < len(before); i++ {
		if i == len(before)-1 {
			ok = strings.HasPrefix(after[i], strings.TrimRight(before[i], " "))
		} else {
			ok = after[i] == before[i]
		}
	}
	if !ok {
		t.Errorf("%s: the screen does not continue the one before\nbefore:\n%s\nafter:\n%s", what, strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
}

var sttyRe = regexp.MustCompile(`(?m)^(\d+) (\d+)\s*$`)

// sttySize runs `stty size` in a tab and returns its answer ("rows cols").
func sttySize(t *testing.T, ctx context.Context, tab, marker string) string {
	t.Helper()
	typeInTab(t, ctx, tab, "stty size; echo "+marker+"-$((1+1))")
	waitJS(t, ctx, linesEqual(tab, marker+"-2")+` === 1`, 20*time.Second, "stty size output")
	text := evalString(t, ctx, bufferText(tab))
	i := strings.LastIndex(text, marker+"-2")
	m := sttyRe.FindAllStringSubmatch(text[:i], -1)
	if len(m) == 0 {
		t.Fatalf("no stty size answer before %s in:\n%s", marker, text)
	}
	last := m[len(m)-1]
	return last[1] + " " + last[2]
}

// TestBrowserTerminal drives the lab page's terminal in headless Chromium.
func TestBrowserTerminal(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	ctx := browser(t)

	signUpInBrowser(t, ctx, srv, "browser-term")
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.url+"/labs/git-basics")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, fmt.Sprintf(`(%s).includes('$ ')`, bufferText("main")), 60*time.Second, "shell prompt")
	waitJS(t, ctx, connectedWithHello("main"), 20*time.Second, "hello answered")
	sessionID := evalString(t, ctx, `document.getElementById('lab').dataset.session`)

	// Record every status the learner sees.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const el = document.getElementById('term-status');
		window.__statusLog = [el.textContent];
		new MutationObserver(() => window.__statusLog.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
		return true; })()`)); err != nil {
		t.Fatal(err)
	}

	// ---- state survives a dropped websocket, nothing is shown twice ----
	typeInTab(t, ctx, "main", "export K=v42; echo mark-$((40+2))")
	waitJS(t, ctx, linesEqual("main", "mark-42")+` === 1`, 20*time.Second, "mark-42")
	waitJS(t, ctx, fmt.Sprintf(`(%s).trimEnd().endsWith('$')`, bufferText("main")), 10*time.Second, "prompt after mark-42")
	screenshot(t, ctx, "term-01-before-drop")
	before := screenLines(t, ctx, "main")

	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(window.__opsdojoTerm.socket.close(), true)`)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `window.__statusLog.some(s => s.includes('reconnecting'))`, 10*time.Second, `"reconnecting…" shown`)
	waitJS(t, ctx, connectedWithHello("main"), 30*time.Second, "reconnected")
	waitJS(t, ctx, `window.__statusLog.some(s => s.startsWith('reconnected'))`, 5*time.Second, `"reconnected" shown`)
	typeInTab(t, ctx, "main", "echo $K")
	waitJS(t, ctx, linesEqual("main", "v42")+` === 1`, 20*time.Second, "v42 after the reconnect")
	waitJS(t, ctx, fmt.Sprintf(`(%s).trimEnd().endsWith('$')`, bufferText("main")), 10*time.Second, "prompt after v42")
	continues(t, before, screenLines(t, ctx, "main"), "after a dropped socket")
	screenshot(t, ctx, "term-02-reconnected")

	// A longer drop: output produced while nobody is connected arrives once.
	typeInTab(t, ctx, "main", "sleep 3; echo missed-$((5+5))")
	waitJS(t, ctx, linesContaining("main", "sleep 3; echo missed")+` === 1`, 10*time.Second, "command echoed")
	before = screenLines(t, ctx, "main")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const c = window.__opsdojoTerm.conn; c.leaving = true; c.ws.close(); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4500 * time.Millisecond) // the echo happens while nobody is connected
	if n := evalInt(t, ctx, linesEqual("main", "missed-10")); n != 0 {
		t.Fatalf("missed-10 shown while disconnected (%d)", n)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const c = window.__opsdojoTerm.conn; c.leaving = false; c.reconnectNow(); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, linesEqual("main", "missed-10")+` === 1`, 20*time.Second, "output missed during the drop")
	waitJS(t, ctx, fmt.Sprintf(`(%s).trimEnd().endsWith('$')`, bufferText("main")), 10*time.Second, "prompt after missed-10")
	continues(t, before, screenLines(t, ctx, "main"), "after a longer drop")
	for _, l := range []string{"export K=v42", "echo $K", "sleep 3; echo missed"} {
		if n := evalInt(t, ctx, linesContaining("main", l)); n != 1 {
			t.Errorf("%q shown %d times after reconnects", l, n)
		}
	}
	for _, l := range []string{"mark-42", "v42", "missed-10"} {
		if n := evalInt(t, ctx, linesEqual("main", l)); n != 1 {
			t.Errorf("output %q shown %d times after reconnects", l, n)
		}
	}

	// ---- the window size reaches the shell ----
	sizeA := sttySize(t, ctx, "main", "size-a")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1000, 640)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, fmt.Sprintf(`window.__opsdojoTerm.term.rows + ' ' + window.__opsdojoTerm.term.cols !== %q`, sizeA), 10*time.Second, "xterm refits")
	// The resize frame is debounced and the machine may be busy: ask the
	// shell again until it agrees with xterm, or give up after a while.
	want := evalString(t, ctx, `window.__opsdojoTerm.term.rows + ' ' + window.__opsdojoTerm.term.cols`)
	var sizeB string
	for i := 0; i < 20; i++ {
		time.Sleep(300 * time.Millisecond)
		if sizeB = sttySize(t, ctx, "main", fmt.Sprintf("size-b%d", i)); sizeB == want {
			break
		}
	}
	if sizeB == sizeA || sizeB != want {
		t.Errorf("stty size %q before, %q after resizing the window; xterm is %q", sizeA, sizeB, want)
	}
	screenshot(t, ctx, "term-03-resized")

	// ---- search the scrollback (Ctrl-Shift-F), font size ----
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(`#terminal .term-pane[data-tab="main"] .xterm-helper-textarea`))); err != nil {
		t.Fatal(err)
	}
	ctrlKey(t, ctx, 'f', true)
	waitJS(t, ctx, `(() => { const b = document.querySelector('.term-pane[data-tab="main"] .term-search'); return !!b && !b.hidden && document.activeElement === b.querySelector('input'); })()`, 5*time.Second, "search box open")
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(`.term-pane[data-tab="main"] .term-search input`), "mark-42")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `window.__opsdojoTerm.term.getSelection() === 'mark-42'`, 5*time.Second, "search selects the match")
	screenshot(t, ctx, "term-04-search")
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\x1b")); err != nil { // Escape closes it
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.querySelector('.term-pane[data-tab="main"] .term-search').hidden`, 5*time.Second, "search box closed")

	// ---- copy and paste: Ctrl-Shift-C / Ctrl-Shift-V ----
	grantClipboard(t, ctx, srv.url)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const t = window.__opsdojoTerm.term, b = t.buffer.active;
		for (let y = 0; y < b.length; y++) {
			const x = b.getLine(y).translateToString(true).indexOf('v42');
			if (x === 0) { t.select(x, y, 3); return true; }
		}
		return false; })()`)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `window.__opsdojoTerm.term.getSelection() === 'v42'`, 5*time.Second, "v42 selected")
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(`#terminal .term-pane[data-tab="main"] .xterm-helper-textarea`))); err != nil {
		t.Fatal(err)
	}
	ctrlKey(t, ctx, 'c', true)
	waitPromise(t, ctx, `navigator.clipboard.readText().then(s => s === 'v42')`, 5*time.Second, "Ctrl-Shift-C copied the selection")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`navigator.clipboard.writeText('echo pasted-$((3+3))').then(() => true)`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	ctrlKey(t, ctx, 'v', true)
	waitJS(t, ctx, linesContaining("main", "echo pasted-$((3+3))")+` === 1`, 5*time.Second, "Ctrl-Shift-V pasted")
	if err := chromedp.Do(ctx, enterKey); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, linesEqual("main", "pasted-6")+` === 1`, 10*time.Second, "the pasted command ran once")
	time.Sleep(300 * time.Millisecond)
	if n := evalInt(t, ctx, linesContaining("main", "pasted-")); n != 2 { // the command line and its output
		t.Errorf("paste shown %d times, want the command once and its output once", n)
	}

	size0 := evalInt(t, ctx, `window.__opsdojoTerm.term.options.fontSize`)
	click(t, ctx, `#term-font-larger`, "the larger-font button")
	waitJS(t, ctx, fmt.Sprintf(`window.__opsdojoTerm.term.options.fontSize > %d && Number(localStorage.getItem('opsdojo.terminal.fontSize')) === window.__opsdojoTerm.term.options.fontSize`, size0), 5*time.Second, "A+ enlarges and persists")
	click(t, ctx, `#term-font-smaller`, "the smaller-font button")
	waitJS(t, ctx, fmt.Sprintf(`window.__opsdojoTerm.term.options.fontSize === %d`, size0), 5*time.Second, "A− shrinks back")

	// ---- a second tab: its own shell ----
	click(t, ctx, `#term-new`, "the new-tab button")
	waitJS(t, ctx, activeTab+` === 't2'`, 5*time.Second, "tab t2 active")
	waitJS(t, ctx, fmt.Sprintf(`(%s).includes('$ ')`, bufferText("t2")), 30*time.Second, "prompt in t2")
	waitJS(t, ctx, connectedWithHello("t2"), 20*time.Second, "t2 hello answered")
	typeInTab(t, ctx, "t2", "echo tab2-$((5*5)); echo K=$K.")
	waitJS(t, ctx, linesEqual("t2", "tab2-25")+` === 1`, 20*time.Second, "tab2-25 in t2")
	waitJS(t, ctx, linesEqual("t2", "K=.")+` === 1`, 5*time.Second, "t2 is another shell")
	if n := evalInt(t, ctx, linesContaining("main", "tab2-")); n != 0 {
		t.Errorf("t2's output reached main")
	}
	screenshot(t, ctx, "term-05-second-tab")
	list := fetchText(t, ctx, "/api/v1/sessions/"+sessionID+"/terminals")
	if !strings.HasPrefix(list, "200 ") || !strings.Contains(list, "t2") {
		t.Errorf("GET terminals: %s", list)
	}

	// The shell exits: a notice, then Enter starts a new one.
	typeInTab(t, ctx, "t2", "exit 3")
	waitJS(t, ctx, termStatus+`.includes('shell exited (code 3)')`, 20*time.Second, "exit notice")
	screenshot(t, ctx, "term-06-exited")
	if err := chromedp.Do(ctx, enterKey); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, connectedWithHello("t2"), 20*time.Second, "new shell in t2")
	typeInTab(t, ctx, "t2", "echo again-$((2*4))")
	waitJS(t, ctx, linesEqual("t2", "again-8")+` === 1`, 20*time.Second, "the new shell answers")

	// ---- reload: both tabs come back with their screens ----
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, linesEqual("main", "mark-42")+` === 1`, 60*time.Second, "main's screen restored")
	waitJS(t, ctx, `!!document.querySelector('#term-tabs .term-tab[data-tab="t2"]')`, 20*time.Second, "t2 reopened")
	click(t, ctx, `#term-tabs .term-tab[data-tab="t2"] .term-tab-btn`, "tab t2")
	waitJS(t, ctx, linesEqual("t2", "again-8")+` === 1`, 20*time.Second, "t2's screen restored")
	screenshot(t, ctx, "term-07-reloaded")

	// ---- closing t2 ends its shell ----
	click(t, ctx, `#term-tabs .term-tab[data-tab="t2"] .term-tab-close`, "the close button of tab t2")
	waitJS(t, ctx, `!document.querySelector('#term-tabs .term-tab[data-tab="t2"]') && !document.querySelector('#terminal .term-pane[data-tab="t2"]')`, 10*time.Second, "t2 removed")
	waitJS(t, ctx, activeTab+` === 'main'`, 5*time.Second, "back on main")
	deadline := time.Now().Add(10 * time.Second)
	for {
		list = fetchText(t, ctx, "/api/v1/sessions/"+sessionID+"/terminals")
		if strings.HasPrefix(list, "200 ") && !strings.Contains(list, "t2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("t2 still listed after closing it: %s", list)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// ---- flow control: `yes`, Ctrl-C, the prompt comes back ----
	typeInTab(t, ctx, "main", "yes")
	waitJS(t, ctx, linesEqual("main", "y")+` > 200`, 20*time.Second, "yes floods the terminal")
	time.Sleep(time.Second)
	start := time.Now()
	ctrlKey(t, ctx, 'c', false)
	typeInTab(t, ctx, "main", "echo after-yes-$((4+5))")
	waitJS(t, ctx, linesEqual("main", "after-yes-9")+` === 1`, 60*time.Second, "prompt back after Ctrl-C")
	t.Logf("Ctrl-C under yes to the next command's output in the browser: %s", time.Since(start).Round(time.Millisecond))
	typeInTab(t, ctx, "main", "echo $K")
	waitJS(t, ctx, linesEqual("main", "v42")+` >= 1`, 20*time.Second, "same shell after yes")
	screenshot(t, ctx, "term-08-after-yes")

	if t.Failed() {
		t.Logf("statuses: %s", evalString(t, ctx, `JSON.stringify(window.__statusLog || [])`))
	}
}

// viewText is the whole buffer of the page's single terminal (watch page:
// window.__opsdojoTerm; player: window.__opsdojoPlayer).
const (
	watchText  = `(() => { const v = window.__opsdojoTerm; if (!v) return ''; const b = v.term.buffer.active, out = []; for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true)); return out.join('\n'); })()`
	playerText = `(() => { const p = window.__opsdojoPlayer; if (!p) return ''; const b = p.term.buffer.active, out = []; for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true)); return out.join('\n'); })()`
)

// addAdmin creates an admin account in a data dir before its server starts.
func addAdmin(t *testing.T, dataDir, name string) {
	addUser(t, dataDir, name, opsdojo.RoleAdmin)
}

// TestBrowserWatchAndPlayer: an admin watches a learner's terminal
// read-only in a second browser, and the learner replays the recording.
func TestBrowserWatchAndPlayer(t *testing.T) {
	dataDir := t.TempDir()
	addAdmin(t, dataDir, "browser-admin")
	srv := startServer(t, dataDir, nil)

	learner := browser(t)
	signUpInBrowser(t, learner, srv, "browser-watched")
	if err := chromedp.Do(learner, chromedp.Navigate(srv.url+"/labs/git-basics")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, learner, connectedWithHello("main"), 60*time.Second, "learner connected")
	waitJS(t, learner, fmt.Sprintf(`(%s).includes('$ ')`, bufferText("main")), 30*time.Second, "learner prompt")
	sessionID := evalString(t, learner, `document.getElementById('lab').dataset.session`)
	typeInTab(t, learner, "main", "echo watched-$((6*7))")
	waitJS(t, learner, linesEqual("main", "watched-42")+` === 1`, 20*time.Second, "learner output")

	admin := browser(t)
	if err := chromedp.Do(admin,
		chromedp.Navigate(srv.url+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#auth-form`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "browser-admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct-horse-battery"),
		chromedp.Click(chromedp.CSS(`#auth-form button[type=submit]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitJS(t, admin, `location.pathname !== '/login'`, 20*time.Second, "admin signed in")
	// As an admin would: the header's Admin link, then the session's tab.
	click(t, admin, `header a[href="/admin"]`, "admin link in the header")
	waitJS(t, admin, fmt.Sprintf(`!!document.querySelector('tr[data-session=%q] a.watch-link')`, sessionID), 20*time.Second, "the learner's session listed on /admin")
	screenshot(t, admin, "admin-01-sessions")
	click(t, admin, fmt.Sprintf(`tr[data-session=%q] a.watch-link[href$="/main"]`, sessionID), "the watch link of the learner's main tab")
	waitJS(t, admin, `!!window.__opsdojoTerm && window.__opsdojoTerm.conn.gotHello`, 30*time.Second, "viewer connected")
	waitJS(t, admin, fmt.Sprintf(`(%s).split('\n').some(l => l.trim() === 'watched-42')`, watchText), 20*time.Second, "viewer sees what happened before")
	waitJS(t, admin, termStatus+`.startsWith('watching (read-only)')`, 10*time.Second, "viewer status")
	waitJS(t, learner, termStatus+`.includes('👁 1 watching')`, 10*time.Second, "learner sees the watcher")
	screenshot(t, learner, "watch-01-learner-watched")

	// Live output reaches the viewer; the viewer's keys never reach the shell.
	typeInTab(t, learner, "main", "echo live-$((1+2))")
	waitJS(t, admin, fmt.Sprintf(`(%s).split('\n').some(l => l.trim() === 'live-3')`, watchText), 20*time.Second, "viewer sees live output")
	insert := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: "echo viewer-typed"})
		return err
	})
	if err := chromedp.Do(admin, chromedp.Focus(chromedp.CSS(`#terminal .xterm-helper-textarea`)), insert, enterKey); err != nil {
		t.Fatal(err)
	}
	// The learner's size wins and the viewer follows it.
	if err := chromedp.Do(learner, chromedp.EmulateViewport(1100, 700)); err != nil {
		t.Fatal(err)
	}
	want := ""
	deadline := time.Now().Add(10 * time.Second)
	for {
		want = evalString(t, learner, `window.__opsdojoTerm.term.cols + 'x' + window.__opsdojoTerm.term.rows`)
		got := evalString(t, admin, `window.__opsdojoTerm.term.cols + 'x' + window.__opsdojoTerm.term.rows`)
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("viewer is %s, learner %s", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	typeInTab(t, learner, "main", "echo after-viewer-$((2+2))")
	waitJS(t, learner, linesEqual("main", "after-viewer-4")+` === 1`, 20*time.Second, "learner still drives")
	if n := evalInt(t, learner, linesContaining("main", "viewer-typed")); n != 0 {
		t.Errorf("the viewer's keystrokes reached the learner's shell")
	}
	screenshot(t, admin, "watch-02-viewer")
	click(t, admin, `header a[href="/recordings"]`, "recordings link in the header")
	waitJS(t, admin, `location.pathname === '/recordings' && !!document.querySelector('table.recording-list a[href^="/recordings/"]')`, 20*time.Second, "recordings listed")
	screenshot(t, admin, "admin-02-recordings")

	// The recording of main plays back in the browser.
	var list struct {
		Recordings []struct {
			ID, Tab, Lab string
		} `json:"recordings"`
	}
	body := fetchText(t, learner, "/api/v1/recordings")
	if !strings.HasPrefix(body, "200 ") || json.Unmarshal([]byte(strings.TrimPrefix(body, "200 ")), &list) != nil {
		t.Fatalf("recordings: %s", body)
	}
	id := ""
	for _, r := range list.Recordings {
		if r.Tab == "main" && r.Lab == "git-basics" {
			id = r.ID
		}
	}
	if id == "" {
		t.Fatalf("no recording of main: %s", body)
	}
	if err := chromedp.Do(learner, chromedp.Navigate(srv.url+"/recordings/"+id)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, learner, `!!window.__opsdojoPlayer && !document.getElementById('play').disabled`, 20*time.Second, "player ready")
	if _, err := chromedp.Run(learner, chromedp.Evaluate[bool](`(() => { const s = document.getElementById('speed'); s.value = '4'; s.dispatchEvent(new Event('input')); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, learner, `window.__opsdojoPlayer.playback.speed === 4 && document.querySelector('.player-speed').textContent === '4×'`, 5*time.Second, "speed 4x")
	click(t, learner, `#play`, "the play button")
	waitJS(t, learner, `window.__opsdojoPlayer.playback.state === 'playing' || window.__opsdojoPlayer.playback.state === 'ended'`, 5*time.Second, "playing")
	waitJS(t, learner, fmt.Sprintf(`(%s).split('\n').some(l => l.trim() === 'live-3')`, playerText), 60*time.Second, "the recording replays the output")
	waitJS(t, learner, `window.__opsdojoPlayer.playback.state === 'ended'`, 60*time.Second, "playback ends")
	screenshot(t, learner, "player-01-replayed")
}
