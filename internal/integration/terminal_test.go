//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/opsdojo/opsdojo/internal/app"
	"github.com/opsdojo/opsdojo/internal/auth"
	"github.com/opsdojo/opsdojo/internal/store"
	"github.com/opsdojo/opsdojo/internal/terminal"
)

// The terminal protocol v2 (docs/terminal-protocol.md) against the real
// engine: reconnects keep the shell, the grace period hangs it up, flow
// control lets Ctrl-C through `yes`, tabs, watching and recordings.

// pterm is a client of protocol v2: it says hello, tracks positions and
// acks what it has read.
type pterm struct {
	t    *testing.T
	conn *websocket.Conn
	wmu  sync.Mutex // one writer at a time: the test and the acks

	mu      sync.Mutex
	base    uint64 // position of out[0]
	out     []byte
	hello   *terminal.HelloReply
	roles   []terminal.RoleNotice
	notices []terminal.Notice
	exit    *terminal.ExitNotice
	resets  int
	err     error
	seen    int // offset in out up to which expect has matched
	done    chan struct{}
	noAck   bool
}

// openTerm connects to a session's terminal with query (tab=, watch=1)
// and says hello from seq.
func (l *learner) openTerm(session, query string, seq uint64) *pterm {
	l.t.Helper()
	pt, status, err := l.tryTerm(session, query, seq)
	if err != nil {
		l.t.Fatalf("open terminal %s?%s: %v (status %d)", session, query, err, status)
	}
	return pt
}

func (l *learner) tryTerm(session, query string, seq uint64) (*pterm, int, error) {
	u := "ws://" + l.srv.addr + "/api/v1/sessions/" + session + "/terminal?" + query
	dialer := websocket.Dialer{Jar: l.http.Jar, HandshakeTimeout: 60 * time.Second}
	conn, resp, err := dialer.Dial(u, http.Header{"Origin": {l.srv.url}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, status, err
	}
	pt := &pterm{t: l.t, conn: conn, done: make(chan struct{})}
	l.t.Cleanup(func() { conn.Close() })
	pt.write(terminal.HelloFrame(seq))
	go pt.read()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pt.mu.Lock()
		h, e := pt.hello, pt.err
		pt.mu.Unlock()
		if h != nil {
			return pt, http.StatusSwitchingProtocols, nil
		}
		if e != nil || time.Now().After(deadline) {
			return nil, http.StatusSwitchingProtocols, errors.Join(errors.New("no hello reply"), e)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (pt *pterm) write(frame []byte) {
	pt.wmu.Lock()
	defer pt.wmu.Unlock()
	_ = pt.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_ = pt.conn.WriteMessage(websocket.BinaryMessage, frame)
}

func (pt *pterm) read() {
	defer close(pt.done)
	for {
		_, msg, err := pt.conn.ReadMessage()
		if err != nil {
			pt.mu.Lock()
			pt.err = err
			pt.mu.Unlock()
			return
		}
		if len(msg) == 0 {
			continue
		}
		pt.mu.Lock()
		var ack uint64
		switch msg[0] {
		case terminal.OpOutput:
			pt.out = append(pt.out, msg[1:]...)
			ack = pt.base + uint64(len(pt.out))
		case terminal.OpHelloReply:
			var h terminal.HelloReply
			_ = json.Unmarshal(msg[1:], &h)
			if pt.hello != nil || h.Reset {
				pt.resets++
				pt.out, pt.seen = nil, 0
			}
			pt.hello, pt.base = &h, h.Seq
		case terminal.OpRole:
			var r terminal.RoleNotice
			_ = json.Unmarshal(msg[1:], &r)
			pt.roles = append(pt.roles, r)
		case terminal.OpNotice:
			var n terminal.Notice
			_ = json.Unmarshal(msg[1:], &n)
			pt.notices = append(pt.notices, n)
		case terminal.OpExit:
			var e terminal.ExitNotice
			_ = json.Unmarshal(msg[1:], &e)
			pt.exit = &e
		}
		noAck := pt.noAck
		pt.mu.Unlock()
		if ack > 0 && !noAck {
			pt.write(terminal.AckFrame(ack))
		}
	}
}

func (pt *pterm) typeLine(s string) { pt.write(append([]byte{terminal.OpInput}, s+"\r"...)) }

// seq is the position after the last byte received.
func (pt *pterm) seq() uint64 {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return pt.base + uint64(len(pt.out))
}

// since returns the output after offset mark of output().
func (pt *pterm) since(mark int) []byte {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if mark > len(pt.out) {
		return nil
	}
	return append([]byte(nil), pt.out[mark:]...)
}

func (pt *pterm) output() []byte {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return append([]byte(nil), pt.out...)
}

// expect waits until the output after the last match contains want.
func (pt *pterm) expect(want string, within time.Duration) {
	pt.t.Helper()
	deadline := time.Now().Add(within)
	for {
		pt.mu.Lock()
		idx := bytes.Index(pt.out[pt.seen:], []byte(want))
		if idx >= 0 {
			pt.seen += idx + len(want)
		}
		err, all := pt.err, string(pt.out)
		pt.mu.Unlock()
		if idx >= 0 {
			return
		}
		if err != nil || time.Now().After(deadline) {
			if len(all) > 4000 {
				all = "…" + all[len(all)-4000:]
			}
			pt.t.Fatalf("terminal: %q not seen within %s (err %v); output:\n%s", want, within, err, all)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitRole waits for a role notice with that many viewers.
func (pt *pterm) waitRole(viewers int, within time.Duration) terminal.RoleNotice {
	pt.t.Helper()
	deadline := time.Now().Add(within)
	for {
		pt.mu.Lock()
		var last *terminal.RoleNotice
		if n := len(pt.roles); n > 0 {
			last = &pt.roles[n-1]
		}
		pt.mu.Unlock()
		if last != nil && last.Viewers == viewers {
			return *last
		}
		if time.Now().After(deadline) {
			pt.t.Fatalf("no role notice with %d viewers within %s (last %+v)", viewers, within, last)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (pt *pterm) closeCode(within time.Duration) int {
	pt.t.Helper()
	select {
	case <-pt.done:
	case <-time.After(within):
		pt.t.Fatalf("terminal still open after %s", within)
	}
	var ce *websocket.CloseError
	if errors.As(pt.err, &ce) {
		return ce.Code
	}
	return -1
}

// makeAdmin gives an existing user admin rights.
func makeAdmin(t *testing.T, srv *server, name string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, app.DBPath(srv.dataDir))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hash, err := auth.HashPassword("correct-horse-battery")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetUserPassword(ctx, name, hash, true); err != nil {
		t.Fatal(err)
	}
}

// shellPID asks the shell of pt for its PID.
func shellPID(t *testing.T, pt *pterm, marker string) string {
	t.Helper()
	// The command line can be echoed twice (by the tty while bash starts,
	// then by readline), so look for the expanded form only: "$$" never
	// matches digits.
	re := regexp.MustCompile(regexp.QuoteMeta(marker) + `-(\d+)-pid`)
	pt.typeLine("echo " + marker + "-$$-pid")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindAllSubmatch(pt.output(), -1); m != nil {
			return string(m[len(m)-1][1])
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s pid in %q", marker, pt.output())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTerminalReconnectKeepsShell: dropping the websocket keeps the shell;
// reconnecting with hello seq gets exactly the missed output, and the
// shell's state is intact.
func TestTerminalReconnectKeepsShell(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)

	d1 := alice.openTerm(sess.ID, "tab=main&cols=100&rows=30", 0)
	if d1.hello.Role != terminal.Driver || d1.hello.Seq != 0 || d1.hello.Reset {
		t.Fatalf("hello reply %+v", *d1.hello)
	}
	// The learner's own read-only view sees the whole stream: the reference.
	ref := alice.openTerm(sess.ID, "tab=main&watch=1", 0)
	if ref.hello.Role != terminal.Viewer {
		t.Fatalf("viewer hello %+v", *ref.hello)
	}
	d1.typeLine("export KEPT=kept-$((40+2)); echo set-$((1+1))")
	d1.expect("set-2", 30*time.Second)
	// Output that arrives while the socket is down.
	d1.typeLine("sleep 1; for i in 1 2 3; do echo missed-$((i*11)); done")
	d1.expect("missed-", 10*time.Second) // the command line's echo
	d1.conn.Close()                      // no close frame: a dropped network
	<-d1.done
	pos := d1.seq()
	first := d1.output()
	ref.expect("missed-33", 30*time.Second)

	start := time.Now()
	d2 := alice.openTerm(sess.ID, "tab=main", pos)
	if d2.hello.Reset || d2.hello.Seq != pos {
		t.Fatalf("reconnect hello %+v, want seq %d without reset", *d2.hello, pos)
	}
	d2.expect("missed-33", 30*time.Second)
	t.Logf("reconnect to restored output: %s", time.Since(start).Round(time.Millisecond))
	d2.typeLine("echo got-$KEPT")
	d2.expect("got-kept-42", 30*time.Second)
	ref.expect("got-kept-42", 30*time.Second)

	// No byte lost or duplicated: the driver's two connections add up to
	// the viewer's stream.
	time.Sleep(200 * time.Millisecond)
	both := append(first, d2.output()...)
	whole := ref.output()
	if ref.resets != 0 {
		t.Fatalf("the reference viewer was resynced %d times", ref.resets)
	}
	n := min(len(both), len(whole))
	if n < len(both)-64 || !bytes.Equal(both[:n], whole[:n]) {
		t.Fatalf("streams differ:\ndriver: %q\nviewer: %q", both, whole)
	}
}

// TestTerminalGraceHangsUp: a terminal nobody drives is hung up after the
// grace period; the next connection gets a fresh shell.
func TestTerminalGraceHangsUp(t *testing.T) {
	srv := startServer(t, t.TempDir(), func(c *app.Config) { c.TerminalGrace = 2 * time.Second })
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)
	containerID := inspect(t, sess.ID).ID

	d := alice.openTerm(sess.ID, "", 0)
	d.typeLine("export GONE=yes")
	pid := shellPID(t, d, "first")
	d.conn.Close()
	<-d.done
	// Within the grace period the shell lives.
	if code, _ := execIn(t, containerID, "learner", "kill", "-0", pid); code != 0 {
		t.Fatal("the shell died as soon as the socket closed")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _ := execIn(t, containerID, "learner", "kill", "-0", pid)
		if code != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("shell %s still running 30 s after the grace period", pid)
		}
		time.Sleep(250 * time.Millisecond)
	}
	d2 := alice.openTerm(sess.ID, "", d.seq())
	if !d2.hello.Reset && d2.hello.Seq == d.seq() {
		t.Logf("note: the new shell's output reached the old position")
	}
	d2.typeLine("echo gone=${GONE:-unset}")
	d2.expect("gone=unset", 30*time.Second)
	if pid2 := shellPID(t, d2, "second"); pid2 == pid {
		t.Fatal("same shell after the grace period")
	}
}

// TestTerminalCtrlCUnderYes: with `yes` flooding, Ctrl-C brings the
// prompt back promptly (flow control keeps the backlog small).
func TestTerminalCtrlCUnderYes(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)
	d := alice.openTerm(sess.ID, "", 0)
	d.typeLine("echo ready-$((2+3))")
	d.expect("ready-5", 30*time.Second)
	d.typeLine("yes")
	d.expect("y\r\ny\r\ny\r\n", 10*time.Second)
	time.Sleep(time.Second)
	mark := len(d.output())
	sentAt := time.Now()
	d.write([]byte{terminal.OpInput, 0x03})
	// The prompt after the ^C.
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := d.since(mark)
		if i := bytes.LastIndex(out, []byte("^C")); i >= 0 && bytes.Contains(out[i:], []byte("$ ")) {
			break
		}
		if time.Now().After(deadline) {
			tail := out[max(0, len(out)-500):]
			t.Fatalf("no prompt after Ctrl-C within 20 s; tail %q", tail)
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("Ctrl-C to prompt under yes: %s (%d bytes streamed)", time.Since(sentAt).Round(time.Millisecond), d.seq())
	d.typeLine("echo after-$((3+4))")
	d.expect("after-7", 10*time.Second)
}

// TestTerminalTabs: tabs are separate shells, listed, closed one at a
// time, at most five; ending the session closes them with 4004.
func TestTerminalTabs(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)

	main := alice.openTerm(sess.ID, "tab=main", 0)
	two := alice.openTerm(sess.ID, "tab=two", 0)
	if two.hello.Tab != "two" {
		t.Fatalf("hello %+v", *two.hello)
	}
	p1, p2 := shellPID(t, main, "m"), shellPID(t, two, "t")
	if p1 == p2 {
		t.Fatalf("two tabs share shell %s", p1)
	}
	var list struct {
		Terminals []terminal.Info `json:"terminals"`
	}
	if st := alice.do("GET", "/api/v1/sessions/"+sess.ID+"/terminals", nil, &list); st != http.StatusOK || len(list.Terminals) != 2 ||
		list.Terminals[0].Tab != "main" || list.Terminals[1].Tab != "two" || !list.Terminals[0].Connected {
		t.Fatalf("list: %d %+v", st, list)
	}
	// Bad tab names and a sixth tab are refused before the upgrade.
	if _, st, err := alice.tryTerm(sess.ID, "tab=../x", 0); err == nil || st != http.StatusBadRequest {
		t.Fatalf("bad tab name: %v %d", err, st)
	}
	for _, tab := range []string{"t3", "t4", "t5"} {
		alice.openTerm(sess.ID, "tab="+tab, 0)
	}
	if _, st, err := alice.tryTerm(sess.ID, "tab=t6", 0); err == nil || st != http.StatusTooManyRequests {
		t.Fatalf("sixth tab: %v %d", err, st)
	}
	bob := newLearner(t, srv, "bob")
	if st := bob.do("DELETE", "/api/v1/sessions/"+sess.ID+"/terminals/two", nil, nil); st != http.StatusNotFound {
		t.Fatalf("bob closes alice's tab: %d", st)
	}
	if st := bob.do("GET", "/api/v1/sessions/"+sess.ID+"/terminals", nil, nil); st != http.StatusNotFound {
		t.Fatalf("bob lists alice's tabs: %d", st)
	}
	if st := alice.do("DELETE", "/api/v1/sessions/"+sess.ID+"/terminals/two", nil, nil); st != http.StatusNoContent {
		t.Fatalf("close tab: %d", st)
	}
	if code := two.closeCode(20 * time.Second); code != websocket.CloseNormalClosure {
		t.Fatalf("closed tab's close code %d", code)
	}
	if st := alice.do("DELETE", "/api/v1/sessions/"+sess.ID+"/terminals/two", nil, nil); st != http.StatusNotFound {
		t.Fatalf("close a closed tab: %d", st)
	}
	alice.do("GET", "/api/v1/sessions/"+sess.ID+"/terminals", nil, &list)
	if len(list.Terminals) != 4 {
		t.Fatalf("after closing one: %+v", list.Terminals)
	}
	main.typeLine("echo main-still-$((5*5))")
	main.expect("main-still-25", 20*time.Second)

	var ended sessionJSON
	if st := alice.do("DELETE", "/api/v1/sessions/"+sess.ID, nil, &ended); st != http.StatusOK {
		t.Fatalf("end session: %d", st)
	}
	if code := main.closeCode(20 * time.Second); code != terminal.CloseSessionEnded {
		t.Fatalf("close code when the session ended: %d", code)
	}
}

// TestTerminalAdminWatch: an admin watches read-only; the learner sees
// that someone watches; others cannot.
func TestTerminalAdminWatch(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")
	bob := newLearner(t, srv, "bob")
	newLearner(t, srv, "root-admin")
	makeAdmin(t, srv, "root-admin")
	adm := login(t, srv, "root-admin")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)
	containerID := inspect(t, sess.ID).ID

	d := alice.openTerm(sess.ID, "", 0)
	d.waitRole(0, 10*time.Second)
	d.typeLine("echo before-$((4*4))")
	d.expect("before-16", 30*time.Second)

	// Not an admin: 404 for the watch socket and the pages.
	if _, st, err := bob.tryTerm(sess.ID, "watch=1", 0); err == nil || st != http.StatusNotFound {
		t.Fatalf("bob watches: %v %d", err, st)
	}
	for _, path := range []string{"/admin", "/admin/watch/" + sess.ID + "/main"} {
		if st := bob.do("GET", path, nil, nil); st != http.StatusNotFound {
			t.Fatalf("bob GET %s: %d", path, st)
		}
	}
	// The admin page lists the session with a watch link.
	req, _ := http.NewRequest("GET", srv.url+"/admin", nil)
	resp, err := adm.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if !strings.Contains(string(body), "alice") || !strings.Contains(string(body), "/admin/watch/"+sess.ID+"/main") {
			t.Fatalf("admin page lacks the session:\n%s", body)
		}
	} else if resp.StatusCode != http.StatusServiceUnavailable { // 503: the JS bundle was not built
		t.Fatalf("admin page: %d", resp.StatusCode)
	}

	v := adm.openTerm(sess.ID, "watch=1", 0)
	if v.hello.Role != terminal.Viewer {
		t.Fatalf("admin hello %+v", *v.hello)
	}
	v.expect("before-16", 10*time.Second) // what happened before
	if r := d.waitRole(1, 10*time.Second); r.Role != terminal.Driver {
		t.Fatalf("learner's notice %+v", r)
	}
	d.typeLine("echo live-$((3*3))")
	v.expect("live-9", 20*time.Second)
	// The viewer's input and resizes are dropped.
	v.typeLine("touch /tmp/viewer-was-here")
	v.write([]byte(`1{"cols":33,"rows":11}`))
	time.Sleep(500 * time.Millisecond)
	if code, _ := execIn(t, containerID, "learner", "test", "-e", "/tmp/viewer-was-here"); code == 0 {
		t.Fatal("the viewer's keystrokes reached the shell")
	}
	d.typeLine("stty size")
	d.expect("stty size", 10*time.Second)
	d.expect("24 80", 10*time.Second)
	v.conn.Close()
	d.waitRole(0, 10*time.Second)
}

// TestTerminalRecording: a terminal is recorded as asciicast v2, listed
// and downloadable by its owner and admins only.
func TestTerminalRecording(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")
	bob := newLearner(t, srv, "bob")
	newLearner(t, srv, "rec-admin")
	makeAdmin(t, srv, "rec-admin")
	adm := login(t, srv, "rec-admin")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)

	d := alice.openTerm(sess.ID, "cols=90&rows=20", 0)
	d.typeLine("echo recorded-$((7*6)) héllo")
	d.expect("recorded-42", 30*time.Second)
	d.write([]byte(`1{"cols":120,"rows":40}`))
	d.typeLine("stty size")
	d.expect("40 120", 10*time.Second)
	// Closing the tab finishes the recording.
	if st := alice.do("DELETE", "/api/v1/sessions/"+sess.ID+"/terminals/main", nil, nil); st != http.StatusNoContent {
		t.Fatalf("close tab: %d", st)
	}
	d.closeCode(20 * time.Second)

	var list struct {
		Recordings []store.Recording `json:"recordings"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if st := alice.do("GET", "/api/v1/recordings", nil, &list); st != http.StatusOK {
			t.Fatalf("list recordings: %d", st)
		}
		if len(list.Recordings) == 1 && list.Recordings[0].EndedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recordings: %+v", list.Recordings)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rec := list.Recordings[0]
	if rec.SessionID != sess.ID || rec.Tab != "main" || rec.LabID != "git-basics" || rec.Username != "alice" || rec.Bytes <= 0 {
		t.Fatalf("recording %+v", rec)
	}
	files, _ := filepath.Glob(filepath.Join(srv.dataDir, "recordings", sess.ID, "main-*.cast"))
	if len(files) != 1 {
		t.Fatalf("recording files: %v", files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Size() != rec.Bytes {
		t.Fatalf("file %v, row says %d bytes", err, rec.Bytes)
	}

	download := func(l *learner) (int, http.Header, []byte) {
		req, _ := http.NewRequest("GET", srv.url+"/api/v1/recordings/"+rec.ID, nil)
		resp, err := l.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	st, h, body := download(alice)
	if st != http.StatusOK || h.Get("Content-Type") != "application/x-asciicast" || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") {
		t.Fatalf("owner download: %d %v", st, h)
	}
	checkCast(t, body, "recorded-42", "120x40")
	if st, _, _ := download(bob); st != http.StatusNotFound {
		t.Fatalf("bob downloads alice's recording: %d", st)
	}
	if st, _, b := download(adm); st != http.StatusOK || !bytes.Equal(b, body) {
		t.Fatalf("admin download: %d", st)
	}
	var bobs struct {
		Recordings []store.Recording `json:"recordings"`
	}
	bob.do("GET", "/api/v1/recordings", nil, &bobs)
	if len(bobs.Recordings) != 0 {
		t.Fatalf("bob lists %+v", bobs.Recordings)
	}
	var all struct {
		Recordings []store.Recording `json:"recordings"`
	}
	adm.do("GET", "/api/v1/recordings?user=alice", nil, &all)
	if len(all.Recordings) != 1 {
		t.Fatalf("admin lists alice's: %+v", all.Recordings)
	}
	if st := bob.do("GET", "/recordings/"+rec.ID, nil, nil); st != http.StatusNotFound {
		t.Fatalf("bob's player page: %d", st)
	}
}

// checkCast parses an asciicast v2 recording and looks for output and a
// resize in it.
func checkCast(t *testing.T, data []byte, output, resize string) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 32<<20)
	if !sc.Scan() {
		t.Fatal("empty recording")
	}
	var header struct {
		Version   int    `json:"version"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
		Timestamp int64  `json:"timestamp"`
		Title     string `json:"title"`
	}
	if err := json.Unmarshal(sc.Bytes(), &header); err != nil || header.Version != 2 || header.Width != 90 || header.Height != 20 || header.Timestamp == 0 {
		t.Fatalf("header %q: %v", sc.Text(), err)
	}
	var out strings.Builder
	var resizes []string
	last := -1.0
	for sc.Scan() {
		var ev []any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("event %q: %v", sc.Text(), err)
		}
		at, _ := ev[0].(float64)
		kind, _ := ev[1].(string)
		text, _ := ev[2].(string)
		if at < last {
			t.Fatalf("time goes back at %q", sc.Text())
		}
		last = at
		switch kind {
		case "o":
			out.WriteString(text)
		case "r":
			resizes = append(resizes, text)
		}
	}
	if !strings.Contains(out.String(), output) || !strings.Contains(out.String(), "héllo") {
		t.Fatalf("recorded output lacks %q:\n%s", output, out.String())
	}
	if !strings.Contains(strings.Join(resizes, " "), resize) {
		t.Fatalf("resizes %v lack %s", resizes, resize)
	}
}
