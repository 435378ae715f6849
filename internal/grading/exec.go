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
// container as root, so the script never lands on the learner's disk where
// it could be read or edited. Exit 0 passes, 1 fails, anything else or a
// timeout is a grader error. Stdout lines "FAIL: " and "HINT: " are for the
// learner, "SCORE: n/m" gives partial credit; all the rest is kept for
// instructors.
type ExecChecker struct{}

// Exit codes of timeout(1) when it had to stop the script.
const (
	timeoutExpired = 124
	timeoutKilled  = 137
)

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
	out, err := in.Container.Run(ctx, Command{
		Argv: []string{"timeout", "--kill-after=2", secs, "bash", "-s"},
		User: "root",
		Env: []string{
			"OPSDOJO_HOME=/home/learner",
			"OPSDOJO_LAB=" + in.Lab.ID,
			"OPSDOJO_STEP=" + in.Step.ID,
			"OPSDOJO_CHECK=" + in.Check.ID,
			"HOME=/root",
		},
		Stdin: strings.NewReader(in.Lab.CheckLib + "\n" + in.Check.Script),
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
