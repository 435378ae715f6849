package preview

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// fakeAccess lets one login see one session; the "container" is a
// loopback server.
type fakeAccess struct {
	mu      sync.Mutex
	login   string
	session string
	addr    netip.AddrPort
	calls   int
}

func (f *fakeAccess) Target(_ context.Context, login, session string, port uint16) (netip.AddrPort, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if login != f.login || session != f.session {
		return netip.AddrPort{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "no such session")
	}
	_ = port // every port of the fake "container" is the one backend
	return f.addr, nil
}

// setup runs a backend (the learner's service) and the preview origin on
// loopback; the client resolves every *.localhost name to the origin.
func setup(t *testing.T, backend http.Handler) (*Service, *fakeAccess, *http.Client, string) {
	t.Helper()
	be := httptest.NewServer(backend)
	t.Cleanup(be.Close)
	beAddr := netip.MustParseAddrPort(strings.TrimPrefix(be.URL, "http://"))
	acc := &fakeAccess{login: "login-hash", session: "0123456789abcdef", addr: beAddr}
	u, err := ParseURL("http://*.localhost:1")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Config{URL: u, Key: []byte("0123456789abcdef0123456789abcdef"), CacheTTL: time.Nanosecond}, acc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(svc)
	t.Cleanup(front.Close)
	frontAddr := strings.TrimPrefix(front.URL, "http://")
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, frontAddr)
		}}}
	return svc, acc, client, frontAddr
}

func get(t *testing.T, c *http.Client, u string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestPreviewTokenCookieAndProxy(t *testing.T) {
	var gotCookie string
	svc, acc, client, _ := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotCookie = r.Header.Get("Cookie")
		http.SetCookie(w, &http.Cookie{Name: "opsdojo_login", Value: "evil", Path: "/"})
		http.SetCookie(w, &http.Cookie{Name: "wide", Value: "x", Domain: "localhost"})
		http.SetCookie(w, &http.Cookie{Name: "app", Value: "ok"})
		_, _ = io.WriteString(w, "hello from "+r.Host+r.URL.Path)
	}))
	// Without the cookie: refused, nothing proxied.
	origin := svc.Origin(acc.session, 8080)
	resp, _ := get(t, client, origin+"/", nil)
	if resp.StatusCode != http.StatusForbidden || acc.calls != 0 {
		t.Fatalf("no cookie: status %d, %d access checks", resp.StatusCode, acc.calls)
	}
	link, err := svc.Link(acc.session, 8080, acc.login, "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	// A token for one port is no good on another port's host.
	other := strings.Replace(link, "-8080.", "-8081.", 1)
	if resp, _ := get(t, client, other, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("token on another port's host: %d", resp.StatusCode)
	}
	resp, body := get(t, client, link, http.Header{"Cookie": {"opsdojo_login=victim-token; theme=dark"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "/healthz") {
		t.Fatalf("after the exchange: %d %q", resp.StatusCode, body)
	}
	if strings.Contains(gotCookie, "opsdojo_") || !strings.Contains(gotCookie, "theme=dark") {
		t.Errorf("the service got cookies %q: opsdojo's must be stripped, its own kept", gotCookie)
	}
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if strings.Contains(sc, "opsdojo_login") || strings.Contains(sc, "wide=") {
			t.Errorf("the service set %q through the preview", sc)
		}
	}
	if !strings.Contains(strings.Join(resp.Header.Values("Set-Cookie"), "\n"), "app=ok") {
		t.Errorf("the service's own cookie was dropped: %v", resp.Header.Values("Set-Cookie"))
	}
	// The token was spent.
	if resp, _ := get(t, client, link, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a token used twice: %d", resp.StatusCode)
	}
	// The cookie is this host's only: another session's host gets nothing.
	u, _ := url.Parse(origin)
	for _, c := range client.Jar.Cookies(u) {
		if c.Name == CookieName && strings.Contains(c.Value, "opsdojo_login") {
			t.Errorf("cookie leaks the login cookie")
		}
	}
	if resp, _ := get(t, client, svc.Origin("fedcba9876543210", 8080)+"/", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("another session's host: %d", resp.StatusCode)
	}
	// A sign-in that may no longer see the session loses the preview.
	acc.mu.Lock()
	acc.login = "someone-else"
	acc.mu.Unlock()
	if resp, _ := get(t, client, origin+"/", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("revoked access: %d", resp.StatusCode)
	}
}

func TestPreviewWebsocketPasses(t *testing.T) {
	up := websocket.Upgrader{}
	svc, acc, client, frontAddr := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !websocket.IsWebSocketUpgrade(r) {
			_, _ = io.WriteString(w, "index")
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		mt, msg, err := c.ReadMessage()
		if err == nil {
			_ = c.WriteMessage(mt, append([]byte("echo: "), msg...))
		}
	}))
	link, _ := svc.Link(acc.session, 9000, acc.login, "/")
	if resp, _ := get(t, client, link, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("exchange: %d", resp.StatusCode)
	}
	origin, _ := url.Parse(svc.Origin(acc.session, 9000))
	d := websocket.Dialer{NetDial: func(network, _ string) (net.Conn, error) { return net.Dial(network, frontAddr) }, Jar: client.Jar}
	wsURL := "ws://" + origin.Host + "/ws"
	c, _, err := d.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, msg, err := c.ReadMessage()
	if err != nil || string(msg) != "echo: ping" {
		t.Fatalf("websocket through the preview: %q %v", msg, err)
	}
}

func TestPreviewHostsAndPaths(t *testing.T) {
	u, _ := ParseURL("https://*.preview.example.org")
	svc, err := New(Config{URL: u, Key: make([]byte, 32)}, &fakeAccess{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if got := svc.Origin("abc", 8080); got != "https://abc-8080.preview.example.org" {
		t.Fatalf("origin %q", got)
	}
	for host, ok := range map[string]bool{
		"abc-8080.preview.example.org":      true,
		"ABC-8080.Preview.Example.Org:443":  true,
		"abc-0.preview.example.org":         false,
		"abc-08080.preview.example.org":     false,
		"abc-70000.preview.example.org":     false,
		"x.abc-8080.preview.example.org":    false,
		"preview.example.org":               false,
		"abc-8080.preview.example.org.evil": false,
	} {
		if svc.Matches(host) != ok {
			t.Errorf("Matches(%q) = %v", host, !ok)
		}
	}
	for in, want := range map[string]string{"/a?b=c": "/a?b=c", "//evil.example": "/", "/\\evil": "/", "https://x": "/", "": "/", "/a\tb": "/"} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{"http://preview.example.org", "ftp://*.x", "https://*.x/path", "http://a*.x"} {
		if _, err := ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) accepted", bad)
		}
	}
}
