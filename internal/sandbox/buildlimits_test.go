package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsdojo/opsdojo/internal/grading"
)

// TestBuildOptionsTakeNothingFromTheLearner: the engine would fetch a
// RemoteContext itself, from the host; build args and extra hosts would
// let a Dockerfile reach further. None is ever set.
func TestBuildOptionsTakeNothingFromTheLearner(t *testing.T) {
	req := grading.BuildRequest{Dockerfile: "Dockerfile", Tag: "opsdojo-build/s:c", Session: "s"}
	o := buildOptions(req, "opsdojo-s", "/opsdojo-builds/x", cgroupLimits{Pids: 64, Memory: 1 << 30, CPUQuota: 50000}, "inst")
	if o.RemoteContext != "" || len(o.BuildArgs) != 0 || len(o.ExtraHosts) != 0 || o.PullParent || len(o.SecurityOpt) != 0 {
		t.Fatalf("options carry more than they should: %+v", o)
	}
	if o.CgroupParent != "/opsdojo-builds/x" || o.NetworkMode != "opsdojo-s" || o.Memory != 1<<30 || o.MemorySwap != 1<<30 || o.CPUQuota != 50000 {
		t.Fatalf("limits not set: %+v", o)
	}
	if o.Labels[LabelSession] != "s" || o.Labels[LabelInstance] != "inst" {
		t.Fatalf("labels %v", o.Labels)
	}
}

// fakeCgroupfs lays out the files a cgroupfs shows, in a temp dir.
func fakeCgroupfs(t *testing.T, v2 bool) string {
	root := t.TempDir()
	if v2 {
		if err := os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return root
	}
	for _, c := range []string{"pids", "memory", "cpu", "blkio"} {
		if err := os.MkdirAll(filepath.Join(root, c), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestDetectBuildCgroups(t *testing.T) {
	if b := detectBuildCgroups("systemd", "2", t.TempDir()); b.mode != BuildLimitsWatch || !strings.Contains(b.reason, "systemd") {
		t.Fatalf("systemd: %+v", b)
	}
	if b := detectBuildCgroups("cgroupfs", "1", filepath.Join(t.TempDir(), "missing", "\x00")); b.mode != BuildLimitsWatch || b.reason == "" {
		t.Fatalf("unwritable: %+v", b)
	}
	root := fakeCgroupfs(t, false)
	if b := detectBuildCgroups("cgroupfs", "1", root); b.mode != BuildLimitsCgroup || b.v2 {
		t.Fatalf("v1: %+v", b)
	}
	for _, c := range []string{"pids", "memory", "cpu"} {
		if _, err := os.Stat(filepath.Join(root, c, buildCgroupDir)); err != nil {
			t.Fatalf("v1: %v", err)
		}
	}
	root = fakeCgroupfs(t, true)
	b := detectBuildCgroups("cgroupfs", "2", root)
	if b.mode != BuildLimitsCgroup || !b.v2 {
		t.Fatalf("v2: %+v", b)
	}
	if got := read(t, filepath.Join(root, buildCgroupDir, "cgroup.subtree_control")); got != "+pids +memory +cpu" {
		t.Fatalf("v2 subtree_control %q", got)
	}
}

func TestBuildCgroupLimits(t *testing.T) {
	lim := cgroupLimits{Pids: 512, Memory: 2 << 30, CPUQuota: 100000}
	t.Run("v1", func(t *testing.T) {
		root := fakeCgroupfs(t, false)
		b := detectBuildCgroups("cgroupfs", "1", root)
		// Swap accounting on: the memsw file exists before the write.
		if err := os.MkdirAll(filepath.Join(root, "memory", buildCgroupDir, "b1"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "memory", buildCgroupDir, "b1", "memory.memsw.limit_in_bytes"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		parent, err := b.create("b1", lim)
		if err != nil {
			t.Fatal(err)
		}
		if parent != "/opsdojo-builds/b1" {
			t.Fatalf("parent %q", parent)
		}
		for file, want := range map[string]string{
			"pids/opsdojo-builds/b1/pids.max":                      "512",
			"memory/opsdojo-builds/b1/memory.limit_in_bytes":       "2147483648",
			"memory/opsdojo-builds/b1/memory.memsw.limit_in_bytes": "2147483648",
			"cpu/opsdojo-builds/b1/cpu.cfs_period_us":              "100000",
			"cpu/opsdojo-builds/b1/cpu.cfs_quota_us":               "100000",
		} {
			if got := read(t, filepath.Join(root, file)); got != want {
				t.Errorf("%s = %q, want %q", file, got, want)
			}
		}
	})
	t.Run("v2", func(t *testing.T) {
		root := fakeCgroupfs(t, true)
		b := detectBuildCgroups("cgroupfs", "2", root)
		if _, err := b.create("b2", lim); err != nil {
			t.Fatal(err)
		}
		for file, want := range map[string]string{
			"pids.max":               "512",
			"memory.max":             "2147483648",
			"cpu.max":                "100000 100000",
			"cgroup.subtree_control": "+pids +memory +cpu",
		} {
			if got := read(t, filepath.Join(root, buildCgroupDir, "b2", file)); got != want {
				t.Errorf("%s = %q, want %q", file, got, want)
			}
		}
	})
}

func TestBuildLimitsHit(t *testing.T) {
	root := fakeCgroupfs(t, false)
	b := detectBuildCgroups("cgroupfs", "1", root)
	lim := cgroupLimits{Pids: 64, Memory: 128 << 20, CPUQuota: 100000}
	if _, err := b.create("b", lim); err != nil {
		t.Fatal(err)
	}
	if why := b.limitsHit("b", lim, "returned a non-zero code: 2"); why != "" {
		t.Fatalf("nothing hit, yet %q", why)
	}
	pids := filepath.Join(root, "pids", buildCgroupDir, "b")
	os.WriteFile(filepath.Join(pids, "pids.peak"), []byte("64\n"), 0o644)
	if why := b.limitsHit("b", lim, "returned a non-zero code: 2"); !strings.Contains(why, "more than 64 processes") {
		t.Fatalf("pids: %q", why)
	}
	os.WriteFile(filepath.Join(pids, "pids.peak"), []byte("3\n"), 0o644)
	os.WriteFile(filepath.Join(pids, "pids.events"), []byte("max 7\n"), 0o644)
	os.WriteFile(filepath.Join(root, "memory", buildCgroupDir, "b", "memory.max_usage_in_bytes"), []byte("134000000\n"), 0o644)
	if why := b.limitsHit("b", lim, "returned a non-zero code: 2"); strings.Contains(why, "MiB") {
		t.Fatalf("memory named for a step that was not killed: %q", why)
	}
	why := b.limitsHit("b", lim, "returned a non-zero code: 137")
	if !strings.Contains(why, "more than 64 processes") || !strings.Contains(why, "128 MiB") {
		t.Fatalf("pids and memory: %q", why)
	}
}
