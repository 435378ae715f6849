//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/images"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

type engineTarget struct {
	eng *sandbox.Engine
	id  string
}

func (e engineTarget) Run(ctx context.Context, cmd grading.Command) (grading.Output, error) {
	r, err := e.eng.Exec(ctx, e.id, sandbox.ExecRequest{Cmd: cmd.Argv, User: cmd.User, Env: cmd.Env, Stdin: cmd.Stdin})
	return grading.Output{ExitCode: r.ExitCode, Stdout: r.Stdout, Stderr: r.Stderr}, err
}
func (e engineTarget) ReadFile(ctx context.Context, name string, limit int64) ([]byte, error) {
	return e.eng.ReadFile(ctx, e.id, name, limit)
}
func (e engineTarget) Archive(ctx context.Context, dir string, w io.Writer, limit int64) error {
	return e.eng.Archive(ctx, e.id, dir, w, limit)
}

// TestDockerBuildCheck builds a learner's image from their container's
// files, probes it, reports a failing step with its Dockerfile line, and
// cleans up what it made.
func TestDockerBuildCheck(t *testing.T) {
	ctx := context.Background()
	lab, problems := labs.Load(filepath.Join(repoRoot, "labs", "git-basics"), nil)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	cfg := sandbox.DefaultConfig()
	cfg.InstanceID = "buildtest"
	eng, err := sandbox.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	tag, err := images.New(eng.Client(), slog.New(slog.DiscardHandler)).Tag(ctx, lab)
	if err != nil {
		t.Fatal(err)
	}
	sid := "buildtest0000001"
	box, err := eng.Create(ctx, sandbox.Spec{SessionID: sid, UserID: 1, LabID: lab.ID, Image: tag})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		eng.Remove(context.Background(), box)
		eng.RemoveSessionImages(context.Background(), sid)
		cleanupByLabel(t, sandbox.LabelInstance+"=buildtest")
	})
	// A tiny "service": busybox-free, so a bash loop answering HTTP with
	// /dev/tcp is not possible; python is not in the base. Use a static
	// file server written in bash + nc? Neither exists: the probe's HTTP
	// part is covered by the flagship lab's test (opsdojo labs test). Here:
	// non-root, healthy, size, exit detection.
	write := `set -e
mkdir -p ~/app ~/bad ~/dies
cd ~/app
printf 'ARG BASE=opsdojo/base:bookworm\nFROM ${BASE}\nRUN useradd -u 10001 svc\nUSER 10001\nHEALTHCHECK --interval=1s --timeout=1s --start-period=1s CMD ["true"]\nCMD ["sleep", "infinity"]\n' > Dockerfile
printf 'junk\n' > notes.txt
cd ~/bad
printf 'FROM opsdojo/base:bookworm\n\nRUN true\nRUN exit 3\nCMD ["true"]\n' > Dockerfile
cd ~/dies
printf 'FROM opsdojo/base:bookworm\nCMD ["bash", "-c", "echo goodbye; exit 7"]\n' > Dockerfile
`
	if out, err := eng.Exec(ctx, box.ContainerID, sandbox.ExecRequest{Cmd: []string{"bash", "-c", write}, User: "learner"}); err != nil || out.ExitCode != 0 {
		t.Fatalf("write files: %v %s", err, out.Stderr)
	}
	progress := &syncBuffer{}
	target := grading.Target{Container: engineTarget{eng, box.ContainerID}, Files: engineTarget{eng, box.ContainerID}, Engine: eng, Session: sid, Progress: progress}
	runner := grading.NewRunner(slog.New(slog.DiscardHandler))
	run := func(with string) opsdojo.CheckResult {
		t.Helper()
		if err := runner.ValidateCheck(lab.Dir, "docker-build", []byte(with)); err != nil {
			t.Fatalf("args: %v", err)
		}
		step := labs.Step{ID: "s", Checks: []labs.Check{{ID: "build", Title: "builds", Kind: "docker-build", Points: 1, Timeout: 3 * time.Minute, With: []byte(with)}}}
		res := runner.RunStep(ctx, lab, step, target)
		return res.Checks[0]
	}

	ok := run("context: app\nprobe:\n  non_root: true\n  healthy: true\n  within: 20s\n  max_size_mb: 500\n")
	if ok.Status != opsdojo.StatusPass {
		t.Fatalf("good image: %+v\nlog:\n%s", ok, ok.BuildLog)
	}
	if !strings.Contains(ok.BuildLog, "Successfully built") || len(ok.Tests) != 3 {
		t.Fatalf("build log or tests missing: %+v", ok)
	}
	// The log streamed to the progress writer while the build ran.
	if !strings.Contains(progress.String(), "Step 1/") || !strings.Contains(progress.String(), "Successfully built") {
		t.Fatalf("build log was not streamed: %q", progress.String())
	}
	tight := run("context: app\nprobe:\n  max_size_mb: 1\n")
	if tight.Status != opsdojo.StatusFail || tight.Tests[0].Pass {
		t.Fatalf("size budget: %+v", tight)
	}

	bad := run("context: bad\n")
	if bad.Status != opsdojo.StatusFail || len(bad.Findings) != 1 || bad.Findings[0].Line != 4 || bad.Findings[0].File != "bad/Dockerfile" {
		t.Fatalf("failing step: %+v\n%s", bad, bad.BuildLog)
	}

	dies := run("context: dies\nprobe:\n  non_root: true\n  within: 5s\n")
	if dies.Status != opsdojo.StatusFail || len(dies.Tests) == 0 || !strings.Contains(dies.Tests[0].Actual, "code 7") {
		t.Fatalf("exiting container: %+v", dies)
	}
	// Without a probe the check is about the build alone.
	if built := run("context: dies\n"); built.Status != opsdojo.StatusPass {
		t.Fatalf("build-only check: %+v", built)
	}

	missing := run("context: nowhere\n")
	if missing.Status != opsdojo.StatusFail || !strings.Contains(strings.Join(missing.Messages, " "), "does not exist") {
		t.Fatalf("missing context: %+v", missing)
	}

	// Probe containers are gone; the session keeps its last images (layer
	// cache) until it ends.
	list, _ := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "opsdojo.probe=true"), filters.Arg("label", sandbox.LabelSession+"="+sid))})
	if len(list) != 0 {
		t.Fatalf("%d probe containers left", len(list))
	}
	if err := eng.RemoveSessionImages(ctx, sid); err != nil {
		t.Fatal(err)
	}
	imgs, _ := docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelSession+"="+sid))})
	if len(imgs) != 0 {
		t.Fatalf("%d session images left after RemoveSessionImages", len(imgs))
	}
}

// TestBuildCleanupSparesItsBase: a learner builds FROM an image that is
// not theirs (a lab image, say) in two stages; ending the session removes
// every image the builds made, both stages, and never the base, which is
// the id the build log prints after FROM and after cache hits.
func TestBuildCleanupSparesItsBase(t *testing.T) {
	ctx := context.Background()
	cfg := sandbox.DefaultConfig()
	cfg.InstanceID = "buildbase"
	// The parent stands for a lab image: builds may start only from those.
	cfg.BuildBases = append(cfg.BuildBases, "opsdojo-test/parent")
	eng, err := sandbox.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	lab, problems := labs.Load(filepath.Join(repoRoot, "labs", "git-basics"), nil)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	labTag, err := images.New(eng.Client(), slog.New(slog.DiscardHandler)).Tag(ctx, lab)
	if err != nil {
		t.Fatal(err)
	}
	// A base nobody else builds on: removing it by mistake would succeed.
	parent := "opsdojo-test/parent:" + strings.ToLower(t.Name())
	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	df := "FROM opsdojo/base:bookworm\nLABEL opsdojo.test=parent\n"
	tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df))})
	tw.Write([]byte(df))
	tw.Close()
	resp, err := docker.ImageBuild(ctx, &ctxTar, build.ImageBuildOptions{Tags: []string{parent}, Remove: true, Version: build.BuilderV1})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	t.Cleanup(func() {
		docker.ImageRemove(context.Background(), parent, image.RemoveOptions{Force: true, PruneChildren: true})
	})
	parentInfo, err := docker.ImageInspect(ctx, parent)
	if err != nil {
		t.Fatal(err)
	}

	sid := "buildbase0000001"
	box, err := eng.Create(ctx, sandbox.Spec{SessionID: sid, UserID: 1, LabID: lab.ID, Image: labTag})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		eng.Remove(context.Background(), box)
		eng.RemoveSessionImages(context.Background(), sid)
	})
	write := "mkdir -p ~/two && printf 'FROM " + parent + " AS stage\\nRUN echo stage > /s\\nFROM " + parent + "\\nCOPY --from=stage /s /s\\nCMD [\"true\"]\\n' > ~/two/Dockerfile"
	if out, err := eng.Exec(ctx, box.ContainerID, sandbox.ExecRequest{Cmd: []string{"bash", "-c", write}, User: "learner"}); err != nil || out.ExitCode != 0 {
		t.Fatalf("write files: %v %s", err, out.Stderr)
	}
	target := grading.Target{Container: engineTarget{eng, box.ContainerID}, Files: engineTarget{eng, box.ContainerID}, Engine: eng, Session: sid}
	runner := grading.NewRunner(slog.New(slog.DiscardHandler))
	step := labs.Step{ID: "s", Checks: []labs.Check{{ID: "build", Title: "builds", Kind: "docker-build", Points: 1, Timeout: 3 * time.Minute, With: []byte("context: two\n")}}}
	for i := range 2 { // the second build is all cache hits
		if res := runner.RunStep(ctx, lab, step, target); res.Checks[0].Status != opsdojo.StatusPass {
			t.Fatalf("build %d: %+v", i+1, res.Checks[0])
		}
	}
	children := func() int {
		all, err := docker.ImageList(ctx, image.ListOptions{All: true})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, img := range all {
			if img.ParentID == parentInfo.ID {
				n++
			}
		}
		return n
	}
	if children() < 2 {
		t.Fatalf("the builds left %d images on the base, want both stages' chains", children())
	}
	if err := eng.RemoveSessionImages(ctx, sid); err != nil {
		t.Fatal(err)
	}
	if _, err := docker.ImageInspect(ctx, parent); err != nil {
		t.Fatalf("the base the learner built FROM was removed: %v", err)
	}
	if n := children(); n != 0 {
		t.Fatalf("%d images of the session's builds left on the base", n)
	}
}
