package session

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/grading"
)

// TestBuildImagesOutliveRestart: the images a session's builds made are
// removed when it ends, even by a manager started after the one that ran
// the builds (a server restart forgets everything in memory).
func TestBuildImagesOutliveRestart(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{TTL: time.Hour})
	s := e.start(t, e.alice, "git")
	e.box.buildImages = []string{"sha256:stage1", "sha256:final"}
	target := e.m.target(s)
	if _, err := target.Engine.Build(ctx, grading.BuildRequest{Session: s.ID, Tag: "x"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.st.SessionImages(ctx, s.ID); !slices.Equal(got, e.box.buildImages) {
		t.Fatalf("recorded %v", got)
	}

	restarted := New(e.st, e.box, e.images, testCatalog(), e.grader, Config{TTL: time.Hour}, slog.New(slog.DiscardHandler))
	if _, err := restarted.End(ctx, e.alice, s.ID); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.box.imageIDsRemoved, []string{"sha256:stage1", "sha256:final"}) {
		t.Fatalf("removed %v", e.box.imageIDsRemoved)
	}
	if got, _ := e.st.SessionImages(ctx, s.ID); len(got) != 0 {
		t.Fatalf("still recorded after the end: %v", got)
	}
}
