package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// recordingEngine is a BuildEngine that builds nothing and records calls.
type recordingEngine struct {
	mu    sync.Mutex
	calls []string
	n     int
}

func (e *recordingEngine) Build(_ context.Context, req grading.BuildRequest) (grading.BuildResult, error) {
	_, _ = io.Copy(io.Discard, req.Context)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	e.calls = append(e.calls, "build "+req.Tag)
	return grading.BuildResult{ImageID: "sha256:x", Images: []string{strings.Repeat(string(rune('a'+e.n)), 12)}}, nil
}

func (e *recordingEngine) Probe(context.Context, grading.ProbeRequest) (grading.ProbeResult, error) {
	return grading.ProbeResult{}, nil
}

func (e *recordingEngine) RemoveImage(_ context.Context, ref string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, "rmi "+ref)
	return nil
}

func (e *recordingEngine) RemoveImages(_ context.Context, ids []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, "rmi "+strings.Join(ids, ","))
}

// TestGradeKeepsLayerCacheForTheRun: `opsdojo grade` of a lab with several
// build checks removes its images once, after the last check, so each
// build after the first reuses the layers of the ones before.
func TestGradeKeepsLayerCacheForTheRun(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM opsdojo/base:bookworm\nRUN true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := &labs.Lab{ID: "demo", Steps: []labs.Step{
		{ID: "one", Checks: []labs.Check{{ID: "b1", Kind: "docker-build", Points: 1}}},
		{ID: "two", Checks: []labs.Check{{ID: "b2", Kind: "docker-build", Points: 1}}},
	}}
	eng := &recordingEngine{}
	runner := grading.NewRunner(slog.New(slog.DiscardHandler))
	results := gradeSteps(context.Background(), runner, l, l.Steps, grading.Target{Files: grading.DirFiles{Root: dir}, Engine: eng})
	for _, r := range results {
		for _, c := range r.Checks {
			if c.Status != opsdojo.StatusPass {
				t.Fatalf("check %s: %s %v", c.CheckID, c.Status, c.Messages)
			}
		}
	}
	got := strings.Join(eng.calls, "\n")
	want := strings.Join([]string{
		"build opsdojo-build/local:b1",
		"build opsdojo-build/local:b2",
		"rmi opsdojo-build/local:b2",
		"rmi opsdojo-build/local:b1",
		"rmi bbbbbbbbbbbb,cccccccccccc",
	}, "\n")
	if got != want {
		t.Fatalf("engine calls:\n%s\nwant:\n%s", got, want)
	}
}
