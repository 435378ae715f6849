package app

import (
	"context"
	"testing"

	"github.com/opsdojo/opsdojo/internal/metrics"
	"github.com/opsdojo/opsdojo/internal/sandbox"
	"github.com/opsdojo/opsdojo/internal/session"
	"github.com/opsdojo/opsdojo/internal/terminal"
)

// The session manager looks for saved homes and the editor by type
// assertion on its sandbox; the metrics wrapper once hid both, and the
// server refused to start.
func TestObservedSandboxKeepsOptionalAbilities(t *testing.T) {
	var box session.Sandbox = observeSandbox(&sandbox.Engine{}, metrics.New(metrics.Version{}))
	if _, ok := box.(session.HomeSandbox); !ok {
		t.Error("the observed sandbox cannot save homes")
	}
	if _, ok := box.(session.WorkspaceBox); !ok {
		t.Error("the observed sandbox cannot serve the editor")
	}
	if _, ok := box.(interface {
		LearnerContainersUsage(ctx context.Context, sessionID string) (int64, error)
	}); !ok {
		t.Error("the observed sandbox cannot measure learners' own containers")
	}
	if _, ok := box.(interface {
		LearnerVolumesUsage(ctx context.Context, sessionID string) (int64, error)
	}); !ok {
		t.Error("the observed sandbox cannot measure learners' volumes")
	}
}

// The terminal reads a shell's exit code through terminal.ExitCoder; the
// byte-counting wrapper once hid it and every exit read as code 0.
func TestCountedTTYKeepsTheExitCode(t *testing.T) {
	var tty sandbox.Terminal = countedTTY{Terminal: exitTTY{code: 3}}
	ec, ok := tty.(terminal.ExitCoder)
	if !ok {
		t.Fatal("the counted terminal hides its exit code")
	}
	if c, err := ec.ExitCode(context.Background()); err != nil || c != 3 {
		t.Fatalf("exit code %d, %v; want 3", c, err)
	}
}

type exitTTY struct {
	sandbox.Terminal
	code int
}

func (e exitTTY) ExitCode(context.Context) (int, error) { return e.code, nil }
