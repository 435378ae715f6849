package dockerproxy

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"

	"github.com/opsdojo/opsdojo/internal/grading"
)

const maxDockerfile = 1 << 20

// buildParams are the /build query parameters the proxy understands. A
// parameter that is not here must be empty or a default, or the build is
// refused: the engine takes remote contexts, build args, host networks
// and extra hosts from the query, never from the learner through this.
var buildParams = map[string]bool{"t": true, "dockerfile": true, "q": true, "nocache": true, "rm": true, "forcerm": true,
	"labels": true, "memory": true, "memswap": true, "cpushares": true, "cpusetcpus": true, "cpusetmems": true, "cpuperiod": true,
	"cpuquota": true, "shmsize": true, "version": true, "session": true}

func emptyParam(v string) bool {
	switch strings.TrimSpace(v) {
	case "", "0", "false", "{}", "[]", "null", "default":
		return true
	}
	return false
}

// VetBuildQuery refuses every /build option that would let the engine
// fetch for the learner, reach the host's network or take settings from
// them; the rest it ignores (limits are the server's).
func VetBuildQuery(q url.Values) error {
	for k, vs := range q {
		for _, v := range vs {
			switch k {
			case "remote":
				if v != "" {
					return refuse("building from a URL or git repository is not available here: the engine would fetch it from the host. Build from a folder: `docker build -t NAME .`")
				}
			case "networkmode":
				if !emptyParam(v) {
					return refuse("--network %s: builds run on your lab's network only", quote(v))
				}
			case "extrahosts":
				if !emptyParam(v) {
					return refuse("--add-host is not available for builds here")
				}
			case "buildargs":
				if !emptyParam(v) {
					return refuse("--build-arg is not available here: ARG values can change the image a Dockerfile starts FROM after it was checked. Set ENV in the Dockerfile instead")
				}
			case "pull":
				if !emptyParam(v) {
					return refuse("--pull: this server does not pull images")
				}
			case "version":
				if v != "" && v != "1" {
					return refuse("BuildKit is not available here; builds use the classic builder (unset DOCKER_BUILDKIT)")
				}
			case "session":
				// The classic builder ignores it.
			default:
				if !buildParams[k] && !emptyParam(v) {
					return refuse("the build option %s is not available here", quote(k))
				}
			}
		}
	}
	return nil
}

// TagAllowed refuses names in opsdojo's own namespace: lab images are
// trusted by name (lab starts, FROM vetting), so no learner may put an
// image under one.
func TagAllowed(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", badRequest("%s is not a valid image name: %s", quote(ref), firstLine(err.Error()))
	}
	if _, ok := named.(reference.Digested); ok {
		return "", badRequest("%s: a tag cannot be a digest", quote(ref))
	}
	name := reference.FamiliarName(named)
	if strings.HasPrefix(strings.ToLower(path.Base(name)), LabelPrefix) || strings.HasPrefix(strings.ToLower(name), LabelPrefix) {
		return "", refuse("image names starting with %q belong to the server; choose another name", LabelPrefix)
	}
	return reference.FamiliarString(reference.TagNameOnly(named)), nil
}

// labImage reports whether a reference names one of the lab images.
func labImage(ref string, bases []string) bool {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return false
	}
	name := reference.FamiliarName(named)
	for _, pat := range bases {
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
	}
	return false
}

// vetTag refuses a reserved name and a name another session's image holds
// (the engine would move it, and that learner's `docker run NAME` would
// start this learner's image).
func (s *server) vetTag(ctx context.Context, repo, tag string) error {
	ref := repo
	if tag != "" {
		ref += ":" + tag
	}
	full, err := TagAllowed(ref)
	if err != nil {
		return err
	}
	owned, exists, err := s.tagOwner(ctx, full)
	if err != nil {
		return err
	}
	if exists && !owned {
		return &Refusal{Status: http.StatusConflict, Message: fmt.Sprintf("opsdojo: the name %s is taken on this server; choose another", full)}
	}
	return nil
}

// streamWriter turns build output into the engine's JSON lines, flushed
// as they come, so the CLI shows a live log.
type streamWriter struct {
	mu sync.Mutex
	w  http.ResponseWriter
	f  http.Flusher
}

func (sw *streamWriter) Write(p []byte) (int, error) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	b, _ := json.Marshal(map[string]string{"stream": string(p)})
	if _, err := sw.w.Write(append(b, '\n')); err != nil {
		return 0, err
	}
	if sw.f != nil {
		sw.f.Flush()
	}
	return len(p), nil
}

func (sw *streamWriter) fail(msg string) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"errorDetail": map[string]string{"message": msg}, "error": msg})
	_, _ = sw.w.Write(append(b, '\n'))
	if sw.f != nil {
		sw.f.Flush()
	}
}

// build runs `docker build` the way a docker-build check does: the
// context is read in full (with a cap) into a file of the server's, its
// Dockerfile is vetted by grading.PlanBuild, and the build goes through
// the build checks' engine (base images vetted, parent cgroup, session
// network, legacy builder, no build args, no extra hosts, no remote
// context) and queue, within the session's build time.
func (s *server) build(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	if err := VetBuildQuery(q); err != nil {
		return err
	}
	var tags []string
	for _, t := range q["t"] {
		full, err := TagAllowed(t)
		if err != nil {
			return err
		}
		if err := s.vetTag(ctx, full, ""); err != nil {
			return err
		}
		tags = append(tags, full)
	}
	// One build per session at a time, from before its context is
	// spooled: parallel uploads would each take MaxContext of the
	// server's disk before the build queue sees them.
	s.mu.Lock()
	if s.building {
		s.mu.Unlock()
		return &Refusal{Status: http.StatusConflict, Message: "opsdojo: a build of this lab session is running already; wait for it to finish"}
	}
	s.building = true
	left := s.m.cfg.MaxBuildTime - s.buildUsed
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.building = false
		s.mu.Unlock()
	}()
	if left <= 0 {
		return refuse("this lab session has used its %s of build time; end the lab and start it again to build more", s.m.cfg.MaxBuildTime)
	}
	if s.m.imageBytes != nil {
		used, err := s.m.imageBytes(ctx, s.o.Session)
		if err != nil {
			return err
		}
		if used >= s.m.cfg.MaxImageBytes {
			return refuse("your images take %d MiB, the most this lab allows (%d MiB); remove some first (`docker images`, `docker rmi NAME`)", used>>20, s.m.cfg.MaxImageBytes>>20)
		}
	}
	f, err := s.spool(r)
	if err != nil {
		return err
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	dfName := q.Get("dockerfile")
	if dfName == "" {
		dfName = "Dockerfile"
	}
	src, err := readDockerfile(f, dfName)
	if err != nil {
		return err
	}
	bases, findings, err := grading.PlanBuild(ctx, src, dfName)
	if err != nil {
		return err
	}
	if len(findings) > 0 {
		return refuse("the server did not build this: %s line %d: %s", dfName, findings[0].Line, findings[0].Message)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind the build context: %w", err)
	}

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	log := &streamWriter{w: w, f: fl}
	if s.m.queue != nil {
		release, err := s.m.queue.Acquire(ctx, s.o.User, func(ahead, running int) {
			fmt.Fprintf(log, "Waiting for a build slot: %d ahead of you (%d running; each learner gets one build at a time)\n", ahead, running)
		})
		if err != nil {
			log.fail("the build was cancelled while it waited for a slot")
			return nil
		}
		defer release()
	}
	bctx, cancel := context.WithTimeout(ctx, left)
	defer cancel()
	tag := fmt.Sprintf("opsdojo-build/%s:cli", s.o.Session)
	if len(tags) > 0 {
		tag = tags[0]
	}
	start := time.Now()
	res, err := s.m.builder.Build(bctx, grading.BuildRequest{Context: f, Dockerfile: dfName, Tag: tag, Session: s.o.Session, Log: log, Bases: bases})
	s.mu.Lock()
	s.buildUsed += time.Since(start)
	s.mu.Unlock()
	switch {
	case bctx.Err() != nil && ctx.Err() == nil:
		log.fail(fmt.Sprintf("opsdojo: the build ran out of this session's build time (%s in all)", s.m.cfg.MaxBuildTime))
	case err != nil:
		log.fail("opsdojo: the build could not run: " + firstLine(err.Error()))
	case res.Refused:
		log.fail(fmt.Sprintf("opsdojo: the server did not build this: %s line %d: %s", dfName, res.Line, res.Error))
	case res.Failed:
		log.fail(res.Error)
	default:
		for _, t := range tags[min(1, len(tags)):] {
			if err := s.m.cli.ImageTag(ctx, res.ImageID, t); err != nil {
				log.fail("opsdojo: tag " + t + ": " + firstLine(err.Error()))
				return nil
			}
			fmt.Fprintf(log, "Successfully tagged %s\n", t)
		}
	}
	return nil
}

// spool reads a build context into a temporary file, at most MaxContext
// bytes: the Dockerfile the engine builds must be the one vetted, so the
// learner's stream cannot be read twice.
func (s *server) spool(r *http.Request) (*os.File, error) {
	f, err := os.CreateTemp("", "opsdojo-build-*.tar")
	if err != nil {
		return nil, fmt.Errorf("build context file: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(r.Body, s.m.cfg.MaxContext+1))
	fail := func(e error) (*os.File, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, e
	}
	if err != nil {
		return fail(badRequest("reading the build context: %s", firstLine(err.Error())))
	}
	if n > s.m.cfg.MaxContext {
		return fail(&Refusal{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("opsdojo: the build context is larger than %d MiB; list what the image does not need in .dockerignore", s.m.cfg.MaxContext>>20)})
	}
	if n == 0 {
		return fail(badRequest("the build context is empty"))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("rewind the build context: %w", err))
	}
	return f, nil
}

// readDockerfile finds the Dockerfile in a (possibly gzipped) tar context.
func readDockerfile(f *os.File, name string) ([]byte, error) {
	clean := path.Clean(strings.TrimPrefix(name, "./"))
	if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return nil, badRequest("the Dockerfile must be inside the build context")
	}
	br := bufio.NewReader(f)
	var rd io.Reader = br
	magic, _ := br.Peek(3)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, badRequest("the build context does not unpack: %s", firstLine(err.Error()))
		}
		defer gz.Close()
		rd = gz
	case len(magic) >= 3 && string(magic) == "BZh", len(magic) >= 3 && magic[0] == 0xfd && magic[1] == '7' && magic[2] == 'z':
		return nil, badRequest("send the build context as a plain or gzip tar")
	}
	// The whole archive is read: the engine unpacks every entry, so a second
	// entry of the same name, or a symlink on the Dockerfile's path, would
	// make it build a file other than the one vetted.
	tr := tar.NewReader(rd)
	var src []byte
	found := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, badRequest("the build context is not a tar archive: %s", firstLine(err.Error()))
		}
		entry := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if entry != clean {
			if h.Typeflag != tar.TypeDir && strings.HasPrefix(clean, entry+"/") {
				return nil, badRequest("%s: %s on its path is not a folder", name, entry)
			}
			continue
		}
		found++
		if h.Typeflag != tar.TypeReg {
			return nil, badRequest("%s must be a regular file, not a link", name)
		}
		if h.Size > maxDockerfile {
			return nil, badRequest("%s is larger than 1 MiB", name)
		}
		if src, err = io.ReadAll(io.LimitReader(tr, maxDockerfile)); err != nil {
			return nil, badRequest("reading %s: %s", name, firstLine(err.Error()))
		}
	}
	switch found {
	case 0:
		return nil, badRequest("Cannot locate specified Dockerfile: %s", name)
	case 1:
		return src, nil
	}
	return nil, badRequest("the build context holds %s more than once", name)
}
