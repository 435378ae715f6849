package dockerproxy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// Prepare makes the socket folder of a warm-pool box before its container
// exists (session.PoolDockerProxies): the folder Open uses for that id,
// the learner's, mode 0700, and empty. No proxy serves in it until a
// learner claims the box and Open starts one there, labelling what that
// learner makes with their own user id; the container sees the socket
// appear because the folder, not the socket file, is mounted.
func (m *Manager) Prepare(box string) (string, error) {
	if box == "" || strings.ContainsAny(box, "/.") {
		return "", fmt.Errorf("docker proxy folder: bad box id %q", box)
	}
	base, err := filepath.Abs(m.cfg.Dir)
	if err != nil {
		return "", fmt.Errorf("docker proxy folder: %w", err)
	}
	if err := os.MkdirAll(base, 0o711); err != nil {
		return "", fmt.Errorf("docker proxy folder: %w", err)
	}
	dir := filepath.Join(base, box)
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return "", fmt.Errorf("docker proxy folder: %w", err)
	}
	if err := os.Chown(dir, sandbox.LearnerUID, sandbox.LearnerGID); err != nil {
		return "", fmt.Errorf("give the docker proxy folder to the learner: %w", err)
	}
	return dir, nil
}
