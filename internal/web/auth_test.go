package web

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/opsdojo/opsdojo/internal/auth"
	"github.com/opsdojo/opsdojo/internal/loginlimit"
	"github.com/opsdojo/opsdojo/internal/terminal"
)

// countingPasswords wraps the real argon2id functions and records which
// hashes were checked.
type countingPasswords struct {
	auth.Passwords
	mu      sync.Mutex
	checked []string
}

func (p *countingPasswords) Check(encoded, password string) bool {
	p.mu.Lock()
	p.checked = append(p.checked, encoded)
	p.mu.Unlock()
	return p.Passwords.Check(encoded, password)
}

func (p *countingPasswords) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.checked
	p.checked = nil
	return out
}

// An unknown username goes through the same argon2id check as a wrong
// password (against the dummy hash), so its answer takes as long; the
// answers are the same.
func TestUnknownUserChecksTheDummyHash(t *testing.T) {
	env := newEnv(t, Config{Registration: true})
	env.client(t).register("ada")
	pw := &countingPasswords{}
	env.server.passwords = pw
	if !strings.HasPrefix(env.server.dummyHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("dummy hash %q lacks the real parameters", env.server.dummyHash)
	}
	c := env.client(t)
	type answer struct {
		status int
		body   map[string]any
	}
	var answers []answer
	for _, tc := range []struct {
		name, body string
		wantHash   string
	}{
		{"wrong password", `{"username":"ada","password":"wrong-password"}`, "real"},
		{"unknown user", `{"username":"nobody","password":"wrong-password"}`, "dummy"},
		{"unknown user, too long to exist", `{"username":"` + strings.Repeat("x", 200) + `","password":"pw"}`, "dummy"},
	} {
		status, out := c.api("POST", "/api/v1/auth/login", tc.body)
		answers = append(answers, answer{status, out})
		checked := pw.take()
		if len(checked) != 1 {
			t.Fatalf("%s: %d password checks, want exactly 1", tc.name, len(checked))
		}
		if isDummy := checked[0] == env.server.dummyHash; isDummy != (tc.wantHash == "dummy") {
			t.Fatalf("%s: checked the dummy hash: %v, want %s", tc.name, isDummy, tc.wantHash)
		}
	}
	for _, a := range answers[1:] {
		if a.status != answers[0].status || fmt.Sprint(a.body) != fmt.Sprint(answers[0].body) {
			t.Fatalf("unknown user answered %d %v, wrong password %d %v", a.status, a.body, answers[0].status, answers[0].body)
		}
	}
}

func loginBody(user, pw string) string {
	return fmt.Sprintf(`{"username":%q,"password":%q}`, user, pw)
}

// loginRaw posts a sign-in and returns the response (body read).
func (c *client) login(user, pw string, headers map[string]string) (*http.Response, string) {
	c.t.Helper()
	return c.req("POST", "/api/v1/auth/login", "application/json", loginBody(user, pw), headers)
}

// Spraying one password over 200 usernames from one address is refused
// after the address's failure budget, with 429, Retry-After and a message
// that says what to do.
// frozenLimits are the default sign-in limits on a clock that stands
// still: budgets must not refill while a slow (-race, loaded) machine
// hashes 50 passwords, or the count of allowed attempts shifts.
func frozenLimits() loginlimit.Config {
	lim := loginlimit.DefaultConfig()
	t0 := time.Now()
	lim.Now = func() time.Time { return t0 }
	return lim
}

func TestPasswordSprayingIsLimited(t *testing.T) {
	env := newEnv(t, Config{Registration: true, Limits: frozenLimits()})
	budget := loginlimit.DefaultConfig().Address.Burst
	c := env.client(t)
	first429 := -1
	for i := 0; i < 200; i++ {
		resp, body := c.login(fmt.Sprintf("learner%03d", i), "Winter2026!", nil)
		if resp.StatusCode == http.StatusTooManyRequests {
			if first429 < 0 {
				first429 = i
				secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
				if err != nil || secs < 1 {
					t.Fatalf("429 without a Retry-After in seconds: %q", resp.Header.Get("Retry-After"))
				}
				if !strings.Contains(body, "too many failed sign-ins from your network") || !strings.Contains(body, "too_many_requests") {
					t.Fatalf("429 body: %s", body)
				}
			}
			continue
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %s", i, resp.StatusCode, body)
		}
		if first429 >= 0 {
			t.Fatalf("attempt %d allowed after the budget ran out at %d", i, first429)
		}
	}
	if first429 != budget {
		t.Fatalf("first 429 at attempt %d, want %d (the address budget)", first429, budget)
	}
}

// A victim behind the same address as a sprayer (a classroom NAT) still
// signs in from the browser they used before: the device cookie exempts
// it from the address and account limits. A new browser waits.
func TestDeviceCookieSignsInWhileAddressIsLimited(t *testing.T) {
	env := newEnv(t, Config{Registration: true, Limits: frozenLimits()})
	victim := env.client(t)
	victim.register("ada") // signing up sets the device cookie too
	if resp, body := victim.login("ada", "long-enough-pw", nil); resp.StatusCode != 200 {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	var dev *http.Cookie
	u, _ := url.Parse(env.srv.URL + "/api/v1/auth/login")
	for _, ck := range victim.http.Jar.Cookies(u) {
		if ck.Name == deviceCookieName {
			dev = ck
		}
	}
	if dev == nil {
		t.Fatal("no device cookie after a sign-in")
	}
	attacker := env.client(t)
	// Guess the victim's password until the account backs off, then
	// spray until the address is refused too.
	for i := 0; i < 200; i++ {
		user := "ada"
		if i >= 10 {
			user = fmt.Sprintf("u%d", i)
		}
		attacker.login(user, "guess-"+strconv.Itoa(i), nil)
	}
	if resp, _ := attacker.login("someone", "x", nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the sprayer is not limited: %d", resp.StatusCode)
	}
	fresh := env.client(t)
	if resp, body := fresh.login("ada", "long-enough-pw", nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a browser without a device cookie: %d %s, want 429", resp.StatusCode, body)
	}
	resp, body := victim.login("ada", "long-enough-pw", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the victim's browser with its device cookie: %d %s, want 200", resp.StatusCode, body)
	}
	// The cookie is the victim's only: it does not help the attacker with
	// other accounts, nor with a wrong password past its own budget.
	stolen := env.client(t)
	stolen.http.Jar.SetCookies(u, []*http.Cookie{{Name: deviceCookieName, Value: dev.Value, Path: "/api/v1/auth/login"}})
	if resp, _ := stolen.login("bob", "guess", nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a device cookie for ada helped with bob: %d", resp.StatusCode)
	}
	codes := map[int]int{}
	for i := 0; i < loginlimit.DefaultConfig().Device.Burst+5; i++ {
		resp, _ := stolen.login("ada", "guess-"+strconv.Itoa(i), nil)
		codes[resp.StatusCode]++
	}
	if codes[http.StatusUnauthorized] != loginlimit.DefaultConfig().Device.Burst || codes[http.StatusTooManyRequests] != 5 {
		t.Fatalf("guessing through a device cookie: %v, want %d × 401 then 429s", codes, loginlimit.DefaultConfig().Device.Burst)
	}
}

func TestIPExtractor(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		xff     []string
		realIP  string
		want    string
	}{
		{"no proxies: headers ignored", nil, "192.0.2.1:5000", []string{"203.0.113.9"}, "203.0.113.8", "192.0.2.1"},
		{"no proxies: loopback peer is not trusted either", nil, "127.0.0.1:5000", []string{"203.0.113.9"}, "", "127.0.0.1"},
		{"untrusted peer: headers ignored", trusted, "192.0.2.1:5000", []string{"203.0.113.9"}, "", "192.0.2.1"},
		{"private peer not configured: ignored", []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, "192.168.1.1:5000", []string{"203.0.113.9"}, "", "192.168.1.1"},
		{"trusted proxy", trusted, "10.0.0.2:5000", []string{"203.0.113.9"}, "", "203.0.113.9"},
		{"forged leftmost entries are skipped", trusted, "10.0.0.2:5000", []string{"1.2.3.4, 203.0.113.9"}, "", "203.0.113.9"},
		{"a chain of trusted proxies", trusted, "10.0.0.2:5000", []string{"203.0.113.9, 10.9.9.9", "10.0.0.7"}, "", "203.0.113.9"},
		{"garbage in the chain: the proxy", trusted, "10.0.0.2:5000", []string{"203.0.113.9, nonsense"}, "", "10.0.0.2"},
		{"X-Real-IP from a trusted proxy", trusted, "10.0.0.2:5000", nil, "203.0.113.7", "203.0.113.7"},
		{"X-Real-IP from anyone else", trusted, "192.0.2.1:5000", nil, "203.0.113.7", "192.0.2.1"},
		{"IPv6 proxy", trusted, "[fd00::1]:5000", []string{"2001:db8::5"}, "", "2001:db8::5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tc.realIP != "" {
				r.Header.Set("X-Real-IP", tc.realIP)
			}
			if got := ipExtractor(tc.trusted)(r); got != tc.want {
				t.Fatalf("client %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 10.0.0.0/8, 192.0.2.7 ,fd00::/8,")
	if err != nil || fmt.Sprint(got) != "[10.0.0.0/8 192.0.2.7/32 fd00::/8]" {
		t.Fatalf("%v %v", got, err)
	}
	if got, err := ParseTrustedProxies(""); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "example.org", "10.0.0.1/8/8"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Sign-in limits count the client a trusted proxy names, and only then.
func TestLimitsHonourTrustedProxiesOnly(t *testing.T) {
	limits := loginlimit.Config{Address: loginlimit.Budget{Burst: 3, Every: time.Hour}}
	spray := func(c *client, xff string, n int) (last int) {
		for i := 0; i < n; i++ {
			resp, _ := c.login(fmt.Sprintf("%s-u%d", xff, i), "guess", map[string]string{"X-Forwarded-For": xff})
			last = resp.StatusCode
		}
		return last
	}
	behind := newEnv(t, Config{Registration: true, Limits: limits, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	c := behind.client(t)
	if got := spray(c, "203.0.113.1", 4); got != http.StatusTooManyRequests {
		t.Fatalf("behind a trusted proxy, one client's 4th failure: %d", got)
	}
	if got := spray(c, "203.0.113.2", 1); got != http.StatusUnauthorized {
		t.Fatalf("behind a trusted proxy, another client: %d, want 401", got)
	}
	direct := newEnv(t, Config{Registration: true, Limits: limits})
	d := direct.client(t)
	for i, xff := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"} {
		got := spray(d, xff, 1)
		if want := map[bool]int{true: 429, false: 401}[i == 3]; got != want {
			t.Fatalf("no trusted proxies, forged X-Forwarded-For %s: %d, want %d", xff, got, want)
		}
	}
}

// The next parameter of the sign-in page only ever leads to a path on
// this site.
func TestSafeNext(t *testing.T) {
	cases := []struct{ in, want string }{
		{"/labs", "/labs"},
		{"/labs/git-basics", "/labs/git-basics"},
		{"/recordings?page=2#top", "/recordings?page=2#top"},
		{"/labs/a%2Db", "/labs/a%2Db"},
		{"", "/"},
		{"/", "/"},
		{"//evil.example", "/"},
		{"///evil.example", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/%09/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/\r\n/evil.example", "/"},
		{"/ /evil.example", "/"},
		{"/%20/evil.example", "/"},
		{"/%2F%2Fevil.example", "/"},
		{"/%2f/evil.example", "/"},
		{"/%5Cevil.example", "/"},
		{"/%5cevil.example", "/"},
		{"/labs\\..\\evil", "/"},
		{"https://evil.example", "/"},
		{"http:/evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"evil.example", "/"},
		{"\t/labs", "/"},
		{"/\x00", "/"},
		{"/labs\x7f", "/"},
		{"/\u200b/evil.example", "/"}, // zero-width space, a format character
		{"/\u00a0/evil.example", "/"}, // no-break space
		{"/\u2028/evil.example", "/"},
		{"/%E2%80%8B/evil.example", "/"},
		{"/%zz", "/"},
		{"/\xff", "/"},
		{"/" + strings.Repeat("a", 3000), "/"},
	}
	for _, tc := range cases {
		if got := safeNext(tc.in); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if !bundleBuiltForTests() {
		t.Skip("web bundle not built: the sign-in page is the 'run make' page")
	}
	// The same through the page: the query value arrives decoded once.
	env := newEnv(t, Config{Registration: true})
	anon := env.client(t)
	for _, tc := range cases {
		if strings.ContainsRune(tc.in, 0) {
			continue // a NUL cannot be sent in a URL at all
		}
		resp, body := anon.req("GET", "/login?next="+url.QueryEscape(tc.in), "", "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("login page for next=%q: %d", tc.in, resp.StatusCode)
		}
		if want := `data-next="` + html.EscapeString(tc.want) + `"`; !strings.Contains(body, want) {
			t.Errorf("login page for next=%q lacks %s", tc.in, want)
		}
	}
	// And the raw bypass from the report, not escaped by us.
	_, body := anon.req("GET", "/login?next=/%09/evil.example", "", "", nil)
	if !strings.Contains(body, `data-next="/"`) {
		t.Fatalf("next=/%%09/evil.example is on the page: %s", body)
	}
	// The redirect to the sign-in page carries the path it came from.
	resp, _ := anon.req("GET", "/labs/demo", "", "", nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/login?next=%2Flabs%2Fdemo" {
		t.Fatalf("redirect to sign in: %d %s", resp.StatusCode, loc)
	}
}

// wsClient is a terminal websocket in a test.
type wsClient struct {
	conn *websocket.Conn
	done chan struct{}
	err  error
}

func (c *client) openTerminal(sessionID, query string) *wsClient {
	c.t.Helper()
	wsURL := "ws" + strings.TrimPrefix(c.env.srv.URL, "http") + "/api/v1/sessions/" + sessionID + "/terminal?" + query
	conn, _, err := (&websocket.Dialer{Jar: c.http.Jar, HandshakeTimeout: 5 * time.Second}).Dial(wsURL, http.Header{"Origin": {c.env.srv.URL}})
	if err != nil {
		c.t.Fatalf("open terminal: %v", err)
	}
	c.t.Cleanup(func() { conn.Close() })
	w := &wsClient{conn: conn, done: make(chan struct{})}
	conn.WriteMessage(websocket.BinaryMessage, terminal.HelloFrame(0))
	go func() {
		defer close(w.done)
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				w.err = err
				return
			}
		}
	}()
	return w
}

// closed waits (bounded) for the socket to close and returns the close
// code and text.
func (w *wsClient) closed(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal socket is still open")
	}
	var ce *websocket.CloseError
	if !errors.As(w.err, &ce) {
		t.Fatalf("socket ended without a close frame: %v", w.err)
	}
	return ce.Code, ce.Text
}

func (w *wsClient) open() bool {
	select {
	case <-w.done:
		return false
	default:
		return true
	}
}

// signIn is a second browser of an existing user.
func (e *testEnv) signIn(t *testing.T, name string) *client {
	t.Helper()
	c := e.client(t)
	status, out := c.api("POST", "/api/v1/auth/login", loginBody(name, "long-enough-pw"))
	if status != 200 {
		t.Fatalf("sign in %s: %d %v", name, status, out)
	}
	c.csrf = out["csrf_token"].(string)
	return c
}

// Logging out closes that login's terminal sockets, drivers and viewers,
// with 4401, and leaves the user's other logins alone.
func TestLogoutClosesThatLoginsSockets(t *testing.T) {
	env := newEnv(t, Config{Registration: true})
	ada := env.client(t)
	ada.register("ada")
	_, s := ada.api("POST", "/api/v1/labs/demo/session", "{}")
	id := s["id"].(string)
	driver := ada.openTerminal(id, "tab=main")
	viewer := ada.openTerminal(id, "tab=main&watch=1")
	other := env.signIn(t, "ada")
	otherTab := other.openTerminal(id, "tab=second")

	if status, _ := ada.api("POST", "/api/v1/auth/logout", ""); status != 204 {
		t.Fatalf("logout: %d", status)
	}
	for name, w := range map[string]*wsClient{"driver": driver, "viewer": viewer} {
		if code, text := w.closed(t); code != terminal.CloseSignedOut || text != "signed out" {
			t.Fatalf("%s closed with %d %q, want %d", name, code, text, terminal.CloseSignedOut)
		}
	}
	time.Sleep(100 * time.Millisecond) // would the other login's socket go too?
	if !otherTab.open() {
		t.Fatalf("another login's socket was closed: %v", otherTab.err)
	}
	// The registry forgets closed sockets.
	deadline := time.Now().Add(5 * time.Second)
	for len(env.server.sockets.list()) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("logins with sockets: %d, want 1", len(env.server.sockets.list()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Logins ended elsewhere (a password reset through the CLI, another
// process) or expired lose their sockets at the next re-check.
func TestEndedAndExpiredLoginsLoseTheirSockets(t *testing.T) {
	env := newEnv(t, Config{Registration: true, LoginRecheck: 50 * time.Millisecond})
	ada := env.client(t)
	ada.register("ada")
	_, s := ada.api("POST", "/api/v1/labs/demo/session", "{}")
	id := s["id"].(string)
	w := ada.openTerminal(id, "tab=main")
	hash, _ := env.server.users.(interface {
		SetUserPassword(ctx context.Context, username, passwordHash string, admin bool) error
	})
	if hash == nil {
		t.Fatal("the store cannot reset passwords")
	}
	newHash, _ := auth.HashPassword("a-new-password")
	if err := hash.SetUserPassword(context.Background(), "ada", newHash, false); err != nil {
		t.Fatal(err)
	}
	if code, text := w.closed(t); code != terminal.CloseSignedOut || !strings.Contains(text, "sign-in ended") {
		t.Fatalf("after a password reset: %d %q", code, text)
	}

	short := newEnv(t, Config{Registration: true, LoginTTL: 1500 * time.Millisecond})
	bob := short.client(t)
	bob.register("bob")
	_, s = bob.api("POST", "/api/v1/labs/demo/session", "{}")
	w = bob.openTerminal(s["id"].(string), "tab=main")
	if code, text := w.closed(t); code != terminal.CloseSignedOut || !strings.Contains(text, "expired") {
		t.Fatalf("after the login expired: %d %q", code, text)
	}
}

// A login that ended between the request's authentication and the
// upgrade gets no socket.
func TestSocketOfAnEndedLoginIsRefused(t *testing.T) {
	env := newEnv(t, Config{Registration: true})
	ada := env.client(t)
	ada.register("ada")
	_, s := ada.api("POST", "/api/v1/labs/demo/session", "{}")
	env.server.users = &endsLoginOnCheck{Users: env.server.users}
	wsURL := "ws" + strings.TrimPrefix(env.srv.URL, "http") + "/api/v1/sessions/" + s["id"].(string) + "/terminal"
	_, resp, err := (&websocket.Dialer{Jar: ada.http.Jar}).Dial(wsURL, http.Header{"Origin": {env.srv.URL}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("socket for an ended login: %v %v", err, resp)
	}
}

// endsLoginOnCheck answers the socket's re-check as if a logout had just
// happened.
type endsLoginOnCheck struct{ Users }

func (endsLoginOnCheck) ValidLogins(context.Context, []string) (map[string]time.Time, error) {
	return map[string]time.Time{}, nil
}

func TestRetryAfterRounding(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Millisecond:        "1 second",
		time.Second:             "1 second",
		1500 * time.Millisecond: "2 seconds",
		119 * time.Second:       "119 seconds",
		15 * time.Minute:        "15 minutes",
	} {
		if got := humanWait(d); got != want {
			t.Errorf("humanWait(%s) = %q, want %q", d, got, want)
		}
	}
}

// slowPasswords counts how many checks run at once.
type slowPasswords struct {
	auth.Passwords
	mu        sync.Mutex
	now, most int
}

func (p *slowPasswords) Check(encoded, password string) bool {
	p.mu.Lock()
	p.now++
	p.most = max(p.most, p.now)
	p.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	p.mu.Lock()
	p.now--
	p.mu.Unlock()
	return false
}

// A burst of sign-ins queues for a few argon2id slots (19 MiB each)
// instead of running all at once.
func TestPasswordChecksAreBounded(t *testing.T) {
	env := newEnv(t, Config{Registration: true})
	pw := &slowPasswords{}
	env.server.passwords = pw
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(env.srv.URL+"/api/v1/auth/login", "application/json", strings.NewReader(loginBody(fmt.Sprintf("u%d", i), "pw")))
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if slots := max(2, runtime.NumCPU()); pw.most > slots || pw.most == 0 {
		t.Fatalf("%d password checks ran at once, want at most %d", pw.most, slots)
	}
}
