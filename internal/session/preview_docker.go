package session

import (
	"context"
	"net/netip"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// DockerPreviewBox is what the web preview needs of the engine to show a
// container the learner started with their docker CLI (sandbox.Engine).
type DockerPreviewBox interface {
	CLIContainers(ctx context.Context, sessionID string) ([]sandbox.CLIContainer, error)
	CLIContainerAddr(ctx context.Context, sessionID, ref string) (netip.Addr, error)
}

func (m *Manager) dockerPreview() (DockerPreviewBox, error) {
	w, ok := m.box.(DockerPreviewBox)
	if !ok {
		return nil, opsdojo.Errorf(opsdojo.EUNAVAILABLE, "the preview of docker containers is not available on this server")
	}
	return w, nil
}

// PreviewSession returns a running session that user may preview (the
// learner's own; admins any); anyone else gets ENOTFOUND.
func (m *Manager) PreviewSession(ctx context.Context, user opsdojo.User, id string) (opsdojo.LabSession, error) {
	s, err := m.viewable(ctx, user, id)
	if err != nil {
		return opsdojo.LabSession{}, err
	}
	if s.State != opsdojo.SessionRunning {
		return opsdojo.LabSession{}, opsdojo.Errorf(opsdojo.ECONFLICT, "this lab session is not running")
	}
	return s, nil
}

// PreviewContainers lists the session's running containers that its
// learner started with the docker CLI, for the preview form.
func (m *Manager) PreviewContainers(ctx context.Context, user opsdojo.User, id string) ([]sandbox.CLIContainer, error) {
	d, err := m.dockerPreview()
	if err != nil {
		return nil, err
	}
	s, err := m.PreviewSession(ctx, user, id)
	if err != nil {
		return nil, err
	}
	return d.CLIContainers(ctx, s.ID)
}

// PreviewContainerAddr is where the server reaches port of ref, one of
// the session's learner's own running CLI containers, for the web preview.
// Only those containers resolve: ENOTFOUND for any other.
func (m *Manager) PreviewContainerAddr(ctx context.Context, user opsdojo.User, id, ref string, port uint16) (netip.AddrPort, error) {
	d, err := m.dockerPreview()
	if err != nil {
		return netip.AddrPort{}, err
	}
	if port == 0 {
		return netip.AddrPort{}, opsdojo.Errorf(opsdojo.EINVALID, "the port must be between 1 and 65535")
	}
	s, err := m.PreviewSession(ctx, user, id)
	if err != nil {
		return netip.AddrPort{}, err
	}
	a, err := d.CLIContainerAddr(ctx, s.ID, ref)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a, port), nil
}
