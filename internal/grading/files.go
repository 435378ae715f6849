package grading

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/tarball"
)

// Files reads the learner's work. Paths are slash-separated and relative
// to the learner's home (or the graded folder). Implementations refuse
// paths and symlinks that leave it, and never read more than limit bytes.
type Files interface {
	// ReadFile returns a regular file's content. A missing file is
	// ENOTFOUND; a file over limit is EINVALID; both carry a message for
	// the learner.
	ReadFile(ctx context.Context, name string, limit int64) ([]byte, error)
	// Archive writes a tar stream of the folder dir (for build contexts),
	// at most limit bytes of file content in all.
	Archive(ctx context.Context, dir string, w io.Writer, limit int64) error
}

// BuildEngine builds and probes images for build checks. The sandbox
// package implements it on the Docker engine.
type BuildEngine interface {
	Build(ctx context.Context, req BuildRequest) (BuildResult, error)
	Probe(ctx context.Context, req ProbeRequest) (ProbeResult, error)
	RemoveImage(ctx context.Context, image string) error
	// RemoveImages removes a build's step images, best effort.
	RemoveImages(ctx context.Context, ids []string)
}

// CleanPath validates a learner-relative path named by a lab: relative,
// no "..", and not empty.
func CleanPath(name string) (string, error) {
	if name == "" || path.IsAbs(name) || strings.Contains(name, "\\") {
		return "", fmt.Errorf("path %q must be relative to the learner's home", name)
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("path %q leaves the learner's home", name)
	}
	return clean, nil
}

// DirFiles reads learner files from a local folder (`opsdojo grade DIR`).
type DirFiles struct {
	Root string
}

func (d DirFiles) resolve(name string) (string, error) {
	clean, err := CleanPath(name)
	if err != nil {
		return "", opsdojo.Errorf(opsdojo.EINVALID, "%v", err)
	}
	root, err := filepath.EvalSymlinks(d.Root)
	if err != nil {
		return "", fmt.Errorf("graded folder: %w", err)
	}
	p := filepath.Join(root, filepath.FromSlash(clean))
	real, err := filepath.EvalSymlinks(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", opsdojo.Errorf(opsdojo.ENOTFOUND, "%s does not exist", clean)
	}
	if err != nil {
		return "", opsdojo.Errorf(opsdojo.EINVALID, "%s cannot be read: %v", clean, err)
	}
	if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
		return "", opsdojo.Errorf(opsdojo.EINVALID, "%s is a symlink that points outside your folder", clean)
	}
	return real, nil
}

// ReadFile implements Files.
func (d DirFiles) ReadFile(ctx context.Context, name string, limit int64) ([]byte, error) {
	p, err := d.resolve(name)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "%s does not exist", name)
	}
	if !fi.Mode().IsRegular() {
		return nil, opsdojo.Errorf(opsdojo.EINVALID, "%s is not a regular file", name)
	}
	if fi.Size() > limit {
		return nil, opsdojo.Errorf(opsdojo.EINVALID, "%s is %d bytes; the grader reads at most %d", name, fi.Size(), limit)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, opsdojo.Errorf(opsdojo.EINVALID, "%s is larger than %d bytes", name, limit)
	}
	return b, nil
}

// Archive implements Files. Symlinks are archived as links (a build sees
// them as the learner made them), never followed.
func (d DirFiles) Archive(ctx context.Context, dir string, w io.Writer, limit int64) error {
	root, err := d.resolve(dir)
	if err != nil {
		return err
	}
	err = tarball.WriteDir(ctx, w, root, tarball.Options{Limit: limit})
	if errors.Is(err, tarball.ErrTooLarge) {
		return opsdojo.Errorf(opsdojo.EINVALID, "the folder %s holds more than %d MB; the build context is too large", dir, limit>>20)
	}
	return err
}
