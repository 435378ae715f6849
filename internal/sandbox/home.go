package sandbox

import (
	"context"
	"io"
	"strings"

	"github.com/docker/docker/api/types/container"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// ExportHome streams the engine's tar archive of the learner's home
// folder. It works on stopped containers too (a lost session's), and
// runs nothing in the container: the learner cannot tamper with how it
// is read. The caller bounds and cleans the stream (package homes).
func (e *Engine) ExportHome(ctx context.Context, containerID string) (io.ReadCloser, error) {
	rc, _, err := e.cli.CopyFromContainer(ctx, containerID, LearnerHome+"/.")
	if err != nil {
		if strings.Contains(err.Error(), "No such container") {
			return nil, opsdojo.WrapError(opsdojo.ENOTFOUND, err, "the session's container is gone")
		}
		return nil, engineErr(err, "read the home folder")
	}
	return rc, nil
}

// ImportHome unpacks a tar stream at the learner's home folder through
// the archive API. The stream must already be cleaned (homes.Restore):
// the engine unpacks as root, keeping the owners and modes it is given.
func (e *Engine) ImportHome(ctx context.Context, containerID string, r io.Reader) error {
	err := e.cli.CopyToContainer(ctx, containerID, LearnerHome, r, container.CopyToContainerOptions{})
	if err != nil {
		return engineErr(err, "restore the home folder")
	}
	return nil
}
