package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/distribution/reference"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// How build steps are bounded. The legacy builder runs each RUN step in a
// container with the build's Memory/CPU limits but no pids limit (its
// options have none, and RLIMIT_NPROC does not bind root), and it cannot
// drop capabilities: the engine refuses security options for builds on
// Linux. So the server puts every build under a parent cgroup of its own
// whose pids, memory and cpu limits bind whatever the step containers do.
// Where it cannot (systemd cgroup driver, or a server that cannot write
// the engine's cgroupfs), it watches the build instead: each step
// container gets a pids limit the moment its "Running in" line appears, and
// a step already over the limit by then is killed.
const (
	BuildLimitsCgroup = "cgroup"
	BuildLimitsWatch  = "watch"

	buildCgroupDir = "opsdojo-builds"
)

// buildCgroups makes and removes the parent cgroups of builds.
type buildCgroups struct {
	mode   string // BuildLimitsCgroup or BuildLimitsWatch
	reason string // why watch, when watch
	root   string // cgroupfs mount
	v2     bool
}

// cgroupLimits bound one build, all its steps together.
type cgroupLimits struct {
	Pids     int64
	Memory   int64
	CPUQuota int64 // µs per 100 ms period
}

// BuildLimits reports how build steps are bounded ("cgroup" or "watch")
// and, for watch, why. The server logs it at start-up.
func (e *Engine) BuildLimits(ctx context.Context) (mode, reason string) {
	b := e.buildCgroups(ctx)
	return b.mode, b.reason
}

func (e *Engine) buildCgroups(ctx context.Context) *buildCgroups {
	e.buildMu.Lock()
	defer e.buildMu.Unlock()
	if e.buildLimits != nil {
		return e.buildLimits
	}
	root := e.cfg.CgroupRoot
	if root == "" {
		root = "/sys/fs/cgroup"
	}
	if e.cfg.BuildLimits == BuildLimitsWatch {
		e.buildLimits = &buildCgroups{mode: BuildLimitsWatch, reason: "configured"}
		return e.buildLimits
	}
	ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	info, err := e.cli.Info(ictx)
	if err != nil {
		// Not kept: the next build asks again.
		return &buildCgroups{mode: BuildLimitsWatch, reason: "the engine did not answer: " + err.Error()}
	}
	e.buildLimits = detectBuildCgroups(info.CgroupDriver, info.CgroupVersion, root)
	return e.buildLimits
}

// detectBuildCgroups decides how builds are bounded on an engine with this
// cgroup driver and version, its cgroupfs mounted at root (as this process
// sees it: the engine must see the same tree).
func detectBuildCgroups(driver, version, root string) *buildCgroups {
	watch := func(format string, args ...any) *buildCgroups {
		return &buildCgroups{mode: BuildLimitsWatch, reason: fmt.Sprintf(format, args...)}
	}
	if driver != "cgroupfs" {
		return watch("the engine uses the %q cgroup driver; a parent cgroup needs cgroupfs", driver)
	}
	b := &buildCgroups{mode: BuildLimitsCgroup, root: root, v2: version == "2"}
	if b.v2 {
		dir := filepath.Join(root, buildCgroupDir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return watch("cannot create %s: %v", dir, err)
		}
		// Controllers must be enabled from the root down for pids.max and
		// friends to exist in the children.
		_ = os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+pids +memory +cpu"), 0)
		if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+pids +memory +cpu"), 0); err != nil {
			return watch("cannot enable the pids, memory and cpu controllers in %s: %v", dir, err)
		}
		return b
	}
	for _, ctrl := range []string{"pids", "memory", "cpu"} {
		dir := filepath.Join(root, ctrl, buildCgroupDir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return watch("cannot create %s: %v", dir, err)
		}
	}
	return b
}

// dirs are the parent cgroup's directories, one per controller (v1) or
// the one unified directory (v2).
func (b *buildCgroups) dirs(id string) map[string]string {
	if b.v2 {
		d := filepath.Join(b.root, buildCgroupDir, id)
		return map[string]string{"pids": d, "memory": d, "cpu": d}
	}
	return map[string]string{
		"pids":   filepath.Join(b.root, "pids", buildCgroupDir, id),
		"memory": filepath.Join(b.root, "memory", buildCgroupDir, id),
		"cpu":    filepath.Join(b.root, "cpu", buildCgroupDir, id),
	}
}

// create makes the parent cgroup of one build and returns the
// CgroupParent to give the engine.
func (b *buildCgroups) create(id string, lim cgroupLimits) (string, error) {
	write := func(dir, file, val string) error {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(val), 0); err != nil {
			return fmt.Errorf("build cgroup: set %s: %w", file, err)
		}
		return nil
	}
	d := b.dirs(id)
	var errs []error
	for _, dir := range d {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			errs = append(errs, fmt.Errorf("build cgroup: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		b.remove(id)
		return "", err
	}
	if b.v2 {
		errs = append(errs,
			write(d["pids"], "cgroup.subtree_control", "+pids +memory +cpu"),
			write(d["pids"], "pids.max", strconv.FormatInt(lim.Pids, 10)),
			write(d["memory"], "memory.max", strconv.FormatInt(lim.Memory, 10)),
			write(d["cpu"], "cpu.max", fmt.Sprintf("%d 100000", lim.CPUQuota)))
		if _, err := os.Stat(filepath.Join(d["memory"], "memory.swap.max")); err == nil {
			errs = append(errs, write(d["memory"], "memory.swap.max", "0"))
		}
	} else {
		errs = append(errs,
			write(d["pids"], "pids.max", strconv.FormatInt(lim.Pids, 10)),
			write(d["memory"], "memory.limit_in_bytes", strconv.FormatInt(lim.Memory, 10)),
			write(d["cpu"], "cpu.cfs_period_us", "100000"),
			write(d["cpu"], "cpu.cfs_quota_us", strconv.FormatInt(lim.CPUQuota, 10)))
		// Without swap accounting the file is absent; memory then bounds
		// RAM only, as for the learner's own container.
		if _, err := os.Stat(filepath.Join(d["memory"], "memory.memsw.limit_in_bytes")); err == nil {
			errs = append(errs, write(d["memory"], "memory.memsw.limit_in_bytes", strconv.FormatInt(lim.Memory, 10)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		b.remove(id)
		return "", err
	}
	return "/" + buildCgroupDir + "/" + id, nil
}

// remove kills whatever still runs in the build's cgroups (a step the
// engine kept running after the client gave up) and removes them, in every
// controller the engine created them in. It gives up after 10 s.
func (b *buildCgroups) remove(id string) error {
	var tops []string
	if b.v2 {
		tops = []string{filepath.Join(b.root, buildCgroupDir, id)}
	} else {
		ctrls, _ := os.ReadDir(b.root)
		for _, c := range ctrls {
			if c.IsDir() {
				tops = append(tops, filepath.Join(b.root, c.Name(), buildCgroupDir, id))
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	var errs []error
	for _, top := range tops {
		if _, err := os.Stat(top); err != nil {
			continue
		}
		for {
			err := removeCgroupTree(top)
			if err == nil || time.Now().After(deadline) {
				if err != nil {
					errs = append(errs, err)
				}
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return errors.Join(errs...)
}

// removeCgroupTree kills the tasks of dir and its children and removes
// them, deepest first. A cgroup directory is removed with rmdir (its files
// are not real files); EBUSY means tasks are still exiting.
func removeCgroupTree(top string) error {
	var dirs []string
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		killCgroupTasks(dirs[i])
		if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove build cgroup %s: %w", dirs[i], err)
		}
	}
	return nil
}

func killCgroupTasks(dir string) {
	if os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0) == nil {
		return
	}
	raw, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(raw)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// vetBases checks the images a learner's Dockerfile starts from before the
// engine sees it: each must be on this engine already (no pull: a registry
// named in FROM could be the host's loopback), be a lab image the server
// knows or an image this session built, and carry no ONBUILD trigger that
// would fetch from the host. It returns a refusal, or nil.
func (e *Engine) vetBases(ctx context.Context, session string, bases []grading.BaseImage) (*grading.BuildResult, error) {
	for _, b := range bases {
		refuse := func(format string, args ...any) (*grading.BuildResult, error) {
			return &grading.BuildResult{Failed: true, Refused: true, Line: b.Line, Error: fmt.Sprintf(format, args...)}, nil
		}
		known := strings.Join(e.cfg.BuildBases, ", ")
		named, err := reference.ParseNormalizedNamed(b.Ref)
		if err != nil && !isImageID(b.Ref) {
			return refuse("%q is not an image name Docker understands. Build on a lab image such as opsdojo/base:bookworm, or an earlier stage of this Dockerfile.", b.Ref)
		}
		info, ierr := e.cli.ImageInspect(ctx, b.Ref)
		if ierr != nil {
			if opsdojo.ErrorCode(engineErr(ierr, "")) == opsdojo.ENOTFOUND {
				return refuse("there is no image %s on this server, and it does not pull images: no registry is reachable from here. Build on one of the lab images (%s) or on an earlier stage of this Dockerfile.", b.Ref, known)
			}
			return nil, engineErr(ierr, "inspect base image")
		}
		allowed := err == nil && e.labBase(named)
		if !allowed && session != "" {
			var labels map[string]string
			if info.Config != nil {
				labels = info.Config.Labels
			}
			allowed = e.sessionImage(session, info.ID, labels)
		}
		if !allowed {
			return refuse("this server builds only on its lab images (%s), on images this lab session built, and on earlier stages of this Dockerfile; %s is none of them.", known, b.Ref)
		}
		if info.Config != nil {
			for _, trig := range info.Config.OnBuild {
				if msg := grading.RefuseTrigger(trig); msg != "" {
					return refuse("the image %s carries an ONBUILD trigger this server refuses: %s", b.Ref, msg)
				}
			}
		}
	}
	return nil, nil
}

func isImageID(ref string) bool {
	id := strings.TrimPrefix(ref, "sha256:")
	if len(id) < 12 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// labBase reports whether a name (tag aside) is one of the configured
// base repositories. Learners' builds are tagged opsdojo-build/..., so no
// learner can put an image under these names.
func (e *Engine) labBase(named reference.Named) bool {
	name := reference.FamiliarName(named)
	for _, pat := range e.cfg.BuildBases {
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
	}
	return false
}

// sessionImage reports whether an image was made by this session's builds:
// its id is one the session's build logs named, or it is a build's final
// image, which carries the session label the server set (the builder's
// labels override the Dockerfile's).
func (e *Engine) sessionImage(session, id string, labels map[string]string) bool {
	short := strings.TrimPrefix(id, "sha256:")
	e.mu.Lock()
	for _, own := range e.builds[session] {
		if strings.HasPrefix(short, own) {
			e.mu.Unlock()
			return true
		}
	}
	e.mu.Unlock()
	return labels[LabelSession] == session && labels[LabelInstance] == e.cfg.InstanceID
}

// limitsHit words which of its limits a failed build ran into, or "":
// the learner sees "Cannot fork" or exit code 137 and should learn why.
func (b *buildCgroups) limitsHit(id string, lim cgroupLimits, buildErr string) string {
	d := b.dirs(id)
	var hits []string
	// pids.events counts refusals where the fork was tried (the step's
	// own cgroup, gone by now, on most kernels); pids.peak, where the
	// kernel has it, tells from the parent.
	refused := cgroupField(readString(filepath.Join(d["pids"], "pids.events")), "max")
	peak := readInt64(filepath.Join(d["pids"], "pids.peak"))
	if refused > 0 || peak >= lim.Pids {
		hits = append(hits, fmt.Sprintf("its steps tried to run more than %d processes at once, the most a build may run, so starting another failed (\"Cannot fork\", \"Resource temporarily unavailable\")", lim.Pids))
	}
	peakFile := "memory.max_usage_in_bytes"
	if b.v2 {
		peakFile = "memory.peak"
	}
	// A step killed by the kernel exits 137; near the limit, that was the
	// memory cgroup.
	killed := strings.Contains(buildErr, "non-zero code: 137")
	if peak := readInt64(filepath.Join(d["memory"], peakFile)); killed && peak >= lim.Memory/100*95 {
		hits = append(hits, fmt.Sprintf("its steps used all the %d MiB of memory a build may use, so the kernel stopped a process (exit code 137)", lim.Memory>>20))
	}
	if len(hits) == 0 {
		return ""
	}
	return "the build hit its limits: " + strings.Join(hits, "; ")
}

func readString(path string) string {
	raw, _ := os.ReadFile(path)
	return string(raw)
}

// readInt64 reads a number file; -1 when it cannot.
func readInt64(path string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(readString(path)), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// cgroupField reads "key N" from a cgroup flat-keyed file.
func cgroupField(text, key string) int64 {
	for line := range strings.SplitSeq(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && k == key {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}
