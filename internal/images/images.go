// Package images builds the images learners' containers run: a Debian base
// image (pulled, or made with debootstrap when no registry answers) and one
// image per lab, tagged by a hash of its build context so rebuilding an
// unchanged lab is a no-op.
package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
	"github.com/opsdojo/opsdojo/internal/tarball"
)

// Defaults for the base image.
const (
	DefaultBase     = "opsdojo/base:bookworm"
	DefaultUpstream = "debian:bookworm-slim"
	DefaultSuite    = "bookworm"
)

// Builder builds base and lab images on a Docker engine.
type Builder struct {
	cli *client.Client
	log *slog.Logger
	// Base is the local tag lab Dockerfiles build FROM (passed as build arg BASE).
	Base string
	// Upstream is tried first; on machines without a registry the pull fails fast.
	Upstream string
	// Suite is the Debian release debootstrap installs.
	Suite string
	// Mirror overrides debootstrap's default Debian mirror when set.
	Mirror string
}

// New returns a Builder with the default names.
func New(cli *client.Client, log *slog.Logger) *Builder {
	return &Builder{cli: cli, log: log, Base: DefaultBase, Upstream: DefaultUpstream, Suite: DefaultSuite}
}

// EnsureBase makes sure the base image exists and returns its id.
func (b *Builder) EnsureBase(ctx context.Context, out io.Writer) (string, error) {
	if info, err := b.cli.ImageInspect(ctx, b.Base); err == nil {
		return info.ID, nil
	} else if client.IsErrConnectionFailed(err) {
		return "", opsdojo.WrapError(opsdojo.EUNAVAILABLE, err, "the Docker engine is not reachable")
	}
	fmt.Fprintf(out, "base image %s: pulling %s\n", b.Base, b.Upstream)
	if err := b.pull(ctx); err == nil {
		if err := b.cli.ImageTag(ctx, b.Upstream, b.Base); err != nil {
			return "", fmt.Errorf("tag %s as %s: %w", b.Upstream, b.Base, err)
		}
	} else {
		fmt.Fprintf(out, "base image %s: pull failed (%v); building it with debootstrap\n", b.Base, firstLine(err.Error()))
		if err := b.debootstrap(ctx, out); err != nil {
			return "", err
		}
	}
	info, err := b.cli.ImageInspect(ctx, b.Base)
	if err != nil {
		return "", fmt.Errorf("inspect base image: %w", err)
	}
	return info.ID, nil
}

func (b *Builder) pull(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rc, err := b.cli.ImagePull(ctx, b.Upstream, image.PullOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	return readJSONMessages(rc, io.Discard)
}

// debootstrap installs a minimal Debian into a temporary folder and imports
// it as the base image.
func (b *Builder) debootstrap(ctx context.Context, out io.Writer) error {
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return errors.New("debootstrap is not installed (apt-get install debootstrap), and no registry answered")
	}
	dir, err := os.MkdirTemp("", "opsdojo-rootfs-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	args := []string{"--variant=minbase", b.Suite, dir}
	if b.Mirror != "" {
		args = append(args, b.Mirror)
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, "debootstrap", args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("debootstrap %s: %w", b.Suite, err)
	}
	// Keep the image small and its apt usable: no cached packages, no lists.
	for _, p := range []string{"var/cache/apt/archives", "var/lib/apt/lists"} {
		entries, _ := os.ReadDir(filepath.Join(dir, p))
		for _, e := range entries {
			if e.Name() != "partial" && e.Name() != "lock" {
				os.RemoveAll(filepath.Join(dir, p, e.Name()))
			}
		}
	}
	fmt.Fprintf(out, "debootstrap done in %s; importing as %s\n", time.Since(start).Round(time.Second), b.Base)
	tarCmd := exec.CommandContext(ctx, "tar", "--numeric-owner", "-C", dir, "-c", ".")
	stdout, err := tarCmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("tar pipe: %w", err)
	}
	tarCmd.Stderr = out
	if err := tarCmd.Start(); err != nil {
		return fmt.Errorf("start tar: %w", err)
	}
	rc, err := b.cli.ImageImport(ctx, image.ImportSource{Source: stdout, SourceName: "-"}, b.Base, image.ImportOptions{
		Changes: []string{`CMD ["bash"]`, "ENV LANG=C.UTF-8", "LABEL org.opsdojo.base=debootstrap-" + b.Suite},
	})
	if err != nil {
		_ = tarCmd.Process.Kill()
		_ = tarCmd.Wait()
		return fmt.Errorf("import base image: %w", err)
	}
	defer rc.Close()
	if err := readJSONMessages(rc, io.Discard); err != nil {
		_ = tarCmd.Wait()
		return fmt.Errorf("import base image: %w", err)
	}
	if err := tarCmd.Wait(); err != nil {
		return fmt.Errorf("tar rootfs: %w", err)
	}
	return nil
}

// Tag returns the content-addressed tag of a lab's image: it changes when
// any file of the build context or the base image changes.
func (b *Builder) Tag(ctx context.Context, lab *labs.Lab) (string, error) {
	info, err := b.cli.ImageInspect(ctx, b.Base)
	if err != nil {
		if client.IsErrConnectionFailed(err) {
			return "", opsdojo.WrapError(opsdojo.EUNAVAILABLE, err, "the Docker engine is not reachable; try again shortly")
		}
		return "", opsdojo.WrapError(opsdojo.EUNAVAILABLE, err, "the base image %s is not built; run `opsdojo images build`", b.Base)
	}
	sum, err := hashDir(lab.ImageDir)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(info.ID + "\n" + sum))
	return Repo(lab.ID) + ":" + hex.EncodeToString(h[:])[:16], nil
}

// Repo is the image repository of a lab.
func Repo(labID string) string { return "opsdojo/lab-" + labID }

// BuildLab builds a lab's image unless an image with its content tag exists.
// It returns the tag and whether it built.
func (b *Builder) BuildLab(ctx context.Context, lab *labs.Lab, out io.Writer) (string, bool, error) {
	tag, err := b.Tag(ctx, lab)
	if err != nil {
		return "", false, err
	}
	if _, err := b.cli.ImageInspect(ctx, tag); err == nil {
		return tag, false, nil
	}
	pr, pw := io.Pipe()
	// Stable times keep the layer cache warm across rebuilds.
	go func() {
		pw.CloseWithError(tarball.WriteDir(ctx, pw, lab.ImageDir, tarball.Options{ZeroTimes: true}))
	}()
	defer pr.Close()
	base := b.Base
	resp, err := b.cli.ImageBuild(ctx, pr, build.ImageBuildOptions{
		Tags:        []string{tag, Repo(lab.ID) + ":latest"},
		BuildArgs:   map[string]*string{"BASE": &base},
		Labels:      map[string]string{"opsdojo.lab": lab.ID},
		Remove:      true,
		ForceRemove: true,
		PullParent:  false,
		// The legacy builder is what API 1.41 engines offer.
		Version: build.BuilderV1,
	})
	if err != nil {
		return "", false, fmt.Errorf("build %s: %w", lab.ID, err)
	}
	defer resp.Body.Close()
	if err := readJSONMessages(resp.Body, out); err != nil {
		return "", false, fmt.Errorf("build %s: %w", lab.ID, err)
	}
	return tag, true, nil
}

// readJSONMessages copies the stream lines of a build, pull or import to
// out and returns the error the engine reported in-band, if any.
func readJSONMessages(r io.Reader, out io.Writer) error {
	inBand, err := sandbox.ReadStream(r, func(text string) { io.WriteString(out, text) })
	if inBand != "" {
		return errors.New(inBand)
	}
	return err
}

// hashDir hashes names, modes and contents of every file under dir.
func hashDir(dir string) (string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", dir, err)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, p := range files {
		info, err := os.Lstat(p)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s\x00%o\x00", filepath.ToSlash(rel), info.Mode())
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return "", err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return "", err
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
