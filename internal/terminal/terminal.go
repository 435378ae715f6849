// Package terminal bridges a browser's websocket to an interactive exec in a
// learner's container.
//
// Frames are binary; the first byte is an ASCII opcode and the rest its
// payload. Client to server: '0' input bytes, '1' JSON {"cols","rows"}.
// Server to client: '0' output bytes. Unknown client opcodes are ignored so
// that newer clients can talk to this server; see docs/architecture.md.
package terminal

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Opcodes.
const (
	OpInput  byte = '0'
	OpResize byte = '1'
	OpOutput byte = '0'
)

// TTY is the exec on the other end.
type TTY interface {
	io.ReadWriteCloser
	Resize(ctx context.Context, cols, rows uint) error
}

// Options tune a bridge.
type Options struct {
	// ReadLimit caps one client frame; a larger frame closes the socket.
	ReadLimit int64
	// PingInterval is how often the server pings; a client silent for
	// PongWait is gone.
	PingInterval time.Duration
	PongWait     time.Duration
	// OnActivity is called, at most once a minute, while the learner types.
	OnActivity func()
	Log        *slog.Logger
}

func (o *Options) defaults() {
	if o.ReadLimit <= 0 {
		o.ReadLimit = 256 << 10
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 20 * time.Second
	}
	if o.PongWait <= 0 {
		o.PongWait = 2*o.PingInterval + 5*time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

const writeWait = 10 * time.Second

// Resize is the payload of OpResize.
type Resize struct {
	Cols uint `json:"cols"`
	Rows uint `json:"rows"`
}

// Serve runs the bridge until the client leaves, the shell exits or ctx ends
// (server shutdown). It closes the TTY and the socket before returning.
func Serve(ctx context.Context, conn *websocket.Conn, tty TTY, opts Options) error {
	opts.defaults()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	out := make(chan []byte, 4)
	closing := make(chan websocket.CloseError, 1)
	var wg sync.WaitGroup

	// The only writer to conn.
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer conn.Close()
		ping := time.NewTicker(opts.PingInterval)
		defer ping.Stop()
		for {
			select {
			case frame, ok := <-out:
				if !ok {
					return
				}
				_ = conn.SetWriteDeadline(time.Now().Add(writeWait))
				if err := conn.WriteMessage(websocket.BinaryMessage, frame); err != nil {
					cancel()
					return
				}
			case <-ping.C:
				if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
					cancel()
					return
				}
			case ce := <-closing:
				_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(ce.Code, ce.Text), time.Now().Add(time.Second))
				return
			case <-ctx.Done():
				_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
				return
			}
		}
	}()
	sendClose := func(code int, text string) {
		select {
		case closing <- websocket.CloseError{Code: code, Text: text}:
		default:
		}
	}

	// TTY output to the client. A slow client blocks this send, so the
	// server stops reading from Docker instead of buffering without bound.
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := tty.Read(buf)
			if n > 0 {
				frame := make([]byte, n+1)
				frame[0] = OpOutput
				copy(frame[1:], buf[:n])
				select {
				case out <- frame:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				sendClose(websocket.CloseNormalClosure, "the shell exited")
				cancel()
				return
			}
		}
	}()

	// Client frames. Reads happen in this goroutine only; a read that fails
	// (deadline, bad frame, close) ends the bridge.
	conn.SetReadLimit(opts.ReadLimit)
	_ = conn.SetReadDeadline(time.Now().Add(opts.PongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(opts.PongWait)) })
	readErr := make(chan error, 1)
	go func() {
		readErr <- readLoop(ctx, conn, tty, opts, sendClose)
	}()
	var err error
	select {
	case err = <-readErr:
	case <-ctx.Done():
	}
	cancel()
	tty.Close()
	conn.Close() // unblocks the read loop
	wg.Wait()
	if err != nil && !isNormalClose(err) {
		return err
	}
	return nil
}

func readLoop(ctx context.Context, conn *websocket.Conn, tty TTY, opts Options, sendClose func(int, string)) error {
	var lastActivity time.Time
	for {
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				sendClose(websocket.CloseMessageTooBig, "frame too large")
			}
			return err
		}
		if typ != websocket.BinaryMessage {
			sendClose(websocket.CloseUnsupportedData, "binary frames only")
			return errors.New("client sent a text frame")
		}
		if len(msg) == 0 {
			continue
		}
		switch msg[0] {
		case OpInput:
			if _, err := tty.Write(msg[1:]); err != nil {
				return err
			}
			if opts.OnActivity != nil && time.Since(lastActivity) > time.Minute {
				lastActivity = time.Now()
				opts.OnActivity()
			}
		case OpResize:
			var r Resize
			if err := json.Unmarshal(msg[1:], &r); err != nil || r.Cols == 0 || r.Rows == 0 || r.Cols > 1000 || r.Rows > 1000 {
				sendClose(websocket.ClosePolicyViolation, "malformed resize")
				return errors.New("malformed resize frame")
			}
			if err := tty.Resize(ctx, r.Cols, r.Rows); err != nil {
				opts.Log.Warn("terminal resize", "err", err)
			}
		default:
			// Opcodes from newer clients: ignored.
		}
	}
}

func isNormalClose(err error) bool {
	return websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) ||
		errors.Is(err, context.Canceled)
}
