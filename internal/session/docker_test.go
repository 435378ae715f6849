package session

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

type fakeProxies struct {
	mu     sync.Mutex
	box    *fakeSandbox
	opened []string
	// closed: each session closed, with the containers the sandbox had
	// removed by then (the proxy must go first: the learner's containers
	// hold the network).
	closed map[string][]string
}

func (p *fakeProxies) Open(_ context.Context, s opsdojo.LabSession) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.opened = append(p.opened, s.ID)
	return "/data/docker/" + s.ID, nil
}

func (p *fakeProxies) Close(_ context.Context, id string) error {
	p.box.mu.Lock()
	var gone []string
	for _, b := range p.box.removed {
		gone = append(gone, b.ContainerID)
	}
	p.box.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed == nil {
		p.closed = map[string][]string{}
	}
	p.closed[id] = gone
	return nil
}

// TestDockerProxyLifecycle: a lab with docker_cli gets its proxy folder
// mounted at start (and only such a lab), and the proxy is closed, before
// the container and network go, when the session ends, expires or is
// lost.
func TestDockerProxyLifecycle(t *testing.T) {
	e := newEnv(t, Config{TTL: time.Hour})
	cat := testCatalog()
	withDocker := &labs.Lab{ID: "dockerlab", Title: "d", DockerCLI: true, Steps: []labs.Step{{ID: "s", Title: "s"}}}
	all := []*labs.Lab{withDocker}
	for _, id := range []string{"git"} {
		l, _ := cat.Get(id)
		all = append(all, l)
	}
	e.m.labs = labs.NewCatalog(all)
	p := &fakeProxies{box: e.box}
	e.m.SetDockerProxies(p)
	ctx := context.Background()

	plain := e.start(t, e.alice, "git")
	s := e.start(t, e.alice, "dockerlab")
	if len(p.opened) != 1 || p.opened[0] != s.ID {
		t.Fatalf("opened = %v; want only the docker lab's session", p.opened)
	}
	e.box.mu.Lock()
	specs := append(e.box.creates[:0:0], e.box.creates...)
	e.box.mu.Unlock()
	if specs[0].DockerDir != "" || specs[1].DockerDir != "/data/docker/"+s.ID {
		t.Fatalf("docker dirs = %q, %q", specs[0].DockerDir, specs[1].DockerDir)
	}

	closedFirst := func(what string, s opsdojo.LabSession) {
		t.Helper()
		gone, ok := p.closed[s.ID]
		if !ok {
			t.Fatalf("%s: the proxy was not closed", what)
		}
		for _, id := range gone {
			if id == s.ContainerID {
				t.Fatalf("%s: the proxy was closed after the container was removed", what)
			}
		}
	}
	if _, err := e.m.End(ctx, e.alice, s.ID); err != nil {
		t.Fatal(err)
	}
	closedFirst("End", s)

	// Expiry closes it too.
	s2 := e.start(t, e.bob, "dockerlab")
	e.clock.advance(2 * time.Hour)
	if _, err := e.m.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	closedFirst("Reap", s2)
	_ = plain
}
