//go:build integration

// Package integration runs opsdojo end to end against the real Docker
// engine: a server on a free loopback port, real lab containers, a real
// websocket terminal. `make test` runs it; it never skips.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/client"
	"github.com/gorilla/websocket"

	"github.com/opsdojo/opsdojo/internal/app"
	"github.com/opsdojo/opsdojo/internal/auth"
	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/images"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/promeval"
	"github.com/opsdojo/opsdojo/internal/store"
)

var (
	repoRoot string
	docker   *client.Client
)

func TestMain(m *testing.M) {
	promeval.RunWorkerIfAsked()
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Join(filepath.Dir(file), "..", "..")
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: docker client:", err)
		os.Exit(1)
	}
	docker = cli
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	if _, err := cli.Ping(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "integration: the Docker engine must be running (make test starts it):", err)
		os.Exit(1)
	}
	// Build what the labs need; a no-op when `make images` ran already.
	list, problems := labs.LoadAll(filepath.Join(repoRoot, "labs"), grading.NewRunner(slog.New(slog.DiscardHandler)))
	if len(problems) > 0 {
		fmt.Fprintln(os.Stderr, "integration: invalid labs:", problems.Error())
		os.Exit(1)
	}
	b := images.New(cli, slog.New(slog.DiscardHandler))
	if _, err := b.EnsureBase(ctx, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "integration: base image:", err)
		os.Exit(1)
	}
	for _, l := range list {
		if _, _, err := b.BuildLab(ctx, l, io.Discard); err != nil {
			fmt.Fprintln(os.Stderr, "integration: lab image:", err)
			os.Exit(1)
		}
	}
	cancel()
	os.Exit(m.Run())
}

// server is one opsdojo process under test.
type server struct {
	t       *testing.T
	url     string
	addr    string
	dataDir string
	cancel  context.CancelFunc
	done    chan error
	logs    *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer runs a server; mutate adjusts its config. It stops (and its
// containers are removed) when the test ends unless stopped before.
func startServer(t *testing.T, dataDir string, mutate func(*app.Config)) *server {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.DataDir = dataDir
	cfg.LabsDir = filepath.Join(repoRoot, "labs")
	cfg.ReapInterval = 500 * time.Millisecond
	if mutate != nil {
		mutate(&cfg)
	}
	// The instance id is made here, before the server reads it, so the
	// test's clean-up removes this server's containers and nobody else's
	// (other suites and benchmarks may share the engine).
	instance := instanceOf(t, dataDir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{t: t, url: "http://" + ln.Addr().String(), addr: ln.Addr().String(), dataDir: dataDir, cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() { s.done <- app.ServeListener(ctx, cfg, ln, log) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-s.done:
			t.Fatalf("server exited at start: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not answer /healthz: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
		removeInstanceContainers(t, instance)
	})
	return s
}

// addUser creates an account with the password "correct-horse-battery"
// in a data dir before its server starts.
func addUser(t *testing.T, dataDir, name string, role opsdojo.Role) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, app.DBPath(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hash, err := auth.HashPassword("correct-horse-battery")
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.CreateUser(ctx, name, hash, role == opsdojo.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if role == opsdojo.RoleInstructor {
		if err := st.SetUserRole(ctx, u.ID, role); err != nil {
			t.Fatal(err)
		}
	}
}

// instanceOf returns the instance id of a data dir's database, making it
// when the database is new.
func instanceOf(t *testing.T, dataDir string) string {
	t.Helper()
	ctx := context.Background()
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, app.DBPath(dataDir))
	if err != nil {
		t.Fatalf("open the test server's database: %v", err)
	}
	defer st.Close()
	id, err := st.InstanceID(ctx)
	if err != nil {
		t.Fatalf("instance id: %v", err)
	}
	return id
}

func (s *server) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Errorf("server shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		s.t.Error("server did not shut down within 30 s")
	}
}

// removeSessionContainers removes every container of a data dir's
// instance; tests call it so nothing outlives the run.
func removeInstanceContainers(t *testing.T, instance string) {
	t.Helper()
	cleanupByLabel(t, "opsdojo.instance="+instance)
}

// learner is a signed-in browser-like client.
type learner struct {
	t    *testing.T
	srv  *server
	http *http.Client
	csrf string
	name string
}

func newLearner(t *testing.T, srv *server, name string) *learner {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	l := &learner{t: t, srv: srv, http: &http.Client{Jar: jar, Timeout: 2 * time.Minute}, name: name}
	var out struct {
		User      struct{ Username string } `json:"user"`
		CSRFToken string                    `json:"csrf_token"`
	}
	status := l.do("POST", "/api/v1/auth/register", map[string]string{"username": name, "password": "correct-horse-battery"}, &out)
	if status != http.StatusCreated {
		t.Fatalf("register %s: status %d", name, status)
	}
	if out.CSRFToken == "" || out.User.Username != name {
		t.Fatalf("register response: %+v", out)
	}
	l.csrf = out.CSRFToken
	return l
}

// login signs an existing user in on (possibly another) server.
func login(t *testing.T, srv *server, name string) *learner {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	l := &learner{t: t, srv: srv, http: &http.Client{Jar: jar, Timeout: 2 * time.Minute}, name: name}
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	if status := l.do("POST", "/api/v1/auth/login", map[string]string{"username": name, "password": "correct-horse-battery"}, &out); status != http.StatusOK {
		t.Fatalf("login %s: status %d", name, status)
	}
	l.csrf = out.CSRFToken
	return l
}

// do sends a JSON request with the CSRF header and decodes the reply.
func (l *learner) do(method, path string, body, out any) int {
	l.t.Helper()
	return l.doHeaders(method, path, body, out, map[string]string{"X-CSRF-Token": l.csrf})
}

func (l *learner) doHeaders(method, path string, body, out any, headers map[string]string) int {
	l.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, l.srv.url+path, r)
	if err != nil {
		l.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := l.http.Do(req)
	if err != nil {
		l.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			l.t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

type sessionJSON struct {
	ID        string `json:"id"`
	Lab       string `json:"lab"`
	State     string `json:"state"`
	EndReason string `json:"end_reason"`
}

type errorJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type checkJSON struct {
	Status   string   `json:"status"`
	Messages []string `json:"messages"`
	Hints    []string `json:"hints"`
	Progress struct {
		Passed int `json:"passed"`
		Total  int `json:"total"`
	} `json:"progress"`
}

func (l *learner) startLab(lab string) sessionJSON {
	l.t.Helper()
	var s sessionJSON
	status := l.do("POST", "/api/v1/labs/"+lab+"/session", map[string]any{}, &s)
	// 202: queued for admission (--max-creates); asking again keeps the place.
	for i := 0; status == http.StatusAccepted && i < 200; i++ {
		status = l.do("POST", "/api/v1/labs/"+lab+"/session", map[string]any{}, &s)
	}
	if status != http.StatusOK {
		l.t.Fatalf("start %s: status %d", lab, status)
	}
	if s.ID == "" || s.State != "running" || s.Lab != lab {
		l.t.Fatalf("start %s: %+v", lab, s)
	}
	return s
}

func (l *learner) check(session, step string) checkJSON {
	l.t.Helper()
	var c checkJSON
	if status := l.do("POST", "/api/v1/sessions/"+session+"/steps/"+step+"/check", nil, &c); status != http.StatusOK {
		l.t.Fatalf("check %s: status %d", step, status)
	}
	return c
}

// term is a terminal websocket speaking opsdojo's protocol.
type term struct {
	t    *testing.T
	conn *websocket.Conn
	mu   sync.Mutex
	out  bytes.Buffer
	seen int // offset up to which expect has consumed output
	done chan struct{}
	err  error
}

func (l *learner) dial(session string, header http.Header) (*websocket.Conn, *http.Response, error) {
	u := "ws://" + l.srv.addr + "/api/v1/sessions/" + session + "/terminal"
	if header == nil {
		header = http.Header{}
	}
	dialer := websocket.Dialer{Jar: l.http.Jar, HandshakeTimeout: 30 * time.Second}
	return dialer.Dial(u, header)
}

func (l *learner) terminal(session string) *term {
	l.t.Helper()
	conn, resp, err := l.dial(session, http.Header{"Origin": {l.srv.url}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		l.t.Fatalf("open terminal: %v (status %d)", err, status)
	}
	tm := &term{t: l.t, conn: conn, done: make(chan struct{})}
	go tm.read()
	l.t.Cleanup(func() { conn.Close() })
	return tm
}

func (tm *term) read() {
	defer close(tm.done)
	for {
		_, msg, err := tm.conn.ReadMessage()
		if err != nil {
			tm.mu.Lock()
			tm.err = err
			tm.mu.Unlock()
			return
		}
		if len(msg) > 0 && msg[0] == '0' {
			tm.mu.Lock()
			tm.out.Write(msg[1:])
			tm.mu.Unlock()
		}
	}
}

func (tm *term) send(op byte, payload []byte) {
	tm.t.Helper()
	if err := tm.conn.WriteMessage(websocket.BinaryMessage, append([]byte{op}, payload...)); err != nil {
		tm.t.Fatalf("terminal write: %v", err)
	}
}

func (tm *term) typeLine(s string) { tm.send('0', []byte(s+"\r")) }

// expect waits until output after the last match contains want.
func (tm *term) expect(want string, within time.Duration) {
	tm.t.Helper()
	deadline := time.Now().Add(within)
	for {
		tm.mu.Lock()
		all := tm.out.String()
		idx := strings.Index(all[tm.seen:], want)
		if idx >= 0 {
			tm.seen += idx + len(want)
		}
		err := tm.err
		tm.mu.Unlock()
		if idx >= 0 {
			return
		}
		if err != nil || time.Now().After(deadline) {
			tm.t.Fatalf("terminal: %q not seen within %s (err %v); output:\n%s", want, within, err, all)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closeCode waits for the socket to close and returns the close code.
func (tm *term) closeCode(within time.Duration) int {
	tm.t.Helper()
	select {
	case <-tm.done:
	case <-time.After(within):
		tm.t.Fatalf("terminal still open after %s", within)
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if ce, ok := tm.err.(*websocket.CloseError); ok {
		return ce.Code
	}
	return -1
}
