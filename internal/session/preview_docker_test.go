package session

import (
	"context"
	"net/netip"
	"sync"
	"testing"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// dockerBox is the fake engine with the learners' CLI containers, by
// session, as sandbox.Engine keeps them apart (by labels).
type dockerBox struct {
	*fakeSandbox
	mu    sync.Mutex
	cli   map[string][]sandbox.CLIContainer
	asked []string
}

func (d *dockerBox) CLIContainers(_ context.Context, sessionID string) ([]sandbox.CLIContainer, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asked = append(d.asked, sessionID)
	return d.cli[sessionID], nil
}

func (d *dockerBox) CLIContainerAddr(ctx context.Context, sessionID, ref string) (netip.Addr, error) {
	list, _ := d.CLIContainers(ctx, sessionID)
	c, err := sandbox.ResolveCLIContainer(list, ref)
	return c.Addr, err
}

func TestPreviewContainerAddr(t *testing.T) {
	e := newEnv(t, Config{})
	d := &dockerBox{fakeSandbox: e.box, cli: map[string][]sandbox.CLIContainer{}}
	e.m.box = d
	ctx := context.Background()
	as := e.start(t, e.alice, "docker")
	bs := e.start(t, e.bob, "docker")
	d.cli[as.ID] = []sandbox.CLIContainer{{ID: "aaaa", Name: "web", Addr: netip.MustParseAddr("10.213.0.5"), Ports: []uint16{8080}}}
	d.cli[bs.ID] = []sandbox.CLIContainer{{ID: "bbbb", Name: "bobweb", Addr: netip.MustParseAddr("10.213.0.21")}}

	got, err := e.m.PreviewContainerAddr(ctx, e.alice, as.ID, "web", 8080)
	if err != nil || got.String() != "10.213.0.5:8080" {
		t.Fatalf("alice's web: %v %v", got, err)
	}
	// Bob's container, through alice's session: not hers.
	_, err = e.m.PreviewContainerAddr(ctx, e.alice, as.ID, "bobweb", 8080)
	wantCode(t, err, opsdojo.ENOTFOUND)
	// Bob cannot reach alice's container through her session.
	_, err = e.m.PreviewContainerAddr(ctx, e.bob, as.ID, "web", 8080)
	wantCode(t, err, opsdojo.ENOTFOUND)
	if _, err := e.m.PreviewContainers(ctx, e.bob, as.ID); opsdojo.ErrorCode(err) != opsdojo.ENOTFOUND {
		t.Fatalf("bob lists alice's containers: %v", err)
	}
	list, err := e.m.PreviewContainers(ctx, e.alice, as.ID)
	if err != nil || len(list) != 1 || list[0].Name != "web" {
		t.Fatalf("alice's list: %+v %v", list, err)
	}
	_, err = e.m.PreviewContainerAddr(ctx, e.alice, as.ID, "web", 0)
	wantCode(t, err, opsdojo.EINVALID)
	// The engine was only ever asked about the caller's own session.
	d.mu.Lock()
	for _, s := range d.asked {
		if s != as.ID {
			t.Errorf("the engine was asked about session %s", s)
		}
	}
	d.mu.Unlock()
	// An ended session previews nothing.
	if _, err := e.m.End(ctx, e.alice, as.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.PreviewContainerAddr(ctx, e.alice, as.ID, "web", 8080); err == nil {
		t.Fatal("an ended session's container still previews")
	}
}
