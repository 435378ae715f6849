package dockerproxy

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"
)

var testOwner = Owner{Instance: "inst", Session: "s1", User: "7", Lab: "lab", Network: "opsdojo-s1"}
var testBudget = Budget{Memory: 512 << 20, NanoCPUs: 1e9, PidsLimit: 256, Seccomp: `{"defaultAction":"SCMP_ACT_ERRNO"}`}

func TestMatch(t *testing.T) {
	cases := []struct {
		method, path string
		op           Op
		ref          string
	}{
		{"GET", "/_ping", OpPing, ""},
		{"HEAD", "/v1.41/_ping", OpPing, ""},
		{"GET", "/v1.41/info", OpInfo, ""},
		{"POST", "/v1.41/containers/create", OpContainerCreate, ""},
		{"POST", "/containers/create", OpContainerCreate, ""},
		{"GET", "/v1.41/containers/json", OpContainerList, ""},
		{"GET", "/v1.41/containers/abc/json", OpContainerInspect, "abc"},
		{"DELETE", "/v1.41/containers/abc", OpContainerRemove, "abc"},
		{"POST", "/v1.41/containers/web/attach", OpContainerAttach, "web"},
		{"POST", "/v1.41/containers/web/exec", OpExecCreate, "web"},
		{"POST", "/v1.41/exec/0123/start", OpExecStart, "0123"},
		{"GET", "/v1.41/images/json", OpImageList, ""},
		{"GET", "/v1.41/images/library/app:1/json", OpImageInspect, "library/app:1"},
		{"POST", "/v1.41/images/app/tag", OpImageTag, "app"},
		{"DELETE", "/v1.41/images/registry:5000/x/app:1", OpImageRemove, "registry:5000/x/app:1"},
		{"POST", "/v1.41/build", OpBuild, ""},
		{"POST", "/v1.41/volumes/create", OpVolumeCreate, ""},
		{"DELETE", "/v1.41/volumes/data", OpVolumeRemove, "data"},
		{"GET", "/v1.41/networks", OpNetworkList, ""},
	}
	for _, c := range cases {
		got, ok := Match(c.method, c.path)
		if !ok || got.Op != c.op || got.Ref != c.ref {
			t.Errorf("Match(%s %s) = %+v, %v; want op %d ref %q", c.method, c.path, got, ok, c.op, c.ref)
		}
	}
	refused := []struct{ method, path string }{
		{"GET", "/containers/abc/archive"}, // docker cp
		{"PUT", "/containers/abc/archive"},
		{"HEAD", "/containers/abc/archive"},
		{"POST", "/images/create"}, // pull
		{"POST", "/images/app/push"},
		{"POST", "/containers/abc/commit"},
		{"POST", "/commit"},
		{"POST", "/networks/create"},
		{"POST", "/networks/n/connect"},
		{"GET", "/events"},
		{"POST", "/swarm/init"},
		{"GET", "/system/df"},
		{"POST", "/plugins/pull"},
		{"POST", "/session"},
		{"POST", "/containers/prune"},
		{"POST", "/v1.41/containers/abc/update"},
		{"POST", "/v1.41/containers/abc/attach/ws"},
		{"GET", "/v1.41/containers/abc/export"},
		{"POST", "/v1.41/../containers/create"},
		{"POST", "/v1.41//containers/create"},
		{"POST", "/v1.41/containers/./create"},
		{"GET", "/v1.41/images/get"},
		{"POST", "/v1.41/images/load"},
	}
	for _, c := range refused {
		if got, ok := Match(c.method, c.path); ok {
			t.Errorf("Match(%s %s) = %+v; want refused", c.method, c.path, got)
		}
	}
}

func TestStripVersion(t *testing.T) {
	for in, want := range map[string]string{"/v1.41/info": "/info", "/v1.41": "/", "/info": "/info", "/v1x/info": "/v1x/info", "/v12.3/a/b": "/a/b"} {
		if got := StripVersion(in); got != want {
			t.Errorf("StripVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

// createBody is what `docker run` sends, with the learner's changes.
func createBody(t *testing.T, edit func(c *container.Config, h *container.HostConfig)) []byte {
	t.Helper()
	c := &container.Config{Image: "app", Cmd: []string{"sh"}, Labels: map[string]string{"mine": "1"}}
	h := &container.HostConfig{NetworkMode: "default", LogConfig: container.LogConfig{}}
	if edit != nil {
		edit(c, h)
	}
	b, err := json.Marshal(container.CreateRequest{Config: c, HostConfig: h})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRewriteCreateForcesTheSandbox(t *testing.T) {
	body := createBody(t, func(c *container.Config, h *container.HostConfig) {
		c.Labels["opsdojo.session"] = "someone-else"
		c.Labels["OPSDOJO.instance"] = "x"
		// No limits asked: the first container may take the whole budget
		// (budget_test.go: shares, and asks beyond what is left).
		h.Memory = 0
		pids := int64(-1)
		h.PidsLimit = &pids
		h.NanoCPUs = 0
		h.CapDrop = nil
		h.SecurityOpt = []string{"no-new-privileges"}
	})
	plan, err := RewriteCreate(body, testOwner, testBudget)
	if err != nil {
		t.Fatal(err)
	}
	var got container.CreateRequest
	if err := json.Unmarshal(plan.Body, &got); err != nil {
		t.Fatal(err)
	}
	h := got.HostConfig
	if h.Memory != testBudget.Memory || h.MemorySwap != testBudget.Memory || h.NanoCPUs != testBudget.NanoCPUs || *h.PidsLimit != testBudget.PidsLimit {
		t.Errorf("limits = mem %d swap %d cpu %d pids %d; want the budget", h.Memory, h.MemorySwap, h.NanoCPUs, *h.PidsLimit)
	}
	if string(h.NetworkMode) != testOwner.Network || got.NetworkingConfig.EndpointsConfig[testOwner.Network] == nil || len(got.NetworkingConfig.EndpointsConfig) != 1 {
		t.Errorf("network = %s %v; want only %s", h.NetworkMode, got.NetworkingConfig.EndpointsConfig, testOwner.Network)
	}
	if len(h.CapDrop) != 1 || h.CapDrop[0] != "ALL" || len(h.CapAdd) != 0 || h.Privileged {
		t.Errorf("caps = drop %v add %v privileged %v", h.CapDrop, h.CapAdd, h.Privileged)
	}
	if len(h.SecurityOpt) != 2 || h.SecurityOpt[0] != "no-new-privileges:true" || h.SecurityOpt[1] != "seccomp="+testBudget.Seccomp {
		t.Errorf("security opts = %v", h.SecurityOpt)
	}
	if h.Init == nil || !*h.Init {
		t.Error("no init: a fork bomb's zombies would hold the pids limit")
	}
	l := got.Config.Labels
	if l["opsdojo.session"] != "s1" || l["opsdojo.instance"] != "inst" || l[LabelCreator] != CreatorCLI || l["mine"] != "1" || l["OPSDOJO.instance"] != "" {
		t.Errorf("labels = %v", l)
	}
	if h.MaskedPaths != nil || h.ReadonlyPaths != nil {
		t.Error("masked paths must stay the engine's default")
	}
}

func TestRewriteCreateKeepsSmallerLimits(t *testing.T) {
	body := createBody(t, func(_ *container.Config, h *container.HostConfig) {
		h.Memory = 64 << 20
		h.NanoCPUs = 5e8
		p := int64(10)
		h.PidsLimit = &p
	})
	plan, err := RewriteCreate(body, testOwner, testBudget)
	if err != nil {
		t.Fatal(err)
	}
	var got container.CreateRequest
	_ = json.Unmarshal(plan.Body, &got)
	if got.HostConfig.Memory != 64<<20 || got.HostConfig.NanoCPUs != 5e8 || *got.HostConfig.PidsLimit != 10 {
		t.Errorf("limits = %d %d %d", got.HostConfig.Memory, got.HostConfig.NanoCPUs, *got.HostConfig.PidsLimit)
	}
}

// TestRewriteCreateRefuses is the attack table at the policy level: each
// is what the CLI sends for the flag.
func TestRewriteCreateRefuses(t *testing.T) {
	yes := true
	cases := map[string]func(c *container.Config, h *container.HostConfig){
		"--privileged":               func(_ *container.Config, h *container.HostConfig) { h.Privileged = true },
		"--cap-add SYS_ADMIN":        func(_ *container.Config, h *container.HostConfig) { h.CapAdd = []string{"SYS_ADMIN"} },
		"-v /:/host":                 func(_ *container.Config, h *container.HostConfig) { h.Binds = []string{"/:/host"} },
		"-v ./x:/x":                  func(_ *container.Config, h *container.HostConfig) { h.Binds = []string{"./x:/x"} },
		"-v vol:/x:rshared":          func(_ *container.Config, h *container.HostConfig) { h.Binds = []string{"vol:/x:rshared"} },
		"--pid host":                 func(_ *container.Config, h *container.HostConfig) { h.PidMode = "host" },
		"--pid container:x":          func(_ *container.Config, h *container.HostConfig) { h.PidMode = "container:x" },
		"--network host":             func(_ *container.Config, h *container.HostConfig) { h.NetworkMode = "host" },
		"--network container:x":      func(_ *container.Config, h *container.HostConfig) { h.NetworkMode = "container:x" },
		"--network opsdojo-other":    func(_ *container.Config, h *container.HostConfig) { h.NetworkMode = "opsdojo-other" },
		"--ipc host":                 func(_ *container.Config, h *container.HostConfig) { h.IpcMode = "host" },
		"--uts host":                 func(_ *container.Config, h *container.HostConfig) { h.UTSMode = "host" },
		"--userns host":              func(_ *container.Config, h *container.HostConfig) { h.UsernsMode = "host" },
		"--cgroupns host":            func(_ *container.Config, h *container.HostConfig) { h.CgroupnsMode = "host" },
		"--cgroup-parent":            func(_ *container.Config, h *container.HostConfig) { h.CgroupParent = "/" },
		"--security-opt seccomp":     func(_ *container.Config, h *container.HostConfig) { h.SecurityOpt = []string{"seccomp=unconfined"} },
		"--security-opt apparmor":    func(_ *container.Config, h *container.HostConfig) { h.SecurityOpt = []string{"apparmor=unconfined"} },
		"--security-opt systempaths": func(_ *container.Config, h *container.HostConfig) { h.MaskedPaths = []string{} },
		"--device": func(_ *container.Config, h *container.HostConfig) {
			h.Devices = []container.DeviceMapping{{PathOnHost: "/dev/sda"}}
		},
		"--gpus": func(_ *container.Config, h *container.HostConfig) {
			h.DeviceRequests = []container.DeviceRequest{{Count: -1}}
		},
		"--runtime": func(_ *container.Config, h *container.HostConfig) { h.Runtime = "runc" },
		"--sysctl": func(_ *container.Config, h *container.HostConfig) {
			h.Sysctls = map[string]string{"net.ipv4.ip_forward": "1"}
		},
		"-p": func(_ *container.Config, h *container.HostConfig) {
			h.PortBindings = nat.PortMap{"80/tcp": {{HostPort: "80"}}}
		},
		"-P":                  func(_ *container.Config, h *container.HostConfig) { h.PublishAllPorts = true },
		"--volumes-from":      func(_ *container.Config, h *container.HostConfig) { h.VolumesFrom = []string{"other"} },
		"--volume-driver":     func(_ *container.Config, h *container.HostConfig) { h.VolumeDriver = "x" },
		"--log-driver syslog": func(_ *container.Config, h *container.HostConfig) { h.LogConfig.Type = "syslog" },
		"--oom-kill-disable":  func(_ *container.Config, h *container.HostConfig) { h.OomKillDisable = &yes },
		"--ulimit": func(_ *container.Config, h *container.HostConfig) {
			h.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 1 << 30}}
		},
		"--restart always":  func(_ *container.Config, h *container.HostConfig) { h.RestartPolicy.Name = "always" },
		"--link":            func(_ *container.Config, h *container.HostConfig) { h.Links = []string{"other:o"} },
		"--cpuset-cpus":     func(_ *container.Config, h *container.HostConfig) { h.CpusetCpus = "0" },
		"--device-read-bps": func(_ *container.Config, h *container.HostConfig) { h.BlkioDeviceReadBps = nil; h.BlkioWeight = 10 },
	}
	for name, edit := range cases {
		_, err := RewriteCreate(createBody(t, edit), testOwner, testBudget)
		var ref *Refusal
		if !errors.As(err, &ref) || ref.Status != http.StatusForbidden || !strings.HasPrefix(ref.Message, "opsdojo: ") {
			t.Errorf("%s: err = %v; want a 403 refusal", name, err)
		}
	}
}

func TestRewriteCreateMounts(t *testing.T) {
	raw := func(s string) []byte { return []byte(s) }
	bad := map[string][]byte{
		"bind mount":               raw(`{"Image":"a","HostConfig":{"Mounts":[{"Type":"bind","Source":"/","Target":"/host"}]}}`),
		"npipe":                    raw(`{"Image":"a","HostConfig":{"Mounts":[{"Type":"npipe","Source":"x","Target":"/x"}]}}`),
		"volume driver opts":       raw(`{"Image":"a","HostConfig":{"Mounts":[{"Type":"volume","Source":"v","Target":"/x","VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"type":"none","o":"bind","device":"/"}}}}]}}`),
		"volume with bind options": raw(`{"Image":"a","HostConfig":{"Mounts":[{"Type":"volume","Source":"v","Target":"/x","BindOptions":{"Propagation":"rshared"}}]}}`),
		"volume path source":       raw(`{"Image":"a","HostConfig":{"Mounts":[{"Type":"volume","Source":"/etc","Target":"/x"}]}}`),
		"unknown field":            raw(`{"Image":"a","HostConfig":{"Privileged2":true}}`),
		"unknown top field":        raw(`{"Image":"a","Evil":1}`),
		"trailing data":            raw(`{"Image":"a"} {"HostConfig":{"Privileged":true}}`),
		"empty":                    raw(``),
		"null":                     raw(`null`),
		"not json":                 raw(`Image=a`),
		"no image":                 raw(`{"Cmd":["sh"]}`),
		"endpoint ip":              raw(`{"Image":"a","NetworkingConfig":{"EndpointsConfig":{"opsdojo-s1":{"IPAMConfig":{"IPv4Address":"10.0.0.1"}}}}}`),
		"other endpoint":           raw(`{"Image":"a","NetworkingConfig":{"EndpointsConfig":{"opsdojo-s2":{}}}}`),
	}
	for name, body := range bad {
		if _, err := RewriteCreate(body, testOwner, testBudget); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	plan, err := RewriteCreate(raw(`{"Image":"a","HostConfig":{"Binds":["data:/data:ro"],"Mounts":[{"Type":"volume","Source":"cache","Target":"/c"},{"Type":"tmpfs","Target":"/t"}]},"NetworkingConfig":{"EndpointsConfig":{"opsdojo-s1":{"Aliases":["api"]}}}}`), testOwner, testBudget)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(plan.Volumes, ",") != "data,cache" {
		t.Errorf("volumes = %v; want both named volumes to be vetted", plan.Volumes)
	}
	var got container.CreateRequest
	_ = json.Unmarshal(plan.Body, &got)
	if got.HostConfig.Mounts[0].VolumeOptions.Labels[LabelSession] != "s1" {
		t.Error("a volume the mount creates must carry the owner labels")
	}
	if a := got.NetworkingConfig.EndpointsConfig["opsdojo-s1"].Aliases; len(a) != 1 || a[0] != "api" {
		t.Errorf("aliases = %v", a)
	}
}

func TestCheckExec(t *testing.T) {
	if _, err := CheckExec([]byte(`{"Cmd":["sh"],"Privileged":true}`)); err == nil {
		t.Error("exec --privileged accepted")
	}
	if _, err := CheckExec([]byte(`{"Cmd":["sh"],"Evil":true}`)); err == nil {
		t.Error("unknown field accepted")
	}
	if _, err := CheckExec(nil); err == nil {
		t.Error("empty body accepted")
	}
	if _, err := CheckExec([]byte(`{"Cmd":["sh"],"User":"root","Tty":true,"AttachStdin":true}`)); err != nil {
		t.Errorf("plain exec refused: %v", err)
	}
}

func TestRewriteVolumeCreate(t *testing.T) {
	for name, body := range map[string]string{
		"bind options":  `{"Name":"v","Driver":"local","DriverOpts":{"type":"none","o":"bind","device":"/"}}`,
		"nfs":           `{"Name":"v","DriverOpts":{"type":"nfs","o":"addr=10.0.0.1"}}`,
		"other driver":  `{"Name":"v","Driver":"sshfs"}`,
		"reserved name": `{"Name":"opsdojo-x"}`,
		"bad name":      `{"Name":"../x"}`,
		"unknown field": `{"Name":"v","Mountpoint":"/"}`,
		"empty":         ``,
	} {
		if _, _, err := RewriteVolumeCreate([]byte(body), testOwner); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	opts, _, err := RewriteVolumeCreate([]byte(`{"Name":"data","Labels":{"opsdojo.session":"other","x":"y"}}`), testOwner)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Labels[LabelSession] != "s1" || opts.Labels["x"] != "y" || opts.Driver != "local" {
		t.Errorf("opts = %+v", opts)
	}
}

func TestVetBuildQuery(t *testing.T) {
	ok := url.Values{"t": {"app"}, "rm": {"1"}, "buildargs": {"{}"}, "networkmode": {"default"}, "memory": {"0"}, "labels": {"{}"}, "cachefrom": {"[]"}, "version": {"1"}}
	if err := VetBuildQuery(ok); err != nil {
		t.Errorf("the CLI's defaults refused: %v", err)
	}
	for name, q := range map[string]url.Values{
		"host network": {"networkmode": {"host"}},
		"remote":       {"remote": {"https://example.com/x.git"}},
		"extra hosts":  {"extrahosts": {`["h:10.0.0.1"]`}},
		"build args":   {"buildargs": {`{"BASE":"evil"}`}},
		"buildkit":     {"version": {"2"}},
		"pull":         {"pull": {"1"}},
		"outputs":      {"outputs": {`[{"type":"local"}]`}},
		"platform":     {"platform": {"linux/arm64"}},
	} {
		if err := VetBuildQuery(q); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestTagAllowed(t *testing.T) {
	for _, bad := range []string{"opsdojo/base:bookworm", "opsdojo/lab-git:x", "opsdojo-build/s1:x", "docker.io/opsdojo/base", "Opsdojo/x", "app@sha256:" + strings.Repeat("a", 64), "UPPER"} {
		if _, err := TagAllowed(bad); err == nil {
			t.Errorf("TagAllowed(%q) accepted", bad)
		}
	}
	got, err := TagAllowed("hello-svc")
	if err != nil || got != "hello-svc:latest" {
		t.Errorf("TagAllowed(hello-svc) = %q, %v", got, err)
	}
}

func writeTar(t *testing.T, entries ...[2]string) *os.File {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e[0], Mode: 0o644, Size: int64(len(e[1])), Typeflag: tar.TypeReg}
		if strings.HasPrefix(e[1], "->") {
			h = &tar.Header{Name: e[0], Typeflag: tar.TypeSymlink, Linkname: strings.TrimPrefix(e[1], "->")}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write([]byte(e[1]))
		}
	}
	tw.Close()
	f, err := os.Create(filepath.Join(t.TempDir(), "ctx.tar"))
	if err != nil {
		t.Fatal(err)
	}
	f.Write(buf.Bytes())
	f.Seek(0, 0)
	t.Cleanup(func() { f.Close() })
	return f
}

func TestReadDockerfile(t *testing.T) {
	src, err := readDockerfile(writeTar(t, [2]string{"main.go", "x"}, [2]string{"./Dockerfile", "FROM a"}), "Dockerfile")
	if err != nil || string(src) != "FROM a" {
		t.Fatalf("readDockerfile = %q, %v", src, err)
	}
	for name, f := range map[string]*os.File{
		"twice":         writeTar(t, [2]string{"Dockerfile", "FROM a"}, [2]string{"Dockerfile", "FROM evil"}),
		"twice by path": writeTar(t, [2]string{"Dockerfile", "FROM a"}, [2]string{"x/../Dockerfile", "FROM evil"}),
		"symlink":       writeTar(t, [2]string{"Dockerfile", "->other"}),
		"symlink dir":   writeTar(t, [2]string{"sub", "->evil"}, [2]string{"sub/Dockerfile", "FROM a"}),
		"missing":       writeTar(t, [2]string{"main.go", "x"}),
	} {
		df := "Dockerfile"
		if name == "symlink dir" {
			df = "sub/Dockerfile"
		}
		if _, err := readDockerfile(f, df); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := readDockerfile(writeTar(t, [2]string{"Dockerfile", "FROM a"}), "../Dockerfile"); err == nil {
		t.Error("a Dockerfile outside the context accepted")
	}
	junk, _ := os.Create(filepath.Join(t.TempDir(), "junk"))
	junk.WriteString(strings.Repeat("not a tar ", 100))
	junk.Seek(0, 0)
	if _, err := readDockerfile(junk, "Dockerfile"); err == nil {
		t.Error("junk accepted")
	}
}

// TestOneBuildAtATime: a second build of a session is refused before its
// context is read, so parallel uploads cannot fill the server's disk.
func TestOneBuildAtATime(t *testing.T) {
	m := NewManager(Config{}, nil, nil, nil, nil, nil)
	s := &server{m: m, o: testOwner, building: true}
	body := &countingReader{}
	r := httptest.NewRequest(http.MethodPost, "/v1.41/build", body)
	err := s.build(httptest.NewRecorder(), r)
	var ref *Refusal
	if !errors.As(err, &ref) || ref.Status != http.StatusConflict {
		t.Fatalf("second build: %v, want 409", err)
	}
	if body.n != 0 {
		t.Fatalf("the second build's context was read (%d bytes)", body.n)
	}
	s.building = false
	s.buildUsed = time.Hour
	if err := s.build(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/v1.41/build", body)); !errors.As(err, &ref) || !strings.Contains(ref.Message, "build time") {
		t.Fatalf("past the build time: %v", err)
	}
	if s.building {
		t.Fatal("the build flag stayed set after a refusal")
	}
}

type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	c.n += len(p)
	return len(p), nil
}
