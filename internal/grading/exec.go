package grading

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// ExecChecker pipes the check's script into `bash -s` in the learner's
// container, so the script never lands on the learner's disk where it could
// be read or edited. Exit 0 passes, 1 fails, anything else or a timeout is a
// grader error. Stdout lines "FAIL: " and "HINT: " are for the learner, one
// "SCORE: n/m" gives partial credit; all the rest is kept for instructors.
//
// A check reads files the learner controls, so it runs as GraderUser (not
// root, not the learner) with a fixed environment: absolute paths to env,
// timeout and bash, a PATH of system folders only, and git told to ignore
// every setting of the learner's repository and home that runs a program
// (see CheckEnv). Whatever a check could still be tricked into running
// would gain no privilege: GraderUser owns nothing in the image.
type ExecChecker struct{}

// GraderUser is the uid:gid exec checks run as. It is neither root nor the
// learner (1000), and no lab image may use it for anything else: the
// learner cannot signal, ptrace or read the /proc of its processes, and it
// can write nothing the learner cannot. Numeric, so images need no passwd
// entry. 65533 sits in Debian's reserved range (65000-65533), which no
// package allocates.
const GraderUser = "65533:65533"

// CheckPath is the only PATH exec checks get: system folders, which only
// root can write. /usr/local is left out on purpose.
const CheckPath = "/usr/sbin:/usr/bin:/sbin:/bin"

// gitConfig is command-scope configuration (GIT_CONFIG_COUNT), which git
// reads after the repository's own config and its includes, so it wins
// over them. Every key here makes git run a program or trust a file the
// learner wrote; each value makes git run nothing, or fail safe by running
// /bin/false. Verified against git 2.39 (Debian bookworm), where
// gpg.openpgp.program beats gpg.program and log.showSignature runs it for
// any commit carrying a gpgsig header, even under --format=%s.
var gitConfig = [][2]string{
	// The repository belongs to the learner: without this git refuses it
	// ("dubious ownership"). Only honoured from protected config, which
	// includes the command scope.
	{"safe.directory", "*"},
	{"core.fsmonitor", "false"},
	{"core.hooksPath", "/dev/null"},
	{"core.pager", "cat"},
	{"core.editor", "/bin/false"},
	{"sequence.editor", "/bin/false"},
	{"core.sshCommand", "/bin/false"},
	{"core.askPass", "/bin/false"},
	// An empty value empties the helper list built so far.
	{"credential.helper", ""},
	{"gpg.format", "openpgp"},
	{"gpg.program", "/bin/false"},
	{"gpg.openpgp.program", "/bin/false"},
	{"gpg.x509.program", "/bin/false"},
	{"gpg.ssh.program", "/bin/false"},
	{"gpg.ssh.defaultKeyCommand", "/bin/false"},
	{"log.showSignature", "false"},
	{"diff.external", "/bin/false"},
	{"core.attributesFile", "/dev/null"},
	// A commit-graph file is trusted for parents: a crafted one forges
	// ancestry (merge-base --is-ancestor, rev-list).
	{"core.commitGraph", "false"},
	// No transport of any kind: fetch, clone and ls-remote fail.
	{"protocol.allow", "never"},
	{"gc.auto", "0"},
	{"maintenance.auto", "false"},
}

// CheckEnv returns the whole environment of an exec check: `env -i` starts
// from nothing, so neither the image's ENV nor anything the learner set
// reaches the script.
func CheckEnv(in Input) []string {
	env := []string{
		"PATH=" + CheckPath,
		"HOME=/nonexistent",
		"LC_ALL=C",
		"LANG=C",
		"OPSDOJO_HOME=/home/learner",
		"OPSDOJO_LAB=" + in.Lab.ID,
		"OPSDOJO_STEP=" + in.Step.ID,
		"OPSDOJO_CHECK=" + in.Check.ID,
		// Neither system nor global config: the learner's ~/.gitconfig
		// (and $XDG_CONFIG_HOME/git/config) stay unread.
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_SYSTEM=/dev/null",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_ATTR_NOSYSTEM=1",
		// Replace refs, grafts and a shallow file each make git report a
		// history other than the one the refs name.
		"GIT_NO_REPLACE_OBJECTS=1",
		"GIT_GRAFT_FILE=/dev/null",
		"GIT_SHALLOW_FILE=",
		"GIT_PAGER=cat",
		"PAGER=cat",
		"GIT_EDITOR=/bin/false",
		"GIT_SEQUENCE_EDITOR=/bin/false",
		"GIT_ASKPASS=/bin/false",
		"SSH_ASKPASS=/bin/false",
		"GIT_SSH_COMMAND=/bin/false",
		"GIT_PROXY_COMMAND=/bin/false",
		"GIT_TERMINAL_PROMPT=0",
		// Read-only commands must not refresh (rewrite) the index.
		"GIT_OPTIONAL_LOCKS=0",
		"GIT_CONFIG_COUNT=" + strconv.Itoa(len(gitConfig)),
	}
	for i, kv := range gitConfig {
		env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	return env
}

// Exit codes of timeout(1) when it had to stop the script.
const (
	timeoutExpired = 124
	timeoutKilled  = 137
)

// checkPrologue runs ahead of the lab's check_lib: the exec starts in the
// image's WORKDIR (the learner's home); a check starts from / instead, so a
// relative path never means a learner file by accident.
const checkPrologue = "cd / || exit 2\n"

// Check runs the script.
func (ExecChecker) Check(ctx context.Context, in Input) opsdojo.CheckResult {
	if in.Container == nil {
		return opsdojo.CheckResult{Status: opsdojo.StatusSkipped, Messages: []string{"exec checks run only inside a lab container"}}
	}
	limit := in.Check.Timeout
	if limit <= 0 {
		limit = 20 * time.Second
	}
	// timeout(1) inside the container kills the script itself (Docker has
	// no way to kill an exec); the context is the backstop should the
	// container or engine hang.
	ctx, cancel := context.WithTimeout(ctx, limit+5*time.Second)
	defer cancel()
	secs := strconv.FormatFloat(limit.Seconds(), 'f', 3, 64)
	argv := append([]string{"/usr/bin/env", "-i"}, CheckEnv(in)...)
	argv = append(argv, "/usr/bin/timeout", "--kill-after=2", secs, "/bin/bash", "--noprofile", "--norc", "-s")
	out, err := in.Container.Run(ctx, Command{
		Argv:  argv,
		User:  GraderUser,
		Stdin: strings.NewReader(checkPrologue + in.Lab.CheckLib + "\n" + in.Check.Script),
	})
	if errors.Is(err, context.DeadlineExceeded) {
		return errorResult(fmt.Sprintf("the check did not finish within %s", limit), "")
	}
	if err != nil {
		if opsdojo.ErrorCode(err) == opsdojo.EUNAVAILABLE {
			return errorResult("the Docker engine is not reachable, so your work could not be checked; try again shortly", err.Error())
		}
		return errorResult("the check could not run in your container", err.Error())
	}
	res := parseScriptOutput(out.Stdout)
	res.Log += string(out.Stderr)
	if res.scoreLines > 1 {
		// Checks may print text the learner wrote (a commit subject, a
		// file name); a second SCORE line may be theirs. Ambiguous output
		// never earns points.
		return errorResult(fmt.Sprintf("the check printed %d SCORE: lines, so its score is ambiguous; this attempt does not count against you", res.scoreLines), res.Log)
	}
	switch out.ExitCode {
	case 0:
		res.Status = opsdojo.StatusPass
	case 1:
		res.Status = opsdojo.StatusFail
		if len(res.Messages) == 0 {
			res.Messages = []string{"not done yet"}
		}
	case timeoutExpired, timeoutKilled:
		return errorResult(fmt.Sprintf("the check did not finish within %s", limit), res.Log)
	default:
		return errorResult(fmt.Sprintf("the check script broke (exit %d); this attempt does not count against you", out.ExitCode), res.Log)
	}
	switch {
	case res.scoreMax > 0:
		res.Points = in.Check.Points * float64(res.score) / float64(res.scoreMax)
		res.Scored = true
	case res.Status == opsdojo.StatusFail:
		res.Points = 0
	}
	return res.CheckResult
}

func errorResult(msg, log string) opsdojo.CheckResult {
	return opsdojo.CheckResult{Status: opsdojo.StatusError, Messages: []string{msg}, Log: log}
}

type scriptResult struct {
	opsdojo.CheckResult
	score, scoreMax int
	// scoreLines counts every line starting "SCORE: ", valid or not.
	scoreLines int
}

// parseScriptOutput splits a check script's stdout by the output contract.
// It splits on newlines itself: a scanner would stop at the first overlong
// line and silently drop every FAIL: line after it.
func parseScriptOutput(stdout []byte) scriptResult {
	var r scriptResult
	var log strings.Builder
	for _, raw := range strings.Split(string(stdout), "\n") {
		line := strings.TrimRight(raw, "\r")
		switch {
		case strings.HasPrefix(line, "FAIL: "):
			r.Messages = append(r.Messages, clip(strings.TrimSpace(line[len("FAIL: "):])))
		case strings.HasPrefix(line, "HINT: "):
			r.Hints = append(r.Hints, clip(strings.TrimSpace(line[len("HINT: "):])))
		case strings.HasPrefix(line, "SCORE: "):
			r.scoreLines++
			var n, m int
			if _, err := fmt.Sscanf(line[len("SCORE: "):], "%d/%d", &n, &m); err == nil && m > 0 && n >= 0 && n <= m {
				r.score, r.scoreMax = n, m
			}
		case line != "":
			log.WriteString(line)
			log.WriteByte('\n')
		}
	}
	r.Log = log.String()
	return r
}

// clip keeps one learner-facing line readable.
func clip(s string) string {
	const max = 2000
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
