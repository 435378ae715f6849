package app

import (
	"context"
	"testing"

	"github.com/opsdojo/opsdojo/internal/metrics"
	"github.com/opsdojo/opsdojo/internal/sandbox"
	"github.com/opsdojo/opsdojo/internal/session"
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
}
