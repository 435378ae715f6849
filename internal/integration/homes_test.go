//go:build integration

package integration

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
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
