package sandbox

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// ImagesUsage returns the bytes the images a session's builds made add to
// the engine's disk: the images labelled with the session and the ids the
// caller recorded (every stage's).
//
// Only what those images add counts, never the lab or base image they
// build FROM: the engine's image size includes every parent layer, so an
// image's own layer is its size minus its parent's. The legacy builder
// (what API 1.41 gives) commits one image per Dockerfile step with the
// previous step's image as its parent, and a build records only the steps
// it ran itself (not FROM, not cache hits), so the sum of those
// differences is exactly the layers the session's builds wrote. Both sizes
// come from the engine's layer metadata: no walk of the layers, a few
// milliseconds per image.
func (e *Engine) ImagesUsage(ctx context.Context, sessionID string, ids []string) (int64, error) {
	seen := map[string]bool{}
	var all []string
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			all = append(all, id)
		}
	}
	if sessionID != "" {
		list, err := e.cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
			filters.Arg("label", LabelSession+"="+sessionID), filters.Arg("label", LabelInstance+"="+e.cfg.InstanceID))})
		if err != nil {
			return 0, engineErr(err, "list session images")
		}
		for _, img := range list {
			add(img.ID)
		}
	}
	for _, id := range ids {
		add(id)
	}
	type layer struct {
		id, parent string
		size       int64 // with its parents
	}
	inspect := func(ref string) (layer, bool, error) {
		info, err := e.cli.ImageInspect(ctx, ref)
		if err != nil {
			err = engineErr(err, "inspect session image")
			if opsdojo.ErrorCode(err) == opsdojo.ENOTFOUND {
				return layer{}, false, nil // removed meanwhile
			}
			return layer{}, false, err
		}
		// Parent is deprecated for BuildKit images, but the classic builder
		// that builds learners' images still sets it, and it is how a
		// build's own layers are told from its base's.
		//lint:ignore SA1019 see above
		return layer{id: info.ID, parent: info.Parent, size: info.Size}, true, nil
	}
	var total int64
	// A short id from the build log and the full id of the label listing
	// can name one image: count it once.
	counted := map[string]bool{}
	for _, ref := range all {
		img, ok, err := inspect(ref)
		if err != nil {
			return total, err
		}
		if !ok || counted[img.id] {
			continue
		}
		counted[img.id] = true
		var base int64
		if img.parent != "" {
			p, ok, err := inspect(img.parent)
			if err != nil {
				return total, err
			}
			if ok {
				base = p.size
			}
		}
		total += max(img.size-base, 0)
	}
	return total, nil
}

// DataRoot returns the engine's data directory (where images and
// containers' writable layers live) when this process shares the
// engine's filesystems, so that it can watch their free space: the engine
// is reached over a local Unix socket. Otherwise ok is false.
func (e *Engine) DataRoot(ctx context.Context) (dir string, ok bool, err error) {
	host := e.cli.DaemonHost()
	if !strings.HasPrefix(host, "unix://") {
		return "", false, nil
	}
	info, err := e.cli.Info(ctx)
	if err != nil {
		return "", false, engineErr(err, "engine info")
	}
	return info.DockerRootDir, info.DockerRootDir != "", nil
}

// StorageSizeSupport tells whether the engine can cap a container's
// writable layer (`--storage-opt size`): overlay2 on XFS mounted with
// pquota, for instance; overlay2 on ext4 cannot. It asks the engine the
// only reliable way: it creates (never starts) a throwaway container from
// image with the option and removes it. reason is the engine's answer when
// it cannot.
func (e *Engine) StorageSizeSupport(ctx context.Context, image string) (ok bool, reason string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	created, err := e.cli.ContainerCreate(ctx,
		&container.Config{Image: image, Cmd: []string{"true"}, Labels: map[string]string{LabelInstance: e.cfg.InstanceID, "opsdojo.probe": "storage-opt"}},
		&container.HostConfig{NetworkMode: "none", StorageOpt: StorageOpt(64 << 20)}, nil, nil, "")
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "storage-opt") || strings.Contains(msg, "StorageOpt") || strings.Contains(msg, "quota") {
			return false, msg, nil
		}
		return false, "", engineErr(err, "create a container to test --storage-opt size")
	}
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer rcancel()
	if err := e.cli.ContainerRemove(rctx, created.ID, container.RemoveOptions{Force: true}); err != nil {
		e.log.Warn("remove the --storage-opt test container", "container", created.ID, "err", err)
	}
	return true, "", nil
}

// StorageOpt is the storage option that caps a container's writable layer
// at size bytes; nil for no cap.
func StorageOpt(size int64) map[string]string {
	if size <= 0 {
		return nil
	}
	return map[string]string{"size": strconv.FormatInt(size, 10)}
}

// LearnerContainersUsage returns the bytes the containers a session's
// learner ran (with their docker CLI, labelled by internal/dockerproxy)
// wrote on top of their images.
func (e *Engine) LearnerContainersUsage(ctx context.Context, sessionID string) (int64, error) {
	list, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Size: true, Filters: filters.NewArgs(
		filters.Arg("label", LabelSession+"="+sessionID), filters.Arg("label", LabelInstance+"="+e.cfg.InstanceID),
		filters.Arg("label", LabelCreatedBy+"="+CreatedByCLI))})
	if err != nil {
		return 0, engineErr(err, "list the learner's containers")
	}
	var n int64
	for _, c := range list {
		n += max(c.SizeRw, 0)
	}
	return n, nil
}
