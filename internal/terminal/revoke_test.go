package terminal_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/opsdojo/opsdojo/internal/terminal"
)

// A connection whose context is cancelled with a *CloseError (the web
// layer does this on logout) closes with that code and text, drops input
// that arrives afterwards, and leaves the shell and its other connections
// alone.
func TestRevokedConnection(t *testing.T) {
	tty := newFakeTTY()
	term := terminal.New(tty, terminal.Config{}, terminal.Options{})
	driverCtx, revoke := context.WithCancelCause(context.Background())
	defer revoke(nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		ctx, role := driverCtx, terminal.Driver
		if r.URL.Query().Get("watch") == "1" {
			ctx, role = context.Background(), terminal.Viewer
		}
		term.Serve(ctx, conn, terminal.ServeOptions{Role: role})
	}))
	defer func() {
		term.Close(terminal.CloseNormal, "test over")
		<-term.Done()
		srv.Close()
	}()
	e := &env{t: t, tty: tty, term: term, srv: srv}

	c := e.connect("", 0)
	v := e.connect("watch=1", 0)
	c.input("before;")
	tty.waitTyped(t, []byte("before;"))

	revoke(&terminal.CloseError{Code: terminal.CloseSignedOut, Text: "signed out"})
	c.input("after-logout") // sent before the client has seen the close
	if code := c.closeCode(); code != terminal.CloseSignedOut {
		t.Fatalf("close code %d, want %d", code, terminal.CloseSignedOut)
	}
	var ce *websocket.CloseError
	if !errors.As(c.err, &ce) || ce.Text != "signed out" {
		t.Fatalf("close text: %v", c.err)
	}
	// The shell lives on (a new sign-in may pick it up) and never got the
	// late input.
	tty.print("still-here")
	v.readOutput("still-here")
	if term.Finished() {
		t.Fatal("the terminal ended with its signed-out connection")
	}
	if got := string(tty.typedBytes()); strings.Contains(got, "after-logout") {
		t.Fatalf("input sent after the logout reached the shell: %q", got)
	}
}
