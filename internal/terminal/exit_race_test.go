package terminal_test

// Edge cases of Term.Serve beyond terminal_test.go, with their own small
// harness (names prefixed er) so the two files do not depend on each other.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/opsdojo/opsdojo/internal/terminal"
)

// erHang only detects hangs; it is not a performance threshold.
const erHang = 10 * time.Second

type erTTY struct {
	r     *io.PipeReader
	w     *io.PipeWriter
	typed chan string
	code  int

	once   sync.Once
	closed chan struct{}
}

func newErTTY() *erTTY {
	r, w := io.Pipe()
	return &erTTY{r: r, w: w, typed: make(chan string, 64), closed: make(chan struct{})}
}

func (f *erTTY) Read(p []byte) (int, error)               { return f.r.Read(p) }
func (f *erTTY) Write(p []byte) (int, error)              { f.typed <- string(p); return len(p), nil }
func (f *erTTY) Resize(context.Context, uint, uint) error { return nil }
func (f *erTTY) ExitCode(context.Context) (int, error)    { return f.code, nil }
func (f *erTTY) Close() error {
	f.once.Do(func() { close(f.closed); f.r.CloseWithError(io.ErrClosedPipe) })
	return nil
}

type erEnv struct {
	t      *testing.T
	tty    *erTTY
	term   *terminal.Term
	url    string
	served chan error
}

func newErEnv(t *testing.T, cfg terminal.Config) *erEnv {
	t.Helper()
	e := &erEnv{t: t, tty: newErTTY(), served: make(chan error, 8)}
	e.term = terminal.New(e.tty, cfg, terminal.Options{Tab: "main"})
	ctx, cancel := context.WithCancel(context.Background())
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		role := terminal.Driver
		if r.URL.Query().Get("watch") == "1" {
			role = terminal.Viewer
		}
		e.served <- e.term.Serve(ctx, conn, terminal.ServeOptions{Role: role})
	}))
	e.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	t.Cleanup(func() {
		cancel()
		e.term.Close(websocket.CloseNormalClosure, "test over")
		srv.Close()
	})
	return e
}

func (e *erEnv) dial(query string) *websocket.Conn {
	e.t.Helper()
	conn, resp, err := (&websocket.Dialer{HandshakeTimeout: erHang}).Dial(e.url+query, nil)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	e.t.Cleanup(func() { conn.Close() })
	return conn
}

// hello dials, says hello from 0 and reads the hello reply.
func (e *erEnv) hello(query string) *websocket.Conn {
	e.t.Helper()
	conn := e.dial(query)
	if err := conn.WriteMessage(websocket.BinaryMessage, terminal.HelloFrame(0)); err != nil {
		e.t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(erHang))
	_, msg, err := conn.ReadMessage()
	if err != nil || len(msg) == 0 || msg[0] != '2' {
		e.t.Fatalf("first frame %q, %v; want a hello reply", msg, err)
	}
	return conn
}

// erClose reads until the socket closes; it returns the frames before the
// close and the close code. A socket that stays silent is a hang.
func erClose(t *testing.T, conn *websocket.Conn) ([][]byte, int) {
	t.Helper()
	var frames [][]byte
	for {
		_ = conn.SetReadDeadline(time.Now().Add(erHang))
		_, msg, err := conn.ReadMessage()
		if err == nil {
			frames = append(frames, msg)
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return frames, ce.Code
		}
		var shown []string
		for _, f := range frames {
			shown = append(shown, string(f))
		}
		t.Fatalf("no close frame (%v); frames so far: %q", err, shown)
		return nil, 0
	}
}

func (e *erEnv) waitServed() {
	e.t.Helper()
	select {
	case <-e.served:
	case <-time.After(erHang):
		e.t.Fatal("Serve did not return (hang)")
	}
}

// TestExitNoticeWhenOutputAndExitCoincide: the shell prints its last line
// and exits at once, as `exit` in a shell does. Every connected client
// must get the output, the exit notice and close 1000, every time: the
// wakeup for the exit can arrive while the one for the last output is
// still pending, and the two must not collapse into one.
func TestExitNoticeWhenOutputAndExitCoincide(t *testing.T) {
	for i := 0; i < 200; i++ {
		e := newErEnv(t, terminal.Config{})
		e.tty.code = 7
		drv := e.hello("")
		view := e.hello("?watch=1")
		go func() {
			e.tty.w.Write([]byte("logout\r\n"))
			e.tty.w.Close()
		}()
		for _, c := range []struct {
			name string
			conn *websocket.Conn
		}{{"driver", drv}, {"viewer", view}} {
			frames, code := erClose(t, c.conn)
			if code != websocket.CloseNormalClosure {
				t.Fatalf("round %d: %s closed with %d, want 1000", i, c.name, code)
			}
			var out string
			exit := -1
			for _, f := range frames {
				switch f[0] {
				case '0':
					out += string(f[1:])
				case '3':
					var n terminal.ExitNotice
					if err := json.Unmarshal(f[1:], &n); err != nil {
						t.Fatal(err)
					}
					exit = n.Code
				}
			}
			if out != "logout\r\n" || exit != 7 {
				t.Fatalf("round %d: %s got output %q and exit %d, want %q and 7", i, c.name, out, exit, "logout\r\n")
			}
		}
		select {
		case <-e.term.Done():
		case <-time.After(erHang):
			t.Fatalf("round %d: terminal not done after its shell exited (hang)", i)
		}
	}
}

func TestMalformedHelloCloses1008(t *testing.T) {
	e := newErEnv(t, terminal.Config{})
	conn := e.dial("")
	if err := conn.WriteMessage(websocket.BinaryMessage, []byte(`2{"seq":`)); err != nil {
		t.Fatal(err)
	}
	if _, code := erClose(t, conn); code != websocket.ClosePolicyViolation {
		t.Fatalf("close code %d, want 1008", code)
	}
	e.waitServed()
	if e.term.Finished() {
		t.Fatal("a bad hello ended the terminal")
	}
}

func TestDroppedConnectionKeepsShell(t *testing.T) {
	e := newErEnv(t, terminal.Config{})
	conn := e.hello("")
	conn.WriteMessage(websocket.BinaryMessage, []byte("0x"))
	select {
	case got := <-e.tty.typed:
		if got != "x" {
			t.Fatalf("TTY got %q", got)
		}
	case <-time.After(erHang):
		t.Fatal("input never reached the TTY (hang)")
	}
	conn.NetConn().Close() // no close frame: the network just goes away
	e.waitServed()
	select {
	case <-e.tty.closed:
		t.Fatal("a dropped connection hung up the shell")
	default:
	}
	// The learner comes back to the same shell.
	again := e.hello("")
	again.WriteMessage(websocket.BinaryMessage, []byte("0y"))
	select {
	case got := <-e.tty.typed:
		if got != "y" {
			t.Fatalf("TTY got %q", got)
		}
	case <-time.After(erHang):
		t.Fatal("input after reconnecting never reached the TTY (hang)")
	}
}
