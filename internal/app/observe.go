package app

import (
	"context"
	"io"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/metrics"
	"github.com/opsdojo/opsdojo/internal/sandbox"
	"github.com/opsdojo/opsdojo/internal/session"
)

// observedSandbox counts the engine's failures and the terminals' bytes
// on their way between the session manager and the engine, so neither
// package needs to know about metrics.
//
// The manager finds optional abilities (saved homes, the editor) by type
// assertion, so the wrapper must carry them too: it takes an engine that
// has them all, and the ones it does not observe pass straight through.
type observedSandbox struct {
	fullSandbox
	mx *metrics.Metrics
}

// fullSandbox is everything the session manager can ask of the engine.
type fullSandbox interface {
	session.Sandbox
	session.HomeSandbox
	session.WorkspaceBox
	// The web preview of the learner's docker containers (preview_docker.go).
	session.DockerPreviewBox
	// LearnerContainersUsage: the disk quota counts containers a learner
	// ran with their docker CLI (session/docker.go).
	LearnerContainersUsage(ctx context.Context, sessionID string) (int64, error)
	// LearnerVolumesUsage: and the contents of their volumes
	// (session/quota.go).
	LearnerVolumesUsage(ctx context.Context, sessionID string) (int64, error)
}

func observeSandbox(box fullSandbox, mx *metrics.Metrics) fullSandbox {
	return observedSandbox{fullSandbox: box, mx: mx}
}

func (o observedSandbox) Create(ctx context.Context, spec sandbox.Spec) (sandbox.Box, error) {
	b, err := o.fullSandbox.Create(ctx, spec)
	o.mx.EngineError("create", err)
	return b, err
}

func (o observedSandbox) Remove(ctx context.Context, box sandbox.Box) error {
	err := o.fullSandbox.Remove(ctx, box)
	o.mx.EngineError("remove", err)
	return err
}

func (o observedSandbox) EnsureRunning(ctx context.Context, containerID string) error {
	err := o.fullSandbox.EnsureRunning(ctx, containerID)
	o.mx.EngineError("ensure_running", err)
	return err
}

func (o observedSandbox) Exec(ctx context.Context, containerID string, req sandbox.ExecRequest) (sandbox.ExecResult, error) {
	r, err := o.fullSandbox.Exec(ctx, containerID, req)
	o.mx.EngineError("exec", err)
	return r, err
}

func (o observedSandbox) OpenTTY(ctx context.Context, containerID string, req sandbox.TTYRequest) (sandbox.Terminal, error) {
	t, err := o.fullSandbox.OpenTTY(ctx, containerID, req)
	o.mx.EngineError("open_tty", err)
	if err != nil {
		return t, err
	}
	return countedTTY{Terminal: t, out: o.mx.TerminalBytes.WithLabelValues("output"), in: o.mx.TerminalBytes.WithLabelValues("input")}, nil
}

func (o observedSandbox) Containers(ctx context.Context) ([]sandbox.Owned, error) {
	c, err := o.fullSandbox.Containers(ctx)
	o.mx.EngineError("list_containers", err)
	return c, err
}

func (o observedSandbox) Networks(ctx context.Context) ([]sandbox.Owned, error) {
	n, err := o.fullSandbox.Networks(ctx)
	o.mx.EngineError("list_networks", err)
	return n, err
}

func (o observedSandbox) ReadFile(ctx context.Context, containerID, name string, limit int64) ([]byte, error) {
	b, err := o.fullSandbox.ReadFile(ctx, containerID, name, limit)
	o.mx.EngineError("read_file", err)
	return b, err
}

func (o observedSandbox) Archive(ctx context.Context, containerID, dir string, w io.Writer, limit int64) error {
	err := o.fullSandbox.Archive(ctx, containerID, dir, w, limit)
	o.mx.EngineError("archive", err)
	return err
}

func (o observedSandbox) DiskUsage(ctx context.Context, containerID string) (int64, error) {
	n, err := o.fullSandbox.DiskUsage(ctx, containerID)
	o.mx.EngineError("disk_usage", err)
	return n, err
}

func (o observedSandbox) Build(ctx context.Context, req grading.BuildRequest) (grading.BuildResult, error) {
	r, err := o.fullSandbox.Build(ctx, req)
	o.mx.EngineError("build", err)
	return r, err
}

func (o observedSandbox) Probe(ctx context.Context, req grading.ProbeRequest) (grading.ProbeResult, error) {
	r, err := o.fullSandbox.Probe(ctx, req)
	o.mx.EngineError("probe", err)
	return r, err
}

// countedTTY counts what passes through a terminal's exec.
type countedTTY struct {
	sandbox.Terminal
	out, in prometheus.Counter
}

func (t countedTTY) Read(p []byte) (int, error) {
	n, err := t.Terminal.Read(p)
	t.out.Add(float64(n))
	return n, err
}

func (t countedTTY) Write(p []byte) (int, error) {
	n, err := t.Terminal.Write(p)
	t.in.Add(float64(n))
	return n, err
}

// ExitCode passes the exec's exit status through: the terminal tells the
// learner "shell exited (code N)" from it (terminal.ExitCoder).
func (t countedTTY) ExitCode(ctx context.Context) (int, error) {
	ec, ok := t.Terminal.(interface {
		ExitCode(ctx context.Context) (int, error)
	})
	if !ok {
		return 0, nil
	}
	return ec.ExitCode(ctx)
}
