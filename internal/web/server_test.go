package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
	"github.com/opsdojo/opsdojo/internal/session"
	"github.com/opsdojo/opsdojo/internal/store"
)

// fakeSandbox stands in for the Docker engine.
type fakeSandbox struct {
	mu       sync.Mutex
	creates  int
	down     bool // every call fails as if the engine were unreachable
	exitCode int
	stdout   string
}

var errDown = opsdojo.Errorf(opsdojo.EUNAVAILABLE, "the Docker engine is not reachable; try again shortly")

func (f *fakeSandbox) Create(ctx context.Context, spec sandbox.Spec) (sandbox.Box, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return sandbox.Box{}, errDown
	}
	f.creates++
	return sandbox.Box{ContainerID: "c-" + spec.SessionID, NetworkID: "n-" + spec.SessionID}, nil
}
func (f *fakeSandbox) Remove(context.Context, sandbox.Box) error { return nil }
func (f *fakeSandbox) DiskUsage(context.Context, string) (int64, error) {
	if f.down {
		return 0, errDown
	}
	return 0, nil
}
func (f *fakeSandbox) ImagesUsage(context.Context, string, []string) (int64, error) {
	if f.down {
		return 0, errDown
	}
	return 0, nil
}

func (f *fakeSandbox) EnsureRunning(context.Context, string) error {
	if f.down {
		return errDown
	}
	return nil
}
func (f *fakeSandbox) Exec(ctx context.Context, id string, req sandbox.ExecRequest) (sandbox.ExecResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return sandbox.ExecResult{}, errDown
	}
	if req.Stdin != nil {
		io.Copy(io.Discard, req.Stdin)
	}
	return sandbox.ExecResult{ExitCode: f.exitCode, Stdout: []byte(f.stdout)}, nil
}
func (f *fakeSandbox) OpenTTY(context.Context, string, sandbox.TTYRequest) (sandbox.Terminal, error) {
	if f.down {
		return nil, errDown
	}
	return newEchoTTY(), nil
}
func (f *fakeSandbox) ReadFile(context.Context, string, string, int64) ([]byte, error) {
	return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "no files here")
}
func (f *fakeSandbox) Archive(context.Context, string, string, io.Writer, int64) error {
	return opsdojo.Errorf(opsdojo.ENOTFOUND, "no files here")
}
func (f *fakeSandbox) RemoveSessionImages(context.Context, string) error { return nil }
func (f *fakeSandbox) Build(context.Context, grading.BuildRequest) (grading.BuildResult, error) {
	return grading.BuildResult{}, errors.New("no builds in this fake")
}
func (f *fakeSandbox) Probe(context.Context, grading.ProbeRequest) (grading.ProbeResult, error) {
	return grading.ProbeResult{}, errors.New("no probes in this fake")
}
func (f *fakeSandbox) RemoveImage(context.Context, string) error           { return nil }
func (f *fakeSandbox) RemoveImages(context.Context, []string)              {}
func (f *fakeSandbox) Containers(context.Context) ([]sandbox.Owned, error) { return nil, nil }
func (f *fakeSandbox) Networks(context.Context) ([]sandbox.Owned, error)   { return nil, nil }
func (f *fakeSandbox) Ping(context.Context) error {
	if f.down {
		return errDown
	}
	return nil
}

// echoTTY echoes input back as output, like a terminal in cooked mode.
type echoTTY struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func newEchoTTY() *echoTTY {
	r, w := io.Pipe()
	return &echoTTY{r: r, w: w}
}
func (e *echoTTY) Read(p []byte) (int, error)                        { return e.r.Read(p) }
func (e *echoTTY) Write(p []byte) (int, error)                       { return e.w.Write(p) }
func (e *echoTTY) Close() error                                      { e.r.Close(); return e.w.Close() }
func (e *echoTTY) Resize(ctx context.Context, cols, rows uint) error { return nil }

type fakeImages struct{}

func (fakeImages) Tag(context.Context, *labs.Lab) (string, error) { return "opsdojo/lab-test:1", nil }

func writeLab(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "demo")
	for name, body := range map[string]string{
		"image/Dockerfile": "FROM scratch\n",
		"steps/one.md":     "# One\n\nDo **it**.<script>alert(1)</script>\n",
		"checks/one.sh":    "exit 0\n",
		"solutions/one.sh": "true\n",
		"lab.yaml": `id: demo
title: Demo lab
summary: A lab for tests.
difficulty: beginner
minutes: 5
steps:
  - id: one
    title: Step one
    instructions: steps/one.md
    solution: solutions/one.sh
    checks:
      - id: c
        title: check c
        kind: exec
        script: checks/one.sh
        hint: look again
`,
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

type testEnv struct {
	srv    *httptest.Server
	box    *fakeSandbox
	server *Server
}

func newEnv(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	list, problems := labs.LoadAll(writeLab(t), nil)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	log := slog.New(slog.DiscardHandler)
	box := &fakeSandbox{}
	mgr := session.New(st, box, fakeImages{}, labs.NewCatalog(list), grading.NewRunner(log), session.Config{}, log)
	s, err := New(cfg, st, mgr, box, log)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() { s.CloseWebsockets(context.Background()); hs.Close() })
	return &testEnv{srv: hs, box: box, server: s}
}

type client struct {
	t    testing.TB
	env  *testEnv
	http *http.Client
	csrf string
}

func (e *testEnv) client(t testing.TB) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, env: e, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) req(method, path, contentType, body string, headers map[string]string) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.env.srv.URL+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *client) api(method, path, body string) (int, map[string]any) {
	c.t.Helper()
	resp, text := c.req(method, path, "application/json", body, map[string]string{"X-CSRF-Token": c.csrf})
	var out map[string]any
	if text != "" && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal([]byte(text), &out); err != nil {
			c.t.Fatalf("%s %s: %q: %v", method, path, text, err)
		}
	}
	return resp.StatusCode, out
}

func (c *client) register(name string) {
	c.t.Helper()
	status, out := c.api("POST", "/api/v1/auth/register", `{"username":"`+name+`","password":"long-enough-pw"}`)
	if status != http.StatusCreated {
		c.t.Fatalf("register: %d %v", status, out)
	}
	c.csrf = out["csrf_token"].(string)
}

func errCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestRegisterAndLogin(t *testing.T) {
	env := newEnv(t, Config{Registration: true})
	c := env.client(t)
	resp, body := c.req("POST", "/api/v1/auth/register", "application/json", `{"username":"ada","password":"long-enough-pw"}`, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	var ck *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == cookieName {
			ck = k
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure {
		t.Fatalf("cookie: %+v", ck)
	}
	tests := []struct {
		name, ctype, body string
		status            int
		code              string
	}{
		{"duplicate username, other case", "application/json", `{"username":"ADA","password":"long-enough-pw"}`, 409, "conflict"},
		{"short password", "application/json", `{"username":"bob","password":"short"}`, 400, "invalid"},
		{"bad username", "application/json", `{"username":"b o b","password":"long-enough-pw"}`, 400, "invalid"},
		{"malformed JSON", "application/json", `{"username":`, 400, "invalid"},
		{"unknown field", "application/json", `{"username":"bob","password":"long-enough-pw","admin":true}`, 400, "invalid"},
		{"form post", "application/x-www-form-urlencoded", `username=bob&password=long-enough-pw`, 400, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := env.client(t).req("POST", "/api/v1/auth/register", tt.ctype, tt.body, nil)
			var out map[string]any
			json.Unmarshal([]byte(body), &out)
			if resp.StatusCode != tt.status || errCode(out) != tt.code {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, tt.status, tt.code)
			}
		})
	}

	l := env.client(t)
	if status, out := l.api("POST", "/api/v1/auth/login", `{"username":"ada","password":"wrong-password"}`); status != 401 || errCode(out) != "unauthorized" {
		t.Fatalf("wrong password: %d %v", status, out)
	}
	if status, out := l.api("POST", "/api/v1/auth/login", `{"username":"nobody","password":"wrong-password"}`); status != 401 {
		t.Fatalf("unknown user: %d %v", status, out)
	}
	status, out := l.api("POST", "/api/v1/auth/login", `{"username":"ada","password":"long-enough-pw"}`)
	if status != 200 || out["csrf_token"] == "" {
		t.Fatalf("login: %d %v", status, out)
	}
	l.csrf = out["csrf_token"].(string)
	if status, out := l.api("GET", "/api/v1/auth/me", ""); status != 200 || out["user"].(map[string]any)["username"] != "ada" {
		t.Fatalf("me: %d %v", status, out)
	}
	if status, _ := l.api("POST", "/api/v1/auth/logout", ""); status != 204 {
		t.Fatalf("logout: %d", status)
	}
	if status, _ := l.api("GET", "/api/v1/auth/me", ""); status != 401 {
		t.Fatalf("me after logout: %d", status)
	}
}

func TestLoginRateLimit(t *testing.T) {
	env := newEnv(t, Config{Registration: true})
	env.client(t).register("ada")
	c := env.client(t)
	var last int
	for i := 0; i < 12; i++ {
		last, _ = c.api("POST", "/api/v1/auth/login", `{"username":"ada","password":"wrong-password"}`)
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("12th wrong password: %d, want 429", last)
	}
}

func TestRegistrationClosed(t *testing.T) {
	env := newEnv(t, Config{Registration: false})
	status, out := env.client(t).api("POST", "/api/v1/auth/register", `{"username":"ada","password":"long-enough-pw"}`)
	if status != 403 || errCode(out) != "forbidden" {
		t.Fatalf("%d %v", status, out)
	}
}

func TestSecureCookieUnderHTTPS(t *testing.T) {
	u, _ := url.Parse("https://dojo.example.org")
	env := newEnv(t, Config{Registration: true, PublicURL: u})
	resp, _ := env.client(t).req("POST", "/api/v1/auth/register", "application/json", `{"username":"ada","password":"long-enough-pw"}`, nil)
	for _, k := range resp.Cookies() {
		if k.Name == cookieName && !k.Secure {
			t.Fatal("cookie not Secure under an https public URL")
		}
	}
}

func TestSessionAPI(t *testing.T) {
	env := newEnv(t, Config{Registration: true})
	ada := env.client(t)
	ada.register("ada")
	bob := env.client(t)
	bob.register("bob")

	if resp, _ := ada.req("POST", "/api/v1/labs/demo/session", "application/json", "{}", nil); resp.StatusCode != 403 {
		t.Fatalf("start without CSRF: %d", resp.StatusCode)
	}
	if resp, _ := ada.req("POST", "/api/v1/labs/demo/session", "application/json", "{}", map[string]string{"X-CSRF-Token": bob.csrf}); resp.StatusCode != 403 {
		t.Fatalf("start with someone else's CSRF token: %d", resp.StatusCode)
	}
	status, s := ada.api("POST", "/api/v1/labs/demo/session", "{}")
	if status != 200 || s["state"] != "running" || s["lab"] != "demo" {
		t.Fatalf("start: %d %v", status, s)
	}
	id := s["id"].(string)
	if _, again := ada.api("POST", "/api/v1/labs/demo/session", "{}"); again["id"] != id || env.box.creates != 1 {
		t.Fatalf("start is not idempotent: %v, %d creates", again, env.box.creates)
	}
	if _, leak := s["ContainerID"]; leak {
		t.Fatal("container id leaked to the client")
	}
	if status, out := bob.api("GET", "/api/v1/sessions/"+id, ""); status != 404 || errCode(out) != "not_found" {
		t.Fatalf("bob reads ada's session: %d %v", status, out)
	}
	if status, _ := bob.api("POST", "/api/v1/sessions/"+id+"/steps/one/check", ""); status != 404 {
		t.Fatalf("bob checks ada's session: %d", status)
	}

	if status, out := ada.api("GET", "/api/v1/sessions/"+id+"/steps/one/progress", ""); status != 200 || out["running"] != false {
		t.Fatalf("progress with no check running: %d %v", status, out)
	}
	if status, _ := bob.api("GET", "/api/v1/sessions/"+id+"/steps/one/progress", ""); status != 404 {
		t.Fatalf("bob reads ada's check progress: %d", status)
	}
	env.box.exitCode, env.box.stdout = 1, "FAIL: not there yet\nHINT: try harder\ninternal detail\n"
	status, res := ada.api("POST", "/api/v1/sessions/"+id+"/steps/one/check", "")
	if status != 200 || res["status"] != "fail" {
		t.Fatalf("check: %d %v", status, res)
	}
	msgs := res["messages"].([]any)
	hints := res["hints"].([]any)
	// Hints wait until the learner asks for them (hints_test.go).
	if len(msgs) != 1 || msgs[0] != "not there yet" || len(hints) != 0 || strings.Contains(toJSON(res), "internal detail") {
		t.Fatalf("check result: %v", res)
	}
	env.box.exitCode, env.box.stdout = 0, ""
	_, res = ada.api("POST", "/api/v1/sessions/"+id+"/steps/one/check", "")
	if res["status"] != "pass" || res["progress"].(map[string]any)["passed"] != 1.0 {
		t.Fatalf("passing check: %v", res)
	}
	if status, _ := ada.api("POST", "/api/v1/sessions/"+id+"/steps/nope/check", ""); status != 404 {
		t.Fatalf("unknown step: %d", status)
	}
	if status, out := ada.api("DELETE", "/api/v1/sessions/"+id, ""); status != 200 || out["state"] != "ended" {
		t.Fatalf("end: %d %v", status, out)
	}
	if status, out := ada.api("POST", "/api/v1/sessions/"+id+"/steps/one/check", ""); status != 409 {
		t.Fatalf("check on an ended session: %d %v", status, out)
	}
	if resp, body := ada.req("GET", "/api/v1/labs", "", "", nil); resp.StatusCode != 200 || !strings.Contains(body, `"steps":[{"id":"one","title":"Step one"}]`) {
		t.Fatalf("labs: %d %s", resp.StatusCode, body)
	}
	if resp, _ := ada.req("POST", "/api/v1/labs/demo/session", "application/json", strings.Repeat("x", 100<<10), map[string]string{"X-CSRF-Token": ada.csrf}); resp.StatusCode != 400 {
		t.Fatalf("oversized body: %d", resp.StatusCode)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestEngineDownIs503(t *testing.T) {
	env := newEnv(t, Config{Registration: true})
	env.box.down = true
	c := env.client(t)
	c.register("ada")
	status, out := c.api("POST", "/api/v1/labs/demo/session", "{}")
	if status != 503 || errCode(out) != "engine_unavailable" {
		t.Fatalf("start: %d %v", status, out)
	}
	if status, _ := c.api("GET", "/readyz", ""); status != 503 {
		t.Fatalf("readyz: %d", status)
	}
	if status, _ := c.api("GET", "/healthz", ""); status != 200 {
		t.Fatalf("healthz: %d", status)
	}
}

func TestPages(t *testing.T) {
	env := newEnv(t, Config{Registration: true})
	anon := env.client(t)
	resp, _ := anon.req("GET", "/labs/demo", "", "", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Flabs%2Fdemo" {
		t.Fatalf("lab page signed out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("CSP: %q", csp)
	}
	if !bundleBuiltForTests() {
		t.Skip("web bundle not built: page bodies are the 'run make' page")
	}
	_, body := anon.req("GET", "/login?next=//evil.example/x", "", "", nil)
	if !strings.Contains(body, `data-next="/"`) {
		t.Fatalf("open redirect through next: %s", body)
	}
	c := env.client(t)
	c.register("ada")
	_, body = c.req("GET", "/labs/demo", "", "", nil)
	if strings.Contains(body, `href="/admin"`) {
		t.Error("a learner sees the admin link")
	}
	for _, want := range []string{`data-lab="demo"`, `data-step="one"`, "<strong>it</strong>", `content="` + c.csrf + `"`, `href="/recordings"`} {
		if !strings.Contains(body, want) {
			t.Errorf("lab page lacks %q", want)
		}
	}
	if strings.Contains(body, `class="term-rec"`) {
		t.Error("the page claims recording, but this server records nothing")
	}
	if strings.Contains(body, "<script>alert") {
		t.Error("instructions were not sanitized")
	}
	if strings.Contains(body, "<h1>One</h1>") {
		t.Error("the markdown's own title was not dropped")
	}
	resp, _ = c.req("GET", "/labs/nope", "", "", nil)
	if resp.StatusCode != 404 {
		t.Fatalf("unknown lab page: %d", resp.StatusCode)
	}
}

func bundleBuiltForTests() bool {
	_, err := os.Stat(filepath.Join("..", "..", "web", "static", "gen", "app.js"))
	return err == nil
}

func TestTerminalEndpoint(t *testing.T) {
	env := newEnv(t, Config{Registration: true})
	c := env.client(t)
	c.register("ada")
	_, s := c.api("POST", "/api/v1/labs/demo/session", "{}")
	id := s["id"].(string)
	wsURL := "ws" + strings.TrimPrefix(env.srv.URL, "http") + "/api/v1/sessions/" + id + "/terminal"
	dialer := websocket.Dialer{Jar: c.http.Jar, HandshakeTimeout: 5 * time.Second}

	if _, resp, err := dialer.Dial(wsURL, http.Header{"Origin": {"http://evil.example"}}); err == nil || resp.StatusCode != 403 {
		t.Fatalf("cross-origin: %v %v", err, resp)
	}
	other := env.client(t)
	other.register("bob")
	if _, resp, err := (&websocket.Dialer{Jar: other.http.Jar}).Dial(wsURL, nil); err == nil || resp.StatusCode != 404 {
		t.Fatalf("someone else's terminal: %v %v", err, resp)
	}
	if _, resp, err := (&websocket.Dialer{}).Dial(wsURL, nil); err == nil || resp.StatusCode != 401 {
		t.Fatalf("signed out: %v %v", err, resp)
	}
	conn, _, err := dialer.Dial(wsURL, http.Header{"Origin": {env.srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteMessage(websocket.BinaryMessage, []byte("0hello")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, msg, err := conn.ReadMessage()
	if err != nil || string(msg) != "0hello" {
		t.Fatalf("echo: %q %v", msg, err)
	}
	// Shutdown closes the socket with "going away".
	if err := env.server.CloseWebsockets(context.Background()); err != nil {
		t.Fatal(err)
	}
	for {
		_, _, err := conn.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
			t.Fatalf("close on shutdown: %v", err)
		}
		break
	}
}
