package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// ExecRequest is a command to run in a container without a TTY.
type ExecRequest struct {
	Cmd []string
	// User runs the command (a name or uid[:gid] of the image). It is
	// required: the container's own user is root (InitUser), and a
	// forgotten user must fail, not run as root.
	User    string
	Env     []string
	WorkDir string
	// Stdin, when set, is streamed to the command and then closed.
	Stdin io.Reader
	// MaxOutput caps what is kept of stdout and of stderr (default 1 MiB);
	// the rest is read and dropped so a chatty command never blocks.
	MaxOutput int
}

// ExecResult is what a finished command left behind.
type ExecResult struct {
	ExitCode  int
	Stdout    []byte
	Stderr    []byte
	Truncated bool
}

// Exec runs a command to completion. When ctx ends first the stream is cut
// and ctx's error returned; the command itself is bounded by whatever the
// caller wrapped it in (see grading's use of timeout(1)).
func (e *Engine) Exec(ctx context.Context, containerID string, req ExecRequest) (ExecResult, error) {
	var res ExecResult
	if err := requireUser(req.User, req.Cmd); err != nil {
		return res, err
	}
	created, err := e.cli.ContainerExecCreate(ctx, containerID, container.ExecOptions{
		User:         req.User,
		Cmd:          req.Cmd,
		Env:          req.Env,
		WorkingDir:   req.WorkDir,
		AttachStdin:  req.Stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return res, engineErr(err, "create exec")
	}
	hj, err := e.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return res, engineErr(err, "attach exec")
	}
	defer hj.Close()
	stop := context.AfterFunc(ctx, func() { hj.Close() })
	defer stop()

	var wg sync.WaitGroup
	if req.Stdin != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = io.Copy(hj.Conn, req.Stdin)
			_ = hj.CloseWrite()
		}()
	}
	limit := req.MaxOutput
	if limit <= 0 {
		limit = 1 << 20
	}
	stdout, stderr := &capped{max: limit}, &capped{max: limit}
	_, copyErr := stdcopy.StdCopy(stdout, stderr, hj.Reader)
	hj.Close()
	wg.Wait()
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if copyErr != nil {
		return res, fmt.Errorf("read exec output: %w", copyErr)
	}
	res.Stdout, res.Stderr = stdout.buf.Bytes(), stderr.buf.Bytes()
	res.Truncated = stdout.dropped || stderr.dropped
	code, err := e.exitCode(ctx, created.ID)
	res.ExitCode = code
	return res, err
}

// requireUser refuses an exec that names no user: the engine would run it
// as the container's user, root.
func requireUser(user string, cmd []string) error {
	if strings.TrimSpace(user) == "" {
		return fmt.Errorf("exec %q: no user given; execs must name their user (the container's own is root)", cmd)
	}
	return nil
}

// exitCode waits for the exec to be reported finished: the stream can end a
// moment before the engine records the exit.
func (e *Engine) exitCode(ctx context.Context, execID string) (int, error) {
	for i := 0; ; i++ {
		info, err := e.cli.ContainerExecInspect(ctx, execID)
		if err != nil {
			return -1, engineErr(err, "inspect exec")
		}
		if !info.Running {
			return info.ExitCode, nil
		}
		if i > 200 {
			return -1, fmt.Errorf("exec %s still running after its output closed", execID)
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

type capped struct {
	buf     bytes.Buffer
	max     int
	dropped bool
}

func (c *capped) Write(p []byte) (int, error) {
	room := c.max - c.buf.Len()
	if room < len(p) {
		c.dropped = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return c.buf.Write(p)
}

// TTYRequest is an interactive command to run with a pseudo-terminal.
type TTYRequest struct {
	Cmd []string
	// User is required, as for ExecRequest.
	User    string
	Env     []string
	WorkDir string
	Cols    uint
	Rows    uint
}

// TTY is an interactive exec: reads return the terminal's output, writes
// are keystrokes.
type TTY struct {
	e      *Engine
	execID string
	hj     types.HijackedResponse
	// marker is an environment variable unique to this exec: Docker does
	// not kill an exec's processes when its stream closes, so Close finds
	// them by it.
	marker      string
	containerID string
	closeOnce   sync.Once
}

// Terminal is an interactive exec as its users see it.
type Terminal interface {
	io.ReadWriteCloser
	Resize(ctx context.Context, cols, rows uint) error
}

// OpenTTY starts cmd with a TTY and attaches to it.
func (e *Engine) OpenTTY(ctx context.Context, containerID string, req TTYRequest) (Terminal, error) {
	if err := requireUser(req.User, req.Cmd); err != nil {
		return nil, err
	}
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	marker := fmt.Sprintf("OPSDOJO_TTY=%d-%x", time.Now().UnixNano(), nonce)
	opts := container.ExecOptions{
		User:         req.User,
		Cmd:          req.Cmd,
		Env:          append(append([]string{}, req.Env...), marker),
		WorkingDir:   req.WorkDir,
		Tty:          true,
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
	}
	if req.Cols > 0 && req.Rows > 0 {
		opts.ConsoleSize = &[2]uint{req.Rows, req.Cols}
	}
	created, err := e.cli.ContainerExecCreate(ctx, containerID, opts)
	if err != nil {
		return nil, engineErr(err, "create terminal exec")
	}
	hj, err := e.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{Tty: true, ConsoleSize: opts.ConsoleSize})
	if err != nil {
		return nil, engineErr(err, "attach terminal exec")
	}
	// Read the connection itself: nothing has been read through hj.Reader
	// yet, and dropping it frees its 4 KiB buffer for as long as the
	// terminal lives.
	hj.Reader = nil
	t := &TTY{e: e, execID: created.ID, hj: hj, marker: marker, containerID: containerID}
	if req.Cols > 0 && req.Rows > 0 {
		// Older engines ignore ConsoleSize; a resize is understood by all.
		_ = t.Resize(ctx, req.Cols, req.Rows)
	}
	return t, nil
}

// Read returns terminal output.
func (t *TTY) Read(p []byte) (int, error) { return t.hj.Conn.Read(p) }

// Write sends keystrokes.
func (t *TTY) Write(p []byte) (int, error) { return t.hj.Conn.Write(p) }

// ExitCode returns the command's exit status once its output has ended.
func (t *TTY) ExitCode(ctx context.Context) (int, error) { return t.e.exitCode(ctx, t.execID) }

// Resize changes the terminal's window size.
func (t *TTY) Resize(ctx context.Context, cols, rows uint) error {
	if err := t.e.cli.ContainerExecResize(ctx, t.execID, container.ResizeOptions{Width: cols, Height: rows}); err != nil {
		return engineErr(err, "resize terminal")
	}
	return nil
}

// Close detaches and hangs up the exec's processes (the shell and whatever
// runs in it), as closing a terminal window would.
func (t *TTY) Close() error {
	var err error
	t.closeOnce.Do(func() {
		t.hj.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// Run as the learner: without CAP_SYS_PTRACE, root in the container
		// cannot read another user's /proc/PID/environ.
		script := `for d in /proc/[0-9]*; do
  if tr '\0' '\n' < "$d/environ" 2>/dev/null | grep -qx "$1"; then kill -HUP "${d#/proc/}" 2>/dev/null; fi
done; exit 0`
		_, err = t.e.Exec(ctx, t.containerID, ExecRequest{Cmd: []string{"bash", "-c", script, "hangup", t.marker}, User: LearnerUser})
	})
	return err
}
