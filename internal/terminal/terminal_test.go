package terminal_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/opsdojo/opsdojo/internal/terminal"
)

// hang is how long a test waits for something that should happen at once.
// It only detects hangs; it is not a performance threshold.
const hang = 10 * time.Second

type size struct{ cols, rows uint }

// fakeTTY is the shell side: the test writes what the shell prints to
// shellOut and reads what the driver typed from typed.
type fakeTTY struct {
	outR     *io.PipeReader
	shellOut *io.PipeWriter

	mu      sync.Mutex
	typed   bytes.Buffer
	typedCh chan struct{}
	block   chan struct{} // when set, Write waits for it to close
	resizes chan size

	exitCode int
	closed   chan struct{}
	once     sync.Once
}

func newFakeTTY() *fakeTTY {
	r, w := io.Pipe()
	return &fakeTTY{outR: r, shellOut: w, typedCh: make(chan struct{}, 1), resizes: make(chan size, 16), closed: make(chan struct{})}
}

func (f *fakeTTY) Read(p []byte) (int, error) { return f.outR.Read(p) }

func (f *fakeTTY) Write(p []byte) (int, error) {
	f.mu.Lock()
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-f.closed:
		}
	}
	select {
	case <-f.closed:
		return 0, io.ErrClosedPipe
	default:
	}
	f.mu.Lock()
	f.typed.Write(p)
	f.mu.Unlock()
	select {
	case f.typedCh <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (f *fakeTTY) Resize(ctx context.Context, cols, rows uint) error {
	f.resizes <- size{cols, rows}
	return nil
}

func (f *fakeTTY) ExitCode(context.Context) (int, error) { return f.exitCode, nil }

func (f *fakeTTY) Close() error {
	f.once.Do(func() {
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

// waitTyped waits until the shell has received want in all.
func (f *fakeTTY) waitTyped(t *testing.T, want []byte) {
	t.Helper()
	deadline := time.After(hang)
	for {
		f.mu.Lock()
		got := append([]byte(nil), f.typed.Bytes()...)
		f.mu.Unlock()
		if bytes.Equal(got, want) {
			return
		}
		if len(got) > len(want) || !bytes.Equal(got, want[:len(got)]) {
			t.Fatalf("the shell got %d bytes that differ from the %d sent", len(got), len(want))
		}
		select {
		case <-f.typedCh:
		case <-deadline:
			t.Fatalf("the shell got %d of %d bytes (hang)", len(got), len(want))
		}
	}
}

func (f *fakeTTY) typedBytes() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]byte(nil), f.typed.Bytes()...)
}

// print makes the shell print p (in the background: the pipe blocks until
// the pump reads).
func (f *fakeTTY) print(p string) { go f.shellOut.Write([]byte(p)) }

// env is a terminal served over websockets on a test server.
type env struct {
	t    *testing.T
	tty  *fakeTTY
	term *terminal.Term
	srv  *httptest.Server
	ctx  context.Context
	stop context.CancelFunc // server shutdown
}

func newEnv(t *testing.T, cfg terminal.Config, opts terminal.Options) *env {
	t.Helper()
	e := &env{t: t, tty: newFakeTTY()}
	e.ctx, e.stop = context.WithCancel(context.Background())
	e.term = terminal.New(e.tty, cfg, opts)
	up := websocket.Upgrader{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		so := terminal.ServeOptions{Role: terminal.Driver}
		if r.URL.Query().Get("watch") == "1" {
			so.Role = terminal.Viewer
		}
		e.term.Serve(e.ctx, conn, so)
	}))
	t.Cleanup(func() {
		e.stop()
		e.term.Close(terminal.CloseNormal, "test over")
		select {
		case <-e.term.Done():
		case <-time.After(hang):
			t.Error("terminal did not finish (hang)")
		}
		e.srv.Close()
	})
	return e
}

// client is a test websocket client.
type client struct {
	t      *testing.T
	conn   *websocket.Conn
	frames chan frame
	err    error
	done   chan struct{}

	out    bytes.Buffer // output received since the last reset
	total  int          // output bytes received in all
	seq    uint64       // position after the last output byte received
	hello  *terminal.HelloReply
	roles  []terminal.RoleNotice
	resets int
}

type frame struct {
	typ  int
	data []byte
}

func (e *env) dial(query string) *client {
	e.t.Helper()
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/?" + query
	conn, resp, err := (&websocket.Dialer{HandshakeTimeout: hang}).Dial(url, nil)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	c := &client{t: e.t, conn: conn, frames: make(chan frame, 1024), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			typ, msg, err := conn.ReadMessage()
			if err != nil {
				c.err = err
				close(c.frames)
				return
			}
			c.frames <- frame{typ, msg}
		}
	}()
	e.t.Cleanup(func() { conn.Close() })
	return c
}

// connect dials and says hello.
func (e *env) connect(query string, seq uint64) *client {
	e.t.Helper()
	c := e.dial(query)
	c.send(terminal.HelloFrame(seq))
	c.expectHello()
	return c
}

func (c *client) send(msg []byte) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(hang))
	if err := c.conn.WriteMessage(websocket.BinaryMessage, msg); err != nil {
		c.t.Fatalf("client write: %v", err)
	}
}

func (c *client) input(s string) { c.send(append([]byte{terminal.OpInput}, s...)) }

// next returns the next frame, handling bookkeeping; ok false once the
// socket is closed.
func (c *client) next(within time.Duration) (frame, bool) {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			return frame{}, false
		}
		if len(f.data) > 0 {
			switch f.data[0] {
			case terminal.OpOutput:
				c.out.Write(f.data[1:])
				c.seq += uint64(len(f.data) - 1)
				c.total += len(f.data) - 1
			case terminal.OpHelloReply:
				var h terminal.HelloReply
				if err := json.Unmarshal(f.data[1:], &h); err != nil {
					c.t.Fatalf("hello reply %q: %v", f.data, err)
				}
				c.hello = &h
				if h.Reset {
					c.resets++
					c.out.Reset()
				}
				c.seq = h.Seq
			case terminal.OpRole:
				var r terminal.RoleNotice
				if err := json.Unmarshal(f.data[1:], &r); err != nil {
					c.t.Fatalf("role notice %q: %v", f.data, err)
				}
				c.roles = append(c.roles, r)
			}
		}
		return f, true
	case <-time.After(within):
		c.t.Fatalf("no frame within %s", within)
		return frame{}, false
	}
}

func (c *client) expectHello() {
	c.t.Helper()
	f, ok := c.next(hang)
	if !ok || len(f.data) == 0 || f.data[0] != terminal.OpHelloReply {
		c.t.Fatalf("first frame %q (err %v), want a hello reply", f.data, c.err)
	}
}

// readOutput reads until the output received contains want.
func (c *client) readOutput(want string) {
	c.t.Helper()
	for !strings.Contains(c.out.String(), want) {
		if _, ok := c.next(hang); !ok {
			c.t.Fatalf("socket closed (%v) before %q; got %q", c.err, want, c.out.String())
		}
	}
}

// readN reads until n output bytes have arrived in all.
func (c *client) readN(n int) {
	c.t.Helper()
	for c.out.Len() < n {
		if _, ok := c.next(hang); !ok {
			c.t.Fatalf("socket closed (%v) after %d of %d bytes", c.err, c.out.Len(), n)
		}
	}
}

// closeCode reads until the socket closes and returns the close code.
func (c *client) closeCode() int {
	c.t.Helper()
	for {
		if _, ok := c.next(hang); !ok {
			var ce *websocket.CloseError
			if errors.As(c.err, &ce) {
				return ce.Code
			}
			c.t.Fatalf("socket ended without a close frame: %v", c.err)
		}
	}
}

// frameOp waits for a frame with opcode op and returns its payload.
func (c *client) frameOp(op byte) []byte {
	c.t.Helper()
	for {
		f, ok := c.next(hang)
		if !ok {
			c.t.Fatalf("socket closed (%v) before a %q frame", c.err, op)
		}
		if len(f.data) > 0 && f.data[0] == op {
			return f.data[1:]
		}
	}
}

func TestInputAndOutput(t *testing.T) {
	e := newEnv(t, terminal.Config{}, terminal.Options{Tab: "main"})
	c := e.connect("", 0)
	if c.hello.Tab != "main" || c.hello.Seq != 0 || c.hello.Reset || c.hello.Role != terminal.Driver || c.hello.Cols != 80 || c.hello.Rows != 24 {
		t.Fatalf("hello reply %+v", *c.hello)
	}
	c.input("ls -la\r")
	// Binary bytes pass unchanged (Ctrl-C, escape sequences, UTF-8).
	c.send(append([]byte{'0'}, 0x03, 0x1b, '[', 'A', 0xc3, 0xa9))
	c.send(nil)         // empty frame: ignored
	c.send([]byte("0")) // empty input: ignored
	e.tty.waitTyped(t, append([]byte("ls -la\r"), 0x03, 0x1b, '[', 'A', 0xc3, 0xa9))

	e.tty.print("learner@lab:~$ ")
	c.readOutput("learner@lab:~$ ")
	if c.seq != 15 {
		t.Fatalf("position after 15 bytes = %d", c.seq)
	}
}

func TestResizeAndRoleNotices(t *testing.T) {
	e := newEnv(t, terminal.Config{}, terminal.Options{})
	c := e.connect("", 0)
	c.frameOp(terminal.OpRole)
	if r := c.roles[0]; r.Role != terminal.Driver || r.Viewers != 0 {
		t.Fatalf("role notice %+v", r)
	}
	c.send([]byte(`1{"cols":100,"rows":40}`))
	select {
	case s := <-e.tty.resizes:
		if s != (size{100, 40}) {
			t.Fatalf("Resize(%d, %d), want (100, 40)", s.cols, s.rows)
		}
	case <-time.After(hang):
		t.Fatal("Resize was not called (hang)")
	}
	c.frameOp(terminal.OpRole) // the size changed
	if r := c.roles[len(c.roles)-1]; r.Cols != 100 || r.Rows != 40 {
		t.Fatalf("role notice after resize %+v", r)
	}
	// A viewer joins: the driver is told; the viewer's resize is ignored.
	v := e.connect("watch=1", 0)
	if v.hello.Role != terminal.Viewer || v.hello.Cols != 100 || v.hello.Rows != 40 {
		t.Fatalf("viewer hello %+v", *v.hello)
	}
	c.frameOp(terminal.OpRole)
	if r := c.roles[len(c.roles)-1]; r.Role != terminal.Driver || r.Viewers != 1 {
		t.Fatalf("driver's notice after a viewer joined: %+v", r)
	}
	v.send([]byte(`1{"cols":20,"rows":10}`))
	v.input("rm -rf ~\r")
	c.input("ok\r")
	e.tty.waitTyped(t, []byte("ok\r"))
	select {
	case s := <-e.tty.resizes:
		t.Fatalf("a viewer resized the terminal to %v", s)
	case <-time.After(50 * time.Millisecond):
	}
	v.conn.Close()
	c.frameOp(terminal.OpRole)
	if r := c.roles[len(c.roles)-1]; r.Viewers != 0 {
		t.Fatalf("driver's notice after the viewer left: %+v", r)
	}
	if got := e.tty.typedBytes(); string(got) != "ok\r" {
		t.Fatalf("the shell got %q: viewer input leaked", got)
	}
}

func TestReconnectNoGapNoDuplicate(t *testing.T) {
	e := newEnv(t, terminal.Config{}, terminal.Options{})
	c := e.connect("", 0)
	e.tty.print("one\r\n")
	c.readOutput("one\r\n")
	seen := c.out.String()
	pos := c.seq
	c.conn.Close()
	// Output while nobody is connected is kept.
	e.tty.print("two\r\n")
	e.tty.print("")
	time.Sleep(20 * time.Millisecond)
	e.tty.print("three\r\n")
	c2 := e.connect("", pos)
	if c2.hello.Reset || c2.hello.Seq != pos {
		t.Fatalf("hello reply %+v, want seq %d without reset", *c2.hello, pos)
	}
	c2.readOutput("three\r\n")
	if got := seen + c2.out.String(); got != "one\r\ntwo\r\nthree\r\n" {
		t.Fatalf("stream across the reconnect = %q", got)
	}
	// A client that asks for more than exists (a restarted server) or for
	// what has left the buffer gets a reset and the whole buffer.
	c2.conn.Close()
	c3 := e.connect("", 1<<40)
	if !c3.hello.Reset || c3.hello.Seq != 0 {
		t.Fatalf("hello reply for a future position %+v", *c3.hello)
	}
	c3.readOutput("one\r\ntwo\r\nthree\r\n")
}

func TestReconnectAfterBufferOverflowResets(t *testing.T) {
	e := newEnv(t, terminal.Config{BufferSize: 4096}, terminal.Options{})
	c := e.connect("", 0)
	e.tty.print("start")
	c.readOutput("start")
	c.conn.Close()
	// Flow control follows the last driver's ack (here 0) even while it is
	// away, so a writer blocks once a window is unacked; the buffer keeps
	// the newest 4 KiB.
	e.tty.print(strings.Repeat("x", 1000) + "tail")
	time.Sleep(20 * time.Millisecond)
	c2 := e.connect("", 5)
	c2.readOutput("tail")
	if c2.hello.Reset {
		// 1009 bytes fit in the buffer: no reset.
		t.Fatalf("unexpected reset: %+v", *c2.hello)
	}
	c2.send(terminal.AckFrame(c2.seq))
	c2.conn.Close()
	e.tty.print(strings.Repeat("y", 2000))
	e.tty.print(strings.Repeat("z", 1500) + "END")
	time.Sleep(50 * time.Millisecond)
	c3 := e.connect("", 5)
	c3.readOutput("END")
	if !c3.hello.Reset || c3.hello.Seq == 5 {
		t.Fatalf("hello reply %+v, want a reset", *c3.hello)
	}
	if got := c3.hello.Seq + uint64(c3.out.Len()); got != c3.seq {
		t.Fatalf("positions do not add up: %d + %d != %d", c3.hello.Seq, c3.out.Len(), c3.seq)
	}
}

// yesShell prints forever, counting what the pump has taken.
func yesShell(tty *fakeTTY, produced *atomic.Int64, stop chan struct{}) {
	chunk := bytes.Repeat([]byte("y\r\n"), 1024/3)
	for {
		select {
		case <-stop:
			return
		default:
		}
		n, err := tty.shellOut.Write(chunk)
		produced.Add(int64(n))
		if err != nil {
			return
		}
	}
}

func TestFlowControlPausesAndResumes(t *testing.T) {
	const window = 64 << 10
	e := newEnv(t, terminal.Config{BufferSize: 1 << 20, Window: window}, terminal.Options{})
	c := e.connect("", 0)
	var produced atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	go yesShell(e.tty, &produced, stop)

	// Without acks the pump stops a window (plus one read) ahead.
	c.readN(window)
	time.Sleep(100 * time.Millisecond)
	p1 := produced.Load()
	if p1 > window+64<<10 {
		t.Fatalf("the pump read %d bytes with a window of %d and no acks", p1, window)
	}
	time.Sleep(100 * time.Millisecond)
	if p2 := produced.Load(); p2 != p1 {
		t.Fatalf("the pump kept reading while paused: %d then %d", p1, p2)
	}
	// Acks resume it.
	for i := 0; i < 20; i++ {
		for len(c.frames) > 0 {
			c.next(hang)
		}
		c.send(terminal.AckFrame(c.seq))
		time.Sleep(5 * time.Millisecond)
	}
	if p3 := produced.Load(); p3 < p1+window {
		t.Fatalf("acks did not resume the pump: %d then %d", p1, p3)
	}
	// An ack beyond what was sent is clamped: it cannot switch flow control off.
	c.send(terminal.AckFrame(1 << 50))
	for len(c.frames) > 0 {
		c.next(hang)
	}
	time.Sleep(100 * time.Millisecond)
	p4 := produced.Load()
	time.Sleep(100 * time.Millisecond)
	if p5 := produced.Load(); p5 > p4+64<<10 {
		t.Fatalf("a lying ack let the pump run: %d then %d", p4, p5)
	}
}

func TestLegacyClientIsNotStarved(t *testing.T) {
	// A client that never says hello and never acks still gets everything:
	// flow control follows what its socket takes.
	e := newEnv(t, terminal.Config{Window: 16 << 10, HelloWait: 50 * time.Millisecond}, terminal.Options{})
	c := e.dial("")
	big := strings.Repeat("0123456789abcdef", 16<<10) // 256 KiB
	e.tty.print(big)
	c.readN(len(big))
	if c.hello != nil || len(c.roles) != 0 {
		t.Fatalf("a legacy client got control frames: %+v %+v", c.hello, c.roles)
	}
	if c.out.String() != big {
		t.Fatal("output corrupted")
	}
	// It can type (its first frame attaches it).
	c.input("x")
	e.tty.waitTyped(t, []byte("x"))
}

func TestLegacyClientTypingFirst(t *testing.T) {
	e := newEnv(t, terminal.Config{}, terminal.Options{})
	c := e.dial("")
	c.input("hello")
	e.tty.waitTyped(t, []byte("hello"))
	e.tty.print("hello")
	f, ok := c.next(hang)
	if !ok || string(f.data) != "0hello" {
		t.Fatalf("first frame %q, want the output", f.data)
	}
}

func TestFanOutAndSlowViewer(t *testing.T) {
	const window = 32 << 10
	e := newEnv(t, terminal.Config{Window: window, BufferSize: 256 << 10, ResyncTail: 4 << 10}, terminal.Options{})
	d := e.connect("", 0)
	v1 := e.connect("watch=1", 0)
	// The slow viewer never reads.
	slow := e.dial("watch=1")
	slow.send(terminal.HelloFrame(0))

	var produced atomic.Int64
	stop := make(chan struct{})
	go yesShell(e.tty, &produced, stop)
	// The driver reads and acks 2 MiB; the stalled viewer must not hold it up.
	const total = 2 << 20
	var v1Out int
	for d.seq < total {
		d.next(hang)
		d.send(terminal.AckFrame(d.seq))
		for len(v1.frames) > 0 {
			v1.next(hang)
		}
		if v1.seq > 0 {
			v1.send(terminal.AckFrame(v1.seq))
		}
	}
	close(stop)
	v1Out = v1.total
	if v1Out == 0 {
		t.Fatal("the reading viewer got nothing")
	}
	// The stalled viewer has been resynced at least once once it reads.
	for len(slow.frames) > 0 || slow.resets == 0 {
		if _, ok := slow.next(hang); !ok {
			t.Fatalf("slow viewer closed: %v", slow.err)
		}
	}
	if slow.resets == 0 {
		t.Fatal("the slow viewer was never resynced")
	}
	if got := d.out.String(); strings.Trim(got, "y\r\n") != "" {
		t.Fatal("the driver's stream is corrupted")
	}
}

// TestViewerCap: past MaxViewers a viewer is turned away with 4029; once
// one leaves, the next gets in, and the driver is never limited.
func TestViewerCap(t *testing.T) {
	e := newEnv(t, terminal.Config{MaxViewers: 2}, terminal.Options{})
	d := e.connect("", 0)
	v1 := e.connect("watch=1", 0)
	e.connect("watch=1", 0)
	extra := e.dial("watch=1")
	extra.send(terminal.HelloFrame(0))
	if code := extra.closeCode(); code != terminal.CloseTooManyViewers {
		t.Fatalf("third viewer's close code %d, want %d", code, terminal.CloseTooManyViewers)
	}
	v1.conn.Close()
	deadline := time.Now().Add(hang)
	for e.term.Info().Viewers != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("viewers %d after one left", e.term.Info().Viewers)
		}
		time.Sleep(time.Millisecond)
	}
	e.connect("watch=1", 0)
	if n := e.term.Info().Viewers; n != 2 {
		t.Fatalf("%d viewers, want 2", n)
	}
	d.input("driver still types")
	e.tty.waitTyped(t, []byte("driver still types"))
}

// TestNotice: a server notice reaches the driver and every viewer as one
// control frame, never the output stream.
func TestNotice(t *testing.T) {
	e := newEnv(t, terminal.Config{}, terminal.Options{})
	d := e.connect("", 0)
	v := e.connect("watch=1", 0)
	e.term.Notify(terminal.Notice{Text: "your lab has written 3.4 GB of its 4 GB disk quota"})
	for _, c := range []*client{d, v} {
		var n terminal.Notice
		if err := json.Unmarshal(c.frameOp(terminal.OpNotice), &n); err != nil || n.Text != "your lab has written 3.4 GB of its 4 GB disk quota" {
			t.Fatalf("notice %+v, %v", n, err)
		}
		if strings.Contains(c.out.String(), "disk quota") {
			t.Fatal("the notice leaked into the terminal output")
		}
	}
}

// TestLongCloseTextKeepsItsCode: a close text longer than a close frame
// holds is cut (at a rune boundary), never the code lost with it.
func TestLongCloseTextKeepsItsCode(t *testing.T) {
	e := newEnv(t, terminal.Config{}, terminal.Options{})
	c := e.connect("", 0)
	e.term.Close(terminal.CloseSessionEnded, "the lab session ended: "+strings.Repeat("é", 100))
	if code := c.closeCode(); code != terminal.CloseSessionEnded {
		t.Fatalf("close code %d, want %d (%v)", code, terminal.CloseSessionEnded, c.err)
	}
	var ce *websocket.CloseError
	if !errors.As(c.err, &ce) || len(ce.Text) > 123 || !utf8.ValidString(ce.Text) || !strings.HasPrefix(ce.Text, "the lab session ended: é") {
		t.Fatalf("close text %q", ce.Text)
	}
}

func TestReplacedDriverGets4000(t *testing.T) {
	e := newEnv(t, terminal.Config{}, terminal.Options{})
	c1 := e.connect("", 0)
	c2 := e.connect("", 0)
	if code := c1.closeCode(); code != terminal.CloseReplaced {
		t.Fatalf("first driver's close code %d, want %d", code, terminal.CloseReplaced)
	}
	c2.input("still mine")
	e.tty.waitTyped(t, []byte("still mine"))
}

func TestCloseCodes(t *testing.T) {
	cases := []struct {
		name string
		cfg  terminal.Config
		act  func(e *env, c *client)
		code int
	}{
		{name: "text frame", code: websocket.CloseUnsupportedData,
			act: func(e *env, c *client) { c.conn.WriteMessage(websocket.TextMessage, []byte("0ls")) }},
		{name: "frame over the limit", code: websocket.CloseMessageTooBig,
			act: func(e *env, c *client) { c.send(append([]byte("0"), make([]byte, 64<<10+1)...)) }},
		{name: "malformed resize JSON", code: websocket.ClosePolicyViolation,
			act: func(e *env, c *client) { c.send([]byte(`1{"cols":`)) }},
		{name: "zero-size resize", code: websocket.ClosePolicyViolation,
			act: func(e *env, c *client) { c.send([]byte(`1{"cols":0,"rows":40}`)) }},
		{name: "huge resize", code: websocket.ClosePolicyViolation,
			act: func(e *env, c *client) { c.send([]byte(`1{"cols":100000,"rows":40}`)) }},
		{name: "negative resize", code: websocket.ClosePolicyViolation,
			act: func(e *env, c *client) { c.send([]byte(`1{"cols":-1,"rows":40}`)) }},
		{name: "short ack", code: websocket.ClosePolicyViolation,
			act: func(e *env, c *client) { c.send([]byte("3abc")) }},
		{name: "long ping", code: websocket.ClosePolicyViolation,
			act: func(e *env, c *client) { c.send([]byte("4123456789")) }},
		{name: "shell exits", code: websocket.CloseNormalClosure,
			act: func(e *env, c *client) { e.tty.shellOut.Close() }},
		{name: "tab closed", code: websocket.CloseNormalClosure,
			act: func(e *env, c *client) { e.term.Close(terminal.CloseNormal, "closed") }},
		{name: "session ended", code: terminal.CloseSessionEnded,
			act: func(e *env, c *client) { e.term.Close(terminal.CloseSessionEnded, "ended") }},
		{name: "server shutdown", code: websocket.CloseGoingAway,
			act: func(e *env, c *client) { e.stop() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg, terminal.Options{})
			c := e.connect("", 0)
			v := e.connect("watch=1", 0)
			c.input("hi")
			e.tty.waitTyped(t, []byte("hi"))
			tc.act(e, c)
			if got := c.closeCode(); got != tc.code {
				t.Fatalf("close code %d, want %d", got, tc.code)
			}
			if tc.code < 1003 || tc.code > 1009 {
				return
			}
			// A misbehaving client harms nothing else: the shell and the
			// other connections go on.
			if e.term.Finished() || e.tty.isClosed() {
				t.Fatal("the terminal ended with its client")
			}
			e.tty.print("after")
			v.readOutput("after")
			c2 := e.connect("", 0)
			c2.input("again")
			e.tty.waitTyped(t, []byte("hiagain"))
		})
	}
}

func TestExitNotice(t *testing.T) {
	e := newEnv(t, terminal.Config{}, terminal.Options{})
	e.tty.exitCode = 3
	c := e.connect("", 0)
	v := e.connect("watch=1", 0)
	go func() {
		e.tty.shellOut.Write([]byte("logout\r\n"))
		e.tty.shellOut.Close()
	}()
	var n terminal.ExitNotice
	if err := json.Unmarshal(c.frameOp(terminal.OpExit), &n); err != nil || n.Code != 3 {
		t.Fatalf("exit notice %+v, %v", n, err)
	}
	if !strings.Contains(c.out.String(), "logout") {
		t.Fatalf("output before the exit notice lost: %q", c.out.String())
	}
	if code := c.closeCode(); code != websocket.CloseNormalClosure {
		t.Fatalf("close code %d", code)
	}
	v.frameOp(terminal.OpExit)
	select {
	case <-e.term.Done():
	case <-time.After(hang):
		t.Fatal("terminal not done after its shell exited")
	}
	if !e.tty.isClosed() {
		t.Fatal("TTY not closed")
	}
}

func TestPingPong(t *testing.T) {
	e := newEnv(t, terminal.Config{}, terminal.Options{})
	c := e.connect("", 0)
	ping := make([]byte, 9)
	ping[0] = terminal.OpPing
	binary.BigEndian.PutUint64(ping[1:], 0x0102030405060708)
	c.send(ping)
	if got := c.frameOp(terminal.OpPong); !bytes.Equal(got, ping[1:]) {
		t.Fatalf("pong % x, want % x", got, ping[1:])
	}
	// Viewers may ping too.
	v := e.connect("watch=1", 0)
	v.send(ping)
	v.frameOp(terminal.OpPong)
}

func TestUnknownOpcodeIgnored(t *testing.T) {
	e := newEnv(t, terminal.Config{}, terminal.Options{})
	c := e.connect("", 0)
	c.send([]byte(`9{"future":"feature"}`))
	c.send(terminal.HelloFrame(0)) // a second hello: ignored
	c.input("still here")
	e.tty.waitTyped(t, []byte("still here"))
}

func TestLargePasteIntact(t *testing.T) {
	e := newEnv(t, terminal.Config{}, terminal.Options{})
	c := e.connect("", 0)
	paste := make([]byte, 1<<20)
	for i := range paste {
		paste[i] = byte('a' + i%26)
	}
	for i := 0; i < len(paste); i += 32 << 10 {
		c.send(append([]byte{terminal.OpInput}, paste[i:min(i+32<<10, len(paste))]...))
	}
	e.tty.waitTyped(t, paste)
}

// TestPasteWhileOutputBlocked: a paste whose echo exceeds the window while
// the client's acks wait behind the paste must not deadlock.
func TestPasteWhileOutputBlocked(t *testing.T) {
	e := newEnv(t, terminal.Config{Window: 16 << 10, BufferSize: 1 << 20}, terminal.Options{})
	c := e.connect("", 0)
	// The shell echoes whatever it is given, and reads input only while its
	// echo is being taken.
	echoed := make(chan struct{})
	e.tty.mu.Lock()
	block := make(chan struct{})
	e.tty.block = block
	e.tty.mu.Unlock()
	go func() {
		defer close(echoed)
		// 256 KiB of echo: far beyond the window, nobody acks.
		e.tty.shellOut.Write(bytes.Repeat([]byte("e"), 256<<10))
		close(block)
	}()
	c.input("paste")
	select {
	case <-echoed:
	case <-time.After(hang):
		t.Fatal("deadlock: output stayed paused while input was blocked")
	}
	e.tty.waitTyped(t, []byte("paste"))
}

func TestUTF8SplitAcrossFramesIntact(t *testing.T) {
	e := newEnv(t, terminal.Config{MaxFrame: 1000}, terminal.Options{})
	c := e.connect("", 0)
	text := strings.Repeat("héllo wörld € 😀 ", 1000)
	e.tty.print(text)
	c.readN(len(text))
	if c.out.String() != text {
		t.Fatal("multi-byte output was corrupted across frames")
	}
	// Frames were split inside characters: the client reassembles bytes.
}

func TestGracePeriod(t *testing.T) {
	e := newEnv(t, terminal.Config{Grace: 150 * time.Millisecond}, terminal.Options{})
	c := e.connect("", 0)
	time.Sleep(300 * time.Millisecond)
	if e.term.Finished() {
		t.Fatal("closed while a driver was connected")
	}
	c.conn.Close()
	// A viewer does not keep it alive.
	v := e.connect("watch=1", 0)
	select {
	case <-e.term.Done():
	case <-time.After(hang):
		t.Fatal("not closed after the grace period")
	}
	if !e.tty.isClosed() {
		t.Fatal("TTY not hung up")
	}
	if code := v.closeCode(); code != websocket.CloseNormalClosure {
		t.Fatalf("viewer close code %d", code)
	}
}

func TestRegistry(t *testing.T) {
	r := terminal.NewRegistry(terminal.Config{}, 2)
	var ttys []*fakeTTY
	start := func(tab string) (*terminal.Term, error) {
		tty := newFakeTTY()
		ttys = append(ttys, tty)
		return r.Start(terminal.Key{Session: "s1", Tab: tab}, tty, terminal.Options{})
	}
	a, err := start("main")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := start("main"); err == nil {
		t.Fatal("two terminals under one key")
	}
	if _, err := start("two"); err != nil {
		t.Fatal(err)
	}
	if _, err := start("three"); err == nil {
		t.Fatal("more than MaxTabs terminals")
	}
	if r.Get(terminal.Key{Session: "s1", Tab: "main"}) != a {
		t.Fatal("Get")
	}
	if list := r.List("s1"); len(list) != 2 || list[0].Tab != "main" || list[1].Tab != "two" {
		t.Fatalf("List = %+v", list)
	}
	if !r.CloseTab(terminal.Key{Session: "s1", Tab: "main"}, terminal.CloseNormal, "bye") {
		t.Fatal("CloseTab")
	}
	<-a.Done()
	if r.Get(terminal.Key{Session: "s1", Tab: "main"}) != nil || r.Count("s1") != 1 {
		t.Fatal("a closed terminal is still listed")
	}
	r.CloseSession("s1", terminal.CloseSessionEnded, "ended")
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	if err := r.CloseAll(ctx); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 2} { // 1 and 3 were refused: the caller closes them
		if !ttys[i].isClosed() {
			t.Errorf("tty %d not closed", i)
		}
	}
	if _, err := start("late"); err == nil {
		t.Fatal("a closed registry started a terminal")
	}
	for _, ok := range []string{"main", "a-1", "Tab2"} {
		if !terminal.ValidTab(ok) {
			t.Errorf("ValidTab(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "a b", "../x", "é", strings.Repeat("a", 33)} {
		if terminal.ValidTab(bad) {
			t.Errorf("ValidTab(%q) = true", bad)
		}
	}
}

func TestOnActivity(t *testing.T) {
	calls := make(chan struct{}, 10)
	e := &env{t: t, tty: newFakeTTY()}
	e.ctx, e.stop = context.WithCancel(context.Background())
	e.term = terminal.New(e.tty, terminal.Config{}, terminal.Options{})
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _ := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		e.term.Serve(e.ctx, conn, terminal.ServeOptions{OnActivity: func() { calls <- struct{}{} }})
	}))
	defer func() { e.stop(); e.term.Close(1000, ""); e.srv.Close() }()
	c := e.connect("", 0)
	for i := 0; i < 5; i++ {
		c.input("k")
	}
	e.tty.waitTyped(t, []byte("kkkkk"))
	if n := len(calls); n != 1 {
		t.Fatalf("OnActivity called %d times for a burst of typing, want 1", n)
	}
}
