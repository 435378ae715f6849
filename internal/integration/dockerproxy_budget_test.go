//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
	"github.com/gorilla/websocket"

	"github.com/opsdojo/opsdojo/internal/app"
	"github.com/opsdojo/opsdojo/internal/sandbox"
	"github.com/opsdojo/opsdojo/internal/terminal"
)

// TestDockerProxyVolumeQuota: what a learner writes into docker volumes
// through the real CLI counts in the session's disk quota like their
// home: a named volume past 80% of the quota brings the warning beside
// the terminal, an anonymous volume (`-v /path`) on top of it ends the
// session, and the end removes both volumes.
func TestDockerProxyVolumeQuota(t *testing.T) {
	const quota = 100 << 20
	srv := startServer(t, t.TempDir(), func(c *app.Config) { c.DiskQuota = quota })
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab(dockerLab)
	cleanupLearnerObjects(t, sess.ID)
	ctx := context.Background()
	box := inspect(t, sess.ID)
	d := alice.openTerm(sess.ID, "", 0)
	d.typeLine("echo ready-$((1+2))")
	d.expect("ready-3", 30*time.Second)

	// Fill the volume to 88% of the quota with what the session holds
	// already (its writable layer).
	withSize, _, err := docker.ContainerInspectWithRaw(ctx, box.ID, true)
	if err != nil || withSize.SizeRw == nil {
		t.Fatalf("session container size: %v", err)
	}
	fill := (quota*88/100 - *withSize.SizeRw) >> 20
	if fill < 40 {
		t.Fatalf("the session holds %d bytes already: no room for the test", *withSize.SizeRw)
	}
	mustSh(t, sess.ID, fmt.Sprintf(`docker volume create vol >/dev/null && docker run --rm -v vol:/data opsdojo/base:bookworm dd if=/dev/zero of=/data/fill bs=1M count=%d 2>&1`, fill))
	deadline := time.Now().Add(60 * time.Second)
	for {
		d.mu.Lock()
		notices := append([]terminal.Notice(nil), d.notices...)
		d.mu.Unlock()
		if len(notices) > 0 {
			if !strings.Contains(notices[0].Text, "of its 100 MiB disk quota") || !strings.Contains(notices[0].Text, "docker volumes") {
				t.Fatalf("notice %q", notices[0].Text)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no disk quota warning within 60 s with %d MiB in a docker volume and a 100 MiB quota", fill)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var s sessionJSON
	alice.do("GET", "/api/v1/sessions/"+sess.ID, nil, &s)
	if s.State != "running" {
		t.Fatalf("session under its quota: %+v", s)
	}

	// The engine's own figure for the volume agrees with the server's walk
	// (the fallback when the server does not share the engine's disk).
	ecfg := sandbox.DefaultConfig()
	ecfg.InstanceID = box.Config.Labels[sandbox.LabelInstance]
	eng, err := sandbox.New(ecfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	vols, err := eng.LearnerVolumes(ctx, sess.ID)
	if err != nil || len(vols) != 1 || vols[0].Name != "vol" {
		t.Fatalf("learner volumes: %+v %v", vols, err)
	}
	walked, err := sandbox.DirUsage(ctx, vols[0].Mountpoint)
	if err != nil {
		t.Fatal(err)
	}
	sizes, err := eng.VolumeSizesByEngine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := walked - sizes["vol"]; walked < fill<<20 || diff < -(1<<20) || diff > 1<<20 {
		t.Errorf("volume vol: walked %d bytes, the engine says %d", walked, sizes["vol"])
	}

	// An anonymous volume of a running container counts too: past the
	// quota, the session ends.
	filled := time.Now()
	mustSh(t, sess.ID, `docker run -d --name anon -v /scratch opsdojo/base:bookworm bash -c 'dd if=/dev/zero of=/scratch/more bs=1M count=30 2>/dev/null; sleep infinity' >/dev/null`)
	var anon string
	if list, err := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelSession+"="+sess.ID), filters.Arg("name", "anon"))}); err == nil && len(list) == 1 {
		for _, m := range list[0].Mounts {
			if m.Destination == "/scratch" {
				anon = m.Name
			}
		}
	}
	if anon == "" {
		t.Fatal("the anonymous volume of the learner's container was not found")
	}
	if code := d.closeCode(90 * time.Second); code != terminal.CloseSessionEnded {
		t.Fatalf("terminal close code %d, want %d", code, terminal.CloseSessionEnded)
	}
	t.Logf("30 MiB into an anonymous volume to the terminal's close: %v", time.Since(filled).Round(time.Millisecond))
	var ce *websocket.CloseError
	if !errors.As(d.err, &ce) || !strings.Contains(ce.Text, "disk quota") {
		t.Fatalf("close text: %v", d.err)
	}
	deadline = time.Now().Add(60 * time.Second)
	for alice.do("GET", "/api/v1/sessions/"+sess.ID, nil, &s); s.State == "running"; alice.do("GET", "/api/v1/sessions/"+sess.ID, nil, &s) {
		if time.Now().After(deadline) {
			t.Fatalf("session still running 60 s after its terminal closed: %+v", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(s.EndReason, "docker volumes") || !strings.Contains(s.EndReason, "past the 100 MiB disk quota") {
		t.Fatalf("end reason %q", s.EndReason)
	}
	if c, v, _ := learnerObjects(t, sess.ID); c != 0 || v != 0 {
		t.Fatalf("left after the quota ended the session: %d containers, %d volumes", c, v)
	}
	if _, err := docker.VolumeInspect(ctx, anon); err == nil {
		t.Fatalf("the anonymous volume %s outlived the session", anon)
	}
}

// TestDockerProxyRemoveTakesAnonymousVolumes: `docker rm` without -v
// still removes the container's anonymous volume, which carries no owner
// labels and would otherwise escape the quota and the session's cleanup.
func TestDockerProxyRemoveTakesAnonymousVolumes(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab(dockerLab)
	cleanupLearnerObjects(t, sess.ID)
	ctx := context.Background()
	mustSh(t, sess.ID, `docker volume create keep >/dev/null && docker create --name withanon -v /anon -v keep:/keep opsdojo/base:bookworm true >/dev/null`)
	list, err := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelSession+"="+sess.ID), filters.Arg("name", "withanon"))})
	if err != nil || len(list) != 1 {
		t.Fatalf("the container: %v %d", err, len(list))
	}
	var anon string
	for _, m := range list[0].Mounts {
		if m.Destination == "/anon" {
			anon = m.Name
		}
	}
	if anon == "" {
		t.Fatalf("no anonymous volume: %+v", list[0].Mounts)
	}
	t.Cleanup(func() { _ = docker.VolumeRemove(context.Background(), anon, true) })
	mustSh(t, sess.ID, `docker rm withanon >/dev/null`)
	if _, err := docker.VolumeInspect(ctx, anon); err == nil {
		t.Fatal("docker rm left the anonymous volume behind")
	}
	if v, err := docker.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("name", "keep"), filters.Arg("label", sandbox.LabelSession+"="+sess.ID))}); err != nil || len(v.Volumes) != 1 {
		t.Fatalf("the named volume went with the container: %v %+v", err, v)
	}
}

// TestDockerProxySharedBudget: the learner's containers share one
// session budget through the real CLI. A container that asks for more
// memory than the others leave is refused with a sentence saying what is
// left; one that asks for nothing gets a part of what is left; removing a
// container gives its part back. The session's own container keeps its
// limits beside the budget.
func TestDockerProxySharedBudget(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab(dockerLab)
	cleanupLearnerObjects(t, sess.ID)
	ctx := context.Background()
	cfg := sandbox.DefaultConfig() // 768 MiB, 1 CPU, 512 pids
	limitsOf := func(name string) container.Resources {
		t.Helper()
		list, err := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelSession+"="+sess.ID), filters.Arg("name", name))})
		if err != nil || len(list) != 1 {
			t.Fatalf("container %s: %v %d", name, err, len(list))
		}
		info, err := docker.ContainerInspect(ctx, list[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		return info.HostConfig.Resources
	}

	mustSh(t, sess.ID, `docker run -d --name big -m 600m --cpus 0.5 opsdojo/base:bookworm sleep infinity >/dev/null`)
	if r := limitsOf("big"); r.Memory != 600<<20 || r.NanoCPUs != 5e8 {
		t.Fatalf("big: memory %d cpus %d", r.Memory, r.NanoCPUs)
	}
	code, out := sh(t, sess.ID, `docker run --rm -m 300m opsdojo/base:bookworm true 2>&1`)
	if code == 0 || !strings.Contains(out, "--memory 300 MiB: more memory than is left") || !strings.Contains(out, "share 768 MiB") ||
		!strings.Contains(out, "hold 600 MiB, so 168 MiB is left") || !strings.Contains(out, "docker rm NAME") {
		t.Fatalf("a second container beyond what is left: exit %d\n%s", code, out)
	}
	code, out = sh(t, sess.ID, `docker create --cpus 0.8 opsdojo/base:bookworm true 2>&1`)
	if code == 0 || !strings.Contains(out, "more CPU than is left") || !strings.Contains(out, "0.50 CPUs is left") {
		t.Fatalf("CPU beyond what is left: exit %d\n%s", code, out)
	}
	if c, _, _ := learnerObjects(t, sess.ID); c != 1 {
		t.Fatalf("a refused create left a container: %d", c)
	}
	// No ask: a quarter (four slots left) of what is left.
	mustSh(t, sess.ID, `docker create --name small opsdojo/base:bookworm true >/dev/null`)
	r := limitsOf("small")
	if r.Memory != 42<<20 || r.NanoCPUs != 12e7 || r.PidsLimit == nil || *r.PidsLimit != (cfg.PidsLimit-cfg.PidsLimit/5)/4 {
		t.Fatalf("small: memory %d cpus %d pids %v", r.Memory, r.NanoCPUs, r.PidsLimit)
	}
	// Removing the big one gives its part back.
	mustSh(t, sess.ID, `docker rm -f big >/dev/null && docker run --rm -m 300m opsdojo/base:bookworm true`)

	// The session's own container is beside the budget: its limits are
	// the configured ones, whatever the learner's containers hold.
	h := inspect(t, sess.ID).HostConfig
	if h.Memory != cfg.Memory || h.NanoCPUs != cfg.NanoCPUs {
		t.Fatalf("session container: memory %d cpus %d", h.Memory, h.NanoCPUs)
	}
}
