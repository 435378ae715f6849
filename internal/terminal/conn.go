package terminal

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// ServeOptions describe one connection to a terminal.
type ServeOptions struct {
	Role Role
	// Cols and Rows, when set, are the driver's window size at connect.
	Cols, Rows uint
	// OnActivity is called, at most once a minute, while the driver types.
	OnActivity func()
}

const writeWait = 10 * time.Second

// maxCloseText is the most text a close frame can carry.
const maxCloseText = 123

// smallFrame: a frame this small means the terminal is interactive, so the
// next output goes out at once instead of waiting to be coalesced.
const smallFrame = 512

// client is one websocket showing a terminal.
type client struct {
	t    *Term
	conn *websocket.Conn
	role Role
	wake chan struct{}
	quit chan struct{} // closed when the read loop has ended

	// Guarded by t.mu.
	attached  bool
	gone      bool
	legacy    bool   // sent no hello: no control frames, flow control on written bytes
	sent      uint64 // position of the next byte to send
	written   uint64 // position up to which bytes were written to the socket
	acked     uint64
	ackSeen   bool
	ctrl      [][]byte
	kick      *closeMsg // the server is closing this connection
	lastFlush time.Time
	lastLen   int

	closing atomic.Bool // a close frame was sent: stop extending the read deadline
}

func (c *client) wakeup() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// flowPosLocked is the position the pump compares with the window.
func (c *client) flowPosLocked() uint64 {
	if c.legacy {
		// A client from before acks: bytes the socket has taken stand in
		// for acks, so it is never starved and TCP still pushes back.
		return c.written
	}
	return c.acked
}

// kickLocked closes the connection with code once what is queued is sent.
func (c *client) kickLocked(code int, text string) {
	if c.kick == nil {
		c.kick = &closeMsg{code, text}
	}
	c.wakeup()
}

func (t *Term) kick(c *client, code int, text string) {
	t.mu.Lock()
	c.kickLocked(code, text)
	t.mu.Unlock()
}

// Serve runs one websocket connection to the terminal until the client
// leaves, the shell exits, the terminal is closed or ctx ends (close 1001,
// or the code of a *CloseError cause: a logout). Once ctx has ended no
// more input reaches the shell. It closes conn before returning; the
// shell lives on.
func (t *Term) Serve(ctx context.Context, conn *websocket.Conn, opts ServeOptions) error {
	if opts.Role != Viewer {
		opts.Role = Driver
	}
	c := &client{t: t, conn: conn, role: opts.Role, wake: make(chan struct{}, 1), quit: make(chan struct{})}
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		c.sendLoop(ctx)
	}()
	// A client that says nothing is a legacy one.
	helloTimer := time.AfterFunc(t.cfg.HelloWait, func() { t.attach(c, nil, opts) })
	err := c.readLoop(ctx, opts)
	helloTimer.Stop()
	t.detach(c)
	close(c.quit)
	<-senderDone
	t.mu.Lock()
	kicked := c.kick
	t.mu.Unlock()
	if kicked != nil && kicked.code >= closeUnsupported && kicked.code <= closeTooBig {
		// A protocol error: the close frame is on its way, but the
		// client may still be sending (the rest of an oversized frame).
		// Closing with unread input would reset the connection and could
		// lose the close frame, so drain briefly first.
		nc := conn.NetConn()
		_ = nc.SetReadDeadline(time.Now().Add(time.Second))
		_, _ = io.Copy(io.Discard, io.LimitReader(nc, 16<<20))
	}
	conn.Close()
	// readLoop always ends with the reason the connection ended.
	if !isNormalClose(err) && ctx.Err() == nil {
		return err
	}
	return nil
}

func isNormalClose(err error) bool {
	return websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) ||
		errors.Is(err, context.Canceled) || errors.Is(err, errServerClosed)
}

var errServerClosed = errors.New("closed by the server")

// attach makes c one of the terminal's clients, positioned after hello
// (nil: a legacy client, from position 0).
func (t *Term) attach(c *client, hello *Hello, opts ServeOptions) {
	var resizeTo *Resize
	t.mu.Lock()
	if c.attached || c.gone || c.kick != nil {
		t.mu.Unlock()
		return
	}
	if c.role == Viewer && len(t.viewers) >= t.cfg.MaxViewers {
		c.kickLocked(CloseTooManyViewers, fmt.Sprintf("this terminal already has %d viewers", len(t.viewers)))
		t.mu.Unlock()
		return
	}
	c.attached = true
	c.legacy = hello == nil
	seq := uint64(0)
	if hello != nil {
		seq = hello.Seq
	}
	start, end := t.ring.Start(), t.ring.End()
	from, reset := seq, false
	if seq < start || seq > end {
		from, reset = start, true
	}
	if c.role == Viewer && end-from > uint64(t.cfg.Window) {
		from, reset = viewerTail(start, end, t.cfg.ResyncTail), true
	}
	c.sent, c.written, c.acked = from, from, from
	if c.role == Driver {
		if old := t.driver; old != nil {
			old.kickLocked(CloseReplaced, "another window took over this terminal")
		}
		t.driver = c
		t.stopGraceLocked()
		t.flow.Broadcast()
		if r := (Resize{opts.Cols, opts.Rows}); r.valid() && (r.Cols != t.cols || r.Rows != t.rows) {
			resizeTo = &r
		}
	} else {
		if t.viewers == nil {
			t.viewers = map[*client]struct{}{}
		}
		t.viewers[c] = struct{}{}
	}
	if !c.legacy {
		c.ctrl = append(c.ctrl, jsonFrame(OpHelloReply, HelloReply{Tab: t.tab, Seq: from, Reset: reset, Role: c.role, Cols: t.cols, Rows: t.rows}))
	}
	t.roleNoticesLocked()
	if c.role == Driver && !c.legacy && t.takeKept != nil {
		// Messages kept while the learner was away (Registry.MessageSession).
		for _, n := range t.takeKept() {
			c.ctrl = append(c.ctrl, jsonFrame(OpNotice, n))
		}
	}
	c.wakeup()
	t.mu.Unlock()
	if resizeTo != nil {
		t.resize(context.Background(), resizeTo.Cols, resizeTo.Rows)
	}
}

func viewerTail(start, end uint64, tail int) uint64 {
	if end-start <= uint64(tail) {
		return start
	}
	return end - uint64(tail)
}

// detach removes c from the terminal.
func (t *Term) detach(c *client) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c.gone = true
	switch {
	case t.driver == c:
		t.driver = nil
		t.flowPos = c.flowPosLocked()
		t.armGraceLocked()
		t.flow.Broadcast()
	case c.role == Viewer && c.attached:
		if _, ok := t.viewers[c]; ok {
			delete(t.viewers, c)
			if t.state == stateOpen {
				t.roleNoticesLocked()
			}
		}
	}
	if t.finished && t.driver == nil && len(t.viewers) == 0 {
		t.ring.release()
	}
}

// isDriver reports whether c's input reaches the shell.
func (t *Term) isDriver(c *client) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.driver == c && c.kick == nil && t.state == stateOpen && !c.closing.Load()
}

// readLoop reads client frames. It is the only reader of conn.
func (c *client) readLoop(ctx context.Context, opts ServeOptions) error {
	t, conn := c.t, c.conn
	conn.SetReadLimit(t.cfg.ReadLimit)
	alive := func() {
		if !c.closing.Load() {
			_ = conn.SetReadDeadline(time.Now().Add(t.cfg.PongWait))
		}
	}
	alive()
	conn.SetPongHandler(func(string) error { alive(); return nil })
	first := true
	var lastActivity time.Time
	for {
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				t.kick(c, closeTooBig, "frame too large")
			}
			return err
		}
		alive()
		if typ != websocket.BinaryMessage {
			t.kick(c, closeUnsupported, "binary frames only")
			return errors.New("client sent a text frame")
		}
		if len(msg) == 0 {
			continue
		}
		op, payload := msg[0], msg[1:]
		if first {
			first = false
			if op == OpHello {
				var h Hello
				if err := json.Unmarshal(payload, &h); err != nil {
					t.kick(c, closePolicy, "malformed hello")
					return errors.New("malformed hello frame")
				}
				t.attach(c, &h, opts)
				continue
			}
			t.attach(c, nil, opts)
		}
		switch op {
		case OpInput:
			if len(payload) == 0 || !t.isDriver(c) || ctx.Err() != nil {
				continue // viewers' keystrokes go nowhere, nor a signed-out driver's
			}
			if err := t.write(payload); err != nil {
				t.log.Debug("terminal input", "err", err)
			}
			if opts.OnActivity != nil && time.Since(lastActivity) > time.Minute {
				lastActivity = time.Now()
				opts.OnActivity()
			}
		case OpResize:
			var r Resize
			if err := json.Unmarshal(payload, &r); err != nil || !r.valid() {
				t.kick(c, closePolicy, "malformed resize")
				return errors.New("malformed resize frame")
			}
			if t.isDriver(c) && ctx.Err() == nil {
				t.resize(context.Background(), r.Cols, r.Rows)
			}
		case OpAck:
			if len(payload) != 8 {
				t.kick(c, closePolicy, "malformed ack")
				return errors.New("malformed ack frame")
			}
			t.ack(c, binary.BigEndian.Uint64(payload))
		case OpPing:
			if len(payload) != 8 {
				t.kick(c, closePolicy, "malformed ping")
				return errors.New("malformed ping frame")
			}
			t.mu.Lock()
			c.ctrl = append(c.ctrl, append([]byte{OpPong}, payload...))
			c.wakeup()
			t.mu.Unlock()
		default:
			// OpHello after the first frame, and opcodes from newer
			// clients: ignored.
		}
	}
}

// ack records that c has consumed output up to pos.
func (t *Term) ack(c *client, pos uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// A client cannot consume what it was not sent: clamp, so that a
	// lying client cannot switch flow control off.
	pos = min(pos, c.sent)
	c.ackSeen = true
	if pos > c.acked {
		c.acked = pos
		if t.driver == c {
			t.flow.Broadcast()
		}
	}
}

var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10+1); return &b }}

// outgoing is what the sender writes next.
type outgoing struct {
	frames [][]byte
	data   *[]byte // an output frame from framePool
	close  *closeMsg
	wait   time.Duration // coalescing: try again after this
}

func (o outgoing) empty() bool { return len(o.frames) == 0 && o.data == nil && o.close == nil }

// next decides what c's sender writes next.
func (c *client) next(now time.Time) (o outgoing) {
	t := c.t
	t.mu.Lock()
	defer t.mu.Unlock()
	o.frames, c.ctrl = c.ctrl, nil
	if c.kick != nil {
		o.close = c.kick
		return o
	}
	if t.state == stateClosed {
		o.close = &t.closing
		return o
	}
	if !c.attached {
		return o
	}
	start, end := t.ring.Start(), t.ring.End()
	if c.role == Viewer {
		base := c.sent
		if c.ackSeen && !c.legacy {
			base = c.acked
		}
		if c.sent < start || end-base > uint64(t.cfg.Window) {
			// Too slow: skip to the tail rather than hold anything up.
			c.sent = viewerTail(start, end, t.cfg.ResyncTail)
			c.acked, c.written = c.sent, c.sent
			if !c.legacy {
				o.frames = append(o.frames, jsonFrame(OpHelloReply, HelloReply{Tab: t.tab, Seq: c.sent, Reset: true, Role: Viewer, Cols: t.cols, Rows: t.rows}))
			}
		}
	} else if c.sent < start {
		// Only when flow control was suspended (a blocked paste) and
		// the driver could not keep up.
		c.sent = start
		c.acked, c.written = start, start
		if !c.legacy {
			o.frames = append(o.frames, jsonFrame(OpHelloReply, HelloReply{Tab: t.tab, Seq: start, Reset: true, Role: c.role, Cols: t.cols, Rows: t.rows}))
		}
	}
	if avail := end - c.sent; avail > 0 {
		if avail < uint64(t.cfg.MaxFrame) && t.state == stateOpen && c.lastLen >= smallFrame {
			if since := now.Sub(c.lastFlush); since < t.cfg.FlushDelay {
				o.wait = t.cfg.FlushDelay - since
				return o
			}
		}
		n := int(min(avail, uint64(t.cfg.MaxFrame)))
		bp := framePool.Get().(*[]byte)
		if cap(*bp) < n+1 {
			*bp = make([]byte, 0, n+1)
		}
		b := (*bp)[:n+1]
		b[0] = OpOutput
		t.ring.ReadAt(b[1:], c.sent)
		*bp = b
		c.sent += uint64(n)
		c.lastFlush, c.lastLen = now, n
		o.data = bp
		return o
	}
	if t.state == stateExited {
		o.frames = append(o.frames, jsonFrame(OpExit, ExitNotice{Code: t.exitCode}))
		o.close = &closeMsg{CloseNormal, "the shell exited"}
	}
	return o
}

// sendLoop is the only writer of conn (besides control frames).
func (c *client) sendLoop(ctx context.Context) {
	t, conn := c.t, c.conn
	ping := time.NewTicker(t.cfg.PingInterval)
	defer ping.Stop()
	var timer *time.Timer
	var timerC <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	write := func(frame []byte) bool {
		_ = conn.SetWriteDeadline(time.Now().Add(writeWait))
		if err := conn.WriteMessage(websocket.BinaryMessage, frame); err != nil {
			conn.Close() // unblocks the read loop
			return false
		}
		return true
	}
	for {
		select {
		case <-c.wake:
		case <-timerC:
			timerC = nil
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				conn.Close()
				return
			}
			continue
		case <-c.quit:
			// The read loop ended: nothing more to send unless it left a
			// close frame to write.
			t.mu.Lock()
			k := c.kick
			t.mu.Unlock()
			if k != nil {
				c.writeClose(k.code, k.text)
			}
			return
		case <-ctx.Done():
			code, text := CloseGoingAway, "server shutting down"
			var ce *CloseError
			if errors.As(context.Cause(ctx), &ce) {
				code, text = ce.Code, ce.Text
			}
			c.writeClose(code, text)
			return
		}
		for {
			o := c.next(time.Now())
			for _, f := range o.frames {
				if !write(f) {
					return
				}
			}
			if o.data != nil {
				ok := write(*o.data)
				framePool.Put(o.data)
				if !ok {
					return
				}
				t.mu.Lock()
				c.written = c.sent
				if c.legacy && t.driver == c {
					t.flow.Broadcast()
				}
				t.mu.Unlock()
			}
			if o.close != nil {
				c.writeClose(o.close.code, o.close.text)
				return
			}
			if o.wait > 0 && timerC == nil {
				if timer == nil {
					timer = time.NewTimer(o.wait)
				} else {
					timer.Reset(o.wait)
				}
				timerC = timer.C
			}
			// Until there is nothing left to do: a wakeup that came while
			// this one was pending (the shell's exit right after its last
			// output) was merged into it.
			if o.empty() {
				break
			}
		}
	}
}

// writeClose sends a close frame and gives the client a moment to answer
// before the read loop gives up.
func (c *client) writeClose(code int, text string) {
	// A control frame carries at most 125 bytes, two of them the code: a
	// longer text would make the write fail and lose the code too.
	if len(text) > maxCloseText {
		text = strings.ToValidUTF8(text[:maxCloseText], "")
	}
	c.closing.Store(true)
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	_ = c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
}
