package session

import (
	"context"
	"net/netip"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// WorkspaceBox is what the editor pane and the web preview (issue 11) need
// of the engine besides Sandbox. It is a separate interface so engines
// (and test fakes) without it still run labs; the editor then answers
// that it is not available.
type WorkspaceBox interface {
	ListHome(ctx context.Context, containerID string, maxEntries, maxDepth int) (sandbox.FileListing, error)
	OpenFile(ctx context.Context, containerID, name string) (sandbox.FileContent, error)
	SaveFile(ctx context.Context, containerID string, req sandbox.SaveRequest) (sandbox.FileContent, error)
	ContainerAddr(ctx context.Context, containerID, sessionID string) (netip.Addr, error)
}

// Bounds of the editor's file tree.
const (
	treeMaxEntries = 2000
	treeMaxDepth   = 6
)

func (m *Manager) workspace() (WorkspaceBox, error) {
	w, ok := m.box.(WorkspaceBox)
	if !ok {
		return nil, opsdojo.Errorf(opsdojo.EUNAVAILABLE, "the editor is not available on this server")
	}
	return w, nil
}

// editable returns the user's own running session, its container started
// again if it had stopped. Someone else's session is ENOTFOUND: the
// editor is for the learner alone (admins watch terminals read-only).
func (m *Manager) editable(ctx context.Context, user opsdojo.User, id string) (opsdojo.LabSession, WorkspaceBox, error) {
	w, err := m.workspace()
	if err != nil {
		return opsdojo.LabSession{}, nil, err
	}
	s, _, err := m.live(ctx, user, id)
	if err != nil {
		return s, nil, err
	}
	if err := m.ensureRunning(ctx, s); err != nil {
		return s, nil, err
	}
	return m.touch(ctx, s), w, nil
}

// ListFiles lists the learner's home (bounded in entries and depth).
func (m *Manager) ListFiles(ctx context.Context, user opsdojo.User, id string) (sandbox.FileListing, error) {
	s, w, err := m.editable(ctx, user, id)
	if err != nil {
		return sandbox.FileListing{}, err
	}
	return w.ListHome(ctx, s.ContainerID, treeMaxEntries, treeMaxDepth)
}

// OpenFile reads a text file of the learner's home.
func (m *Manager) OpenFile(ctx context.Context, user opsdojo.User, id, name string) (sandbox.FileContent, error) {
	s, w, err := m.editable(ctx, user, id)
	if err != nil {
		return sandbox.FileContent{}, err
	}
	return w.OpenFile(ctx, s.ContainerID, name)
}

// SaveFile writes a text file of the learner's home as the learner.
func (m *Manager) SaveFile(ctx context.Context, user opsdojo.User, id string, req sandbox.SaveRequest) (sandbox.FileContent, error) {
	s, w, err := m.editable(ctx, user, id)
	if err != nil {
		return sandbox.FileContent{}, err
	}
	return w.SaveFile(ctx, s.ContainerID, req)
}

// PreviewAddr is where the server reaches port on the session's container
// for the web preview: for the session's learner and for admins; anyone
// else gets ENOTFOUND. The session must be running.
func (m *Manager) PreviewAddr(ctx context.Context, user opsdojo.User, id string, port uint16) (netip.AddrPort, error) {
	w, err := m.workspace()
	if err != nil {
		return netip.AddrPort{}, err
	}
	if port == 0 {
		return netip.AddrPort{}, opsdojo.Errorf(opsdojo.EINVALID, "the port must be between 1 and 65535")
	}
	s, err := m.viewable(ctx, user, id)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if s.State != opsdojo.SessionRunning {
		return netip.AddrPort{}, opsdojo.Errorf(opsdojo.ECONFLICT, "this lab session is not running")
	}
	a, err := w.ContainerAddr(ctx, s.ContainerID, s.ID)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a, port), nil
}

// LiveSessionFor returns the user's running session of a lab (the lab
// page's preview links name the lab, not the session).
func (m *Manager) LiveSessionFor(ctx context.Context, user opsdojo.User, labID string) (opsdojo.LabSession, error) {
	s, err := m.store.LiveLabSession(ctx, user.ID, labID)
	if err != nil {
		return s, err
	}
	if s.State != opsdojo.SessionRunning {
		return opsdojo.LabSession{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "start the lab first")
	}
	return s, nil
}
