package session

import (
	"context"
	"fmt"

	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// PoolDockerProxies is what DockerProxies offer for warm-pool boxes of
// labs with a docker CLI: a box's socket folder is made (empty, the
// learner's, 0700) before its container, so it is mounted at create as a
// fresh session's is; the proxy itself, with the claiming learner's owner
// labels, is opened in that folder at claim (DockerProxies.Open), so no
// socket exists while the box has no learner.
type PoolDockerProxies interface {
	DockerProxies
	Prepare(boxID string) (dir string, err error)
}

// prepareDocker makes a box's socket folder when its lab has a docker
// CLI; "" when it has none or no proxies are configured (as a fresh
// start without proxies).
func (m *Manager) prepareDocker(lab *labs.Lab, boxID string) (string, error) {
	p := m.dockerProxies()
	if !lab.DockerCLI || p == nil {
		return "", nil
	}
	pp, ok := p.(PoolDockerProxies)
	if !ok {
		return "", fmt.Errorf("lab %s: its docker CLI cannot be prepared for a pool box", lab.ID)
	}
	return pp.Prepare(boxID)
}

// openClaimedDocker opens the docker proxy of a session claimed from the
// pool, for its learner, in the folder its box was made with.
func (m *Manager) openClaimedDocker(ctx context.Context, s opsdojo.LabSession) error {
	_, err := m.openDocker(ctx, s)
	return err
}

// forgetBoxDocker removes a box's socket folder (drained, failed or
// forgotten); nothing was ever served in it.
func (m *Manager) forgetBoxDocker(ctx context.Context, labID, boxID string) {
	if lab, ok := m.labs.Get(labID); ok && !lab.DockerCLI {
		return
	}
	m.closeDocker(ctx, boxID)
}
