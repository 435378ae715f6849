package preview

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// fakeContainers is a fakeAccess that also knows the learner's docker
// containers by name: each name is its own loopback "container".
type fakeContainers struct {
	*fakeAccess
	mu    sync.Mutex
	names map[string]netip.AddrPort
	asked []string
}

func (f *fakeContainers) ContainerTarget(ctx context.Context, login, session, container string, port uint16) (netip.AddrPort, error) {
	if _, err := f.fakeAccess.Target(ctx, login, session, port); err != nil {
		return netip.AddrPort{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, container)
	a, ok := f.names[container]
	if !ok {
		return netip.AddrPort{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "no running container %q", container)
	}
	return a, nil
}

func TestContainerHostScheme(t *testing.T) {
	u, _ := ParseURL("https://*.preview.example.org")
	svc, err := New(Config{URL: u, Key: make([]byte, 32)}, &fakeAccess{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const sess = "0123456789abcdef"
	names := []string{"web", "my-app", "a1b2c3d4e5f6", "Web", "my_app", "a.b", "x--y", "web-", "WEB", "8080", "a"}
	seen := map[string]string{}
	for _, name := range names {
		o, err := svc.TargetOrigin(Target{Session: sess, Port: 8080, Container: name})
		if err != nil {
			t.Fatalf("origin of %q: %v", name, err)
		}
		host := strings.TrimPrefix(o, "https://")
		if other, dup := seen[host]; dup {
			t.Fatalf("%q and %q share the host %s", name, other, host)
		}
		seen[host] = name
		lbl := strings.TrimSuffix(host, ".preview.example.org")
		if len(lbl) > 63 || strings.ContainsAny(lbl, "_.") || lbl != strings.ToLower(lbl) || strings.HasSuffix(lbl, "-") {
			t.Errorf("%q: %q is not a host label", name, lbl)
		}
		// Browsers lower-case host names: the container is still the same.
		got, ok := svc.parseHost(strings.ToUpper(host))
		if !ok || got != (Target{Session: sess, Port: 8080, Container: name}) {
			t.Errorf("parseHost(%q) = %+v %v, want container %q", host, got, ok, name)
		}
	}
	if o, _ := svc.TargetOrigin(Target{Session: sess, Port: 8080, Container: "web"}); o != "https://"+sess+"-8080--web.preview.example.org" {
		t.Errorf("a plain name's origin: %s", o)
	}
	// The session's own container keeps its host, and it is no container's.
	if got, ok := svc.parseHost(sess + "-8080.preview.example.org"); !ok || got != (Target{Session: sess, Port: 8080}) {
		t.Errorf("own container's host: %+v %v", got, ok)
	}
	for _, bad := range []string{
		sess + "-8080--.preview.example.org",           // no name
		sess + "-8080---.preview.example.org",          // empty base32
		sess + "-8080---o5sgc.preview.example.org",     // base32 of "web": not canonical
		sess + "-8080--web-.preview.example.org",       // not a name as it is
		sess + "-8080--we--b.preview.example.org",      // "--" inside a plain name
		sess + "-8080---!!.preview.example.org",        // not base32
		sess + "--web-8080.preview.example.org",        // container part before the port
		sess + "-08080--web.preview.example.org",       // port not canonical
		"x." + sess + "-8080--web.preview.example.org", // two labels
	} {
		if got, ok := svc.parseHost(bad); ok {
			t.Errorf("parseHost(%q) accepted: %+v", bad, got)
		}
	}
	for _, bad := range []string{"", "-web", "a/b", "a b", "wéb", strings.Repeat("a", 41), strings.Repeat("A", 25)} {
		if _, err := svc.TargetOrigin(Target{Session: sess, Port: 8080, Container: bad}); bad != "" && opsdojo.ErrorCode(err) != opsdojo.EINVALID {
			t.Errorf("TargetOrigin(%q) = %v, want EINVALID", bad, err)
		}
	}
	// The longest names that still make a 63-character label.
	for _, long := range []string{strings.Repeat("a", 40), strings.Repeat("A", 24)} {
		if _, err := svc.TargetOrigin(Target{Session: sess, Port: 8080, Container: long}); err != nil {
			t.Errorf("TargetOrigin(%q): %v", long, err)
		}
	}
	if _, err := svc.LinkContainer(sess, "web", 8080, "login", "/"); opsdojo.ErrorCode(err) != opsdojo.EUNAVAILABLE {
		t.Errorf("LinkContainer without ContainerAccess: %v, want EUNAVAILABLE", err)
	}
}

// TestContainerPreviewTokenBinding: a token or cookie for one target
// (container and port, or the session's own container) opens that target
// only; a name that does not resolve gets the 404 page, not a proxy error.
func TestContainerPreviewTokenBinding(t *testing.T) {
	backend := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "container "+name+" "+r.URL.Path)
		})
	}
	svc, acc, client, _ := setup(t, backend("own"))
	fc := &fakeContainers{fakeAccess: acc, names: map[string]netip.AddrPort{}}
	for _, name := range []string{"web", "Api_1"} {
		fc.names[name] = startBackend(t, backend(name))
	}
	svc.access, svc.containers = fc, fc
	sess := acc.session

	link, err := svc.LinkContainer(sess, "web", 8080, acc.login, "/hi")
	if err != nil {
		t.Fatal(err)
	}
	lu, _ := url.Parse(link)
	if lu.Host != sess+"-8080--web.localhost:1" {
		t.Fatalf("link host %s", lu.Host)
	}
	// The same token on other targets' hosts: refused, and not spent.
	for _, other := range []string{sess + "-8080.localhost:1", sess + "-8081--web.localhost:1", sess + "-8080--api.localhost:1"} {
		ou := *lu
		ou.Host = other
		if resp, body := get(t, client, ou.String(), nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("web's token on %s: %d %q", other, resp.StatusCode, body)
		}
	}
	resp, body := get(t, client, link, nil)
	if resp.StatusCode != http.StatusOK || body != "container web /hi" {
		t.Fatalf("web through its link: %d %q", resp.StatusCode, body)
	}

	// web's cookie, replayed on another container's host (as a client
	// that ignores host-only cookies would): refused before any lookup.
	var webCookie string
	for _, c := range client.Jar.Cookies(&url.URL{Scheme: "http", Host: lu.Host}) {
		if c.Name == CookieName {
			webCookie = c.Value
		}
	}
	if webCookie == "" {
		t.Fatal("no preview cookie after the exchange")
	}
	fc.mu.Lock()
	fc.asked = nil
	fc.mu.Unlock()
	apiOrigin, _ := svc.TargetOrigin(Target{Session: sess, Port: 8080, Container: "Api_1"})
	for _, origin := range []string{apiOrigin, svc.Origin(sess, 8080)} {
		resp, body := get(t, client, origin+"/", http.Header{"Cookie": {CookieName + "=" + webCookie}})
		if resp.StatusCode != http.StatusForbidden || strings.HasPrefix(body, "container ") {
			t.Fatalf("web's cookie on %s: %d %q", origin, resp.StatusCode, body)
		}
	}
	fc.mu.Lock()
	if len(fc.asked) != 0 {
		t.Errorf("a cookie for web looked up %v", fc.asked)
	}
	fc.mu.Unlock()

	// A name with capitals and "_" has its own host and works.
	link, err = svc.LinkContainer(sess, "Api_1", 8080, acc.login, "/")
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := get(t, client, link, nil); resp.StatusCode != http.StatusOK || body != "container Api_1 /" {
		t.Fatalf("Api_1: %d %q", resp.StatusCode, body)
	}

	// A name that does not resolve: the preview's own 404 page.
	link, _ = svc.LinkContainer(sess, "nosuch", 8080, acc.login, "/")
	resp, body = get(t, client, link, nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `No container named "nosuch" is running`) {
		t.Fatalf("unknown container: %d %q", resp.StatusCode, body)
	}
	// Another sign-in's token opens nothing (the access check says no).
	link, _ = svc.LinkContainer(sess, "web", 9090, "someone-else", "/")
	if resp, body := get(t, client, link, nil); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "container web") {
		t.Fatalf("another sign-in on web: %d %q", resp.StatusCode, body)
	}
}

func startBackend(t *testing.T, h http.Handler) netip.AddrPort {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return netip.MustParseAddrPort(ln.Addr().String())
}

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
