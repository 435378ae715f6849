//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/app"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// homeFiles writes a learner's work in a session: files, a folder with
// modes, links, a fifo, and a link out of the home.
func homeFiles(t *testing.T, session string) {
	t.Helper()
	code, out := execIn(t, sandbox.Name(session), sandbox.LearnerUser, "bash", "-c", `set -e
cd ~
mkdir -p work/sub
echo 'my notes' > work/sub/notes.txt
printf '#!/bin/sh\necho hi\n' > work/run.sh
chmod 750 work/run.sh
chmod 700 work/sub
ln -s sub/notes.txt work/link
ln -s /etc etc-link
mkfifo work/fifo
echo 'my welcome' > WELCOME.txt
`)
	if code != 0 {
		t.Fatalf("write files: %d %s", code, out)
	}
}

// homeBack checks the files of homeFiles in a new session: content,
// owner, modes, links kept as links.
func homeBack(t *testing.T, session string) {
	t.Helper()
	code, out := execIn(t, sandbox.Name(session), sandbox.LearnerUser, "bash", "-c", `cd ~
cat work/sub/notes.txt
stat -c '%n %U:%G %a' work work/sub work/sub/notes.txt work/run.sh
readlink work/link etc-link
test -p work/fifo && echo fifo-restored
test -d project && echo starter-kept
cat WELCOME.txt
true`)
	if code != 0 {
		t.Fatalf("read files: %d %s", code, out)
	}
	for _, want := range []string{"my notes", "work/sub learner:learner 700", "work/sub/notes.txt learner:learner 644",
		"work/run.sh learner:learner 750", "sub/notes.txt", "/etc",
		// Starter files first, the saved home over them.
		"starter-kept", "my welcome"} {
		if !strings.Contains(out, want) {
			t.Errorf("restored home: %q missing in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "fifo-restored") {
		t.Errorf("a fifo was restored:\n%s", out)
	}
}

func tarNames(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	zr, err := gzip.NewReader(r)
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out := map[string]string{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = string(b)
	}
}

func (l *learner) get(path string) (int, []byte) {
	l.t.Helper()
	resp, err := l.http.Get(l.srv.url + path)
	if err != nil {
		l.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestHomesSurviveEnd: a learner's files come back, owned by them, in
// the next session of the lab after they end one; the saved home and a
// live snapshot download as tar.gz, for them only.
func TestHomesSurviveEnd(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, nil)
	alice := newLearner(t, srv, "alice")
	bob := newLearner(t, srv, "bob")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)
	homeFiles(t, sess.ID)

	// A live snapshot, for alice only.
	status, body := alice.get("/api/v1/sessions/" + sess.ID + "/home.tar.gz")
	if status != http.StatusOK {
		t.Fatalf("live snapshot: %d %s", status, body)
	}
	if got := tarNames(t, strings.NewReader(string(body))); got["work/sub/notes.txt"] != "my notes\n" {
		t.Fatalf("live snapshot holds %v", got)
	}
	if status, _ := bob.get("/api/v1/sessions/" + sess.ID + "/home.tar.gz"); status != http.StatusNotFound {
		t.Fatalf("bob's live snapshot of alice's session: %d", status)
	}

	if status := alice.do("DELETE", "/api/v1/sessions/"+sess.ID, nil, nil); status != http.StatusOK {
		t.Fatalf("end: %d", status)
	}
	status, body = alice.get("/api/v1/labs/git-basics/home.tar.gz")
	if status != http.StatusOK {
		t.Fatalf("saved home: %d %s", status, body)
	}
	if got := tarNames(t, strings.NewReader(string(body))); got["work/sub/notes.txt"] != "my notes\n" {
		t.Fatalf("saved home holds %v", got)
	}
	if status, _ := bob.get("/api/v1/labs/git-basics/home.tar.gz"); status != http.StatusNotFound {
		t.Fatalf("bob's saved home: %d", status)
	}
	if status, _ := bob.get("/api/v1/labs/git-basics/home.tar.gz?user=alice"); status != http.StatusNotFound {
		t.Fatalf("bob asking for alice's saved home: %d", status)
	}

	again := alice.startLab("git-basics")
	cleanupSession(t, again.ID)
	homeBack(t, again.ID)
	var st struct {
		Saved    *struct{ Files int } `json:"saved"`
		Restored *struct{ Files int } `json:"restored"`
	}
	alice.do("GET", "/api/v1/labs/git-basics/home?session="+again.ID, nil, &st)
	if st.Saved == nil || st.Restored == nil || st.Restored.Files < 2 {
		t.Fatalf("home status %+v", st)
	}
	// Bob's start of the same lab gets only the starter files.
	b := bob.startLab("git-basics")
	cleanupSession(t, b.ID)
	if code, out := execIn(t, sandbox.Name(b.ID), sandbox.LearnerUser, "test", "-e", "/home/learner/work"); code == 0 {
		t.Fatalf("bob got alice's files: %s", out)
	}
}

// TestHomesSurviveExpiry: an idle session is warned on its terminal
// before it expires, and its files come back at the next start.
func TestHomesSurviveExpiry(t *testing.T) {
	srv := startServer(t, t.TempDir(), func(c *app.Config) {
		c.SessionTTL = 8 * time.Second
		c.ExpiryWarnings = []time.Duration{5 * time.Second}
	})
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)
	homeFiles(t, sess.ID)
	pt := alice.openTerm(sess.ID, "tab=main", 0)
	deadline := time.Now().Add(60 * time.Second)
	warned := false
	for {
		pt.mu.Lock()
		for _, n := range pt.notices {
			if strings.Contains(n.Text, "This lab session ends in") && strings.Contains(n.Text, "home folder is saved") {
				warned = true
			}
		}
		pt.mu.Unlock()
		var s sessionJSON
		alice.do("GET", "/api/v1/sessions/"+sess.ID, nil, &s)
		if s.State == "expired" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session not reaped: %+v", s)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !warned {
		t.Error("no expiry warning on the terminal before the session expired")
	}
	again := alice.startLab("git-basics")
	cleanupSession(t, again.ID)
	homeBack(t, again.ID)
}

// TestHomesHostileRestore: a saved home tampered with on disk (names
// that climb out, a folder swapped for a link to /etc, a device) is
// restored without writing anything outside the home or through a link.
func TestHomesHostileRestore(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, nil)
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)
	if status := alice.do("DELETE", "/api/v1/sessions/"+sess.ID, nil, nil); status != http.StatusOK {
		t.Fatalf("end: %d", status)
	}
	matches, _ := filepath.Glob(filepath.Join(dataDir, "homes", "*", "git-basics.tar.gz"))
	if len(matches) != 1 {
		t.Fatalf("saved home files: %v", matches)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	file := func(name, body string) {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o4755, Size: int64(len(body))})
		tw.Write([]byte(body))
	}
	tw.WriteHeader(&tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "d", Typeflag: tar.TypeSymlink, Linkname: "/etc"})
	file("d/pwned", "x")
	tw.WriteHeader(&tar.Header{Name: "etc", Typeflag: tar.TypeSymlink, Linkname: "/etc"})
	file("etc/pwned", "x")
	file("../../../tmp/pwned", "x")
	file("/tmp/pwned2", "x")
	tw.WriteHeader(&tar.Header{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../../../etc/shadow"})
	tw.WriteHeader(&tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666})
	file("ok.txt", "fine")
	tw.Close()
	zw.Close()
	if err := os.WriteFile(matches[0], buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	again := alice.startLab("git-basics")
	cleanupSession(t, again.ID)
	code, out := execIn(t, sandbox.Name(again.ID), "root", "bash", "-c", `
ls /etc/pwned /tmp/pwned /tmp/pwned2 /home/pwned /home/learner/up /home/learner/null 2>/dev/null
test -d /home/learner/d -a ! -L /home/learner/d && echo d-is-a-folder
test -L /home/learner/etc && echo etc-is-a-link
stat -c '%U %a' /home/learner/ok.txt /home/learner/d/pwned
true`)
	if code != 0 {
		t.Fatalf("inspect: %d %s", code, out)
	}
	for _, bad := range []string{"/etc/pwned", "/tmp/pwned", "/home/pwned", "/home/learner/up", "/home/learner/null"} {
		if strings.Contains(out, bad+"\n") {
			t.Errorf("%s written: %s", bad, out)
		}
	}
	for _, want := range []string{"d-is-a-folder", "etc-is-a-link", "learner 755"} {
		if !strings.Contains(out, want) {
			t.Errorf("%q missing: %s", want, out)
		}
	}
}
