package grading

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// swapFiles serves one Dockerfile to ReadFile and another in the build
// context, as a learner racing the check (rewriting the file between the
// read and the archive) would.
type swapFiles struct {
	read    string
	archive []*tar.Header
	bodies  []string
}

func (f swapFiles) ReadFile(_ context.Context, name string, _ int64) ([]byte, error) {
	if name == "Dockerfile" {
		return []byte(f.read), nil
	}
	return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "%s does not exist", name)
}

func (f swapFiles) Archive(_ context.Context, _ string, w io.Writer, _ int64) error {
	tw := tar.NewWriter(w)
	for i, h := range f.archive {
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, f.bodies[i]); err != nil {
			return err
		}
	}
	return tw.Close()
}

// contextEngine records the build context's Dockerfile(s) and can hold a
// build until released.
type contextEngine struct {
	mu          sync.Mutex
	builds      int
	dockerfiles []string
	kinds       []byte
	hold        chan struct{}
	started     chan struct{}
}

func (e *contextEngine) Build(ctx context.Context, req BuildRequest) (BuildResult, error) {
	tr := tar.NewReader(req.Context)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return BuildResult{}, err
		}
		if h.Name == req.Dockerfile {
			b, _ := io.ReadAll(tr)
			e.mu.Lock()
			e.dockerfiles = append(e.dockerfiles, string(b))
			e.kinds = append(e.kinds, h.Typeflag)
			e.mu.Unlock()
		}
	}
	e.mu.Lock()
	e.builds++
	e.mu.Unlock()
	if e.started != nil {
		e.started <- struct{}{}
	}
	if e.hold != nil {
		select {
		case <-e.hold:
		case <-ctx.Done():
		}
	}
	return BuildResult{ImageID: "sha256:x"}, nil
}

func (e *contextEngine) Probe(context.Context, ProbeRequest) (ProbeResult, error) {
	return ProbeResult{}, nil
}
func (e *contextEngine) RemoveImage(context.Context, string) error { return nil }
func (e *contextEngine) RemoveImages(context.Context, []string)    {}

func buildInput(files Files, eng BuildEngine, learner string, progress io.Writer) Input {
	return Input{Lab: &labs.Lab{ID: "t"}, Check: labs.Check{ID: "b", Kind: "docker-build", Timeout: time.Minute},
		Files: files, Engine: eng, Learner: learner, Progress: progress}
}

// TestDockerBuildBuildsTheVettedDockerfile: the engine gets the Dockerfile
// the checker vetted, as a regular file, whatever the context holds by the
// time it is archived (another text, or a symlink).
func TestDockerBuildBuildsTheVettedDockerfile(t *testing.T) {
	good := "FROM opsdojo/base:bookworm\nRUN true\n"
	bad := "FROM opsdojo/base:bookworm\nADD http://127.0.0.1:8080/secret /x\n"
	for name, files := range map[string]swapFiles{
		"rewritten": {read: good, archive: []*tar.Header{{Name: "Dockerfile", Mode: 0o644, Size: int64(len(bad)), Typeflag: tar.TypeReg}}, bodies: []string{bad}},
		"symlink": {read: good, archive: []*tar.Header{
			{Name: "evil", Mode: 0o644, Size: int64(len(bad)), Typeflag: tar.TypeReg},
			{Name: "Dockerfile", Typeflag: tar.TypeSymlink, Linkname: "evil"},
		}, bodies: []string{bad, ""}},
	} {
		t.Run(name, func(t *testing.T) {
			eng := &contextEngine{}
			res := NewDockerBuildChecker(1).Check(context.Background(), buildInput(files, eng, "alice", nil))
			if res.Status != opsdojo.StatusPass {
				t.Fatalf("status %s %v", res.Status, res.Messages)
			}
			if len(eng.dockerfiles) != 1 || eng.dockerfiles[0] != good || eng.kinds[0] != tar.TypeReg {
				t.Fatalf("the engine got Dockerfile(s) %q (types %v), want only the vetted one", eng.dockerfiles, eng.kinds)
			}
		})
	}
}

// TestDockerBuildRefusesBeforeBuilding: a refused Dockerfile never reaches
// the engine, and the finding names its line.
func TestDockerBuildRefusesBeforeBuilding(t *testing.T) {
	src := "FROM opsdojo/base:bookworm\nARG U=http://127.0.0.1:8080/\nADD $U /x\n"
	files := swapFiles{read: src, archive: []*tar.Header{{Name: "Dockerfile", Mode: 0o644, Size: int64(len(src)), Typeflag: tar.TypeReg}}, bodies: []string{src}}
	eng := &contextEngine{}
	res := NewDockerBuildChecker(1).Check(context.Background(), buildInput(files, eng, "alice", nil))
	if res.Status != opsdojo.StatusFail || len(res.Findings) != 1 || res.Findings[0].Line != 3 {
		t.Fatalf("result %s %+v", res.Status, res.Findings)
	}
	if eng.builds != 0 {
		t.Fatalf("%d build(s) reached the engine", eng.builds)
	}
}

// TestDockerBuildShowsQueuePosition: a learner's second build waits for
// their first and says so in its live log.
func TestDockerBuildShowsQueuePosition(t *testing.T) {
	src := "FROM opsdojo/base:bookworm\n"
	files := swapFiles{read: src, archive: nil}
	eng := &contextEngine{hold: make(chan struct{}), started: make(chan struct{}, 2)}
	c := NewDockerBuildChecker(2)
	first := make(chan opsdojo.CheckResult)
	go func() { first <- c.Check(context.Background(), buildInput(files, eng, "alice", nil)) }()
	<-eng.started
	var log syncWriter
	second := make(chan opsdojo.CheckResult)
	go func() { second <- c.Check(context.Background(), buildInput(files, eng, "alice", &log)) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), "Waiting for a build slot: you are next (1 running") {
		if time.Now().After(deadline) {
			t.Fatalf("no queue position in the log: %q", log.String())
		}
		time.Sleep(time.Millisecond)
	}
	close(eng.hold)
	<-first
	res := <-second
	if res.Status != opsdojo.StatusPass || !strings.Contains(log.String(), "Got a build slot") {
		t.Fatalf("second build: %s, log %q", res.Status, log.String())
	}
	if !strings.Contains(res.BuildLog, "Waiting for a build slot") {
		t.Fatalf("the result's build log lost the wait: %q", res.BuildLog)
	}
}

type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
