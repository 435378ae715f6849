//go:build integration

package integration

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/opsdojo/opsdojo/internal/app"
)

type fileJSON struct {
	Path    string `json:"path"`
	Content string `json:"content"`
	SHA256  string `json:"sha256"`
	Mode    string `json:"mode"`
	Size    int64  `json:"size"`
}

type listingJSON struct {
	Entries []struct {
		Path string `json:"path"`
		Type string `json:"type"`
	} `json:"entries"`
	Truncated bool `json:"truncated"`
}

func (l *listingJSON) has(path, kind string) bool {
	for _, e := range l.Entries {
		if e.Path == path && e.Type == kind {
			return true
		}
	}
	return false
}

// TestEditorFiles drives the editor's API against a real container: the
// tree, open, save (owner and mode kept), the conflict when the file
// changed in the terminal, and every refusal (symlinks, binaries, size,
// paths out of the home, another learner, a missing CSRF token).
func TestEditorFiles(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	ada := newLearner(t, srv, "editor-ada")
	bob := newLearner(t, srv, "editor-bob")
	s := ada.startLab("git-basics")
	cleanupSession(t, s.ID)
	id := inspect(t, s.ID).ID
	if code, out := execIn(t, id, "learner", "bash", "-c", `cd && mkdir -p sub && printf 'hello\n' > sub/a.txt && chmod 600 sub/a.txt &&
ln -s /etc/passwd link && ln -s /etc linkdir && printf 'a\0b' > bin.dat && head -c 1100000 /dev/zero | tr '\0' x > big.txt && mkdir -p .git/objects && touch .git/objects/x`); code != 0 {
		t.Fatalf("set up files: %d %s", code, out)
	}
	base := "/api/v1/sessions/" + s.ID

	var tree listingJSON
	if st := ada.do("GET", base+"/files", nil, &tree); st != http.StatusOK {
		t.Fatalf("files: %d", st)
	}
	if !tree.has("sub", "dir") || !tree.has("sub/a.txt", "file") || !tree.has("link", "link") || !tree.has(".git", "dir") || tree.has(".git/objects/x", "file") {
		t.Fatalf("tree: %+v", tree)
	}

	var f fileJSON
	if st := ada.do("GET", base+"/file?path=sub/a.txt", nil, &f); st != http.StatusOK || f.Content != "hello\n" || f.Mode != "0600" || len(f.SHA256) != 64 {
		t.Fatalf("open: %d %+v", st, f)
	}
	var saved fileJSON
	if st := ada.do("PUT", base+"/file", map[string]any{"path": "sub/a.txt", "content": "hello, editor\n", "base_sha256": f.SHA256}, &saved); st != http.StatusOK {
		t.Fatalf("save: %d", st)
	}
	if _, out := execIn(t, id, "learner", "bash", "-c", "cd && stat -c '%u:%g %a' sub/a.txt && cat sub/a.txt"); out != "1000:1000 600\nhello, editor\n" {
		t.Fatalf("after save, in the container: %q", out)
	}

	// Changed in the terminal since it was opened: a conflict, then an
	// explicit overwrite.
	execIn(t, id, "learner", "bash", "-c", "cd && echo from-terminal > sub/a.txt")
	var e errorJSON
	if st := ada.do("PUT", base+"/file", map[string]any{"path": "sub/a.txt", "content": "mine\n", "base_sha256": saved.SHA256}, &e); st != http.StatusConflict || !strings.Contains(e.Error.Message, "changed since you opened it") {
		t.Fatalf("stale save: %d %+v", st, e)
	}
	if _, out := execIn(t, id, "learner", "cat", "/home/learner/sub/a.txt"); out != "from-terminal\n" {
		t.Fatalf("a refused save changed the file: %q", out)
	}
	if st := ada.do("PUT", base+"/file", map[string]any{"path": "sub/a.txt", "content": "mine\n", "overwrite": true}, nil); st != http.StatusOK {
		t.Fatalf("overwrite: %d", st)
	}
	if _, out := execIn(t, id, "learner", "cat", "/home/learner/sub/a.txt"); out != "mine\n" {
		t.Fatalf("after overwrite: %q", out)
	}
	// A new file: the learner's, 0644.
	if st := ada.do("PUT", base+"/file", map[string]any{"path": "new.txt", "content": "new\n"}, nil); st != http.StatusOK {
		t.Fatalf("new file: %d", st)
	}
	if _, out := execIn(t, id, "learner", "stat", "-c", "%u %a", "/home/learner/new.txt"); out != "1000 644\n" {
		t.Fatalf("new file: %q", out)
	}

	for _, c := range []struct{ method, path, want string }{
		{"GET", base + "/file?path=link", "symlink"},
		{"GET", base + "/file?path=linkdir/shadow", "symlinked folder"},
		{"GET", base + "/file?path=bin.dat", "binary"},
		{"GET", base + "/file?path=big.txt", "1 MiB"},
		{"GET", base + "/file?path=../../etc/passwd", "leaves your home"},
		{"GET", base + "/file?path=sub", "folder"},
	} {
		e = errorJSON{}
		if st := ada.do(c.method, c.path, nil, &e); st != http.StatusBadRequest || !strings.Contains(e.Error.Message, c.want) {
			t.Errorf("%s %s: %d %+v, want 400 mentioning %q", c.method, c.path, st, e, c.want)
		}
	}
	for _, c := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"path": "link", "content": "x", "overwrite": true}, "symlink"},
		{map[string]any{"path": "nul.txt", "content": "a\x00b"}, "binary"},
		{map[string]any{"path": "huge.txt", "content": strings.Repeat("x", 1<<20+1)}, "1 MiB"},
		{map[string]any{"path": "/etc/motd", "content": "x"}, "relative"},
		{map[string]any{"path": "nofolder/x.txt", "content": "x"}, "does not exist"},
	} {
		e = errorJSON{}
		if st := ada.do("PUT", base+"/file", c.body, &e); st != http.StatusBadRequest || !strings.Contains(e.Error.Message, c.want) {
			t.Errorf("save %v: %d %+v, want 400 mentioning %q", c.body["path"], st, e, c.want)
		}
	}
	if _, out := execIn(t, id, "learner", "bash", "-c", "head -c 5 /etc/passwd; test -e /home/learner/huge.txt || echo ' no huge'"); out != "root: no huge\n" {
		t.Fatalf("a refused save wrote something: %q", out)
	}

	// No CSRF token: refused.
	if st := ada.doHeaders("PUT", base+"/file", map[string]any{"path": "new.txt", "content": "csrf\n"}, nil, nil); st != http.StatusForbidden {
		t.Fatalf("save without CSRF: %d", st)
	}
	// Another learner: 404 for all of it.
	for _, c := range []struct{ method, path string }{{"GET", base + "/files"}, {"GET", base + "/file?path=new.txt"}, {"PUT", base + "/file"}} {
		var body any
		if c.method == "PUT" {
			body = map[string]any{"path": "new.txt", "content": "bob was here\n", "overwrite": true}
		}
		if st := bob.do(c.method, c.path, body, nil); st != http.StatusNotFound {
			t.Errorf("bob %s %s: %d, want 404", c.method, c.path, st)
		}
	}
	if _, out := execIn(t, id, "learner", "cat", "/home/learner/new.txt"); out != "new\n" {
		t.Fatalf("bob changed ada's file: %q", out)
	}

	// Lint as you type: general rules only.
	var lint struct {
		Kind     string `json:"kind"`
		Findings []struct {
			Line int    `json:"line"`
			Rule string `json:"rule"`
		} `json:"findings"`
	}
	if st := ada.do("POST", "/api/v1/lint", map[string]any{"path": "app/Dockerfile", "content": "FROM golang:latest\nCOPPY . .\n"}, &lint); st != http.StatusOK || lint.Kind != "dockerfile" || len(lint.Findings) == 0 {
		t.Fatalf("lint: %d %+v", st, lint)
	}
	if st := ada.do("POST", "/api/v1/lint", map[string]any{"path": "rules/http.yml", "content": "groups:\n  - name: x\n    rules:\n      - record: a:b\n        expr: rate(x[5m]\n"}, &lint); st != http.StatusOK || lint.Kind != "promrules" || len(lint.Findings) == 0 || lint.Findings[0].Rule != "promql" {
		t.Fatalf("lint rules: %d %+v", st, lint)
	}
}

// previewServerPL is a learner's web service: plain HTTP that reports the
// path, cookies and host it got (/setcookie also tries to set opsdojo's
// login cookie), and one websocket echo. Perl is in every lab image (git
// needs it); python3 and busybox are not.
const previewServerPL = `use strict; use warnings; use IO::Socket::INET; use Digest::SHA qw(sha1); use MIME::Base64;
$SIG{CHLD} = 'IGNORE';
my $srv = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => $ARGV[0], Listen => 16, ReuseAddr => 1) or die "listen: $!";
while (my $c = $srv->accept) {
  if (fork) { close $c; next }
  $c->autoflush(1);
  my $req = <$c> // exit 0;
  my %h;
  while (my $l = <$c>) { $l =~ s/\r?\n$//; last if $l eq ''; my ($k, $v) = split /:\s*/, $l, 2; $h{lc $k} = $v; }
  my (undef, $path) = split / /, $req;
  if (($h{upgrade} // '') =~ /websocket/i) {
    my $acc = encode_base64(sha1($h{'sec-websocket-key'} . '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'), '');
    print $c "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: $acc\r\n\r\n";
    read($c, my $hd, 2); my (undef, $b2) = unpack('CC', $hd); my $len = $b2 & 127;
    read($c, my $mask, 4); read($c, my $data, $len);
    my $out = 'echo: ';
    for my $i (0 .. $len - 1) { $out .= chr(ord(substr($data, $i, 1)) ^ ord(substr($mask, $i % 4, 1))); }
    print $c pack('CC', 0x81, length $out) . $out;
    sleep 2; exit 0;
  }
  my $body = "path=$path\ncookie=" . ($h{cookie} // '') . "\nhost=" . ($h{host} // '') . "\n";
  my $extra = $path =~ m{^/setcookie} ? "Set-Cookie: opsdojo_login=evil; Path=/\r\nSet-Cookie: app=ok; Path=/\r\n" : '';
  print $c "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n$extra\r\n$body";
  close $c; exit 0;
}
`

// previewClient resolves every name to the preview listener, as a
// browser resolves *.localhost to loopback.
func previewClient(addr string) (*http.Client, *websocket.Dialer) {
	jar, _ := cookiejar.New(nil)
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dial}}
	d := &websocket.Dialer{Jar: jar, HandshakeTimeout: 30 * time.Second, NetDialContext: dial}
	return c, d
}

// TestPreviewServesLearnersPort runs a tiny web service in a real lab
// container and opens it through the preview origin: the link from the
// lab page, the token exchanged for the preview host's cookie, HTTP and a
// websocket proxied to the container; opsdojo's cookies never reach the
// service and the service cannot set them; another learner is refused.
func TestPreviewServesLearnersPort(t *testing.T) {
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	addAdmin(t, dataDir, "preview-admin")
	srv := startServer(t, dataDir, func(c *app.Config) { c.PreviewListener = pln })
	ada := newLearner(t, srv, "preview-ada")
	bob := newLearner(t, srv, "preview-bob")
	s := ada.startLab("git-basics")
	cleanupSession(t, s.ID)
	id := inspect(t, s.ID).ID
	if st := ada.do("PUT", "/api/v1/sessions/"+s.ID+"/file", map[string]any{"path": "srv.pl", "content": previewServerPL}, nil); st != http.StatusOK {
		t.Fatalf("write the service: %d", st)
	}
	// The engine under load now and then fails an exec with "broken
	// pipe" (126) before it starts: try again, a bounded number of times.
	for try := 1; ; try++ {
		code, out := execIn(t, id, "learner", "bash", "-c", "cd && (perl srv.pl 8080 > srv.log 2>&1 &) ; sleep 0.2; cat srv.log")
		if code == 0 {
			break
		}
		if code != 126 || try == 3 {
			t.Fatalf("start the service: %d %s", code, out)
		}
	}

	// The lab page's link: a redirect to the preview origin with a token.
	noFollow := *ada.http
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	linkFor := func(path string) *url.URL {
		t.Helper()
		resp, err := noFollow.Get(srv.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		u, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	link := linkFor("/labs/git-basics/preview/8080/hello?x=1")
	wantHost := s.ID + "-8080.localhost:" + strings.Split(pln.Addr().String(), ":")[1]
	if link.Host != wantHost || link.Query().Get("token") == "" {
		t.Fatalf("preview link %s, want host %s with a token", link, wantHost)
	}
	client, dialer := previewClient(pln.Addr().String())
	// The service may take a moment to listen; a 502 means not yet. Each
	// try needs a fresh link (tokens are single-use).
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest("GET", link.String(), nil)
		// A browser sends opsdojo's cookie to every port of its host:
		// the preview must not pass it on.
		req.Header.Set("Cookie", "opsdojo_login=ada-secret-token; theme=dark")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, sc := range resp.Header.Values("Set-Cookie") {
			if strings.HasPrefix(sc, "opsdojo_login") {
				t.Fatalf("the preview set opsdojo's login cookie: %q", sc)
			}
		}
		if resp.StatusCode == http.StatusOK {
			body = string(b)
			break
		}
		if resp.StatusCode != http.StatusBadGateway || time.Now().After(deadline) {
			t.Fatalf("preview: %d %s", resp.StatusCode, b)
		}
		time.Sleep(200 * time.Millisecond)
		link = linkFor("/labs/git-basics/preview/8080/hello?x=1")
	}
	if !strings.Contains(body, "path=/hello?x=1\n") || !strings.Contains(body, "host="+wantHost) {
		t.Fatalf("the service answered %q", body)
	}
	if strings.Contains(body, "opsdojo_") || !strings.Contains(body, "theme=dark") {
		t.Fatalf("cookies reaching the service: %q (opsdojo's must be stripped, its own kept)", body)
	}
	// A used token is spent.
	if resp, err := (&http.Client{Transport: client.Transport, CheckRedirect: noFollow.CheckRedirect}).Get(link.String()); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("token used twice: %v %v", resp, err)
	}
	// The service cannot set opsdojo's cookies.
	resp, err := client.Get("http://" + wantHost + "/setcookie")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
	if strings.Contains(sc, "opsdojo_login") || !strings.Contains(sc, "app=ok") {
		t.Fatalf("Set-Cookie through the preview: %q", sc)
	}
	// A websocket passes.
	ws, _, err := dialer.Dial("ws://"+wantHost+"/ws", nil)
	if err != nil {
		t.Fatalf("websocket through the preview: %v", err)
	}
	defer ws.Close()
	if err := ws.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != "echo: ping" {
		t.Fatalf("websocket echo: %q %v", msg, err)
	}

	// Another learner: no link, and no way in without the cookie.
	bobNoFollow := *bob.http
	bobNoFollow.CheckRedirect = noFollow.CheckRedirect
	resp, err = bobNoFollow.Get(srv.url + "/sessions/" + s.ID + "/preview/8080/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("bob's link to ada's preview: %d, want 404", resp.StatusCode)
	}
	bobClient, _ := previewClient(pln.Addr().String())
	resp, err = bobClient.Get("http://" + wantHost + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("bob on ada's preview host: %d, want 403", resp.StatusCode)
	}
	// An admin may open it too (instructors look at a learner's service).
	admin := login(t, srv, "preview-admin")
	adminNoFollow := *admin.http
	adminNoFollow.CheckRedirect = noFollow.CheckRedirect
	resp, err = adminNoFollow.Get(srv.url + "/sessions/" + s.ID + "/preview/8080/hello")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	adminLink, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || adminLink.Host != wantHost {
		t.Fatalf("admin's preview link: %d %s", resp.StatusCode, adminLink)
	}
	adminClient, _ := previewClient(pln.Addr().String())
	resp, err = adminClient.Get(adminLink.String())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "path=/hello\n") {
		t.Fatalf("admin's preview: %d %q", resp.StatusCode, b)
	}

	// Ada signs out: her preview closes (within the access cache's seconds).
	if st := ada.do("POST", "/api/v1/auth/logout", nil, nil); st != http.StatusNoContent {
		t.Fatalf("logout: %d", st)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("http://" + wantHost + "/hello")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("preview after sign-out: %d", resp.StatusCode)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
