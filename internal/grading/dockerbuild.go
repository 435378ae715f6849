package grading

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// DockerBuildChecker builds the learner's image for real and, when the lab
// asks, runs it briefly to see that it works: answers its health endpoint,
// does not run as root, turns healthy, fits a size budget.
//
// Arguments:
//
//	with:
//	  context: app            # folder in the learner's home (default ".")
//	  dockerfile: Dockerfile  # inside the context (default Dockerfile)
//	  probe:                  # the container must also stay up 2 s (or within)
//	    port: 8080            # GET http://<container>:port<path> must answer 2xx
//	    path: /healthz
//	    within: 20s           # for the answer and for healthy
//	    non_root: true        # the main process is not uid 0
//	    healthy: true         # the image's HEALTHCHECK reports healthy
//	    max_size_mb: 30       # image size budget
//
// Before anything is built, the learner's Dockerfile is vetted (PlanBuild):
// the server refuses what would make the engine fetch for the learner from
// the host, and the engine vets the images it starts from.
type DockerBuildChecker struct {
	queue *BuildQueue
}

// NewDockerBuildChecker returns a checker that runs at most maxBuilds
// builds at once, one per learner, first come first served; more wait
// their turn (bounded by the check's timeout) and see their place in the
// build log.
func NewDockerBuildChecker(maxBuilds int) *DockerBuildChecker {
	if maxBuilds <= 0 {
		maxBuilds = 2
	}
	return &DockerBuildChecker{queue: NewBuildQueue(maxBuilds)}
}

// Queue is the checker's build queue, for other builds that must share
// its slots (the learners' docker CLI).
func (c *DockerBuildChecker) Queue() *BuildQueue { return c.queue }

type dockerBuildArgs struct {
	Context    string     `yaml:"context"`
	Dockerfile string     `yaml:"dockerfile"`
	Probe      *probeArgs `yaml:"probe"`
}

type probeArgs struct {
	Port      int     `yaml:"port"`
	Path      string  `yaml:"path"`
	Within    string  `yaml:"within"`
	NonRoot   bool    `yaml:"non_root"`
	Healthy   bool    `yaml:"healthy"`
	MaxSizeMB float64 `yaml:"max_size_mb"`
	within    time.Duration
}

// Limits of what a build check reads.
const (
	maxContextBytes = 200 << 20
	maxDockerfile   = 1 << 20
	maxBuildLog     = 256 << 10
)

func decodeStrict(with []byte, v any) error {
	if len(bytes.TrimSpace(with)) == 0 {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(with))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("with: %w", err)
	}
	return nil
}

func parseDockerBuildArgs(with []byte) (dockerBuildArgs, error) {
	var a dockerBuildArgs
	if err := decodeStrict(with, &a); err != nil {
		return a, err
	}
	if a.Context == "" {
		a.Context = "."
	}
	if a.Dockerfile == "" {
		a.Dockerfile = "Dockerfile"
	}
	if _, err := CleanPath(a.Context); err != nil && a.Context != "." {
		return a, err
	}
	if _, err := CleanPath(a.Dockerfile); err != nil {
		return a, err
	}
	if p := a.Probe; p != nil {
		if p.Port < 0 || p.Port > 65535 {
			return a, fmt.Errorf("probe.port %d is not a port", p.Port)
		}
		if p.Path == "" {
			p.Path = "/"
		}
		if !strings.HasPrefix(p.Path, "/") {
			return a, fmt.Errorf("probe.path %q must start with /", p.Path)
		}
		p.within = 20 * time.Second
		if p.Within != "" {
			d, err := time.ParseDuration(p.Within)
			if err != nil || d <= 0 || d > 5*time.Minute {
				return a, fmt.Errorf("probe.within %q must be a duration up to 5m", p.Within)
			}
			p.within = d
		}
		if p.MaxSizeMB < 0 {
			return a, errors.New("probe.max_size_mb must be positive")
		}
	}
	return a, nil
}

// ValidateArgs implements ArgsValidator.
func (c *DockerBuildChecker) ValidateArgs(_ string, with []byte) error {
	_, err := parseDockerBuildArgs(with)
	return err
}

// Check builds and probes.
func (c *DockerBuildChecker) Check(ctx context.Context, in Input) opsdojo.CheckResult {
	args, err := parseDockerBuildArgs(in.Check.With)
	if err != nil {
		return errorResult("the lab's build check is misconfigured", err.Error())
	}
	if in.Engine == nil || in.Files == nil {
		return errorResult("build checks need a Docker engine, and none is available here", "")
	}
	timeout := in.Check.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	dfPath := path.Join(args.Context, args.Dockerfile)
	dockerfile, err := in.Files.ReadFile(ctx, dfPath, maxDockerfile)
	if res, done := fileError(dfPath, err); done {
		return res
	}

	bases, refused, err := PlanBuild(ctx, dockerfile, dfPath)
	if err != nil {
		return errorResult("your Dockerfile could not be read", err.Error())
	}
	if len(refused) > 0 {
		return opsdojo.CheckResult{Status: opsdojo.StatusFail, Findings: refused,
			Messages: []string{fmt.Sprintf("the server did not build %s: %s", dfPath, firstLine(refused[0].Message))}}
	}

	log := &tailBuffer{max: maxBuildLog}
	var logW io.Writer = log
	if in.Progress != nil {
		logW = io.MultiWriter(log, in.Progress)
	}
	waited := false
	release, err := c.queue.Acquire(ctx, in.Learner, func(ahead, running int) {
		waited = true
		place := "you are next"
		if ahead > 0 {
			place = plural(ahead, "build") + " ahead of you"
		}
		fmt.Fprintf(logW, "Waiting for a build slot: %s (%d running; each learner gets one build at a time)\n", place, running)
	})
	if err != nil {
		res := errorResult("too many builds are running on this server; try again in a minute", "")
		res.BuildLog = log.String()
		return res
	}
	defer release()
	if waited {
		fmt.Fprintln(logW, "Got a build slot: building now.")
	}

	// The classic builder does not apply .dockerignore to a context sent
	// as a tar (the docker CLI does that on its side), so the grader does.
	var ignore []dfIgnorePattern
	ignorePath := path.Join(args.Context, ".dockerignore")
	if src, err := in.Files.ReadFile(ctx, ignorePath, maxDockerfile); err == nil {
		ignore, _ = dfParseIgnore(src)
	}

	pr, pw := io.Pipe()
	var archiveErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		raw, rawW := io.Pipe()
		go func() { rawW.CloseWithError(in.Files.Archive(ctx, args.Context, rawW, maxContextBytes)) }()
		archiveErr = filterContext(raw, pw, ignore, path.Clean(args.Dockerfile), dockerfile)
		raw.CloseWithError(errors.New("filter done"))
		pw.CloseWithError(archiveErr)
	}()
	owner := in.Session
	if owner == "" {
		owner = "local"
	}
	tag := fmt.Sprintf("opsdojo-build/%s:%s", owner, in.Check.ID)
	start := time.Now()
	br, err := in.Engine.Build(ctx, BuildRequest{Context: pr, Dockerfile: args.Dockerfile, Tag: tag, Session: in.Session, Log: logW, Bases: bases})
	pr.CloseWithError(errors.New("build finished"))
	wg.Wait()
	res := opsdojo.CheckResult{BuildLog: log.String()}
	if archiveErr != nil && opsdojo.ErrorCode(archiveErr) != opsdojo.EINTERNAL {
		res.Status = opsdojo.StatusFail
		res.Messages = []string{opsdojo.ErrorMessage(archiveErr)}
		return res
	}
	if ctx.Err() != nil {
		res.Status = opsdojo.StatusFail
		res.Messages = []string{fmt.Sprintf("the build did not finish within %s; look for a slow or stuck step in the build log", timeout)}
		return res
	}
	if err != nil {
		r := errorResult("the build could not run", err.Error())
		r.BuildLog = res.BuildLog
		return r
	}
	if in.Session == "" {
		// Outside a session nothing stays behind; in one, the images stay
		// as layer cache until the session ends.
		defer func() {
			cctx := context.WithoutCancel(ctx)
			in.Engine.RemoveImage(cctx, tag)
			in.Engine.RemoveImages(cctx, br.Images)
		}()
	}
	if br.Refused {
		res.Status = opsdojo.StatusFail
		res.Findings = []opsdojo.Finding{{File: dfPath, Line: br.Line, Rule: RuleRemoteSource, Message: br.Error}}
		res.Messages = []string{fmt.Sprintf("the server did not build %s: %s", dfPath, firstLine(br.Error))}
		return res
	}
	if br.Failed {
		res.Status = opsdojo.StatusFail
		f := opsdojo.Finding{File: dfPath, Rule: "build", Message: "the build failed here: " + strings.TrimSpace(br.Error)}
		if lines, err := DockerfileInstructionLines(dockerfile); err == nil && br.Step > 0 && br.Step <= len(lines) {
			f.Line = lines[br.Step-1]
		}
		res.Findings = []opsdojo.Finding{f}
		res.Messages = []string{fmt.Sprintf("the image did not build: %s", firstLine(br.Error))}
		if strings.Contains(br.Error, "unknown flag: mount") || strings.Contains(strings.ToLower(br.Error), "heredoc") || strings.Contains(br.Error, "<<") {
			res.Hints = append(res.Hints, "This server builds with Docker's classic builder: RUN --mount and heredocs are not available.")
		}
		return res
	}
	res.Messages = []string{fmt.Sprintf("built %s in %s (%.1f MB)", dfPath, time.Since(start).Round(100*time.Millisecond), float64(br.Size)/1e6)}
	res.Status = opsdojo.StatusPass
	if args.Probe == nil {
		return res
	}
	res.Tests = probeTests(ctx, in, args.Probe, tag, br)
	for _, t := range res.Tests {
		if !t.Pass {
			res.Status = opsdojo.StatusFail
			res.Messages = append(res.Messages, fmt.Sprintf("%s: expected %s, got %s", t.Name, t.Expected, t.Actual))
		}
	}
	return res
}

func probeTests(ctx context.Context, in Input, p *probeArgs, tag string, br BuildResult) []opsdojo.TestResult {
	var tests []opsdojo.TestResult
	if p.MaxSizeMB > 0 {
		mb := float64(br.Size) / 1e6 // decimal MB, as `docker images` shows them
		tests = append(tests, opsdojo.TestResult{Name: "image size", Pass: mb <= p.MaxSizeMB,
			Expected: fmt.Sprintf("at most %.0f MB", p.MaxSizeMB), Actual: fmt.Sprintf("%.1f MB", mb)})
	}
	if p.Port == 0 && !p.NonRoot && !p.Healthy {
		return tests
	}
	pr, err := in.Engine.Probe(ctx, ProbeRequest{Image: tag, Session: in.Session, Port: p.Port, Path: p.Path, Within: p.within, WaitHealthy: p.Healthy})
	if err != nil {
		return append(tests, opsdojo.TestResult{Name: "container starts", Pass: false, Expected: "the probe to run", Actual: "the grader could not run it: " + opsdojo.ErrorMessage(err)})
	}
	if !pr.Running {
		actual := fmt.Sprintf("it exited with code %d", pr.ExitCode)
		if tail := strings.TrimSpace(lastLines(pr.Logs, 5)); tail != "" {
			actual += "; its last output:\n" + tail
		}
		return append(tests, opsdojo.TestResult{Name: "container keeps running", Pass: false, Expected: "the service to keep running", Actual: actual})
	}
	if p.Port > 0 {
		t := opsdojo.TestResult{Name: fmt.Sprintf("GET :%d%s", p.Port, p.Path), Expected: fmt.Sprintf("a 2xx answer within %s", p.within)}
		if pr.HTTPStatus != 0 {
			t.Pass, t.Actual = true, fmt.Sprintf("%d after %s", pr.HTTPStatus, pr.HTTPAfter.Round(100*time.Millisecond))
		} else {
			t.Actual = "no 2xx answer (is the service listening on 0.0.0.0, not 127.0.0.1?)"
		}
		tests = append(tests, t)
	}
	if p.NonRoot {
		t := opsdojo.TestResult{Name: "runs as non-root", Expected: "a uid other than 0", Pass: pr.UID > 0}
		switch {
		case pr.UID < 0:
			t.Actual = "the uid could not be read"
		case pr.UID == 0:
			t.Actual = "uid 0 (root): add a USER to the final stage"
		default:
			t.Actual = fmt.Sprintf("uid %d", pr.UID)
		}
		tests = append(tests, t)
	}
	if p.Healthy {
		t := opsdojo.TestResult{Name: "HEALTHCHECK", Expected: fmt.Sprintf("healthy within %s", p.within), Pass: pr.Health == "healthy"}
		switch pr.Health {
		case "":
			t.Actual = "the image has no HEALTHCHECK"
		default:
			t.Actual = pr.Health
		}
		tests = append(tests, t)
	}
	return tests
}

// filterContext copies a build context tar, leaving out what the
// .dockerignore patterns exclude. The .dockerignore always goes along, as
// with `docker build`, and the Dockerfile is the one PlanBuild vetted (a
// regular file with those bytes), not what the context holds by now: the
// learner could swap it between the check's read and the archive.
func filterContext(r io.Reader, w io.Writer, patterns []dfIgnorePattern, dockerfile string, vetted []byte) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			err := tw.WriteHeader(&tar.Header{Name: dockerfile, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(vetted)), ModTime: time.Unix(0, 0)})
			if err != nil {
				return err
			}
			if _, err := tw.Write(vetted); err != nil {
				return err
			}
			return tw.Close()
		}
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(path.Clean(hdr.Name), "/")
		if name == dockerfile {
			continue
		}
		if len(patterns) > 0 && name != ".dockerignore" {
			if excluded, _ := dfIgnoreDecision(patterns, name); excluded {
				continue
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// fileError turns a learner-file read error into a result.
func fileError(name string, err error) (opsdojo.CheckResult, bool) {
	switch {
	case err == nil:
		return opsdojo.CheckResult{}, false
	case opsdojo.ErrorCode(err) == opsdojo.ENOTFOUND:
		return opsdojo.CheckResult{Status: opsdojo.StatusFail, Messages: []string{name + " does not exist yet"},
			Findings: []opsdojo.Finding{{File: name, Rule: "missing", Message: "create this file"}}}, true
	case opsdojo.ErrorCode(err) == opsdojo.EINVALID:
		return opsdojo.CheckResult{Status: opsdojo.StatusFail, Messages: []string{opsdojo.ErrorMessage(err)}}, true
	case opsdojo.ErrorCode(err) == opsdojo.EUNAVAILABLE:
		return errorResult("the Docker engine is not reachable, so your work could not be checked; try again shortly", err.Error()), true
	default:
		return errorResult("your files could not be read", err.Error()), true
	}
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	mu      sync.Mutex
	buf     []byte
	max     int
	dropped bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
		t.dropped = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dropped {
		return "[…earlier output dropped…]\n" + string(t.buf)
	}
	return string(t.buf)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
