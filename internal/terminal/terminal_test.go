package terminal_test

import (
	"bytes"
	"context"
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

// hang is how long a test waits for something that should happen at once.
// It only detects hangs; it is not a performance threshold.
const hang = 10 * time.Second

type size struct{ cols, rows uint }

// fakeTTY is the shell side: the test writes what the shell prints to
// shellOut and reads what the learner typed from typed.
type fakeTTY struct {
	outR     *io.PipeReader
	shellOut *io.PipeWriter

	typed   chan []byte
	resizes chan size

	closeOnce sync.Once
	closed    chan struct{}
}

func newFakeTTY() *fakeTTY {
	r, w := io.Pipe()
	return &fakeTTY{outR: r, shellOut: w, typed: make(chan []byte, 64), resizes: make(chan size, 16), closed: make(chan struct{})}
}

func (f *fakeTTY) Read(p []byte) (int, error) { return f.outR.Read(p) }

func (f *fakeTTY) Write(p []byte) (int, error) {
	select {
	case <-f.closed:
		return 0, io.ErrClosedPipe
	default:
	}
	f.typed <- append([]byte(nil), p...)
	return len(p), nil
}

func (f *fakeTTY) Resize(ctx context.Context, cols, rows uint) error {
	f.resizes <- size{cols, rows}
	return nil
}

func (f *fakeTTY) Close() error {
	f.closeOnce.Do(func() {
		close(f.closed)
		f.outR.CloseWithError(io.ErrClosedPipe)
	})
	return nil
}

func (f *fakeTTY) isClosed() bool {
	select {
	case <-f.closed:
		return true
	default:
		return false
	}
}

type harness struct {
	t      *testing.T
	tty    *fakeTTY
	client *websocket.Conn
	cancel context.CancelFunc
	served chan error // Serve's return value
}

func start(t *testing.T, opts terminal.Options) *harness {
	t.Helper()
	h := &harness{t: t, tty: newFakeTTY(), served: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			h.served <- err
			return
		}
		h.served <- terminal.Serve(ctx, conn, h.tty, opts)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(cancel)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	dialer := websocket.Dialer{HandshakeTimeout: hang}
	c, resp, err := dialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	h.client = c
	t.Cleanup(func() { c.Close() })
	return h
}

func (h *harness) send(typ int, data []byte) {
	h.t.Helper()
	_ = h.client.SetWriteDeadline(time.Now().Add(hang))
	if err := h.client.WriteMessage(typ, data); err != nil {
		h.t.Fatalf("client write: %v", err)
	}
}

func (h *harness) typed() []byte {
	h.t.Helper()
	select {
	case b := <-h.tty.typed:
		return b
	case <-time.After(hang):
		h.t.Fatal("nothing reached the TTY (hang)")
		return nil
	}
}

// readFrame returns the next data frame the client gets.
func (h *harness) readFrame() (int, []byte, error) {
	_ = h.client.SetReadDeadline(time.Now().Add(hang))
	return h.client.ReadMessage()
}

// closeCode reads until the socket closes and returns the close code the
// server sent, skipping output frames.
func (h *harness) closeCode() int {
	h.t.Helper()
	for {
		_, _, err := h.readFrame()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		h.t.Fatalf("socket ended without a close frame: %v", err)
		return 0
	}
}

// waitServed waits for Serve to return and checks that it closed the TTY.
func (h *harness) waitServed() error {
	h.t.Helper()
	select {
	case err := <-h.served:
		if !h.tty.isClosed() {
			h.t.Error("Serve returned without closing the TTY")
		}
		return err
	case <-time.After(hang):
		h.t.Fatal("Serve did not return (hang)")
		return nil
	}
}

func TestInputReachesTTY(t *testing.T) {
	h := start(t, terminal.Options{})
	h.send(websocket.BinaryMessage, []byte("0ls -la\r"))
	if got := h.typed(); string(got) != "ls -la\r" {
		t.Fatalf("TTY got %q, want %q", got, "ls -la\r")
	}
	// Binary bytes pass unchanged (Ctrl-C, escape sequences, UTF-8).
	h.send(websocket.BinaryMessage, append([]byte{'0'}, 0x03, 0x1b, '[', 'A', 0xc3, 0xa9))
	if got := h.typed(); !bytes.Equal(got, []byte{0x03, 0x1b, '[', 'A', 0xc3, 0xa9}) {
		t.Fatalf("TTY got % x", got)
	}
	// Empty frames and an empty input are harmless.
	h.send(websocket.BinaryMessage, nil)
	h.send(websocket.BinaryMessage, []byte("0"))
	h.send(websocket.BinaryMessage, []byte("0x"))
	for {
		got := h.typed()
		if len(got) == 0 {
			continue
		}
		if string(got) != "x" {
			t.Fatalf("TTY got %q, want x", got)
		}
		break
	}
	h.client.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(hang))
	if err := h.waitServed(); err != nil {
		t.Fatalf("Serve after a normal client close = %v, want nil", err)
	}
}

func TestResize(t *testing.T) {
	h := start(t, terminal.Options{})
	h.send(websocket.BinaryMessage, []byte(`1{"cols":100,"rows":40}`))
	select {
	case s := <-h.tty.resizes:
		if s != (size{100, 40}) {
			t.Fatalf("Resize(%d, %d), want (100, 40)", s.cols, s.rows)
		}
	case <-time.After(hang):
		t.Fatal("Resize was not called (hang)")
	}
	// The connection is still usable afterwards.
	h.send(websocket.BinaryMessage, []byte("0pwd\r"))
	if got := h.typed(); string(got) != "pwd\r" {
		t.Fatalf("TTY got %q", got)
	}
}

func TestOutputFrames(t *testing.T) {
	h := start(t, terminal.Options{})
	go h.tty.shellOut.Write([]byte("learner@lab:~$ "))
	typ, msg, err := h.readFrame()
	if err != nil {
		t.Fatalf("client read: %v", err)
	}
	if typ != websocket.BinaryMessage {
		t.Fatalf("frame type %d, want binary", typ)
	}
	if string(msg) != "0learner@lab:~$ " {
		t.Fatalf("frame %q, want %q", msg, "0learner@lab:~$ ")
	}
	// Larger output arrives whole and in order, however it is framed.
	big := bytes.Repeat([]byte("0123456789abcdef"), 8<<10) // 128 KiB
	go h.tty.shellOut.Write(big)
	var got []byte
	for len(got) < len(big) {
		typ, msg, err := h.readFrame()
		if err != nil {
			t.Fatalf("client read after %d bytes: %v", len(got), err)
		}
		if typ != websocket.BinaryMessage || len(msg) < 2 || msg[0] != '0' {
			t.Fatalf("bad output frame: type %d, %d bytes", typ, len(msg))
		}
		got = append(got, msg[1:]...)
	}
	if !bytes.Equal(got, big) {
		t.Fatal("output was corrupted or reordered")
	}
}

func TestCloseCodes(t *testing.T) {
	cases := []struct {
		name   string
		opts   terminal.Options
		act    func(h *harness)
		code   int
		errNil bool // Serve returns nil (a normal end)
		anyErr bool // Serve's error is not checked
	}{
		{name: "text frame", code: websocket.CloseUnsupportedData,
			act: func(h *harness) { h.send(websocket.TextMessage, []byte("0ls")) }},
		{name: "frame over ReadLimit", opts: terminal.Options{ReadLimit: 64}, code: websocket.CloseMessageTooBig,
			act: func(h *harness) {
				h.send(websocket.BinaryMessage, append([]byte("0"), bytes.Repeat([]byte("x"), 200)...))
			}},
		{name: "malformed resize JSON", code: websocket.ClosePolicyViolation,
			act: func(h *harness) { h.send(websocket.BinaryMessage, []byte(`1{"cols":`)) }},
		{name: "zero-size resize", code: websocket.ClosePolicyViolation,
			act: func(h *harness) { h.send(websocket.BinaryMessage, []byte(`1{"cols":0,"rows":40}`)) }},
		{name: "huge resize", code: websocket.ClosePolicyViolation,
			act: func(h *harness) { h.send(websocket.BinaryMessage, []byte(`1{"cols":100000,"rows":40}`)) }},
		{name: "negative resize", code: websocket.ClosePolicyViolation,
			act: func(h *harness) { h.send(websocket.BinaryMessage, []byte(`1{"cols":-1,"rows":40}`)) }},
		// Serve's error is not checked here: which of "shell exited" and
		// "socket closed" it reports is a race of no consequence.
		{name: "shell exits (TTY EOF)", code: websocket.CloseNormalClosure, anyErr: true,
			act: func(h *harness) { h.tty.shellOut.Close() }},
		{name: "server shutdown (ctx cancelled)", code: websocket.CloseGoingAway, errNil: true,
			act: func(h *harness) { h.cancel() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := start(t, c.opts)
			// Make sure the bridge is up before acting.
			h.send(websocket.BinaryMessage, []byte("0hi"))
			if got := h.typed(); string(got) != "hi" {
				t.Fatalf("TTY got %q", got)
			}
			c.act(h)
			if got := h.closeCode(); got != c.code {
				t.Errorf("close code %d, want %d", got, c.code)
			}
			err := h.waitServed()
			if c.errNil && err != nil {
				t.Errorf("Serve = %v, want nil", err)
			}
			if !c.errNil && !c.anyErr && err == nil {
				t.Errorf("Serve = nil, want an error for a misbehaving client")
			}
		})
	}
}

func TestUnknownOpcodeIgnored(t *testing.T) {
	h := start(t, terminal.Options{})
	h.send(websocket.BinaryMessage, []byte(`9{"future":"feature"}`))
	h.send(websocket.BinaryMessage, []byte("2"))
	h.send(websocket.BinaryMessage, []byte("0still here"))
	if got := h.typed(); string(got) != "still here" {
		t.Fatalf("TTY got %q after unknown opcodes", got)
	}
	go h.tty.shellOut.Write([]byte("ok"))
	if _, msg, err := h.readFrame(); err != nil || string(msg) != "0ok" {
		t.Fatalf("after unknown opcodes, output frame %q, %v", msg, err)
	}
	select {
	case err := <-h.served:
		t.Fatalf("Serve returned after an unknown opcode: %v", err)
	default:
	}
}

func TestClientDisappears(t *testing.T) {
	h := start(t, terminal.Options{})
	h.send(websocket.BinaryMessage, []byte("0x"))
	h.typed()
	// No close frame: the TCP connection just goes away.
	h.client.NetConn().Close()
	h.waitServed()
}

func TestClientCloseWhileShellPrints(t *testing.T) {
	h := start(t, terminal.Options{})
	// The shell keeps printing; nobody reads on the client side after the
	// close, so the bridge must not block on a full output channel.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := h.tty.shellOut.Write(bytes.Repeat([]byte("y\n"), 1024)); err != nil {
				return
			}
		}
	}()
	if _, _, err := h.readFrame(); err != nil {
		t.Fatalf("read: %v", err)
	}
	h.client.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(hang))
	if err := h.waitServed(); err != nil {
		t.Fatalf("Serve after client going away = %v, want nil", err)
	}
}

func TestOnActivity(t *testing.T) {
	calls := make(chan struct{}, 10)
	h := start(t, terminal.Options{OnActivity: func() { calls <- struct{}{} }})
	for i := 0; i < 5; i++ {
		h.send(websocket.BinaryMessage, []byte("0k"))
		h.typed()
	}
	// Resizes are not activity.
	h.send(websocket.BinaryMessage, []byte(`1{"cols":80,"rows":24}`))
	<-h.tty.resizes
	h.client.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(hang))
	h.waitServed()
	// At most once a minute: five keystrokes in a burst count once.
	if n := len(calls); n != 1 {
		t.Fatalf("OnActivity called %d times for a burst of typing, want 1", n)
	}
}
