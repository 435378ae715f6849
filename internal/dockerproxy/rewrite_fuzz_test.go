package dockerproxy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
)

// FuzzRewrite: whatever the body, the rewriter answers in bounded time
// without panicking, and what it passes on is always inside the sandbox:
// owner labels, the session network, no privileges or capabilities, the
// budget's limits, the seccomp profile, no host paths.
func FuzzRewrite(f *testing.F) {
	f.Add([]byte(`{"Image":"a","HostConfig":{"NetworkMode":"default"}}`))
	f.Add([]byte(`{"Image":"a","HostConfig":{"Binds":["v:/d:ro"],"Mounts":[{"Type":"volume","Source":"c","Target":"/c"}]}}`))
	f.Add([]byte(`{"Image":"a","HostConfig":{"Privileged":true,"Binds":["/:/host"]}}`))
	f.Add([]byte(`{"Image":"a","HostConfig":{"Binds":["/:/host"]}}`))
	f.Add([]byte(`{"Image":"a","HostConfig":{"Mounts":[{"Type":"bind","Source":"/","Target":"/h"}]}}`))
	f.Add([]byte(`{"Image":"a","HostConfig":{"NetworkMode":"host","PidMode":"host","CapAdd":["SYS_ADMIN"]}}`))
	f.Add([]byte(`{"Image":"a","Labels":{"opsdojo.session":"x"},"HostConfig":{"Memory":1,"PidsLimit":-1}}`))
	f.Add([]byte(`{"Image":"a","NetworkingConfig":{"EndpointsConfig":{"opsdojo-s1":{"Aliases":["x"]}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		plan, err := RewriteCreate(body, testOwner, testBudget)
		if err != nil {
			if _, ok := err.(*Refusal); !ok {
				t.Fatalf("error is not a refusal: %v", err)
			}
			return
		}
		var got container.CreateRequest
		if err := json.Unmarshal(plan.Body, &got); err != nil {
			t.Fatalf("rewritten body does not parse: %v", err)
		}
		h := got.HostConfig
		if h == nil || got.Config == nil {
			t.Fatal("rewritten body lacks config")
		}
		if h.Privileged || len(h.CapAdd) > 0 || len(h.CapDrop) != 1 || h.CapDrop[0] != "ALL" || len(h.Devices) > 0 || len(h.DeviceRequests) > 0 {
			t.Fatalf("privileges passed: %+v", h)
		}
		if h.PidMode != "" || h.UTSMode != "" || h.UsernsMode != "" || h.IpcMode != container.IPCModePrivate || h.CgroupnsMode != container.CgroupnsModePrivate || h.CgroupParent != "" || h.Runtime != testBudget.Runtime || len(h.Sysctls) > 0 {
			t.Fatalf("namespaces or runtime passed: %+v", h)
		}
		if n := string(h.NetworkMode); n != testOwner.Network && n != "none" {
			t.Fatalf("network %q", n)
		}
		for name := range got.NetworkingConfig.EndpointsConfig {
			if name != testOwner.Network {
				t.Fatalf("endpoint %q", name)
			}
		}
		if len(h.PortBindings) > 0 || h.PublishAllPorts || len(h.VolumesFrom) > 0 || h.VolumeDriver != "" || h.MaskedPaths != nil || h.ReadonlyPaths != nil {
			t.Fatalf("host settings passed: %+v", h)
		}
		if h.Memory <= 0 || h.Memory > testBudget.Memory || h.MemorySwap != h.Memory || h.NanoCPUs <= 0 || h.NanoCPUs > testBudget.NanoCPUs || h.PidsLimit == nil || *h.PidsLimit <= 0 || *h.PidsLimit > testBudget.PidsLimit {
			t.Fatalf("limits outside the budget: %+v", h.Resources)
		}
		if len(h.SecurityOpt) != 2 || h.SecurityOpt[1] != "seccomp="+testBudget.Seccomp {
			t.Fatalf("security opts %v", h.SecurityOpt)
		}
		for _, b := range h.Binds {
			if strings.HasPrefix(b, "/") || strings.HasPrefix(b, ".") || !volumeName.MatchString(strings.SplitN(b, ":", 2)[0]) {
				t.Fatalf("host bind passed: %q", b)
			}
		}
		for _, m := range h.Mounts {
			if m.Type != "volume" && m.Type != "tmpfs" {
				t.Fatalf("mount type %q passed", m.Type)
			}
			if m.VolumeOptions != nil && m.VolumeOptions.DriverConfig != nil {
				t.Fatal("volume driver options passed")
			}
		}
		for k, v := range got.Config.Labels {
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(k)), LabelPrefix) && testOwner.Labels()[k] != v {
				t.Fatalf("learner label %q=%q passed", k, v)
			}
		}
		if got.Config.Labels[LabelSession] != testOwner.Session || got.Config.Labels[LabelCreator] != CreatorCLI {
			t.Fatal("owner labels missing")
		}
	})
}
