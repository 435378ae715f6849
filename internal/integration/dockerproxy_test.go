//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/volume"

	"github.com/opsdojo/opsdojo/internal/app"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

const dockerLab = "dockerfile-go-service"

// learnerObjects counts what a session's learner made with their CLI.
func learnerObjects(t *testing.T, session string) (containers, volumes, images int) {
	t.Helper()
	ctx := context.Background()
	f := filters.NewArgs(filters.Arg("label", sandbox.LabelSession+"="+session), filters.Arg("label", sandbox.LabelCreatedBy+"="+sandbox.CreatedByCLI))
	cl, err := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	vl, err := docker.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	il, err := docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelSession+"="+session))})
	if err != nil {
		t.Fatal(err)
	}
	return len(cl), len(vl.Volumes), len(il)
}

// sh runs a bash command as the learner in a session's container.
func sh(t *testing.T, session, script string) (int, string) {
	t.Helper()
	return execIn(t, sandbox.Name(session), sandbox.LearnerUser, "bash", "-c", script)
}

func mustSh(t *testing.T, session, script string) string {
	t.Helper()
	code, out := sh(t, session, script)
	if code != 0 {
		t.Fatalf("%s: exit %d\n%s", script, code, out)
	}
	return out
}

func cleanupLearnerObjects(t *testing.T, session string) {
	t.Cleanup(func() {
		ctx := context.Background()
		f := filters.NewArgs(filters.Arg("label", sandbox.LabelSession+"="+session))
		if cl, err := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: f}); err == nil {
			for _, c := range cl {
				_ = docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
			}
		}
		if vl, err := docker.VolumeList(ctx, volume.ListOptions{Filters: f}); err == nil {
			for _, v := range vl.Volumes {
				_ = docker.VolumeRemove(ctx, v.Name, true)
			}
		}
		if il, err := docker.ImageList(ctx, image.ListOptions{Filters: f}); err == nil {
			for _, i := range il {
				_, _ = docker.ImageRemove(ctx, i.ID, image.RemoveOptions{Force: true, PruneChildren: true})
			}
		}
		cleanupByLabel(t, sandbox.LabelSession+"="+session)
	})
}

const testDockerfile = `FROM opsdojo/base:bookworm
RUN echo built-by-the-proxy > /built
CMD ["bash", "-c", "while true; do echo tick; sleep 1; done"]
`

// TestDockerProxyCLI: the real docker CLI in a real session container,
// through the session's proxy: build, images, run -d, ps, logs -f, exec,
// run -it and exec -it in the browser terminal (hijacked streams with a
// TTY), piped stdin (half-close), rm; and the session's end removes what
// the learner made.
func TestDockerProxyCLI(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab(dockerLab)
	cleanupLearnerObjects(t, sess.ID)

	info := inspect(t, sess.ID)
	if len(info.Mounts) != 1 || info.Mounts[0].Destination != sandbox.DockerMountDir || info.Mounts[0].RW {
		t.Fatalf("mounts = %+v; want only the proxy folder, read-only", info.Mounts)
	}
	// Only the learner may use the socket inside; the grader uid cannot.
	if code, out := execIn(t, info.ID, "65533:65533", "bash", "-c", "curl -sS --unix-socket /var/run/docker.sock http://d/_ping"); code == 0 {
		t.Fatalf("the grader uid reached the learner's docker socket:\n%s", out)
	}

	out := mustSh(t, sess.ID, `docker version --format '{{.Server.APIVersion}}' && docker info --format '{{.OperatingSystem}} {{.Containers}}'`)
	if !strings.Contains(out, "opsdojo lab sandbox 0") {
		t.Errorf("docker info is not the redacted one:\n%s", out)
	}
	mustSh(t, sess.ID, "mkdir -p ~/t && cd ~/t && cat > Dockerfile <<'EOF'\n"+testDockerfile+"EOF\n")
	out = mustSh(t, sess.ID, `cd ~/t && docker build -t t1 . 2>&1`)
	if !strings.Contains(out, "Successfully tagged t1:latest") {
		t.Fatalf("docker build:\n%s", out)
	}
	out = mustSh(t, sess.ID, `docker images --format '{{.Repository}}:{{.Tag}}'`)
	if !strings.Contains(out, "t1:latest") || strings.Contains(out, "opsdojo/") {
		t.Fatalf("docker images lists other than the learner's own:\n%s", out)
	}
	mustSh(t, sess.ID, `docker run -d --name web t1`)
	out = mustSh(t, sess.ID, `docker ps --format '{{.Names}}'`)
	if strings.TrimSpace(out) != "web" {
		t.Fatalf("docker ps lists %q; want only web", out)
	}
	// logs -f streams; head ends it after two lines.
	out = mustSh(t, sess.ID, `timeout 60 docker logs -f web | head -n 2`)
	if strings.Count(out, "tick") != 2 {
		t.Fatalf("docker logs -f:\n%s", out)
	}
	out = mustSh(t, sess.ID, `docker exec web cat /built && echo piped-in | docker exec -i web cat && echo hi-there | docker run --rm -i t1 cat`)
	if !strings.Contains(out, "built-by-the-proxy") || !strings.Contains(out, "piped-in") || !strings.Contains(out, "hi-there") {
		t.Fatalf("exec and piped stdin:\n%s", out)
	}
	// The learner's container reaches the network; the terminal reaches it
	// by name.
	out = mustSh(t, sess.ID, `getent hosts web >/dev/null && echo resolves`)
	if !strings.Contains(out, "resolves") {
		t.Fatalf("web does not resolve from the terminal:\n%s", out)
	}

	// With a TTY, in the browser terminal.
	tm := alice.terminal(sess.ID)
	tm.typeLine(`docker run --rm -it t1 bash`)
	tm.typeLine(`echo inside-$((6*7)) $(cat /built)`)
	tm.expect("inside-42 built-by-the-proxy", time.Minute)
	tm.typeLine(`exit`)
	// Back at the lab's prompt before typing on: typeahead would go to
	// the container's shell.
	tm.expect("learner@"+dockerLab, time.Minute)
	tm.typeLine(`docker exec -it web bash`)
	tm.typeLine(`echo exec-$((5*5)); exit`)
	tm.expect("exec-25", time.Minute)
	tm.expect("learner@"+dockerLab, time.Minute)
	tm.typeLine(`echo back-$((2*21))`)
	tm.expect("back-42", time.Minute)

	mustSh(t, sess.ID, `docker stop -t 1 web && docker rm web && docker volume create data && docker run -d --name keep -v data:/data t1`)
	if c, v, i := learnerObjects(t, sess.ID); c != 1 || v != 1 || i < 1 {
		t.Fatalf("learner objects before the end: %d containers, %d volumes, %d images", c, v, i)
	}

	// The end of the session removes everything the learner made.
	if status := alice.do("DELETE", "/api/v1/sessions/"+sess.ID, nil, nil); status != http.StatusOK && status != http.StatusNoContent {
		t.Fatalf("end session: status %d", status)
	}
	if c, v, i := learnerObjects(t, sess.ID); c != 0 || v != 0 || i != 0 {
		t.Fatalf("left after the session ended: %d containers, %d volumes, %d images", c, v, i)
	}
	if _, err := os.Stat(filepath.Join(srv.dataDir, "docker", sess.ID)); !os.IsNotExist(err) {
		t.Errorf("the session's socket folder is still there: %v", err)
	}
}

// TestDockerProxyAttacks is the attack table: each is refused with a
// message the CLI prints, and nothing is created; another session's
// containers and images cannot be reached by ID, ID prefix or name.
func TestDockerProxyAttacks(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")
	bob := newLearner(t, srv, "bob")
	as := alice.startLab(dockerLab)
	cleanupLearnerObjects(t, as.ID)
	bs := bob.startLab(dockerLab)
	cleanupLearnerObjects(t, bs.ID)

	// Bob's container and image.
	mustSh(t, bs.ID, `mkdir -p ~/b && cd ~/b && printf 'FROM opsdojo/base:bookworm\nCMD ["sleep", "infinity"]\n' > Dockerfile && docker build -q -t bobimg . && docker run -d --name bobweb bobimg`)
	bobID := strings.TrimSpace(mustSh(t, bs.ID, `docker inspect -f '{{.Id}}' bobweb`))
	bobImage := strings.TrimSpace(mustSh(t, bs.ID, `docker inspect -f '{{.Id}}' bobimg`))
	mustSh(t, as.ID, `mkdir -p ~/a && cd ~/a && printf 'FROM opsdojo/base:bookworm\nCMD ["true"]\n' > Dockerfile`)
	before := func() [3]int { c, v, i := learnerObjects(t, as.ID); return [3]int{c, v, i} }
	base := before()

	attacks := []struct{ name, cmd string }{
		{"--privileged", `docker run --rm --privileged opsdojo/base:bookworm true`},
		{"--cap-add SYS_ADMIN", `docker run --rm --cap-add SYS_ADMIN opsdojo/base:bookworm true`},
		{"-v /:/host", `docker run --rm -v /:/host opsdojo/base:bookworm true`},
		{"--mount type=bind", `docker run --rm --mount type=bind,source=/,target=/host opsdojo/base:bookworm true`},
		{"volume create with bind options", `docker volume create --opt type=none --opt o=bind --opt device=/ hostroot`},
		{"--pid host", `docker run --rm --pid host opsdojo/base:bookworm true`},
		{"--network host", `docker run --rm --network host opsdojo/base:bookworm true`},
		{"--userns host", `docker run --rm --userns host opsdojo/base:bookworm true`},
		{"--security-opt seccomp=unconfined", `docker run --rm --security-opt seccomp=unconfined opsdojo/base:bookworm true`},
		{"--device", `docker run --rm --device /dev/kmsg opsdojo/base:bookworm true`},
		{"--runtime", `docker run --rm --runtime runc opsdojo/base:bookworm true`},
		{"-p", `docker run --rm -p 8080:8080 opsdojo/base:bookworm true`},
		{"--network of another session", `docker run --rm --network opsdojo-` + bs.ID + ` opsdojo/base:bookworm true`},
		{"exec on another's container by ID", `docker exec ` + bobID + ` true`},
		{"exec by name", `docker exec bobweb true`},
		{"logs by ID prefix", `docker logs ` + bobID[:12]},
		{"inspect by ID prefix", `docker inspect ` + bobID[:4]},
		{"inspect by name", `docker container inspect bobweb`},
		{"cp from another's container", `docker cp bobweb:/etc/hostname /tmp/x`},
		{"rm another's container", `docker rm bobweb`},
		{"rm another's container by ID prefix", `docker rm ` + bobID[:12]},
		{"stop another's container by ID", `docker stop ` + bobID},
		{"exec into the session's own container", `docker exec opsdojo-` + as.ID + ` true`},
		{"run another's image by name", `docker run --rm bobimg true`},
		{"run another's image by ID", `docker run --rm ` + strings.TrimPrefix(bobImage, "sha256:")[:12] + ` true`},
		{"inspect another's image", `docker image inspect bobimg`},
		{"tag another's image", `docker tag bobimg mine`},
		{"rm another's image", `docker rmi bobimg`},
		{"tag over a lab image", `cd ~/a && docker build -t opsdojo/base:bookworm .`},
		{"take another's image name", `cd ~/a && docker build -t bobimg .`},
		{"build with host network", `cd ~/a && docker build --network host -t x .`},
		{"build from a URL (never fetched: loopback)", `curl -sS --fail-with-body --unix-socket /var/run/docker.sock -X POST -H 'Content-Type: application/x-tar' --data-binary @/etc/hostname 'http://d/v1.41/build?remote=http://127.0.0.1:1/ctx.tar'`},
		{"build with build args", `cd ~/a && docker build --build-arg X=1 -t x .`},
		{"pull", `docker pull debian:bookworm`},
		{"network create", `docker network create evil`},
		{"commit", `docker commit bobweb evil`},
		{"Content-Length 0", `curl -sS --fail-with-body --unix-socket /var/run/docker.sock -X POST -H 'Content-Type: application/json' --data-binary '' http://d/v1.41/containers/create`},
		{"oversized body", `head -c 2000000 /dev/zero | tr '\0' ' ' > /tmp/big && curl -sS --fail-with-body --unix-socket /var/run/docker.sock -X POST -H 'Content-Type: application/json' --data-binary @/tmp/big http://d/v1.41/containers/create`},
		{"binds in a raw body", `curl -sS --fail-with-body --unix-socket /var/run/docker.sock -X POST -H 'Content-Type: application/json' --data '{"Image":"opsdojo/base:bookworm","HostConfig":{"Binds":["/:/host"]}}' http://d/v1.41/containers/create`},
		{"lower-case privileged in a raw body", `curl -sS --fail-with-body --unix-socket /var/run/docker.sock -X POST -H 'Content-Type: application/json' --data '{"Image":"opsdojo/base:bookworm","HostConfig":{"privileged":true}}' http://d/containers/create`},
		{"unversioned path", `curl -sS --fail-with-body --unix-socket /var/run/docker.sock http://d/containers/` + bobID + `/json`},
	}
	for _, a := range attacks {
		code, out := sh(t, as.ID, a.cmd+" 2>&1")
		if code == 0 {
			t.Errorf("%s: exit 0, want refused:\n%s", a.name, out)
			continue
		}
		if !strings.Contains(out, "opsdojo:") && !strings.Contains(out, "No such") && !strings.Contains(out, "not available") {
			t.Errorf("%s: refused without the proxy's message:\n%s", a.name, out)
		}
		if got := before(); got != base {
			t.Fatalf("%s: created something: %v, was %v\n%s", a.name, got, base, out)
		}
	}
	// Bob's container and image are untouched.
	if out := mustSh(t, bs.ID, `docker inspect -f '{{.State.Running}}' bobweb && docker images -q bobimg`); !strings.HasPrefix(out, "true\n") || len(strings.TrimSpace(out)) < 10 {
		t.Fatalf("bob's container or image was touched:\n%s", out)
	}
	// A lab image still names what it did.
	info, err := docker.ImageInspect(context.Background(), "opsdojo/base:bookworm")
	if err != nil || info.Config.Labels[sandbox.LabelSession] != "" {
		t.Fatalf("the lab base image was retagged: %v %v", err, info.Config)
	}
	// And what is allowed still works for alice.
	mustSh(t, as.ID, `docker run --rm --cap-drop ALL --memory 64m --security-opt no-new-privileges opsdojo/base:bookworm true`)
}

// TestDockerProxyLimits: a learner container gets its part of the
// session's budget (dockerproxy_budget_test.go: asks) and the learner
// seccomp profile, whatever labels the learner forged, and the container
// count is capped.
func TestDockerProxyLimits(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab(dockerLab)
	cleanupLearnerObjects(t, sess.ID)
	mustSh(t, sess.ID, `docker create --name big --label opsdojo.session=other opsdojo/base:bookworm true`)
	ctx := context.Background()
	list, err := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("name", "big"), filters.Arg("label", sandbox.LabelSession+"="+sess.ID))})
	if err != nil || len(list) != 1 {
		t.Fatalf("the learner's container: %v %d", err, len(list))
	}
	info, err := docker.ContainerInspect(ctx, list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sandbox.DefaultConfig()
	h := info.HostConfig
	// No ask, five slots: a fifth of the budget (memory in whole MiB).
	if h.Memory != cfg.Memory/5>>20<<20 || h.NanoCPUs != cfg.NanoCPUs/5 || h.PidsLimit == nil || *h.PidsLimit != cfg.PidsLimit/5 || string(h.NetworkMode) != sandbox.Name(sess.ID) {
		t.Errorf("limits: mem %d cpus %d pids %v network %s", h.Memory, h.NanoCPUs, h.PidsLimit, h.NetworkMode)
	}
	var seccomp, nnp bool
	for _, o := range h.SecurityOpt {
		seccomp = seccomp || strings.HasPrefix(o, "seccomp=") && strings.Contains(o, "SCMP_ACT")
		nnp = nnp || o == "no-new-privileges:true"
	}
	if !seccomp || !nnp || len(h.CapDrop) != 1 || h.CapDrop[0] != "ALL" || h.Init == nil || !*h.Init {
		t.Errorf("security: seccomp %v no-new-privileges %v caps dropped %v init %v", seccomp, nnp, h.CapDrop, h.Init)
	}
	if info.Config.Labels[sandbox.LabelSession] != sess.ID {
		t.Errorf("learner label kept: %v", info.Config.Labels)
	}
	// Up to the cap (5), then refused.
	mustSh(t, sess.ID, `for i in 1 2 3 4; do docker create opsdojo/base:bookworm true >/dev/null || exit 1; done`)
	code, out := sh(t, sess.ID, `docker create opsdojo/base:bookworm true 2>&1`)
	if code == 0 || !strings.Contains(out, "allows 5 containers") {
		t.Fatalf("a sixth container: exit %d\n%s", code, out)
	}
}

// TestDockerProxyRawSocket speaks to the proxy socket directly from the
// host side: oversized and empty bodies, and the JSON error format.
func TestDockerProxyRawSocket(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab(dockerLab)
	cleanupLearnerObjects(t, sess.ID)
	sock := filepath.Join(srv.dataDir, "docker", sess.ID, "docker.sock")
	st, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", st.Mode().Perm())
	}
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	post := func(path string, body []byte) (int, string) {
		resp, err := hc.Post("http://d"+path, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var msg struct{ Message string }
		if err := json.Unmarshal(b, &msg); err != nil || msg.Message == "" {
			t.Errorf("%s: answer is not the engine's error format: %q", path, b)
		}
		return resp.StatusCode, msg.Message
	}
	if code, _ := post("/v1.41/containers/create", nil); code != http.StatusBadRequest {
		t.Errorf("empty body: %d, want 400", code)
	}
	if code, _ := post("/v1.41/containers/create", bytes.Repeat([]byte(" "), 2<<20)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d, want 413", code)
	}
	if code, _ := post("/v1.41/exec/nope/start", []byte(`{}`)); code != http.StatusNotFound {
		t.Errorf("unknown exec: %d, want 404", code)
	}
	if code, msg := post("/v1.41/containers/prune", []byte(`{}`)); code != http.StatusForbidden || !strings.Contains(msg, "not available") {
		t.Errorf("prune: %d %q, want 403", code, msg)
	}
	if c, v, i := learnerObjects(t, sess.ID); c+v+i != 0 {
		t.Errorf("created: %d %d %d", c, v, i)
	}
}

// TestDockerProxyDiskQuota: what the learner's own containers write counts
// in the session's disk quota: filling one ends the session.
func TestDockerProxyDiskQuota(t *testing.T) {
	srv := startServer(t, t.TempDir(), func(c *app.Config) { c.DiskQuota = 64 << 20 })
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab(dockerLab)
	cleanupLearnerObjects(t, sess.ID)
	mustSh(t, sess.ID, `docker run -d --name fill opsdojo/base:bookworm bash -c 'head -c 100000000 /dev/zero > /fill; sleep infinity'`)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var s sessionJSON
		alice.do("GET", "/api/v1/sessions/"+sess.ID, nil, &s)
		if s.State == "ended" {
			if !strings.Contains(s.EndReason, "disk quota") {
				t.Fatalf("ended for another reason: %q", s.EndReason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the session is still %s with 100 MB in a learner container and a 64 MiB quota", s.State)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if c, v, _ := learnerObjects(t, sess.ID); c != 0 || v != 0 {
		t.Fatalf("left after the quota ended the session: %d containers, %d volumes", c, v)
	}
}
