package sandbox

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// homePath resolves a learner-relative path inside the learner's home.
func homePath(name string) (string, error) {
	if name == "" || path.IsAbs(name) {
		return "", opsdojo.Errorf(opsdojo.EINVALID, "%q must be relative to your home folder", name)
	}
	p := path.Join(LearnerHome, name)
	if p != LearnerHome && !strings.HasPrefix(p, LearnerHome+"/") {
		return "", opsdojo.Errorf(opsdojo.EINVALID, "%q leaves your home folder", name)
	}
	return p, nil
}

// ReadFile reads one regular file of the learner's home through the
// engine's archive API: nothing runs in the container, so a learner cannot
// tamper with how it is read. Symlinks are refused rather than followed: a
// link could point at files the learner should not hand to the grader
// (or at /proc).
func (e *Engine) ReadFile(ctx context.Context, containerID, name string, limit int64) ([]byte, error) {
	p, err := homePath(name)
	if err != nil {
		return nil, err
	}
	rc, stat, err := e.cli.CopyFromContainer(ctx, containerID, p)
	if err != nil {
		if opsdojo.ErrorCode(engineErr(err, "")) == opsdojo.ENOTFOUND || strings.Contains(err.Error(), "No such container:path") || strings.Contains(err.Error(), "Could not find the file") {
			return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "%s does not exist", name)
		}
		return nil, engineErr(err, "read "+name)
	}
	defer rc.Close()
	if stat.Mode&os.ModeSymlink != 0 || stat.LinkTarget != "" {
		return nil, opsdojo.Errorf(opsdojo.EINVALID, "%s is a symlink; the grader reads regular files only", name)
	}
	if stat.Mode.IsDir() {
		return nil, opsdojo.Errorf(opsdojo.EINVALID, "%s is a folder, not a file", name)
	}
	if stat.Size > limit {
		return nil, opsdojo.Errorf(opsdojo.EINVALID, "%s is %d bytes; the grader reads at most %d", name, stat.Size, limit)
	}
	// The archive of one file holds exactly one entry.
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if errors.Is(err, io.EOF) {
		return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "%s does not exist", name)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil, opsdojo.Errorf(opsdojo.EINVALID, "%s is not a regular file", name)
	}
	b, err := io.ReadAll(io.LimitReader(tr, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, opsdojo.Errorf(opsdojo.EINVALID, "%s is larger than %d bytes", name, limit)
	}
	return b, nil
}

// Archive streams a folder of the learner's home as a tar build context,
// with at most limit bytes of file content. Entries are re-rooted at the
// folder itself, the way `docker build DIR` sees them.
func (e *Engine) Archive(ctx context.Context, containerID, dir string, w io.Writer, limit int64) error {
	p, err := homePath(dir)
	if err != nil {
		return err
	}
	rc, stat, err := e.cli.CopyFromContainer(ctx, containerID, p+"/.")
	if err != nil {
		if strings.Contains(err.Error(), "No such container:path") || strings.Contains(err.Error(), "Could not find the file") {
			return opsdojo.Errorf(opsdojo.ENOTFOUND, "the folder %s does not exist", dir)
		}
		return engineErr(err, "read "+dir)
	}
	defer rc.Close()
	if !stat.Mode.IsDir() {
		return opsdojo.Errorf(opsdojo.EINVALID, "%s is not a folder", dir)
	}
	tr := tar.NewReader(rc)
	tw := tar.NewWriter(w)
	var total int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", dir, err)
		}
		// The archive of "dir/." names entries "./x" or "<base>/x"
		// depending on the engine; strip the first element.
		name := strings.TrimPrefix(hdr.Name, "./")
		if i := strings.IndexByte(name, '/'); i >= 0 && !strings.HasPrefix(hdr.Name, "./") {
			name = name[i+1:]
		} else if !strings.HasPrefix(hdr.Name, "./") {
			continue // the folder itself
		}
		if name == "" || name == "." {
			continue
		}
		hdr.Name = name
		if hdr.Typeflag == tar.TypeReg {
			total += hdr.Size
			if total > limit {
				return opsdojo.Errorf(opsdojo.EINVALID, "the folder %s holds more than %d MB; the build context is too large (a .dockerignore does not help here: the grader copies the folder first)", dir, limit>>20)
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := io.CopyN(tw, tr, hdr.Size); err != nil {
				return fmt.Errorf("read %s: %w", dir, err)
			}
		}
	}
	return tw.Close()
}
