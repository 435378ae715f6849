package sandbox

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// Limits of learner builds and probes. A Go compile wants more memory than
// an idle shell; the probe is a small service.
const (
	buildMemory = 2 << 30
	probeMemory = 256 << 20
	probePids   = 256
	// probeSettle is how long a probed container must stay up before the
	// probe passes it (capped by the check's within).
	probeSettle = 2 * time.Second
)

var (
	stepLine  = regexp.MustCompile(`^Step (\d+)/(\d+) :`)
	imageLine = regexp.MustCompile(`^ ---> ([0-9a-f]{12,64})$`)
	fromStep  = regexp.MustCompile(`(?i)^\s*Step \d+/\d+ : FROM\s`)
	// runningLine names a step's container, right after the engine made it.
	runningLine = regexp.MustCompile(`^ ---> Running in ([0-9a-f]{12,64})$`)
)

// withNetwork runs f with the session's network, or with a temporary
// learner network (same bridge prefix, so the host firewall applies) when
// there is no session (`opsdojo grade`).
func (e *Engine) withNetwork(ctx context.Context, session string, f func(network string) error) error {
	if session != "" {
		return f(Name(session))
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	id := "g" + hex.EncodeToString(b)
	netID, err := e.createNetwork(ctx, id, map[string]string{LabelInstance: e.cfg.InstanceID, LabelSession: id}, false)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = e.cli.NetworkRemove(cctx, netID)
	}()
	return f(Name(id))
}

// Build builds a learner's image with the legacy builder (what API 1.41
// engines offer) on the learner's network, so RUN steps reach Debian's
// mirror but not the host or other learners. Before anything is sent to
// the engine, the images the Dockerfile starts from are vetted
// (vetBases); every step runs under the build's limits (buildlimits.go);
// and whatever step container is still there when the build ends (the
// engine finishes a running step after the client has gone) is removed.
func (e *Engine) Build(ctx context.Context, req grading.BuildRequest) (grading.BuildResult, error) {
	var res grading.BuildResult
	refused, err := e.vetBases(ctx, req.Session, req.Bases)
	if err != nil {
		return res, err
	}
	if refused != nil {
		return *refused, nil
	}
	lim := e.buildLimitsFor()
	cg := e.buildCgroups(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	buildID := e.cfg.InstanceID + "-" + hex.EncodeToString(b)
	parent := ""
	if cg.mode == BuildLimitsCgroup {
		parent, err = cg.create(buildID, lim)
		if err != nil {
			// Fail closed: an unbounded build is what this guards against.
			return res, fmt.Errorf("bound the build: %w", err)
		}
		defer func() {
			if err := cg.remove(buildID); err != nil {
				e.log.Warn("remove build cgroup", "build", buildID, "err", err)
			}
		}()
	}
	var steps []string
	defer func() {
		// A step container left running (cancelled build, engine error)
		// must not outlive the check.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for _, id := range steps {
			_ = e.cli.ContainerRemove(cctx, id, container.RemoveOptions{Force: true})
		}
	}()
	onStep := func(id string) {
		steps = append(steps, id)
		if cg.mode == BuildLimitsWatch {
			e.limitStep(ctx, id, lim.Pids, req.Log)
		}
	}
	err = e.withNetwork(ctx, req.Session, func(network string) error {
		resp, err := e.cli.ImageBuild(ctx, req.Context, buildOptions(req, network, parent, lim, e.cfg.InstanceID))
		if err != nil {
			if strings.Contains(err.Error(), "Cannot locate specified Dockerfile") || strings.Contains(err.Error(), "dockerfile parse error") {
				res.Failed, res.Error = true, err.Error()
				return nil
			}
			return engineErr(err, "start build")
		}
		defer resp.Body.Close()
		err = readBuild(resp.Body, req.Log, &res, onStep)
		e.rememberImages(req.Session, res.Images)
		return err
	})
	if res.Failed && cg.mode == BuildLimitsCgroup {
		if why := cg.limitsHit(buildID, lim, res.Error); why != "" {
			res.Error = strings.TrimSpace(res.Error) + " (" + why + ")"
			if req.Log != nil {
				fmt.Fprintf(req.Log, "opsdojo: %s\n", why)
			}
		}
	}
	if err != nil || res.Failed {
		return res, err
	}
	info, err := e.cli.ImageInspect(ctx, req.Tag)
	if err != nil {
		return res, engineErr(err, "inspect built image")
	}
	res.ImageID, res.Size = info.ID, info.Size
	return res, nil
}

// buildLimitsFor is what one build may use, all its steps together: the
// learner container's pids limit, at least buildMemory (a Go compile
// wants more than an idle shell), the learner's CPU share.
func (e *Engine) buildLimitsFor() cgroupLimits {
	mem := e.cfg.BuildMemory
	if mem <= 0 {
		mem = max(e.cfg.Memory, buildMemory)
	}
	pids := e.cfg.PidsLimit
	if pids <= 0 {
		pids = DefaultConfig().PidsLimit
	}
	return cgroupLimits{Pids: pids, Memory: mem, CPUQuota: max(e.cfg.NanoCPUs/10000, 10000)}
}

// buildOptions are the engine's options for a learner's build. Nothing in
// them comes from the learner: no RemoteContext (the engine would fetch a
// URL or git repository itself), no build args, no extra hosts; the
// context is the tar of the learner's files the checker sends.
func buildOptions(req grading.BuildRequest, network, cgroupParent string, lim cgroupLimits, instance string) build.ImageBuildOptions {
	return build.ImageBuildOptions{
		Tags:         []string{req.Tag},
		Dockerfile:   req.Dockerfile,
		Remove:       true,
		ForceRemove:  true,
		PullParent:   false,
		NetworkMode:  network,
		Memory:       lim.Memory,
		MemorySwap:   lim.Memory,
		CPUPeriod:    100000,
		CPUQuota:     lim.CPUQuota,
		CgroupParent: cgroupParent,
		Labels:       map[string]string{LabelInstance: instance, LabelSession: req.Session},
		Version:      build.BuilderV1,
	}
}

// limitStep is the watch fallback: it gives a step container the pids
// limit the build options cannot, as soon as the engine names it (it does
// so after creating the container, usually before starting it), and
// stops the step if it already holds more processes than that.
func (e *Engine) limitStep(ctx context.Context, id string, pids int64, log io.Writer) {
	if _, err := e.cli.ContainerUpdate(ctx, id, container.UpdateConfig{Resources: container.Resources{PidsLimit: &pids}}); err != nil {
		e.log.Warn("limit build step", "container", id, "err", err)
	}
	st, err := e.cli.ContainerStatsOneShot(ctx, id)
	if err != nil {
		return
	}
	defer st.Body.Close()
	var stats struct {
		PidsStats struct {
			Current uint64 `json:"current"`
		} `json:"pids_stats"`
	}
	if json.NewDecoder(io.LimitReader(st.Body, 1<<20)).Decode(&stats) == nil && stats.PidsStats.Current > uint64(pids) {
		_ = e.cli.ContainerKill(ctx, id, "KILL")
		if log != nil {
			fmt.Fprintf(log, "opsdojo: this RUN step started %d processes, more than the %d a build may run; it was stopped\n", stats.PidsStats.Current, pids)
		}
	}
}

func readBuild(r io.Reader, log io.Writer, res *grading.BuildResult, onStep func(id string)) error {
	if log == nil {
		log = io.Discard
	}
	// Only images this build made are its to remove: the id after a FROM
	// step is the base (a lab image, say, if the learner named one) and the
	// id after "Using cache" may belong to another session's build.
	notOurs := false
	inBand, err := ReadStream(r, func(text string) {
		io.WriteString(log, text)
		for line := range strings.SplitSeq(strings.TrimRight(text, "\n"), "\n") {
			if m := stepLine.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
				res.Step, _ = strconv.Atoi(m[1])
				notOurs = fromStep.MatchString(line)
				continue
			}
			if m := runningLine.FindStringSubmatch(line); m != nil && onStep != nil {
				onStep(m[1])
				continue
			}
			if strings.TrimSpace(line) == "---> Using cache" {
				notOurs = true
				continue
			}
			if m := imageLine.FindStringSubmatch(line); m != nil {
				if !notOurs {
					res.Images = append(res.Images, m[1])
				}
				notOurs = false
			}
		}
	})
	if inBand != "" {
		res.Failed, res.Error = true, inBand
		io.WriteString(log, inBand+"\n")
	}
	if err != nil {
		return fmt.Errorf("read build output: %w", err)
	}
	return nil
}

// ReadStream reads the JSON lines of an engine build, pull or import
// response: it hands each "stream" text to onStream and returns the error
// the engine reported in-band (the HTTP status is 200 either way).
func ReadStream(r io.Reader, onStream func(string)) (inBand string, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	for sc.Scan() {
		var msg struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil {
			continue
		}
		if msg.Stream != "" && onStream != nil {
			onStream(msg.Stream)
		}
		if msg.Error != "" {
			return msg.Error, nil
		}
	}
	return "", sc.Err()
}

// Probe runs a built image with limits on the learner's network and
// watches it: does it stay up, answer HTTP, turn healthy, run as root?
func (e *Engine) Probe(ctx context.Context, req grading.ProbeRequest) (grading.ProbeResult, error) {
	res := grading.ProbeResult{UID: -1}
	err := e.withNetwork(ctx, req.Session, func(network string) error {
		pids := int64(probePids)
		// The learner wrote this image's entrypoint: it gets the learner
		// container's seccomp profile (no io_uring, no ptrace of PID 1).
		profile, err := SeccompProfile()
		if err != nil {
			return err
		}
		created, err := e.cli.ContainerCreate(ctx, &container.Config{
			Image:  req.Image,
			Labels: map[string]string{LabelInstance: e.cfg.InstanceID, LabelSession: req.Session, "opsdojo.probe": "true"},
		}, &container.HostConfig{
			NetworkMode: container.NetworkMode(network),
			CapDrop:     []string{"ALL"},
			SecurityOpt: []string{"no-new-privileges:true", "seccomp=" + string(profile)},
			LogConfig:   container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m"}},
			Resources:   container.Resources{Memory: probeMemory, MemorySwap: probeMemory, NanoCPUs: 5e8, PidsLimit: &pids},
		}, nil, nil, "")
		if err != nil {
			return engineErr(err, "create probe container")
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			res.Logs = e.logTail(cctx, created.ID)
			_ = e.cli.ContainerRemove(cctx, created.ID, container.RemoveOptions{Force: true})
		}()
		if err := e.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
			res.Running = false
			res.Logs = err.Error()
			return nil
		}
		return e.watch(ctx, created.ID, req, &res)
	})
	return res, err
}

func (e *Engine) watch(ctx context.Context, id string, req grading.ProbeRequest, res *grading.ProbeResult) error {
	within := req.Within
	if within <= 0 {
		within = 20 * time.Second
	}
	start := time.Now()
	deadline := start.Add(within)
	settle := min(within, probeSettle)
	httpc := &http.Client{Timeout: time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var ip string
	for {
		info, err := e.cli.ContainerInspect(ctx, id)
		if err != nil {
			return engineErr(err, "inspect probe container")
		}
		res.Running = info.State != nil && info.State.Running
		if info.State != nil {
			res.ExitCode = info.State.ExitCode
			if info.State.Health != nil {
				res.Health = info.State.Health.Status
			}
		}
		if !res.Running {
			return nil
		}
		if res.UID < 0 && info.State != nil {
			res.UID = e.mainUID(ctx, id, info.State.Pid)
		}
		if ip == "" {
			for _, n := range info.NetworkSettings.Networks {
				ip = n.IPAddress
			}
		}
		if req.Port > 0 && res.HTTPStatus == 0 && ip != "" {
			url := fmt.Sprintf("http://%s:%d%s", ip, req.Port, req.Path)
			if r, err := httpc.Get(url); err == nil {
				r.Body.Close()
				if r.StatusCode >= 200 && r.StatusCode < 300 {
					res.HTTPStatus, res.HTTPAfter = r.StatusCode, time.Since(start)
				}
			}
		}
		// A service that crashes right after start must not pass just
		// because its uid was read first: it has to stay up for settle.
		// The same wait covers an image without HEALTHCHECK.
		done := (req.Port == 0 || res.HTTPStatus != 0) && (!req.WaitHealthy || res.Health == "healthy" || res.Health == "")
		if done && res.UID >= 0 && time.Since(start) >= settle {
			return nil
		}
		if time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// mainUID finds the uid of the container's main process from the engine's
// process list (ps runs on the host; no code runs in the learner's image).
func (e *Engine) mainUID(ctx context.Context, id string, hostPid int) int {
	top, err := e.cli.ContainerTop(ctx, id, []string{"-o", "pid,uid"})
	if err != nil {
		return -1
	}
	pidCol, uidCol := -1, -1
	for i, t := range top.Titles {
		switch strings.ToUpper(strings.TrimSpace(t)) {
		case "PID":
			pidCol = i
		case "UID":
			uidCol = i
		}
	}
	if pidCol < 0 || uidCol < 0 {
		return -1
	}
	for _, p := range top.Processes {
		if len(p) > max(pidCol, uidCol) && p[pidCol] == strconv.Itoa(hostPid) {
			uid, err := strconv.Atoi(strings.TrimSpace(p[uidCol]))
			if err == nil {
				return uid
			}
		}
	}
	return -1
}

func (e *Engine) logTail(ctx context.Context, id string) string {
	rc, err := e.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "40"})
	if err != nil {
		return ""
	}
	defer rc.Close()
	var out, errOut strings.Builder
	_, _ = stdcopy.StdCopy(&out, &errOut, io.LimitReader(rc, 64<<10))
	return out.String() + errOut.String()
}

// RemoveImage removes an image a build check made outside a session
// (`opsdojo grade`). Its parent layers stay, untagged, as build cache, the
// way `docker build` leaves them.
func (e *Engine) RemoveImage(ctx context.Context, ref string) error {
	_, err := e.cli.ImageRemove(ctx, ref, image.RemoveOptions{Force: true, PruneChildren: false})
	if err != nil && opsdojo.ErrorCode(engineErr(err, "")) != opsdojo.ENOTFOUND {
		return engineErr(err, "remove built image")
	}
	return nil
}

// rememberImages notes the images a session's builds made: the classic
// builder labels only the final image, so the other stages' images (the
// layer cache of a multi-stage build) are found through this list when
// the session ends. This list serves `opsdojo labs test` and `grade`; the
// server's session manager also records the images in its database, which
// outlives a restart.
func (e *Engine) rememberImages(session string, ids []string) {
	if session == "" || len(ids) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.builds == nil {
		e.builds = map[string][]string{}
	}
	e.builds[session] = append(e.builds[session], ids...)
}

// RemoveImages removes images by id, newest first, best effort: a
// build's step images, once the build's result is no longer needed.
func (e *Engine) RemoveImages(ctx context.Context, ids []string) {
	for i := len(ids) - 1; i >= 0; i-- {
		_, _ = e.cli.ImageRemove(ctx, ids[i], image.RemoveOptions{Force: true, PruneChildren: true})
	}
}

// RemoveSessionImages removes the images a session's build checks made,
// with their layer chains. Build checks keep their last image for the
// session's life so the learner's next build hits the layer cache (the
// legacy builder labels only the final image, so the chain is found
// through it).
func (e *Engine) RemoveSessionImages(ctx context.Context, sessionID string) error {
	list, err := e.cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", LabelSession+"="+sessionID), filters.Arg("label", LabelInstance+"="+e.cfg.InstanceID))})
	if err != nil {
		return engineErr(err, "list session images")
	}
	var errs []error
	for _, img := range list {
		if _, err := e.cli.ImageRemove(ctx, img.ID, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil &&
			opsdojo.ErrorCode(engineErr(err, "")) != opsdojo.ENOTFOUND {
			errs = append(errs, engineErr(err, "remove session image"))
		}
	}
	e.mu.Lock()
	ids := e.builds[sessionID]
	delete(e.builds, sessionID)
	e.mu.Unlock()
	e.RemoveImages(ctx, ids)
	return errors.Join(errs...)
}
