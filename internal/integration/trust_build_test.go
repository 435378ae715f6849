//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/opsdojo/opsdojo/internal/app"
	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// trustBuildEngine is an engine with its own instance id; everything the
// test made under that id goes when it ends.
func trustBuildEngine(t *testing.T, mutate func(*sandbox.Config)) (*sandbox.Engine, string) {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	cfg := sandbox.DefaultConfig()
	cfg.InstanceID = "tbuild" + hex.EncodeToString(b)
	if mutate != nil {
		mutate(&cfg)
	}
	eng, err := sandbox.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		cleanupByLabel(t, sandbox.LabelInstance+"="+cfg.InstanceID)
		list, _ := docker.ImageList(ctx, image.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelInstance+"="+cfg.InstanceID))})
		for _, img := range list {
			_, _ = docker.ImageRemove(ctx, img.ID, image.RemoveOptions{Force: true, PruneChildren: true})
		}
		eng.Close()
	})
	return eng, cfg.InstanceID
}

// buildCheck runs a docker-build check of the Dockerfile in dir, as
// learner in session (both may be empty: `opsdojo grade`).
func buildCheck(ctx context.Context, c *grading.DockerBuildChecker, eng grading.BuildEngine, dir, checkID, session, learner string, progress io.Writer) opsdojo.CheckResult {
	return c.Check(ctx, grading.Input{
		Lab:      &labs.Lab{ID: "trust"},
		Check:    labs.Check{ID: checkID, Kind: "docker-build", Timeout: 3 * time.Minute},
		Files:    grading.DirFiles{Root: dir},
		Engine:   eng,
		Session:  session,
		Learner:  learner,
		Progress: progress,
	})
}

func writeDockerfile(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func tarOf(t *testing.T, files map[string]string) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.Close()
	return &buf
}

// rawBuild builds an image on the engine directly, as if a session of the
// given id had built it (the labels the server sets on its builds).
func rawBuild(t *testing.T, tag, instance, session, dockerfile string) string {
	t.Helper()
	ctx := context.Background()
	resp, err := docker.ImageBuild(ctx, tarOf(t, map[string]string{"Dockerfile": dockerfile}), build.ImageBuildOptions{
		Tags: []string{tag}, Remove: true, ForceRemove: true, Version: build.BuilderV1,
		Labels: map[string]string{sandbox.LabelInstance: instance, sandbox.LabelSession: session},
	})
	if err != nil {
		t.Fatal(err)
	}
	inBand, err := sandbox.ReadStream(resp.Body, nil)
	resp.Body.Close()
	if err != nil || inBand != "" {
		t.Fatalf("build %s: %v %s", tag, err, inBand)
	}
	info, err := docker.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	return info.ID
}

// TestTrustBuildRefusesRemoteSources: a learner Dockerfile that would make
// the engine fetch from the host (ADD of a loopback URL, directly, through
// an ARG, armed in ONBUILD, or inherited from a base image's ONBUILD), or
// that starts from another session's build image, is refused with a
// finding on its line before anything is built; the loopback server sees
// no request.
func TestTrustBuildRefusesRemoteSources(t *testing.T) {
	ctx := context.Background()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		io.WriteString(w, "host secret\n")
	}))
	defer srv.Close()
	url := srv.URL + "/secret"

	eng, instance := trustBuildEngine(t, nil)
	checker := grading.NewDockerBuildChecker(2)
	// Another learner's session built this image; its labels are what the
	// server puts on a session's build.
	victimTag := "opsdojo-build/" + instance + "victim:app"
	victimID := rawBuild(t, victimTag, instance, "victimsession01", "FROM opsdojo/base:bookworm\nLABEL work=victim\n")
	// An image of the attacker's own session that carries a remote ONBUILD
	// trigger (as an engine without the Dockerfile check would have let
	// them build).
	armedTag := "opsdojo-build/" + instance + "attacker:armed"
	rawBuild(t, armedTag, instance, "attackersession1", "FROM opsdojo/base:bookworm\nONBUILD ADD "+url+" /stolen\n")

	cases := []struct {
		name       string
		dockerfile string
		line       int
		say        string
	}{
		{"ADD loopback URL", "FROM opsdojo/base:bookworm\nADD " + url + " /x\n", 2, "curl"},
		{"ADD through an ARG default", "ARG SRC=" + url + "\nFROM opsdojo/base:bookworm\nARG SRC\nADD ${SRC} /x\n", 4, "variables"},
		{"ONBUILD ADD", "FROM opsdojo/base:bookworm\nONBUILD ADD " + url + " /x\nRUN true\n", 2, "ONBUILD"},
		// The classic builder's parser reads this heredoc's body as an ADD
		// instruction (and "CMD" as an empty CMD); BuildKit's sees a RUN.
		{"ADD smuggled in a heredoc", "FROM opsdojo/base:bookworm\nRUN <<CMD\nADD " + url + " /x\nCMD\n", 2, "heredoc"},
		{"FROM another session's image by tag", "FROM " + victimTag + "\nRUN true\n", 1, "lab images"},
		{"FROM another session's image by id", "FROM " + strings.TrimPrefix(victimID, "sha256:")[:12] + "\nRUN true\n", 1, "lab images"},
		{"COPY --from another session's image", "FROM opsdojo/base:bookworm\nCOPY --from=" + victimTag + " /etc/hostname /x\n", 2, "lab images"},
		{"FROM a registry on the host", "FROM 127.0.0.1:" + srv.URL[strings.LastIndex(srv.URL, ":")+1:] + "/x:1\n", 1, "does not pull"},
		{"FROM own image with a remote ONBUILD", "FROM " + armedTag + "\nRUN true\n", 1, "ONBUILD"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDockerfile(t, tc.dockerfile)
			checkID := fmt.Sprintf("refuse%d", i)
			res := buildCheck(ctx, checker, eng, dir, checkID, "attackersession1", "mallory", nil)
			if res.Status != opsdojo.StatusFail {
				t.Fatalf("status %s, want fail: %v %s", res.Status, res.Messages, res.BuildLog)
			}
			if len(res.Findings) < 1 || res.Findings[0].Line != tc.line || res.Findings[0].Rule != grading.RuleRemoteSource {
				t.Fatalf("findings %+v, want one %s at line %d", res.Findings, grading.RuleRemoteSource, tc.line)
			}
			if !strings.Contains(res.Findings[0].Message, tc.say) {
				t.Errorf("finding %q does not say %q", res.Findings[0].Message, tc.say)
			}
			if strings.Contains(res.BuildLog, "Step 1/") {
				t.Fatalf("the engine started building:\n%s", res.BuildLog)
			}
			if _, err := docker.ImageInspect(ctx, "opsdojo-build/attackersession1:"+checkID); err == nil {
				t.Fatal("an image was built")
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the loopback server got %d request(s) from builds", n)
	}
	// The armed image's trigger, had it run, would have hit the server;
	// the same session's plain images stay usable.
	dir := writeDockerfile(t, "FROM opsdojo/base:bookworm\nRUN echo fine\n")
	if res := buildCheck(ctx, checker, eng, dir, "control", "", "mallory", nil); res.Status != opsdojo.StatusPass {
		t.Fatalf("a plain build did not pass: %s %v\n%s", res.Status, res.Messages, res.BuildLog)
	}
}

// buildCgroupDirs lists the build cgroups of an instance in the pids
// controller (cgroup v1 here; v2 keeps them at the root).
func buildCgroupDirs(instance string) []string {
	v1, _ := filepath.Glob("/sys/fs/cgroup/pids/opsdojo-builds/" + instance + "-*")
	v2, _ := filepath.Glob("/sys/fs/cgroup/opsdojo-builds/" + instance + "-*")
	return append(v1, v2...)
}

func readInt(path string) int64 {
	raw, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// TestTrustBuildBoundsProcesses: a RUN step that tries to start 2000
// processes ends with at most the pids limit in the build's cgroup, the
// build fails with a message that names the limit, and nothing of it is
// left running.
func TestTrustBuildBoundsProcesses(t *testing.T) {
	ctx := context.Background()
	const limit = 64
	eng, instance := trustBuildEngine(t, func(c *sandbox.Config) { c.PidsLimit = limit })
	if mode, why := eng.BuildLimits(ctx); mode != sandbox.BuildLimitsCgroup {
		t.Fatalf("this engine (cgroupfs) should bound builds by cgroup, got %s: %s", mode, why)
	}
	dir := writeDockerfile(t, "FROM opsdojo/base:bookworm\n"+
		"RUN i=0; while [ $i -lt 2000 ]; do sleep 30 & i=$((i+1)); done; echo started all $i\n")
	var peak, max atomic.Int64
	peak.Store(-1)
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			for _, d := range buildCgroupDirs(instance) {
				// pids.peak (newer kernels) is the kernel's own high-water
				// mark; pids.current is sampled.
				for _, f := range []string{"pids.current", "pids.peak"} {
					if n := readInt(filepath.Join(d, f)); n > peak.Load() {
						peak.Store(n)
					}
				}
				if n := readInt(filepath.Join(d, "pids.max")); n > 0 {
					max.Store(n)
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	res := buildCheck(ctx, grading.NewDockerBuildChecker(2), eng, dir, "forks", "", "", nil)
	close(stop)
	<-watched
	t.Logf("peak pids in the build's cgroup: %d (pids.max %d)", peak.Load(), max.Load())
	if res.Status != opsdojo.StatusFail {
		t.Fatalf("status %s, want fail: %v\n%s", res.Status, res.Messages, res.BuildLog)
	}
	if max.Load() != limit {
		t.Fatalf("the build's cgroup had pids.max %d, want %d", max.Load(), limit)
	}
	if peak.Load() < 1 || peak.Load() > limit {
		t.Fatalf("peak pids %d, want 1..%d", peak.Load(), limit)
	}
	if strings.Contains(res.BuildLog, "started all 2000") {
		t.Fatalf("all 2000 processes started:\n%s", res.BuildLog)
	}
	if len(res.Findings) != 1 || !strings.Contains(res.Findings[0].Message, fmt.Sprintf("more than %d processes", limit)) {
		t.Fatalf("findings %+v do not name the process limit", res.Findings)
	}
	if left := buildCgroupDirs(instance); len(left) > 0 {
		t.Fatalf("build cgroups left behind: %v", left)
	}
}

// TestTrustBuildBoundsMemory: a RUN step that holds more memory than a
// build may use is stopped at the limit, and the learner is told so.
func TestTrustBuildBoundsMemory(t *testing.T) {
	ctx := context.Background()
	eng, instance := trustBuildEngine(t, func(c *sandbox.Config) { c.BuildMemory = 128 << 20 })
	// tail keeps its whole input when no newline comes: 600 MB of zeros.
	dir := writeDockerfile(t, "FROM opsdojo/base:bookworm\nRUN head -c 600m /dev/zero | tail > /dev/null\n")
	res := buildCheck(ctx, grading.NewDockerBuildChecker(2), eng, dir, "memhog", "", "", nil)
	if res.Status != opsdojo.StatusFail {
		t.Fatalf("status %s, want fail: %v\n%s", res.Status, res.Messages, res.BuildLog)
	}
	if len(res.Findings) != 1 || !strings.Contains(res.Findings[0].Message, "128 MiB of memory") {
		t.Fatalf("findings %+v do not name the memory limit\n%s", res.Findings, res.BuildLog)
	}
	if left := buildCgroupDirs(instance); len(left) > 0 {
		t.Fatalf("build cgroups left behind: %v", left)
	}
}

// TestTrustBuildCancelLeavesNothing: a build whose check ends while a RUN
// step still runs (the engine keeps running the step after the client has
// gone) leaves no step container or process behind.
func TestTrustBuildCancelLeavesNothing(t *testing.T) {
	eng, instance := trustBuildEngine(t, nil)
	dir := writeDockerfile(t, "FROM opsdojo/base:bookworm\nRUN echo "+instance+" && sleep 300\n")
	ctx, cancel := context.WithCancel(context.Background())
	progress := &syncBuffer{}
	done := make(chan opsdojo.CheckResult, 1)
	go func() {
		done <- buildCheck(ctx, grading.NewDockerBuildChecker(2), eng, dir, "cancel", "", "", progress)
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(progress.String(), "Running in") {
		if time.Now().After(deadline) {
			t.Fatalf("the step did not start:\n%s", progress.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the check did not end after its context was cancelled")
	}
	id := ""
	for _, line := range strings.Split(progress.String(), "\n") {
		if strings.HasPrefix(line, " ---> Running in ") {
			id = strings.TrimPrefix(line, " ---> Running in ")
		}
	}
	if _, err := docker.ContainerInspect(context.Background(), id); err == nil {
		_ = docker.ContainerRemove(context.Background(), id, container.RemoveOptions{Force: true})
		t.Fatalf("step container %s is still there", id)
	}
	if left := buildCgroupDirs(instance); len(left) > 0 {
		t.Fatalf("build cgroups left behind: %v", left)
	}
}

// TestTrustBuildFairQueue: with two build slots, a learner with two builds
// holds one slot; another learner's build takes the second at once instead
// of waiting behind the first learner's second build, which waits and
// shows its place in its build log.
func TestTrustBuildFairQueue(t *testing.T) {
	ctx := context.Background()
	eng, instance := trustBuildEngine(t, nil)
	checker := grading.NewDockerBuildChecker(2)
	slow := func(tag string) string {
		// A fresh line each run, so the layer cache cannot make it fast;
		// the test cancels it once it has seen what it needs.
		return writeDockerfile(t, fmt.Sprintf("FROM opsdojo/base:bookworm\nRUN echo %s-%s && sleep 300\n", instance, tag))
	}
	type run struct {
		log  *syncBuffer
		done chan opsdojo.CheckResult
	}
	start := func(ctx context.Context, dir, checkID, learner string) run {
		r := run{log: &syncBuffer{}, done: make(chan opsdojo.CheckResult, 1)}
		go func() { r.done <- buildCheck(ctx, checker, eng, dir, checkID, "", learner, r.log) }()
		return r
	}
	waitFor := func(r run, want string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for !strings.Contains(r.log.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the build log:\n%s", want, r.log.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	aliceCtx, stopAlice := context.WithCancel(ctx)
	defer stopAlice()
	a1 := start(aliceCtx, slow("a1"), "alice1", "alice")
	waitFor(a1, "Running in")
	a2 := start(aliceCtx, slow("a2"), "alice2", "alice")
	waitFor(a2, "Waiting for a build slot")
	b1 := start(ctx, writeDockerfile(t, "FROM opsdojo/base:bookworm\nRUN echo "+instance+"-bob\n"), "bob1", "bob")
	var res opsdojo.CheckResult
	select {
	case res = <-b1.done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("bob's build waited behind alice's:\n%s", b1.log.String())
	}
	if res.Status != opsdojo.StatusPass {
		t.Fatalf("bob's build: %s %v\n%s", res.Status, res.Messages, res.BuildLog)
	}
	if strings.Contains(b1.log.String(), "Waiting for a build slot") {
		t.Fatalf("bob waited:\n%s", b1.log.String())
	}
	// Alice's second build still waits: her first holds her one slot.
	if l := a2.log.String(); strings.Contains(l, "Step 1/") || !strings.Contains(l, "Waiting for a build slot: you are next") {
		t.Fatalf("alice's second build log:\n%s", l)
	}
	stopAlice()
	for _, r := range []run{a1, a2} {
		select {
		case <-r.done:
		case <-time.After(2 * time.Minute):
			t.Fatal("a cancelled build did not end")
		}
	}
}

// TestTrustBuildWatchFallback: where the server cannot use a parent cgroup
// (systemd driver, a server in a container), each step container gets the
// pids limit as soon as the engine names it; the fork loop is bounded
// there too.
func TestTrustBuildWatchFallback(t *testing.T) {
	ctx := context.Background()
	const limit = 64
	eng, instance := trustBuildEngine(t, func(c *sandbox.Config) {
		c.PidsLimit = limit
		c.BuildLimits = sandbox.BuildLimitsWatch
	})
	if mode, _ := eng.BuildLimits(ctx); mode != sandbox.BuildLimitsWatch {
		t.Fatalf("mode %s", mode)
	}
	dir := writeDockerfile(t, "FROM opsdojo/base:bookworm\n"+
		"RUN echo "+instance+"; i=0; while [ $i -lt 2000 ]; do sleep 30 & i=$((i+1)); done; echo started all $i\n")
	res := buildCheck(ctx, grading.NewDockerBuildChecker(2), eng, dir, "watch", "", "", nil)
	if res.Status != opsdojo.StatusFail {
		t.Fatalf("status %s, want fail: %v\n%s", res.Status, res.Messages, res.BuildLog)
	}
	if strings.Contains(res.BuildLog, "started all 2000") {
		t.Fatalf("all 2000 processes started:\n%s", res.BuildLog)
	}
	if !strings.Contains(res.BuildLog, "Cannot fork") && !strings.Contains(res.BuildLog, "it was stopped") {
		t.Fatalf("the log shows neither the limit nor the stop:\n%s", res.BuildLog)
	}
	t.Logf("limited before the loop ran: %v", strings.Contains(res.BuildLog, "Cannot fork"))
	if left := buildCgroupDirs(instance); len(left) > 0 {
		t.Fatalf("watch mode made cgroups: %v", left)
	}
}

// queueLab writes a small lab of two build steps into a labs folder. It
// reuses the dockerfile-go-service lab's id and image folder, so its image
// (content-addressed on that folder) is the one TestMain built.
func queueLab(t *testing.T) string {
	t.Helper()
	labsDir := t.TempDir()
	dir := filepath.Join(labsDir, "dockerfile-go-service")
	src := filepath.Join(repoRoot, "labs", "dockerfile-go-service")
	if err := os.CopyFS(filepath.Join(dir, "image"), os.DirFS(filepath.Join(src, "image"))); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"steps/a.md": "Build a.\n", "steps/b.md": "Build b.\n",
		"solutions/a.sh": "true\n", "solutions/b.sh": "true\n",
		"lab.yaml": `id: dockerfile-go-service
title: Build queue
summary: Two build steps.
difficulty: beginner
minutes: 5
image: image
steps:
  - id: a
    title: Build a
    instructions: steps/a.md
    solution: solutions/a.sh
    checks:
      - id: build-a
        title: a builds
        kind: docker-build
        points: 1
        timeout: 4m
        with: {context: a}
  - id: b
    title: Build b
    instructions: steps/b.md
    solution: solutions/b.sh
    checks:
      - id: build-b
        title: b builds
        kind: docker-build
        points: 1
        timeout: 4m
        with: {context: b}
`,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return labsDir
}

// TestTrustBuildQueueThroughServer: through the server, a learner's second
// build waits for their first (its live build log, the one the lab page
// polls, shows the queue position), while another learner's build takes
// the free slot at once.
func TestTrustBuildQueueThroughServer(t *testing.T) {
	labsDir := queueLab(t)
	srv := startServer(t, t.TempDir(), func(c *app.Config) {
		c.LabsDir = labsDir
		c.MaxBuilds = 2
	})
	alice, bob := newLearner(t, srv, "qalice"), newLearner(t, srv, "qbob")
	as, bs := alice.startLab("dockerfile-go-service"), bob.startLab("dockerfile-go-service")
	cleanupSession(t, as.ID)
	cleanupSession(t, bs.ID)
	t.Cleanup(func() {
		list, _ := docker.ImageList(context.Background(), image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", "opsdojo-build/*"))})
		for _, img := range list {
			for _, tag := range img.RepoTags {
				if strings.Contains(tag, as.ID) || strings.Contains(tag, bs.ID) {
					_, _ = docker.ImageRemove(context.Background(), img.ID, image.RemoveOptions{Force: true, PruneChildren: true})
				}
			}
		}
	})
	write := func(s sessionJSON, dir, dockerfile string) {
		list, err := docker.ContainerList(context.Background(), container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelSession+"="+s.ID))})
		if err != nil || len(list) != 1 {
			t.Fatalf("container of %s: %v %d", s.ID, err, len(list))
		}
		cmd := fmt.Sprintf("mkdir -p ~/%s && printf '%%s' '%s' > ~/%s/Dockerfile", dir, dockerfile, dir)
		if code, out := execIn(t, list[0].ID, "learner", "bash", "-c", cmd); code != 0 {
			t.Fatalf("write %s: %s", dir, out)
		}
	}
	tag := hex.EncodeToString([]byte(as.ID))[:8]
	write(as, "a", "FROM opsdojo/base:bookworm\nRUN echo "+tag+"a && sleep 240\n")
	write(as, "b", "FROM opsdojo/base:bookworm\nRUN echo "+tag+"b && sleep 240\n")
	write(bs, "a", "FROM opsdojo/base:bookworm\nRUN echo "+tag+"bob\n")

	// Alice's checks are requests she gives up on at the end (closing the
	// page): the server then cancels her builds.
	aliceCtx, stopAlice := context.WithCancel(context.Background())
	aliceDone := make(chan struct{}, 2)
	checkAsync := func(step string) {
		req, _ := http.NewRequestWithContext(aliceCtx, "POST", srv.url+"/api/v1/sessions/"+as.ID+"/steps/"+step+"/check", nil)
		req.Header.Set("X-CSRF-Token", alice.csrf)
		go func() {
			if resp, err := alice.http.Do(req); err == nil {
				resp.Body.Close()
			}
			aliceDone <- struct{}{}
		}()
	}
	progress := func(l *learner, s sessionJSON, step string) string {
		var out struct {
			Running bool   `json:"running"`
			Log     string `json:"log"`
		}
		l.do("GET", "/api/v1/sessions/"+s.ID+"/steps/"+step+"/progress", nil, &out)
		return out.Log
	}
	waitProgress := func(step, want string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for !strings.Contains(progress(alice, as, step), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the live log of step %s: %q", want, step, progress(alice, as, step))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	defer func() {
		stopAlice()
		for range 2 {
			<-aliceDone
		}
	}()
	checkAsync("a")
	waitProgress("a", "Running in")
	checkAsync("b")
	waitProgress("b", "Waiting for a build slot: you are next")

	res := bob.check(bs.ID, "a")
	if res.Status != "pass" {
		t.Fatalf("bob's build: %+v", res)
	}
	if l := progress(alice, as, "b"); !strings.Contains(l, "Waiting for a build slot") || strings.Contains(l, "Step 1/") {
		t.Fatalf("alice's second build did not wait for her first: %q", l)
	}
}
