// Package terminal keeps learners' shells and bridges them to websockets.
//
// A Term is one interactive exec (the learner's `bash -l`). It outlives the
// websockets that show it: its output goes into a ring buffer indexed by
// absolute byte position, so a client that reconnects says where it was
// (hello) and gets exactly what it missed. One pump goroutine reads the
// exec; it stops reading while the driver (the learner's connection) is
// more than a window of unacknowledged bytes behind, so heavy output
// cannot flood the browser or the server. Any number of viewers watch the
// same output; a slow viewer is resynced and never slows the pump.
//
// The wire protocol is in docs/terminal-protocol.md.
package terminal

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// TTY is the exec on the other end.
type TTY interface {
	io.ReadWriteCloser
	Resize(ctx context.Context, cols, rows uint) error
}

// ExitCoder is a TTY that can tell how its command exited, once its output
// has ended.
type ExitCoder interface {
	ExitCode(ctx context.Context) (int, error)
}

// Config tunes terminals. Zero fields take the defaults.
type Config struct {
	// BufferSize is the ring buffer of output kept per terminal (1 MiB).
	BufferSize int
	// Window is how far the pump may run ahead of the driver's last ack
	// (512 KiB); at most half of BufferSize.
	Window int
	// MaxFrame caps an output frame's payload (32 KiB).
	MaxFrame int
	// FlushDelay is how long output may wait to be coalesced while it
	// streams (3 ms). Output after a quiet moment is sent at once.
	FlushDelay time.Duration
	// ResyncTail is how much of the buffer a resynced viewer gets (64 KiB).
	ResyncTail int
	// Grace is how long a terminal lives without a driver (10 min).
	Grace time.Duration
	// ReadLimit caps a client frame, opcode included (64 KiB + 1).
	ReadLimit int64
	// PingInterval is how often the server pings; a client silent for
	// PongWait is gone.
	PingInterval time.Duration
	PongWait     time.Duration
	// HelloWait is how long the server waits for a client's first frame
	// before it treats the client as a legacy one (2 s).
	HelloWait time.Duration
	// MaxViewers caps the viewers of one terminal (16): each costs the
	// server a socket and a sender, and a watched learner should not be
	// watched by a crowd.
	MaxViewers int
}

func (c *Config) defaults() {
	if c.BufferSize <= 0 {
		c.BufferSize = 1 << 20
	}
	if c.Window <= 0 {
		c.Window = 512 << 10
	}
	c.Window = max(min(c.Window, c.BufferSize/2), 1)
	if c.MaxFrame <= 0 {
		c.MaxFrame = 32 << 10
	}
	if c.FlushDelay <= 0 {
		c.FlushDelay = 3 * time.Millisecond
	}
	if c.ResyncTail <= 0 {
		c.ResyncTail = 64 << 10
	}
	c.ResyncTail = min(c.ResyncTail, c.Window/2)
	if c.Grace <= 0 {
		c.Grace = 10 * time.Minute
	}
	if c.ReadLimit <= 0 {
		c.ReadLimit = 64<<10 + 1
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 20 * time.Second
	}
	if c.PongWait <= 0 {
		c.PongWait = 2*c.PingInterval + 5*time.Second
	}
	if c.MaxViewers <= 0 {
		c.MaxViewers = 16
	}
	if c.HelloWait <= 0 {
		c.HelloWait = 2 * time.Second
	}
}

// Options describe one terminal.
type Options struct {
	Tab        string
	Cols, Rows uint
	// Recorder, if set, gets the output and resizes; the terminal closes it.
	Recorder *Recorder
	Log      *slog.Logger
	// OnClose is called once the terminal has finished: the shell exited
	// or the terminal was closed, the TTY is closed, the recording too.
	OnClose func(*Term)
	// TakeKept, if set, returns (and forgets) the notices kept for the
	// learner while nobody was at the session's terminals
	// (Registry.MessageSession); the next driver gets them after hello.
	// Called with the terminal's lock held: it must not call back.
	TakeKept func() []Notice
}

type termState int

const (
	stateOpen   termState = iota
	stateExited           // the shell exited; clients drain, get the exit notice, close 1000
	stateClosed           // closed by the server; clients get closeMsg at once
)

type closeMsg struct {
	code int
	text string
}

// Term is one shell and the connections that show it.
type Term struct {
	tab      string
	tty      TTY
	cfg      Config
	rec      *Recorder
	log      *slog.Logger
	onClose  func(*Term)
	takeKept func() []Notice
	created  time.Time

	mu         sync.Mutex
	flow       *sync.Cond // the pump waits on it while the driver is a window behind
	ring       ring
	cols       uint
	rows       uint
	driver     *client
	viewers    map[*client]struct{}
	flowPos    uint64      // the last driver's ack, while there is no driver
	inputBusy  int         // input writes in progress
	inputStuck bool        // one of them has been blocked for a while: the pump does not pause
	inputTimer *time.Timer // sets inputStuck
	state      termState
	exitCode   int
	closing    closeMsg
	grace      *time.Timer
	graceGen   int
	finished   bool

	ttyOnce sync.Once
	done    chan struct{}
}

// New starts the pump of a terminal around tty. The terminal has no driver
// yet: unless one attaches within the grace period it closes.
func New(tty TTY, cfg Config, opts Options) *Term {
	cfg.defaults()
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Cols == 0 || opts.Rows == 0 {
		opts.Cols, opts.Rows = 80, 24
	}
	t := &Term{tab: opts.Tab, tty: tty, cfg: cfg, rec: opts.Recorder, log: opts.Log, onClose: opts.OnClose, takeKept: opts.TakeKept,
		created: time.Now(), ring: newRing(cfg.BufferSize), cols: opts.Cols, rows: opts.Rows, done: make(chan struct{})}
	t.flow = sync.NewCond(&t.mu)
	t.mu.Lock()
	t.armGraceLocked()
	t.mu.Unlock()
	go t.pump()
	return t
}

// Tab is the terminal's name within its session.
func (t *Term) Tab() string { return t.tab }

// Done is closed when the terminal has finished.
func (t *Term) Done() <-chan struct{} { return t.done }

// Info describes a terminal for listings.
type Info struct {
	Tab     string    `json:"tab"`
	Created time.Time `json:"created_at"`
	Cols    uint      `json:"cols"`
	Rows    uint      `json:"rows"`
	// Seq is the output position: bytes the shell has printed so far.
	Seq       uint64 `json:"seq"`
	Connected bool   `json:"connected"` // a driver is attached
	Viewers   int    `json:"viewers"`
}

// Info returns the terminal's state.
func (t *Term) Info() Info {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Info{Tab: t.tab, Created: t.created.UTC(), Cols: t.cols, Rows: t.rows, Seq: t.ring.End(), Connected: t.driver != nil, Viewers: len(t.viewers)}
}

// Finished reports whether the shell has exited or the terminal was closed.
func (t *Term) Finished() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state != stateOpen
}

// Close hangs the shell up. Connected clients get code and text as their
// close frame. It does not wait; see Done.
func (t *Term) Close(code int, text string) {
	t.mu.Lock()
	if t.state != stateOpen {
		t.mu.Unlock()
		return
	}
	t.state = stateClosed
	t.closing = closeMsg{code, text}
	t.stopGraceLocked()
	t.wakeAllLocked()
	t.flow.Broadcast()
	t.mu.Unlock()
	go t.closeTTY()
}

func (t *Term) closeTTY() {
	t.ttyOnce.Do(func() {
		if err := t.tty.Close(); err != nil {
			t.log.Debug("close terminal exec", "err", err)
		}
	})
}

// pausedLocked reports whether the pump must wait for the driver.
func (t *Term) pausedLocked() bool {
	if t.inputStuck {
		// A large paste may be blocked on a program that is itself blocked
		// writing output, while the driver's acks wait behind the paste:
		// reading on is what unblocks both.
		return false
	}
	pos := t.flowPos
	if d := t.driver; d != nil {
		pos = d.flowPosLocked()
	}
	return t.ring.End()-pos > uint64(t.cfg.Window)
}

var bigReadPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// pump is the only reader of the TTY.
func (t *Term) pump() {
	small := make([]byte, 512)
	buf := small
	var big *[]byte
	var err error
	for {
		t.mu.Lock()
		for t.state == stateOpen && t.pausedLocked() {
			t.flow.Wait()
		}
		open := t.state == stateOpen
		t.mu.Unlock()
		if !open {
			break
		}
		var n int
		n, err = t.tty.Read(buf)
		if n > 0 {
			t.mu.Lock()
			t.ring.Write(buf[:n])
			t.wakeAllLocked()
			t.mu.Unlock()
			if t.rec != nil {
				t.rec.Output(buf[:n])
			}
		}
		// Read into a small buffer while the shell is quiet, a large one
		// while output streams.
		switch {
		case big == nil && n == len(buf):
			big = bigReadPool.Get().(*[]byte)
			buf = *big
		case big != nil && n < len(small):
			bigReadPool.Put(big)
			big, buf = nil, small
		}
		if err != nil {
			break
		}
	}
	if big != nil {
		bigReadPool.Put(big)
	}
	t.finish()
}

// finish runs once the pump has stopped.
func (t *Term) finish() {
	t.mu.Lock()
	exited := t.state == stateOpen
	t.mu.Unlock()
	code := -1
	if exited {
		if ec, ok := t.tty.(ExitCoder); ok {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if c, err := ec.ExitCode(ctx); err == nil {
				code = c
			} else {
				t.log.Debug("terminal exit code", "err", err)
			}
			cancel()
		} else {
			code = 0
		}
	}
	t.mu.Lock()
	if t.state == stateOpen {
		t.state = stateExited
		t.exitCode = code
		t.wakeAllLocked()
	}
	t.stopGraceLocked()
	if t.inputTimer != nil {
		t.inputTimer.Stop()
	}
	t.mu.Unlock()
	t.closeTTY()
	if t.rec != nil {
		if _, err := t.rec.Close(); err != nil {
			t.log.Warn("close terminal recording", "err", err)
		}
	}
	t.mu.Lock()
	t.finished = true
	if t.driver == nil && len(t.viewers) == 0 {
		t.ring.release()
	}
	t.mu.Unlock()
	if t.onClose != nil {
		t.onClose(t)
	}
	close(t.done)
}

func (t *Term) wakeAllLocked() {
	if t.driver != nil {
		t.driver.wakeup()
	}
	for v := range t.viewers {
		v.wakeup()
	}
}

func (t *Term) armGraceLocked() {
	t.stopGraceLocked()
	if t.state != stateOpen {
		return
	}
	t.graceGen++
	gen := t.graceGen
	t.grace = time.AfterFunc(t.cfg.Grace, func() {
		t.mu.Lock()
		expired := t.graceGen == gen && t.driver == nil
		t.mu.Unlock()
		if expired {
			t.log.Info("terminal closed after its grace period", "tab", t.tab)
			t.Close(CloseNormal, "the terminal was closed: nobody used it")
		}
	})
}

func (t *Term) stopGraceLocked() {
	if t.grace != nil {
		t.grace.Stop()
		t.grace = nil
	}
	t.graceGen++
}

// Notify sends a notice to every client that speaks the v2 protocol (the
// driver and viewers); legacy clients get nothing.
func (t *Term) Notify(n Notice) {
	frame := jsonFrame(OpNotice, n)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.eachClientLocked(func(c *client) {
		c.ctrl = append(c.ctrl, frame)
		c.wakeup()
	})
}

// notifyHasDriver is Notify, reporting whether a driver that reads
// control frames got it.
func (t *Term) notifyHasDriver(n Notice) bool {
	frame := jsonFrame(OpNotice, n)
	t.mu.Lock()
	defer t.mu.Unlock()
	got := false
	t.eachClientLocked(func(c *client) {
		c.ctrl = append(c.ctrl, frame)
		c.wakeup()
		got = got || c == t.driver
	})
	return got
}

// eachClientLocked calls f for every attached client that takes control
// frames.
func (t *Term) eachClientLocked(f func(c *client)) {
	if d := t.driver; d != nil && d.attached && !d.legacy {
		f(d)
	}
	for v := range t.viewers {
		if v.attached && !v.legacy {
			f(v)
		}
	}
}

// roleNoticesLocked tells every client its role, the number of viewers and
// the window size.
func (t *Term) roleNoticesLocked() {
	n := len(t.viewers)
	t.eachClientLocked(func(c *client) {
		c.ctrl = append(c.ctrl, jsonFrame(OpRole, RoleNotice{Role: c.role, Viewers: n, Cols: t.cols, Rows: t.rows}))
		c.wakeup()
	})
}

// resize applies the driver's window size.
func (t *Term) resize(ctx context.Context, cols, rows uint) {
	t.mu.Lock()
	if t.state != stateOpen || (cols == t.cols && rows == t.rows) {
		t.mu.Unlock()
		return
	}
	t.cols, t.rows = cols, rows
	t.roleNoticesLocked()
	t.mu.Unlock()
	if err := t.tty.Resize(ctx, cols, rows); err != nil {
		t.log.Warn("terminal resize", "err", err)
	}
	if t.rec != nil {
		t.rec.Resize(cols, rows)
	}
}

// inputStuckAfter is how long an input write may block before flow
// control is suspended.
const inputStuckAfter = 20 * time.Millisecond

// write sends the driver's input to the shell.
func (t *Term) write(p []byte) error {
	t.mu.Lock()
	t.inputBusy++
	if t.inputTimer == nil {
		t.inputTimer = time.AfterFunc(inputStuckAfter, t.checkInputStuck)
	} else {
		t.inputTimer.Reset(inputStuckAfter)
	}
	t.mu.Unlock()
	_, err := t.tty.Write(p)
	t.mu.Lock()
	t.inputBusy--
	if t.inputBusy == 0 {
		t.inputStuck = false
	}
	t.mu.Unlock()
	return err
}

func (t *Term) checkInputStuck() {
	t.mu.Lock()
	if t.inputBusy > 0 {
		t.inputStuck = true
		t.flow.Broadcast()
	}
	t.mu.Unlock()
}
