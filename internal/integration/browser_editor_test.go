//go:build integration

package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/opsdojo/opsdojo/internal/app"
)

// typeInEditor puts the cursor at the end of the editor's document and
// types text there, as a learner would.
func typeInEditor(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	waitJS(t, ctx, `(() => { const v = document.getElementById('editor').editorView; if (!v) return false;
		v.focus(); v.dispatch({selection: {anchor: v.state.doc.length}}); return v.hasFocus; })()`, 10*time.Second, "editor focused")
	insert := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
		return err
	})
	if err := chromedp.Do(ctx, insert); err != nil {
		t.Fatalf("type %q in the editor: %v", text, err)
	}
}

// fileIs waits until a file of the container holds want.
func fileIs(t *testing.T, id, path, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, out := execIn(t, id, "learner", "cat", path)
		if out == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %q, want %q", path, out, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBrowserEditorAndPreview: in Chromium, open a file from the editor's
// tree, see the lint's diagnostic on a broken Dockerfile line as it is
// typed, save (the file changed in the container), get the conflict
// warning after an edit in the terminal and overwrite, then open a port
// of the container in the web preview (its own origin).
func TestBrowserEditorAndPreview(t *testing.T) {
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, t.TempDir(), func(c *app.Config) { c.PreviewListener = pln })
	ctx := browser(t)
	signUpInBrowser(t, ctx, srv, "browser-editor")
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.url+"/labs/git-basics")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `!!document.getElementById('lab').dataset.session`, 90*time.Second, "session started")
	sid := evalString(t, ctx, `document.getElementById('lab').dataset.session`)
	cleanupSession(t, sid)
	id := inspect(t, sid).ID
	const dockerfile = "/home/learner/app/Dockerfile"
	start := "FROM opsdojo/base:bookworm\nCMD [\"true\"]\n"
	if code, out := execIn(t, id, "learner", "bash", "-c", "mkdir -p ~/app && printf '%s' '"+start+"' > ~/app/Dockerfile"); code != 0 {
		t.Fatalf("set up: %s", out)
	}
	waitJS(t, ctx, terminalContains("$"), 60*time.Second, "shell prompt")

	click(t, ctx, "#editor-toggle", "open the editor")
	waitJS(t, ctx, `document.getElementById('editor-tree').dataset.loaded === 'true'`, 20*time.Second, "file tree")
	click(t, ctx, `#editor-tree details:has(.tree-file[data-path="app/Dockerfile"]) > summary`, "the app folder")
	click(t, ctx, `.tree-file[data-path="app/Dockerfile"]`, "app/Dockerfile")
	waitJS(t, ctx, `document.getElementById('editor').dataset.file === 'app/Dockerfile' && document.querySelector('#editor-cm .cm-content').innerText.includes('FROM opsdojo/base')`, 20*time.Second, "Dockerfile open")
	waitJS(t, ctx, `document.getElementById('editor').dataset.lintKind === 'dockerfile' && document.getElementById('editor').dataset.diagnostics === '0'`, 20*time.Second, "a clean lint")

	typeInEditor(t, ctx, "COPPY . /app\n")
	waitJS(t, ctx, `Number(document.getElementById('editor').dataset.diagnostics) > 0 && !!document.querySelector('#editor-cm .cm-lintRange-error')`, 20*time.Second, "a diagnostic on the broken line")
	screenshot(t, ctx, "editor-diagnostic")

	click(t, ctx, "#editor-save", "Save")
	waitJS(t, ctx, `document.getElementById('editor-status').dataset.state === 'saved'`, 20*time.Second, "saved")
	fileIs(t, id, dockerfile, start+"COPPY . /app\n")

	// An edit in the terminal, then a save from the stale editor.
	typeInTerminal(t, ctx, "echo '# from the terminal' >> ~/app/Dockerfile")
	fileIs(t, id, dockerfile, start+"COPPY . /app\n# from the terminal\n")
	typeInEditor(t, ctx, "# from the editor\n")
	click(t, ctx, "#editor-save", "Save again")
	waitJS(t, ctx, `!document.getElementById('editor-conflict').hidden && document.getElementById('editor-status').dataset.state === 'conflict'`, 20*time.Second, "the conflict warning")
	screenshot(t, ctx, "editor-conflict")
	fileIs(t, id, dockerfile, start+"COPPY . /app\n# from the terminal\n")
	click(t, ctx, "#editor-overwrite", "Overwrite with mine")
	waitJS(t, ctx, `document.getElementById('editor-status').dataset.state === 'saved' && document.getElementById('editor-conflict').hidden`, 20*time.Second, "overwritten")
	fileIs(t, id, dockerfile, start+"COPPY . /app\n# from the editor\n")
	// The pane on a phone-sized screen (for review; the page's mobile
	// layout is checked elsewhere).
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err == nil {
		// A phone shows the instructions or the terminal side (with the
		// editor), never both; a screenshot of a hidden pane waits forever.
		click(t, ctx, `#lab-switch button[data-view="terminal"]`, "the Terminal view")
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		if png, err := chromedp.Run(sctx, chromedp.Screenshot(chromedp.CSS("#editor"))); err == nil {
			_ = os.WriteFile(filepath.Join(artifactsDir(t), "editor-390x844.png"), png, 0o644)
		} else {
			t.Errorf("the editor is not shown in the phone's Terminal view: %v", err)
		}
		cancel()
		_ = chromedp.Do(ctx, chromedp.EmulateViewport(1366, 860))
	}

	// The web preview: a service on :8080 in the container, opened from
	// the editor bar's link on the preview origin.
	if code, out := execIn(t, id, "learner", "bash", "-c", "cd && cat > srv.pl <<'PERL'\n"+previewServerPL+"PERL\n(perl srv.pl 8080 > srv.log 2>&1 &)"); code != 0 {
		t.Fatalf("start the service: %s", out)
	}
	href := evalString(t, ctx, `document.getElementById('preview-open').href`)
	if target := evalString(t, ctx, `document.getElementById('preview-open').target`); target != "_blank" || !strings.HasSuffix(href, "/sessions/"+sid+"/preview/8080/") {
		t.Fatalf("preview link %q target %q", href, target)
	}
	port := strings.Split(pln.Addr().String(), ":")[1]
	previewHost := fmt.Sprintf("%s-8080.localhost:%s", sid, port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := chromedp.Do(ctx, chromedp.Navigate(href)); err != nil {
			t.Fatal(err)
		}
		body := evalString(t, ctx, `document.body ? document.body.innerText : ''`)
		if strings.Contains(body, "path=/") {
			if got := evalString(t, ctx, `location.host`); got != previewHost {
				t.Fatalf("preview served from %q, want its own origin %q", got, previewHost)
			}
			if strings.Contains(body, "opsdojo_") {
				t.Fatalf("the service saw opsdojo's cookies: %q", body)
			}
			if c := evalString(t, ctx, `document.cookie`); c != "" {
				t.Fatalf("the preview page can read cookies: %q", c)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("preview page: %q", body)
		}
		time.Sleep(300 * time.Millisecond)
	}
	screenshot(t, ctx, "preview")

	// Lab markdown links a port: `[…](preview:8080/healthz)` is a button
	// that opens the learner's own session's port in a new tab.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.url+"/labs/dockerfile-go-service")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `!!document.getElementById('lab').dataset.session`, 90*time.Second, "second session started")
	cleanupSession(t, evalString(t, ctx, `document.getElementById('lab').dataset.session`))
	waitJS(t, ctx, `(() => { const a = document.querySelector('.lab-instructions a.preview-link');
		return !!a && a.getAttribute('href') === '/labs/dockerfile-go-service/preview/8080/healthz' && a.target === '_blank'; })()`, 10*time.Second, "the preview button in the instructions")
}
