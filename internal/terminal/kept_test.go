package terminal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/opsdojo/opsdojo/internal/terminal"
)

// registryEnv serves the terminals of one registry: ?tab=NAME&watch=1.
type registryEnv struct {
	t   *testing.T
	reg *terminal.Registry
	srv *httptest.Server
}

func newRegistryEnv(t *testing.T) *registryEnv {
	t.Helper()
	re := &registryEnv{t: t, reg: terminal.NewRegistry(terminal.Config{}, 5)}
	ctx, stop := context.WithCancel(context.Background())
	up := websocket.Upgrader{}
	re.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		term := re.reg.Get(terminal.Key{Session: "s1", Tab: r.URL.Query().Get("tab")})
		if term == nil {
			http.NotFound(w, r)
			return
		}
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		so := terminal.ServeOptions{Role: terminal.Driver}
		if r.URL.Query().Get("watch") == "1" {
			so.Role = terminal.Viewer
		}
		term.Serve(ctx, conn, so)
	}))
	t.Cleanup(func() {
		stop()
		re.reg.CloseSession("s1", terminal.CloseNormal, "test over")
		re.srv.Close()
	})
	return re
}

func (re *registryEnv) start(tab string) *env {
	re.t.Helper()
	term, err := re.reg.Start(terminal.Key{Session: "s1", Tab: tab}, newFakeTTY(), terminal.Options{})
	if err != nil {
		re.t.Fatal(err)
	}
	return &env{t: re.t, term: term, srv: re.srv}
}

// notices reads the client's notices until none comes for a moment.
func notices(c *client) []string {
	c.t.Helper()
	var out []string
	for {
		var f frame
		select {
		case got, ok := <-c.frames:
			if !ok {
				return out
			}
			f = got
		case <-time.After(300 * time.Millisecond):
			return out
		}
		if len(f.data) > 0 && f.data[0] == terminal.OpNotice {
			var n terminal.Notice
			if err := json.Unmarshal(f.data[1:], &n); err != nil {
				c.t.Fatalf("notice %q: %v", f.data[1:], err)
			}
			out = append(out, n.Text)
		}
	}
}

// An instructor's message to a learner who is not at their terminal is kept
// and shown when they come back: once, to the learner (not to someone
// watching), the newest few, and never after the session ended.
func TestMessageKeptForTheLearner(t *testing.T) {
	re := newRegistryEnv(t)

	// No terminal yet (the lab page is closed).
	if n := re.reg.MessageSession("s1", terminal.Notice{Text: "first"}); n != 0 {
		t.Fatalf("MessageSession reached %d learners with no terminal", n)
	}
	main := re.start("main")
	// A terminal with nobody at it; someone watching does not count.
	watcher := main.connect("tab=main&watch=1", 0)
	if got := notices(watcher); len(got) != 0 {
		t.Fatalf("the watcher got the kept messages %q", got)
	}
	if n := re.reg.MessageSession("s1", terminal.Notice{Text: "second"}); n != 0 {
		t.Fatalf("MessageSession counted a watcher as the learner (%d)", n)
	}
	if got := notices(watcher); len(got) != 1 || got[0] != "second" {
		t.Fatalf("the watcher saw %q, want the message sent while watching", got)
	}
	learner := main.connect("tab=main", 0)
	if got := notices(learner); fmt.Sprint(got) != "[first second]" {
		t.Fatalf("the learner got %q, want the two kept messages in order", got)
	}
	// Delivered now, and not again on a reconnect.
	if n := re.reg.MessageSession("s1", terminal.Notice{Text: "third"}); n != 1 {
		t.Fatalf("MessageSession with the learner at the terminal = %d, want 1", n)
	}
	if got := notices(learner); fmt.Sprint(got) != "[third]" {
		t.Fatalf("the learner got %q, want [third]", got)
	}
	again := main.connect("tab=main", 0)
	if got := notices(again); len(got) != 0 {
		t.Fatalf("a reconnect repeated %q", got)
	}
	again.conn.Close()
	learner.conn.Close()

	// Bounded: the newest five of seven. The replaced and closed drivers
	// are gone once the terminal has no driver again.
	deadline := time.Now().Add(hang)
	for re.reg.MessageSession("s1", terminal.Notice{Text: "probe"}) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the closed drivers still count")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := 1; i <= 7; i++ {
		re.reg.MessageSession("s1", terminal.Notice{Text: fmt.Sprint(i)})
	}
	back := main.connect("tab=main", 0)
	if got := notices(back); fmt.Sprint(got) != "[3 4 5 6 7]" {
		t.Fatalf("kept %q, want the newest five", got)
	}
	back.conn.Close()

	// Ended: nothing kept is shown in a later terminal.
	for re.reg.MessageSession("s1", terminal.Notice{Text: "before the end"}) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the closed driver still counts")
		}
		time.Sleep(10 * time.Millisecond)
	}
	re.reg.CloseSession("s1", terminal.CloseSessionEnded, "ended")
	<-main.term.Done()
	later := re.start("main")
	if got := notices(later.connect("tab=main", 0)); len(got) != 0 {
		t.Fatalf("a message outlived its session: %q", got)
	}
}
