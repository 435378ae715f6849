package images

import (
	"context"

	"github.com/containerd/errdefs"

	"github.com/opsdojo/opsdojo/internal/labs"
)

// LabImageState says whether a lab's image is built for its current
// files: "current", "outdated" (an older build exists), or "missing".
func (b *Builder) LabImageState(ctx context.Context, lab *labs.Lab) (state, tag string, err error) {
	tag, err = b.Tag(ctx, lab)
	if err != nil {
		return "", "", err
	}
	if _, err := b.cli.ImageInspect(ctx, tag); err == nil {
		return "current", tag, nil
	} else if !errdefs.IsNotFound(err) {
		return "", tag, err
	}
	if _, err := b.cli.ImageInspect(ctx, Repo(lab.ID)+":latest"); err == nil {
		return "outdated", tag, nil
	} else if !errdefs.IsNotFound(err) {
		return "", tag, err
	}
	return "missing", tag, nil
}

// BasePresent reports whether the base image exists.
func (b *Builder) BasePresent(ctx context.Context) (bool, error) {
	if _, err := b.cli.ImageInspect(ctx, b.Base); err != nil {
		if errdefs.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}
