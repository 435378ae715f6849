//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/opsdojo/opsdojo/internal/app"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// instanceContainers lists an instance's containers by session label.
func instanceContainers(t *testing.T, instance string) map[string]string {
	t.Helper()
	list, err := docker.ContainerList(context.Background(), container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelInstance+"="+instance))})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range list {
		out[c.Labels[sandbox.LabelSession]] = c.ID
	}
	return out
}

// waitPoolReady waits (bounded) until the server's log shows n boxes made.
func waitPoolReady(t *testing.T, srv *server, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for strings.Count(srv.logs.String(), "warm pool box ready") < n {
		if time.Now().After(deadline) {
			t.Fatalf("the pool did not make %d boxes\n%s", n, srv.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shape is what a learner's container must have in common, fresh or
// claimed from the pool, with the session id written as ID.
func shape(t *testing.T, sessionID string) string {
	t.Helper()
	info := inspect(t, sessionID)
	hc, cc := info.HostConfig, info.Config
	labels := map[string]string{}
	for k, v := range cc.Labels {
		switch k {
		case sandbox.LabelInstance:
			v = "INSTANCE"
		case sandbox.LabelSession:
			if v != sessionID {
				t.Errorf("session label %q, want %q", v, sessionID)
			}
			v = "ID"
		}
		labels[k] = v
	}
	netName := ""
	for name := range info.NetworkSettings.Networks {
		netName += strings.ReplaceAll(name, sessionID, "ID")
	}
	nw, err := docker.NetworkInspect(context.Background(), sandbox.Name(sessionID), network.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	opts := map[string]string{}
	for k, v := range nw.Options {
		opts[k] = strings.ReplaceAll(v, sessionID[:min(len(sessionID), 12)], "ID")
	}
	// Files (owner, mode, path) and processes inside, as root so nothing
	// is hidden from the listing.
	_, files := execIn(t, info.ID, "root", "bash", "-c", "cd /home/learner && find . -printf '%u:%g %m %y %p\\n' | sort; hostname; id learner")
	_, procs := execIn(t, info.ID, "root", "bash", "-c", `for p in /proc/[0-9]*; do [ "$p" = /proc/$$ ] && continue; printf '%s %s\n' "$(stat -c %U $p)" "$(cat $p/comm)"; done`)
	procLines := strings.Split(strings.TrimSpace(procs), "\n")
	slices.Sort(procLines)
	procs = strings.Join(procLines, "\n")
	v := map[string]any{
		"image": cc.Image, "hostname": cc.Hostname, "user": cc.User, "workdir": cc.WorkingDir, "env": cc.Env, "cmd": cc.Cmd, "labels": labels,
		"capdrop": hc.CapDrop, "capadd": hc.CapAdd, "secopt": hc.SecurityOpt, "init": hc.Init, "ipc": hc.IpcMode, "runtime": hc.Runtime,
		"memory": hc.Memory, "swap": hc.MemorySwap, "cpus": hc.NanoCPUs, "pids": hc.PidsLimit, "storage": hc.StorageOpt,
		"netmode": strings.ReplaceAll(string(hc.NetworkMode), sessionID, "ID"), "networks": netName, "netopts": opts,
		"binds": hc.Binds, "mounts": len(info.Mounts), "privileged": hc.Privileged, "log": hc.LogConfig,
		"files": files, "procs": procs,
	}
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

// A container claimed from the warm pool is, for its learner, exactly
// what a fresh start makes (labels, hostname, starter files owned by uid
// 1000, limits, seccomp, network), is never handed to a second learner
// nor returned to the pool, and the pool survives a server restart.
func TestPoolClaimedContainerIsLikeAFreshOne(t *testing.T) {
	poolDir, freshDir := t.TempDir(), t.TempDir()
	poolInst, freshInst := instanceOf(t, poolDir), instanceOf(t, freshDir)
	t.Cleanup(func() { removeInstanceContainers(t, poolInst); removeInstanceContainers(t, freshInst) })

	srv := startServer(t, poolDir, func(c *app.Config) { c.Pool = map[string]int{"git-basics": 1} })
	fresh := startServer(t, freshDir, nil)
	waitPoolReady(t, srv, 1)
	before := instanceContainers(t, poolInst)
	if len(before) != 1 {
		t.Fatalf("pool containers: %v", before)
	}

	ada := newLearner(t, srv, "ada")
	a := ada.startLab("git-basics")
	if _, ok := before[a.ID]; !ok {
		t.Fatalf("session %s is not the pooled container %v", a.ID, before)
	}
	bob := newLearner(t, fresh, "bob")
	b := bob.startLab("git-basics")
	// Compared once each learner's terminal is open (the lab page opens it
	// at once): the pool started the claimed box's login shell ahead, with
	// the same request a terminal makes.
	tm := ada.terminal(a.ID)
	tm.typeLine("echo POOL-$((6*7)); id -un")
	tm.expect("POOL-42", 30*time.Second)
	tb := bob.terminal(b.ID)
	tb.typeLine("echo FRESH-$((6*7))")
	tb.expect("FRESH-42", 30*time.Second)
	if got, want := shape(t, a.ID), shape(t, b.ID); got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Errorf("claimed: %.300s\nfresh:   %.300s", gl[i], wl[i])
			}
		}
		t.Fatal("the claimed container differs from a fresh one")
	}

	// The next learner never gets ada's container: a refill or a create.
	waitPoolReady(t, srv, 2)
	cy := newLearner(t, srv, "cyril")
	c := cy.startLab("git-basics")
	if c.ID == a.ID || inspect(t, c.ID).ID == inspect(t, a.ID).ID {
		t.Fatalf("a second learner got the first one's container: %s", c.ID)
	}
	// An ended session's container goes; it does not return to the pool.
	if status := ada.do("DELETE", "/api/v1/sessions/"+a.ID, nil, nil); status != http.StatusOK {
		t.Fatalf("end: %d", status)
	}
	if _, ok := instanceContainers(t, poolInst)[a.ID]; ok {
		t.Fatal("an ended session's container is still there")
	}

	// Restart: the refilled box and cy's session are adopted, not removed.
	waitPoolReady(t, srv, 3)
	kept := instanceContainers(t, poolInst)
	srv.stop()
	srv2 := startServer(t, poolDir, func(c *app.Config) { c.Pool = map[string]int{"git-basics": 1} })
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(srv2.logs.String(), "adopted warm pool box") {
		if time.Now().After(deadline) {
			t.Fatalf("no box adopted after restart\n%s", srv2.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	after := instanceContainers(t, poolInst)
	for sid, id := range kept {
		if after[sid] != id {
			t.Fatalf("container of %s changed across the restart: before %v after %v", sid, kept, after)
		}
	}
	if len(after) != 2 {
		t.Fatalf("after restart: %v, want cy's session and one box", after)
	}
	// The adopted box goes to the next learner.
	var boxID string
	for sid := range after {
		if sid != c.ID {
			boxID = sid
		}
	}
	dee := newLearner(t, srv2, "dee")
	if d := dee.startLab("git-basics"); d.ID != boxID {
		t.Fatalf("after restart the learner got %s, want the adopted box %s", d.ID, boxID)
	}
}

// At the server's session cap the next learner is told their place in
// the queue (202), not left hanging, and starts once a place frees.
func TestAdmissionQueueAtCap(t *testing.T) {
	dir := t.TempDir()
	inst := instanceOf(t, dir)
	t.Cleanup(func() { removeInstanceContainers(t, inst) })
	srv := startServer(t, dir, func(c *app.Config) { c.MaxSessions = 1 })
	ada := newLearner(t, srv, "ada")
	a := ada.startLab("git-basics")
	bob := newLearner(t, srv, "bob")
	var q struct {
		Queued   bool   `json:"queued"`
		Position int    `json:"position"`
		Message  string `json:"message"`
	}
	if status := bob.do("POST", "/api/v1/labs/git-basics/session", map[string]any{}, &q); status != http.StatusAccepted || !q.Queued || q.Position != 1 {
		t.Fatalf("start at the cap: %d %+v", status, q)
	}
	if !strings.Contains(q.Message, "number 1 in the queue") {
		t.Fatalf("message %q", q.Message)
	}
	if status := ada.do("DELETE", "/api/v1/sessions/"+a.ID, nil, nil); status != http.StatusOK {
		t.Fatalf("end: %d", status)
	}
	b := bob.startLab("git-basics")
	if got := slices.Collect(maps.Keys(instanceContainers(t, inst))); len(got) != 1 || got[0] != b.ID {
		t.Fatalf("containers after the queue moved: %v", got)
	}
}
