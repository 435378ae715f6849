package doctor

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsdojo/opsdojo/internal/sandbox"
)

type fakeHost struct {
	info        sandbox.HostInfo
	infoErr     error
	buildMode   string
	firewall    []sandbox.FirewallRule
	storageOK   bool
	free, total uint64
	base        bool
	labs        []LabImage
}

func (f *fakeHost) Info(context.Context) (sandbox.HostInfo, error) { return f.info, f.infoErr }
func (f *fakeHost) BuildLimits(context.Context) (string, string) {
	return f.buildMode, "the engine uses the \"systemd\" cgroup driver"
}
func (f *fakeHost) Firewall(context.Context) []sandbox.FirewallRule { return f.firewall }
func (f *fakeHost) StorageSize(context.Context) (bool, string, error) {
	return f.storageOK, "overlay2 on ext4", nil
}
func (f *fakeHost) DiskFree(string) (uint64, uint64, error) { return f.free, f.total, nil }
func (f *fakeHost) BaseImage(context.Context) (string, bool, error) {
	return "opsdojo/base:bookworm", f.base, nil
}
func (f *fakeHost) LabImages(context.Context) []LabImage { return f.labs }

func healthy() *fakeHost {
	return &fakeHost{
		info: sandbox.HostInfo{ServerVersion: "20.10.24", APIVersion: "1.41", CgroupVersion: "1", CgroupDriver: "cgroupfs",
			StorageDriver: "overlay2", DockerRootDir: "/var/lib/docker", Seccomp: true},
		buildMode: sandbox.BuildLimitsCgroup,
		firewall:  []sandbox.FirewallRule{{Command: "iptables -I INPUT -i odj+ -j REJECT", Present: true}},
		storageOK: true, free: 100 << 30, total: 200 << 30, base: true,
		labs: []LabImage{{Lab: "git-basics", State: "current", Tag: "opsdojo/lab-git-basics:abc"}},
	}
}

// find returns the results of a check.
func find(rs []Result, check string) []Result {
	var out []Result
	for _, r := range rs {
		if r.Check == check {
			out = append(out, r)
		}
	}
	return out
}

func TestDoctorHealthyHost(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	rs := Run(context.Background(), healthy(), Config{DataDir: dir})
	var buf bytes.Buffer
	if Write(&buf, rs) {
		t.Fatalf("a healthy host failed:\n%s", buf.String())
	}
	for _, r := range rs {
		if r.Status != OK {
			t.Errorf("%s: %s %s", r.Check, r.Status, r.Detail)
		}
	}
	for _, check := range []string{"engine", "seccomp", "cgroups", "build-limits", "disk-quota", "firewall", "disk (data dir)", "disk (engine root)", "data dir", "images"} {
		if len(find(rs, check)) == 0 {
			t.Errorf("no %s line:\n%s", check, buf.String())
		}
	}
	if !strings.Contains(buf.String(), "OK    engine             Docker 20.10.24 (API 1.41)") {
		t.Errorf("engine line:\n%s", buf.String())
	}
}

func TestDoctorFindsProblems(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*fakeHost, string)
		check  string
		status Status
		fix    string
	}{
		{"engine down", func(h *fakeHost, _ string) { h.infoErr = errors.New("connection refused") }, "engine", Fail, "systemctl start docker"},
		{"old engine", func(h *fakeHost, _ string) { h.info.APIVersion = "1.40" }, "engine", Warn, "upgrade"},
		{"no seccomp", func(h *fakeHost, _ string) { h.info.Seccomp = false }, "seccomp", Fail, "seccomp"},
		{"build limits watch", func(h *fakeHost, _ string) { h.buildMode = sandbox.BuildLimitsWatch }, "build-limits", Warn, "cgroupfs"},
		{"no storage-opt", func(h *fakeHost, _ string) { h.storageOK = false }, "disk-quota", Warn, "pquota"},
		{"firewall rule missing", func(h *fakeHost, _ string) { h.firewall[0].Present = false }, "firewall", Fail, "iptables -I INPUT -i odj+ -j REJECT"},
		{"firewall not checkable", func(h *fakeHost, _ string) { h.firewall[0].Err = errors.New("permission denied") }, "firewall", Warn, "as root"},
		{"disk nearly full", func(h *fakeHost, _ string) { h.free = 512 << 20 }, "disk (data dir)", Fail, "free disk"},
		{"disk filling", func(h *fakeHost, _ string) { h.free, h.total = 8<<30, 1000<<30 }, "disk (data dir)", Warn, "prune"},
		{"base missing", func(h *fakeHost, _ string) { h.base = false }, "images", Fail, "opsdojo images build"},
		{"lab image outdated", func(h *fakeHost, _ string) { h.labs[0].State = "outdated" }, "images", Warn, "opsdojo images build git-basics"},
		{"lab image missing", func(h *fakeHost, _ string) { h.labs[0].State = "missing" }, "images", Fail, "opsdojo images build git-basics"},
		{"data dir open to all", func(_ *fakeHost, dir string) { os.Chmod(dir, 0o755) }, "data dir", Warn, "chmod o-rwx"},
		{"data dir is a file", func(_ *fakeHost, dir string) { os.Remove(dir); os.WriteFile(dir, nil, 0o600) }, "data dir", Fail, "folder"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := healthy()
			dir := filepath.Join(t.TempDir(), "data")
			if err := os.Mkdir(dir, 0o750); err != nil {
				t.Fatal(err)
			}
			c.mutate(h, dir)
			rs := Run(context.Background(), h, Config{DataDir: dir})
			var buf bytes.Buffer
			failed := Write(&buf, rs)
			if failed != (c.status == Fail) {
				t.Errorf("Write reported failed=%v for a %s", failed, c.status)
			}
			worst := OK
			for _, r := range find(rs, c.check) {
				if r.Status == c.status && strings.Contains(r.Fix, c.fix) {
					worst = r.Status
				}
			}
			if worst != c.status {
				t.Fatalf("no %s %s line with fix %q:\n%s", c.status, c.check, c.fix, buf.String())
			}
			if !strings.Contains(buf.String(), "fix: ") {
				t.Fatalf("no fix hint printed:\n%s", buf.String())
			}
			if c.name == "engine down" && len(find(rs, "images")) != 0 {
				t.Errorf("image checks ran without an engine:\n%s", buf.String())
			}
		})
	}
}
