//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/gorilla/websocket"

	"github.com/opsdojo/opsdojo/internal/app"
	"github.com/opsdojo/opsdojo/internal/sandbox"
	"github.com/opsdojo/opsdojo/internal/terminal"
)

func inspect(t *testing.T, session string) container.InspectResponse {
	t.Helper()
	info, err := docker.ContainerInspect(context.Background(), sandbox.Name(session))
	if err != nil {
		t.Fatalf("inspect session container: %v", err)
	}
	return info
}

func cleanupByLabel(_ testing.TB, label string) {
	ctx := context.Background()
	list, err := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", label))})
	if err == nil {
		for _, c := range list {
			_ = docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
		}
	}
	nets, err := docker.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", label))})
	if err == nil {
		for _, n := range nets {
			_ = docker.NetworkRemove(ctx, n.ID)
		}
	}
}

// cleanupSession removes a session's container and network when the test ends.
func cleanupSession(t *testing.T, session string) {
	t.Cleanup(func() { cleanupByLabel(t, sandbox.LabelSession+"="+session) })
}

// execIn runs a command in a container and returns exit code and output.
func execIn(t *testing.T, id, user string, cmd ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	eng, err := sandbox.New(sandbox.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	res, err := eng.Exec(ctx, id, sandbox.ExecRequest{Cmd: cmd, User: user})
	if err != nil {
		t.Fatalf("exec %v: %v", cmd, err)
	}
	return res.ExitCode, string(res.Stdout) + string(res.Stderr)
}

// TestLearnerLoop is the walking skeleton end to end: sign up, start
// git-basics, use the terminal, fail the first check, do the step through
// the terminal, pass it.
func TestLearnerLoop(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")

	var labsOut []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
		Steps []struct {
			ID string `json:"id"`
		} `json:"steps"`
	}
	if st := alice.do("GET", "/api/v1/labs", nil, &labsOut); st != http.StatusOK {
		t.Fatalf("list labs: %d", st)
	}
	found := false
	for _, l := range labsOut {
		if l.ID == "git-basics" && len(l.Steps) >= 3 && l.Steps[0].ID == "init" {
			found = true
		}
	}
	if !found {
		t.Fatalf("git-basics with an init step not listed: %+v", labsOut)
	}

	start := time.Now()
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)
	t.Logf("lab start (API, warm image): %s", time.Since(start).Round(time.Millisecond))

	// Idempotent: the same session comes back.
	if again := alice.startLab("git-basics"); again.ID != sess.ID {
		t.Fatalf("second start returned %s, want %s", again.ID, sess.ID)
	}

	tm := alice.terminal(sess.ID)
	tm.typeLine("echo $((6*7))")
	tm.expect("42", 30*time.Second)

	tm.send('1', []byte(`{"cols":132,"rows":43}`))
	tm.typeLine("stty size")
	tm.expect("43 132", 10*time.Second)
	tm.typeLine("id -un; hostname; pwd")
	tm.expect("learner", 10*time.Second)
	tm.expect("git-basics", 10*time.Second)
	tm.expect("/home/learner", 10*time.Second)

	res := alice.check(sess.ID, "init")
	if res.Status != "fail" || len(res.Messages) == 0 {
		t.Fatalf("init check before the work: %+v", res)
	}
	if res.Progress.Passed != 0 || res.Progress.Total != 4 {
		t.Fatalf("progress before: %+v", res.Progress)
	}

	tm.typeLine(`cd ~/project && git init -q && git config --global user.email ada@example.com && git config --global user.name Ada && printf '# greeter\n' > README.md && git add README.md && git commit -qm 'Add README' && echo STEP-$((40+2))-DONE`)
	tm.expect("STEP-42-DONE", 30*time.Second)

	res = alice.check(sess.ID, "init")
	if res.Status != "pass" {
		t.Fatalf("init check after the work: %+v", res)
	}
	if res.Progress.Passed != 1 {
		t.Fatalf("progress after: %+v", res.Progress)
	}

	// The lab page renders the progress for the learner.
	req, _ := http.NewRequest("GET", srv.url+"/labs/git-basics", nil)
	resp, err := alice.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("lab page: %d", resp.StatusCode)
	}
	// Terminals are recorded by default, and the page says so.
	if !strings.Contains(string(page), `class="term-rec"`) {
		t.Error("the lab page does not tell the learner that the terminal is recorded")
	}

	// Ending the session removes its container.
	var ended sessionJSON
	if st := alice.do("DELETE", "/api/v1/sessions/"+sess.ID, nil, &ended); st != http.StatusOK || ended.State != "ended" {
		t.Fatalf("end session: %d %+v", st, ended)
	}
	if _, err := docker.ContainerInspect(context.Background(), sandbox.Name(sess.ID)); err == nil {
		t.Fatal("container still exists after the session ended")
	}
}

// TestIsolationBetweenLearners: one learner cannot see, drive or grade
// another's session, and cross-site pages cannot open a terminal.
func TestIsolationBetweenLearners(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")
	bob := newLearner(t, srv, "bob")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)

	var e errorJSON
	if st := bob.do("GET", "/api/v1/sessions/"+sess.ID, nil, &e); st != http.StatusNotFound || e.Error.Code != "not_found" {
		t.Fatalf("bob GET alice's session: %d %+v", st, e)
	}
	if st := bob.do("POST", "/api/v1/sessions/"+sess.ID+"/steps/init/check", nil, &e); st != http.StatusNotFound {
		t.Fatalf("bob checks alice's step: %d", st)
	}
	if st := bob.do("DELETE", "/api/v1/sessions/"+sess.ID, nil, &e); st != http.StatusNotFound {
		t.Fatalf("bob ends alice's session: %d", st)
	}
	if _, resp, err := bob.dial(sess.ID, http.Header{"Origin": {srv.url}}); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("bob opens alice's terminal: err %v resp %v", err, resp)
	}
	if _, resp, err := alice.dial(sess.ID, http.Header{"Origin": {"http://evil.example"}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin terminal: err %v resp %v", err, resp)
	}
	// Not signed in.
	anon := &learner{t: t, srv: srv, http: &http.Client{}}
	if st := anon.do("POST", "/api/v1/labs/git-basics/session", map[string]any{}, &e); st != http.StatusUnauthorized {
		t.Fatalf("anonymous start: %d", st)
	}
	// Signed in but without the CSRF header.
	if st := alice.doHeaders("POST", "/api/v1/sessions/"+sess.ID+"/steps/init/check", nil, &e, nil); st != http.StatusForbidden {
		t.Fatalf("check without CSRF token: %d", st)
	}
	if st := alice.do("POST", "/api/v1/labs/no-such-lab/session", map[string]any{}, &e); st != http.StatusNotFound {
		t.Fatalf("unknown lab: %d", st)
	}
	// Alice's own terminal still works after all that.
	tm := alice.terminal(sess.ID)
	tm.typeLine("echo ok-$((1+1))")
	tm.expect("ok-2", 30*time.Second)
}

// TestContainerHardening inspects what Docker actually made.
func TestContainerHardening(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")
	bob := newLearner(t, srv, "bob")
	a := alice.startLab("git-basics")
	cleanupSession(t, a.ID)
	b := bob.startLab("git-basics")
	cleanupSession(t, b.ID)

	info := inspect(t, a.ID)
	hc := info.HostConfig
	if hc.Privileged {
		t.Error("container is privileged")
	}
	if len(hc.CapDrop) != 1 || strings.ToUpper(hc.CapDrop[0]) != "ALL" {
		t.Errorf("CapDrop = %v, want [ALL]", hc.CapDrop)
	}
	if len(hc.CapAdd) != 0 {
		t.Errorf("CapAdd = %v, want none for git-basics", hc.CapAdd)
	}
	nnp := false
	for _, o := range hc.SecurityOpt {
		if strings.HasPrefix(o, "no-new-privileges") {
			nnp = true
		}
	}
	if !nnp {
		t.Errorf("SecurityOpt = %v, want no-new-privileges", hc.SecurityOpt)
	}
	if hc.Memory <= 0 || hc.NanoCPUs <= 0 || hc.PidsLimit == nil || *hc.PidsLimit <= 0 {
		t.Errorf("limits: memory %d, nanocpus %d, pids %v", hc.Memory, hc.NanoCPUs, hc.PidsLimit)
	}
	if hc.Init == nil || !*hc.Init {
		t.Error("no init process")
	}
	if len(hc.Binds) != 0 || len(info.Mounts) != 0 {
		t.Errorf("mounts: binds %v mounts %v", hc.Binds, info.Mounts)
	}
	if string(hc.NetworkMode) != sandbox.Name(a.ID) {
		t.Errorf("network mode %q, want its own network %q", hc.NetworkMode, sandbox.Name(a.ID))
	}
	if len(info.NetworkSettings.Networks) != 1 {
		t.Errorf("networks: %v", info.NetworkSettings.Networks)
	}
	if info.Config.User != sandbox.InitUser || info.Config.Hostname != "git-basics" {
		t.Errorf("user %q hostname %q", info.Config.User, info.Config.Hostname)
	}
	for _, k := range []string{sandbox.LabelSession, sandbox.LabelLab, sandbox.LabelInstance} {
		if info.Config.Labels[k] == "" {
			t.Errorf("label %s missing", k)
		}
	}

	// Inside: not root, no capabilities, no Docker socket.
	code, out := execIn(t, info.ID, "learner", "bash", "-c", "id -u; grep CapEff /proc/self/status; test -e /var/run/docker.sock && echo SOCKET; true")
	if code != 0 || !strings.Contains(out, "1000") || !strings.Contains(out, "0000000000000000") || strings.Contains(out, "SOCKET") {
		t.Errorf("inside the container: exit %d\n%s", code, out)
	}
	code, out = execIn(t, info.ID, "learner", "bash", "-c", "command -v git curl nano bash")
	if code != 0 {
		t.Errorf("tools missing: %s", out)
	}

	// The firewall rules are in place (checked, not probed: tests send no
	// traffic to link-local addresses).
	for _, rule := range [][]string{
		{"INPUT", "-i", "odj+", "-m", "conntrack", "!", "--ctstate", "ESTABLISHED,RELATED", "-j", "REJECT"},
		{"DOCKER-USER", "-i", "odj+", "-d", "169.254.0.0/16", "-j", "REJECT"},
	} {
		if out, err := exec.Command("iptables", append([]string{"-w", "5", "-C"}, rule...)...).CombinedOutput(); err != nil {
			t.Errorf("firewall rule %v missing: %v %s", rule, err, out)
		}
	}

	// Alice cannot reach Bob's container: Docker drops traffic between
	// bridge networks, so a connect times out instead of being refused.
	bInfo := inspect(t, b.ID)
	var bIP string
	for _, n := range bInfo.NetworkSettings.Networks {
		bIP = n.IPAddress
	}
	_, out = execIn(t, info.ID, "learner", "bash", "-c", fmt.Sprintf("timeout 3 bash -c 'echo > /dev/tcp/%s/22' 2>&1; echo exit=$?", bIP))
	if strings.Contains(out, "exit=0") || strings.Contains(out, "refused") {
		t.Errorf("alice's container reached bob's (%s): %s", bIP, out)
	}

	// Nor the host: a listener on every host address, reached through the
	// container's gateway, must not answer. The test server's own port is
	// tried as well.
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("HOST-REACHED\n"))
			c.Close()
		}
	}()
	hostPort := ln.Addr().(*net.TCPAddr).Port
	var gw string
	for _, n := range info.NetworkSettings.Networks {
		gw = n.Gateway
	}
	// Sanity: the listener answers on the gateway address from the host.
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", gw, hostPort), 3*time.Second); err != nil {
		t.Fatalf("host listener not reachable from the host itself: %v", err)
	} else {
		c.Close()
	}
	_, serverPort, _ := net.SplitHostPort(srv.addr)
	for _, port := range []string{fmt.Sprint(hostPort), serverPort} {
		_, out = execIn(t, info.ID, "learner", "bash", "-c", fmt.Sprintf("timeout 3 curl -sS --max-time 2 http://%s:%s/ 2>&1; echo exit=$?", gw, port))
		if strings.Contains(out, "HOST-REACHED") || strings.Contains(out, "exit=0") {
			t.Errorf("container reached the host on port %s: %s", port, out)
		}
	}
}

// TestReaperRemovesExpiredSessions: a session past its TTL loses its
// container and network; the learner's progress stays.
func TestReaperRemovesExpiredSessions(t *testing.T) {
	srv := startServer(t, t.TempDir(), func(c *app.Config) { c.SessionTTL = 2 * time.Second })
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)
	netID := inspect(t, sess.ID).HostConfig.NetworkMode
	deadline := time.Now().Add(60 * time.Second)
	for {
		var s sessionJSON
		alice.do("GET", "/api/v1/sessions/"+sess.ID, nil, &s)
		if s.State == "expired" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session not reaped: %+v", s)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := docker.ContainerInspect(context.Background(), sandbox.Name(sess.ID)); err == nil {
		t.Fatal("expired session's container still exists")
	}
	if _, err := docker.NetworkInspect(context.Background(), string(netID), network.InspectOptions{}); err == nil {
		t.Fatal("expired session's network still exists")
	}
	// Starting the lab again gives a fresh session.
	again := alice.startLab("git-basics")
	cleanupSession(t, again.ID)
	if again.ID == sess.ID {
		t.Fatal("expired session was reused")
	}
}

// TestDiskQuotaEndsSession: a learner who writes past the disk quota has
// the session ended by the reaper, is told why (terminal close text and
// the session's end_reason), keeps their progress, and can start again.
func TestDiskQuotaEndsSession(t *testing.T) {
	srv := startServer(t, t.TempDir(), func(c *app.Config) {
		c.DiskQuota = 30 << 20
		c.ReapInterval = 500 * time.Millisecond
	})
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)
	containerID := inspect(t, sess.ID).ID
	// Progress made before the quota is hit.
	if code, out := execIn(t, containerID, "learner", "bash", "-c", "cd ~/project && git init -q && echo hi > README.md && git add README.md && git -c user.name=a -c user.email=a@b commit -qm init"); code != 0 {
		t.Fatalf("setting up the step: %s", out)
	}
	if r := alice.check(sess.ID, "init"); r.Status != "pass" {
		t.Fatalf("init check: %+v", r)
	}
	d := alice.openTerm(sess.ID, "", 0)
	d.typeLine("echo ready-$((1+2))")
	d.expect("ready-3", 30*time.Second)

	// Past 80% of the quota: a warning beside the terminal, nothing else.
	if code, out := execIn(t, containerID, "learner", "bash", "-c", "head -c 25M /dev/zero > ~/small"); code != 0 {
		t.Fatal(out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		d.mu.Lock()
		notices := append([]terminal.Notice(nil), d.notices...)
		d.mu.Unlock()
		if len(notices) > 0 {
			if !strings.Contains(notices[0].Text, "of its 30 MiB disk quota") {
				t.Fatalf("notice %q", notices[0].Text)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no disk quota warning within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	var s sessionJSON
	alice.do("GET", "/api/v1/sessions/"+sess.ID, nil, &s)
	if s.State != "running" {
		t.Fatalf("session under its quota: %+v", s)
	}
	if strings.Contains(string(d.output()), "disk quota") {
		t.Fatal("the warning was written into the terminal")
	}

	// The reaper may end the session before the echo gets out.
	d.typeLine("head -c 40M /dev/zero > ~/big; echo wrote-$((2*3))")
	if code := d.closeCode(60 * time.Second); code != terminal.CloseSessionEnded {
		t.Fatalf("terminal close code %d, want %d", code, terminal.CloseSessionEnded)
	}
	var ce *websocket.CloseError
	if !errors.As(d.err, &ce) || !strings.Contains(ce.Text, "disk quota") {
		t.Fatalf("close text: %v", d.err)
	}
	// The terminals close first, then the container goes, then the row.
	deadline = time.Now().Add(60 * time.Second)
	for alice.do("GET", "/api/v1/sessions/"+sess.ID, nil, &s); s.State == "running"; alice.do("GET", "/api/v1/sessions/"+sess.ID, nil, &s) {
		if time.Now().After(deadline) {
			t.Fatalf("session still running 60 s after its terminal closed: %+v", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s.State != "ended" || !strings.Contains(s.EndReason, "past the 30 MiB disk quota") {
		t.Fatalf("session after the quota: %+v", s)
	}
	if _, err := docker.ContainerInspect(context.Background(), sandbox.Name(sess.ID)); err == nil {
		t.Fatal("the container over quota still exists")
	}
	again := alice.startLab("git-basics")
	cleanupSession(t, again.ID)
	if again.ID == sess.ID || again.State != "running" {
		t.Fatalf("starting again: %+v", again)
	}
	// A fresh container fails the step again, but the pass is kept.
	if r := alice.check(again.ID, "init"); r.Status != "fail" || r.Progress.Passed != 1 {
		t.Fatalf("progress after the quota: %+v", r)
	}
}

// TestRestartAdoptsContainers: a graceful shutdown closes terminals with
// "going away" and leaves containers running; the next server adopts them
// with the learner's progress and files intact, and removes orphans.
func TestRestartAdoptsContainers(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, nil)
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)
	before := inspect(t, sess.ID)
	t.Cleanup(func() { removeInstanceContainers(t, before.Config.Labels[sandbox.LabelInstance]) })

	tm := alice.terminal(sess.ID)
	tm.typeLine(`cd ~/project && git init -q && git config --global user.email a@example.com && git config --global user.name A && echo hi > README.md && git add README.md && git commit -qm readme && echo marker-$((3*3)) > ~/kept.txt && echo WROTE-$((2*3))`)
	tm.expect("WROTE-6", 30*time.Second)
	if res := alice.check(sess.ID, "init"); res.Status != "pass" {
		t.Fatalf("init check: %+v", res)
	}

	// An orphan: labelled as this instance's, unknown to its database.
	orphan, err := docker.ContainerCreate(context.Background(), &container.Config{
		Image: before.Config.Image, Cmd: []string{"sleep", "infinity"},
		Labels: map[string]string{sandbox.LabelInstance: before.Config.Labels[sandbox.LabelInstance], sandbox.LabelSession: "orphan0000000000"},
	}, &container.HostConfig{NetworkMode: "none"}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}

	srv.stop()
	if code := tm.closeCode(10 * time.Second); code != websocket.CloseGoingAway {
		t.Errorf("terminal close code on shutdown = %d, want %d", code, websocket.CloseGoingAway)
	}
	if after := inspect(t, sess.ID); !after.State.Running {
		t.Fatal("container stopped with the server")
	}

	srv2 := startServer(t, dataDir, nil)
	alice2 := login(t, srv2, "alice")
	var s sessionJSON
	if st := alice2.do("GET", "/api/v1/sessions/"+sess.ID, nil, &s); st != http.StatusOK || s.State != "running" {
		t.Fatalf("after restart: %d %+v", st, s)
	}
	if again := alice2.startLab("git-basics"); again.ID != sess.ID {
		t.Fatalf("restart made a new session %s, want %s adopted", again.ID, sess.ID)
	}
	if inspect(t, sess.ID).ID != before.ID {
		t.Fatal("container was replaced")
	}
	res := alice2.check(sess.ID, "init")
	if res.Status != "pass" || res.Progress.Passed != 1 {
		t.Fatalf("progress after restart: %+v", res)
	}
	tm2 := alice2.terminal(sess.ID)
	tm2.typeLine("cat ~/kept.txt")
	tm2.expect("marker-9", 30*time.Second)

	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := docker.ContainerInspect(context.Background(), orphan.ID)
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			_ = docker.ContainerRemove(context.Background(), orphan.ID, container.RemoveOptions{Force: true})
			t.Fatal("orphan container not removed by reconcile")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEngineDown: with no Docker engine the server still starts, /readyz
// fails and lab starts get a clear 503, never a panic.
func TestEngineDown(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	srv := startServer(t, t.TempDir(), func(c *app.Config) { c.SkipFirewall = true })
	alice := newLearner(t, srv, "alice")
	var ready map[string]any
	if st := alice.do("GET", "/readyz", nil, &ready); st != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d, want 503: %v", st, ready)
	}
	var e errorJSON
	if st := alice.do("POST", "/api/v1/labs/git-basics/session", map[string]any{}, &e); st != http.StatusServiceUnavailable || e.Error.Code != "engine_unavailable" {
		t.Fatalf("start with the engine down: %d %+v", st, e)
	}
	if !strings.Contains(e.Error.Message, "Docker engine") {
		t.Fatalf("message does not say what is wrong: %q", e.Error.Message)
	}
	var h map[string]string
	if st := alice.do("GET", "/healthz", nil, &h); st != http.StatusOK {
		t.Fatalf("/healthz = %d", st)
	}
}

// TestInvalidLabsAreSkipped: the server offers the valid labs and logs
// every problem of the invalid ones with file:line.
func TestInvalidLabsAreSkipped(t *testing.T) {
	labsDir := t.TempDir()
	if err := os.CopyFS(filepath.Join(labsDir, "git-basics"), os.DirFS(filepath.Join(repoRoot, "labs", "git-basics"))); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(labsDir, "broken")
	os.MkdirAll(broken, 0o755)
	os.WriteFile(filepath.Join(broken, "lab.yaml"), []byte("id: broken\ntitle: Broken\nsummary: s\ndifficulty: beginner\nminutes: 5\ncolour: blue\nsteps: []\n"), 0o644)
	srv := startServer(t, t.TempDir(), func(c *app.Config) { c.LabsDir = labsDir })
	alice := newLearner(t, srv, "alice")
	var list []struct{ ID string }
	alice.do("GET", "/api/v1/labs", nil, &list)
	if len(list) != 1 || list[0].ID != "git-basics" {
		t.Fatalf("labs offered: %+v", list)
	}
	if !strings.Contains(srv.logs.String(), "broken/lab.yaml:6: unknown field") {
		t.Fatalf("log lacks the file:line problem:\n%s", srv.logs.String())
	}
}
