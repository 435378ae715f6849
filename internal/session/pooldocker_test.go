package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// poolProxies are fakeProxies that can prepare a box's folder, and record
// for whom each proxy was opened.
type poolProxies struct {
	*fakeProxies
	mu       sync.Mutex
	prepared []string
	users    map[string]int64
	openErr  error
}

func (p *poolProxies) Prepare(box string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prepared = append(p.prepared, box)
	return "/data/docker/" + box, nil
}

func (p *poolProxies) Open(ctx context.Context, s opsdojo.LabSession) (string, error) {
	p.mu.Lock()
	if p.users == nil {
		p.users = map[string]int64{}
	}
	p.users[s.ID] = s.UserID
	err := p.openErr
	p.mu.Unlock()
	if err != nil {
		return "", err
	}
	return p.fakeProxies.Open(ctx, s)
}

func dockerPoolEnv(t *testing.T, size int) *env {
	t.Helper()
	e, _ := newPoolEnv(t, map[string]int{"dockerlab": size}, AdmissionConfig{})
	git, _ := testCatalog().Get("git")
	e.m.labs = labs.NewCatalog([]*labs.Lab{{ID: "dockerlab", Title: "d", DockerCLI: true, Steps: []labs.Step{{ID: "s", Title: "s"}}}, git})
	return e
}

// A box of a docker-CLI lab is made with its socket folder mounted, as a
// fresh start is, but no proxy serves in it until a learner claims it;
// the claim opens the proxy for that learner; a drained box's folder is
// removed.
func TestPoolDockerBoxProxyOpensAtClaim(t *testing.T) {
	e := dockerPoolEnv(t, 1)
	p := &poolProxies{fakeProxies: &fakeProxies{box: e.box}}
	e.m.SetDockerProxies(p)
	e.fillPool(t)
	boxes := e.poolBoxes(t)
	if len(boxes) != 1 || len(p.prepared) != 1 || p.prepared[0] != boxes[0].ID {
		t.Fatalf("boxes %+v, prepared %v", boxes, p.prepared)
	}
	if len(p.opened) != 0 {
		t.Fatalf("a proxy was opened for a box nobody claimed: %v", p.opened)
	}
	e.box.mu.Lock()
	boxSpec := e.box.creates[len(e.box.creates)-1]
	e.box.mu.Unlock()
	if boxSpec.DockerDir != "/data/docker/"+boxes[0].ID {
		t.Fatalf("box made without its socket folder: %+v", boxSpec)
	}

	creates := e.box.createCount()
	s := e.start(t, e.alice, "dockerlab")
	if s.ID != boxes[0].ID || e.box.createCount() != creates {
		t.Fatalf("start %+v did not claim the box %+v", s, boxes[0])
	}
	if len(p.opened) != 1 || p.opened[0] != s.ID || p.users[s.ID] != e.alice.ID {
		t.Fatalf("proxy opened %v for %v; want the claimed session for alice", p.opened, p.users)
	}
	// The box is what a fresh start of alice would have made.
	lab, _ := e.m.labs.Get("dockerlab")
	fresh := e.m.spec(s.ID, 0, lab, "opsdojo/lab-dockerlab:v1")
	fresh.DockerDir = "/data/docker/" + s.ID
	if fmt.Sprint(boxSpec) != fmt.Sprint(fresh) {
		t.Fatalf("pool box spec %+v\nfresh spec    %+v", boxSpec, fresh)
	}

	// Refilled, then drained (the lab no longer pooled): its folder goes.
	e.fillPool(t)
	next := e.poolBoxes(t)
	if len(next) != 1 {
		t.Fatalf("refill: %+v", next)
	}
	e.m.pool.cfg.Targets = func(context.Context) map[string]int { return nil }
	e.fillPool(t)
	if _, ok := p.closed[next[0].ID]; !ok || len(e.poolBoxes(t)) != 0 {
		t.Fatalf("drained box's folder not removed: closed %v", p.closed)
	}
	if _, ok := p.closed[s.ID]; ok {
		t.Fatal("the claimed session's proxy was closed by the drain")
	}
}

// Proxies that cannot prepare a box's folder make no box of a docker-CLI
// lab (rather than one whose learner would have no docker CLI).
func TestPoolDockerBoxNeedsPrepare(t *testing.T) {
	e := dockerPoolEnv(t, 1)
	e.m.SetDockerProxies(&fakeProxies{box: e.box})
	e.clock.advance(60e9)
	if err := e.m.poolPass(context.Background()); err == nil {
		t.Fatal("poolPass made a docker-CLI box without a prepared folder")
	}
	if n := len(e.poolBoxes(t)); n != 0 || e.box.createCount() != 0 {
		t.Fatalf("boxes %d, creates %d", n, e.box.createCount())
	}
}

// A claimed box whose proxy cannot be opened is not handed out without
// its docker CLI: that session ends and the learner gets a fresh
// container.
func TestPoolDockerBoxOpenFailsFallsBackToCreate(t *testing.T) {
	e := dockerPoolEnv(t, 1)
	p := &poolProxies{fakeProxies: &fakeProxies{box: e.box}}
	e.m.SetDockerProxies(p)
	e.fillPool(t)
	boxes := e.poolBoxes(t)
	if len(boxes) != 1 {
		t.Fatalf("boxes %+v", boxes)
	}
	p.openErr = errors.New("socket: permission denied")
	creates := e.box.createCount()
	_, err := e.m.Start(context.Background(), e.alice, "dockerlab")
	if err == nil {
		t.Fatal("a start whose proxy cannot be opened succeeded")
	}
	if got := e.stored(t, boxes[0].ID); got.State != opsdojo.SessionEnded || !strings.Contains(got.EndReason, "docker CLI") {
		t.Fatalf("the claimed box's session: %+v", got)
	}
	if !e.box.wasRemoved(containerID(boxes[0].ID), networkID(boxes[0].ID)) {
		t.Fatal("the claimed box's container was not removed")
	}
	// The fresh start tried next opens its proxy the same way (and fails
	// the same way here); with the proxy back, the learner starts.
	p.openErr = nil
	s := e.start(t, e.alice, "dockerlab")
	if s.ID == boxes[0].ID || e.box.createCount() <= creates {
		t.Fatalf("start %+v: want a fresh container", s)
	}
}
