package session

import (
	"context"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// DockerProxies gives the sessions of labs with `docker_cli: true` their
// own Docker API proxy (internal/dockerproxy): Open before the container
// is made (its socket folder is mounted in it), Close before the
// container and network go (it removes what the learner made with it).
type DockerProxies interface {
	Open(ctx context.Context, s opsdojo.LabSession) (dir string, err error)
	Close(ctx context.Context, sessionID string) error
}

// SetDockerProxies turns the learners' docker CLI on. Without it, labs
// that ask for it start without a Docker socket.
func (m *Manager) SetDockerProxies(p DockerProxies) {
	m.mu.Lock()
	m.docker = p
	m.mu.Unlock()
}

func (m *Manager) dockerProxies() DockerProxies {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.docker
}

// openDocker opens the proxy of a session whose lab asks for one; "" when
// it does not (or no proxies are configured).
func (m *Manager) openDocker(ctx context.Context, s opsdojo.LabSession) (string, error) {
	lab, ok := m.labs.Get(s.LabID)
	p := m.dockerProxies()
	if !ok || !lab.DockerCLI || p == nil {
		return "", nil
	}
	return p.Open(ctx, s)
}

func (m *Manager) closeDocker(ctx context.Context, id string) {
	if p := m.dockerProxies(); p != nil {
		if err := p.Close(ctx, id); err != nil {
			m.log.Warn("close the session's docker proxy", "session", id, "err", err)
		}
	}
}

// learnerFiles is what an engine offers that can measure the writable
// layers of the containers a learner ran with their docker CLI.
type learnerFiles interface {
	LearnerContainersUsage(ctx context.Context, sessionID string) (int64, error)
}

// Builds is the build engine the session's checks use: it records the
// images each build makes, for the disk quota and the session's end.
// The learners' docker CLI builds through it too.
func (m *Manager) Builds() grading.BuildEngine { return sessionBuilds{BuildEngine: m.box, m: m} }

// ImageBytes measures what a session's images hold on disk, the way the
// disk quota does.
func (m *Manager) ImageBytes(ctx context.Context, sessionID string) (int64, error) {
	ids, err := m.store.SessionImages(ctx, sessionID)
	if err != nil {
		return 0, err
	}
	return m.box.ImagesUsage(ctx, sessionID, ids)
}
