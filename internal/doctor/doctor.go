// Package doctor checks that a host can run opsdojo safely: the engine,
// seccomp, cgroups and build limits, the firewall rules, free disk, disk
// quotas and the lab images. Each finding is OK, WARN or FAIL with a hint.
package doctor

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// Status is how a check went.
type Status string

// The statuses, worst last.
const (
	OK   Status = "OK"
	Warn Status = "WARN"
	Fail Status = "FAIL"
)

// Result is one line of the report.
type Result struct {
	Check  string
	Status Status
	Detail string
	// Fix says what to do about a WARN or FAIL.
	Fix string
}

// LabImage is the state of one lab's image: current, outdated or missing.
type LabImage struct {
	Lab, State, Tag string
	Err             error
}

// Host is what the checks ask; the real one talks to the engine, the
// firewall and the filesystem.
type Host interface {
	Info(ctx context.Context) (sandbox.HostInfo, error)
	BuildLimits(ctx context.Context) (mode, reason string)
	Firewall(ctx context.Context) []sandbox.FirewallRule
	StorageSize(ctx context.Context) (ok bool, reason string, err error)
	// DiskFree returns the free and total bytes of path's filesystem.
	DiskFree(path string) (free, total uint64, err error)
	BaseImage(ctx context.Context) (name string, present bool, err error)
	LabImages(ctx context.Context) []LabImage
}

// Config names what the checks look at.
type Config struct {
	DataDir string
	// MinFree and WarnFree are the free-disk thresholds (defaults 1 GiB
	// and 5 GiB); below WarnFraction of the disk free also warns.
	MinFree, WarnFree uint64
	WarnFraction      float64
}

// Run runs every check.
func Run(ctx context.Context, h Host, cfg Config) []Result {
	if cfg.MinFree == 0 {
		cfg.MinFree = 1 << 30
	}
	if cfg.WarnFree == 0 {
		cfg.WarnFree = 5 << 30
	}
	if cfg.WarnFraction == 0 {
		cfg.WarnFraction = 0.10
	}
	var out []Result
	add := func(check string, s Status, detail, fix string) {
		out = append(out, Result{Check: check, Status: s, Detail: detail, Fix: fix})
	}
	info, err := h.Info(ctx)
	if err != nil {
		add("engine", Fail, "the Docker engine does not answer: "+err.Error(),
			"start it (systemctl start docker) and make sure this user may use its socket (root, or the docker group)")
	} else {
		detail := fmt.Sprintf("Docker %s (API %s), storage driver %s, root %s", info.ServerVersion, info.APIVersion, info.StorageDriver, info.DockerRootDir)
		if apiBelow(info.APIVersion, 1, 41) {
			add("engine", Warn, detail, "opsdojo is tested with API 1.41 (Docker 20.10) and later; upgrade the engine")
		} else {
			add("engine", OK, detail, "")
		}
		if info.Seccomp {
			add("seccomp", OK, "the engine applies seccomp profiles", "")
		} else {
			add("seccomp", Fail, "the engine does not apply seccomp profiles ("+strings.Join(info.SecurityOptions, "; ")+")",
				"learner containers rely on opsdojo's seccomp profile: use a kernel and engine built with seccomp (CONFIG_SECCOMP, libseccomp)")
		}
		add("cgroups", OK, fmt.Sprintf("cgroup v%s, %s driver", info.CgroupVersion, info.CgroupDriver), "")
		if mode, reason := h.BuildLimits(ctx); mode == sandbox.BuildLimitsCgroup {
			add("build-limits", OK, "learner image builds run under a parent cgroup (pids, memory, cpu)", "")
		} else {
			add("build-limits", Warn, "learner image builds are bounded by watching each step: "+reason,
				"for a parent cgroup, run the engine with the cgroupfs driver (exec-opts native.cgroupdriver=cgroupfs) and opsdojo as root")
		}
		if ok, reason, err := h.StorageSize(ctx); err != nil {
			add("disk-quota", Warn, "could not tell whether --storage-opt size works: "+err.Error(), "build the images first (opsdojo images build)")
		} else if ok {
			add("disk-quota", OK, "the engine caps each container's writable layer (--storage-opt size)", "")
		} else {
			add("disk-quota", Warn, "no --storage-opt size ("+reason+"); the disk quota is enforced by measuring, so a fast writer can overshoot for a few seconds",
				"for hard caps put the engine's data root on XFS mounted with pquota (overlay2)")
		}
	}
	for _, r := range h.Firewall(ctx) {
		switch {
		case r.Err != nil:
			add("firewall", Warn, "cannot check: "+r.Err.Error(), "run doctor as root to check the rule: "+r.Command)
		case r.Present:
			add("firewall", OK, r.Command, "")
		default:
			add("firewall", Fail, "missing: "+r.Command, "start opsdojo as root once (it installs the rule), or run: "+r.Command)
		}
	}
	disks := []struct{ name, path string }{{"disk (data dir)", cfg.DataDir}}
	if err == nil && info.DockerRootDir != "" {
		disks = append(disks, struct{ name, path string }{"disk (engine root)", info.DockerRootDir})
	}
	for _, d := range disks {
		out = append(out, diskCheck(h, d.name, d.path, cfg))
	}
	out = append(out, dataDirCheck(cfg.DataDir))
	if err == nil {
		name, present, err := h.BaseImage(ctx)
		switch {
		case err != nil:
			add("images", Fail, "base image "+name+": "+err.Error(), "")
		case !present:
			add("images", Fail, "base image "+name+" is missing", "run: opsdojo images build")
		default:
			add("images", OK, "base image "+name, "")
			for _, l := range h.LabImages(ctx) {
				switch {
				case l.Err != nil:
					add("images", Fail, "lab "+l.Lab+": "+l.Err.Error(), "run: opsdojo images build "+l.Lab)
				case l.State == "current":
					add("images", OK, "lab "+l.Lab+": "+l.Tag, "")
				case l.State == "outdated":
					add("images", Warn, "lab "+l.Lab+": built from older files; starts would build "+l.Tag+" first",
						"run: opsdojo images build "+l.Lab)
				default:
					add("images", Fail, "lab "+l.Lab+": no image", "run: opsdojo images build "+l.Lab)
				}
			}
		}
	}
	return out
}

func diskCheck(h Host, name, path string, cfg Config) Result {
	r := Result{Check: name}
	probe := path
	for {
		if _, err := os.Stat(probe); err == nil || probe == "." || probe == "/" {
			break
		}
		// A data dir created at first start: look at its parent's disk.
		probe = parentDir(probe)
	}
	free, total, err := h.DiskFree(probe)
	if err != nil {
		r.Status, r.Detail, r.Fix = Warn, "cannot measure "+path+": "+err.Error(), "run doctor as the user opsdojo runs as"
		return r
	}
	r.Detail = fmt.Sprintf("%s: %s free of %s", path, gib(free), gib(total))
	switch {
	case free < cfg.MinFree:
		r.Status, r.Fix = Fail, "free disk space: learners' containers, builds and recordings will fail"
	case free < cfg.WarnFree || (total > 0 && float64(free) < cfg.WarnFraction*float64(total)):
		r.Status, r.Fix = Warn, "free some disk space soon (docker image prune of unused images, old recordings)"
	default:
		r.Status = OK
	}
	return r
}

func dataDirCheck(dir string) Result {
	r := Result{Check: "data dir"}
	fi, err := os.Stat(dir)
	switch {
	case os.IsNotExist(err):
		r.Status, r.Detail = OK, dir+" does not exist yet; serve creates it"
	case err != nil:
		r.Status, r.Detail, r.Fix = Fail, err.Error(), "make the data dir readable and writable by opsdojo's user"
	case !fi.IsDir():
		r.Status, r.Detail, r.Fix = Fail, dir+" is not a folder", "point --data-dir at a folder"
	case fi.Mode().Perm()&0o007 != 0:
		r.Status, r.Detail, r.Fix = Warn, fmt.Sprintf("%s is open to every user (%v): it holds password hashes and recordings", dir, fi.Mode().Perm()),
			"chmod o-rwx "+dir
	default:
		r.Status, r.Detail = OK, fmt.Sprintf("%s (%v)", dir, fi.Mode().Perm())
	}
	return r
}

func parentDir(p string) string {
	i := strings.LastIndexByte(strings.TrimRight(p, "/"), '/')
	switch {
	case i < 0:
		return "."
	case i == 0:
		return "/"
	}
	return p[:i]
}

func gib(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

// apiBelow reports whether an API version "1.41" is below major.minor.
func apiBelow(v string, major, minor int) bool {
	a, b, ok := strings.Cut(v, ".")
	ma, err1 := strconv.Atoi(a)
	mi, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return false
	}
	return ma < major || (ma == major && mi < minor)
}

// Write prints one line per result, with its fix indented below, and
// reports whether any failed.
func Write(w io.Writer, results []Result) (failed bool) {
	for _, r := range results {
		fmt.Fprintf(w, "%-4s  %-18s %s\n", r.Status, r.Check, r.Detail)
		if r.Fix != "" && r.Status != OK {
			fmt.Fprintf(w, "      %-18s fix: %s\n", "", r.Fix)
		}
		failed = failed || r.Status == Fail
	}
	return failed
}
