// Package grading runs a step's checks against a learner's work and rolls
// their results up. Each check kind is a Checker; exec is the first, and the
// domain graders (Dockerfile, CI workflow, Prometheus rules) register beside
// it.
package grading

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/promeval"
)

// Container is the learner's container as graders see it.
type Container interface {
	// Run runs cmd to completion and returns its exit code and output.
	Run(ctx context.Context, cmd Command) (Output, error)
}

// Command is a process to run in the learner's container.
type Command struct {
	Argv  []string
	User  string
	Env   []string
	Stdin io.Reader
}

// Output is what a finished command left behind.
type Output struct {
	ExitCode int
	Stdout   []byte
	Stderr   []byte
}

// Input is everything a checker may look at.
type Input struct {
	Lab   *labs.Lab
	Step  labs.Step
	Check labs.Check
	// Container is the learner's container; nil when grading a local
	// folder (`opsdojo grade`), where only file-based kinds can run.
	Container Container
	// Files reads the learner's files, relative to their home folder.
	Files Files
	// Engine runs builds and probes for build kinds; nil where none is
	// available.
	Engine BuildEngine
	// Session is the lab session id (labels what build checks create).
	Session string
	// Learner names whose work it is (a user id): at most one build per
	// learner runs at a time. Empty outside the server.
	Learner string
	// Progress, when set, receives output a learner may watch while the
	// check runs (a build's log).
	Progress io.Writer
}

// Checker grades one check of one kind. It reports learner mistakes as
// StatusFail and its own trouble as StatusError; it never panics the server.
type Checker interface {
	Check(ctx context.Context, in Input) opsdojo.CheckResult
}

// ArgsValidator is implemented by checkers whose checks take a `with:`
// block; it runs when a lab is loaded, so mistakes surface as file:line
// problems instead of grader errors in front of learners.
type ArgsValidator interface {
	ValidateArgs(labDir string, with []byte) error
}

// Runner dispatches checks to the checker of their kind.
type Runner struct {
	kinds map[string]Checker
	log   *slog.Logger
}

// NewRunner returns a runner with the built-in kinds registered.
func NewRunner(log *slog.Logger) *Runner {
	r := &Runner{kinds: map[string]Checker{}, log: log}
	r.Register("exec", ExecChecker{})
	r.Register("docker-build", NewDockerBuildChecker(2))
	r.Register("dockerfile", DockerfileChecker{})
	r.Register("workflow", WorkflowChecker{})
	r.Register("promrules", PromRulesChecker{Workers: promeval.NewWorkers(0)})
	return r
}

// Register adds or replaces the checker of a kind.
func (r *Runner) Register(kind string, c Checker) { r.kinds[kind] = c }

// ValidateCheck implements labs.KindValidator.
func (r *Runner) ValidateCheck(labDir, kind string, with []byte) error {
	c, ok := r.kinds[kind]
	if !ok {
		known := make([]string, 0, len(r.kinds))
		for k := range r.kinds {
			known = append(known, k)
		}
		sort.Strings(known)
		return fmt.Errorf("unknown check kind %q (known: %s)", kind, strings.Join(known, ", "))
	}
	v, ok := c.(ArgsValidator)
	if !ok {
		if len(bytes.TrimSpace(with)) > 0 {
			return fmt.Errorf("%s checks take no with: block", kind)
		}
		return nil
	}
	return v.ValidateArgs(labDir, with)
}

// Target is where a step is graded: the learner's container, or a local
// folder when Container is nil.
type Target struct {
	Container Container
	Files     Files
	Engine    BuildEngine
	Session   string
	Learner   string
	Progress  io.Writer
}

// RunStep runs every check of a step in order and rolls up the result. A
// check whose depends_on did not all pass is skipped.
func (r *Runner) RunStep(ctx context.Context, lab *labs.Lab, step labs.Step, target Target) opsdojo.StepResult {
	start := time.Now()
	res := opsdojo.StepResult{StepID: step.ID, Checks: make([]opsdojo.CheckResult, 0, len(step.Checks))}
	status := map[string]opsdojo.CheckStatus{}
	for _, chk := range step.Checks {
		var cr opsdojo.CheckResult
		if blocker := firstNotPassed(chk.DependsOn, status); blocker != "" {
			cr = opsdojo.CheckResult{CheckID: chk.ID, Title: chk.Title, Kind: chk.Kind, Status: opsdojo.StatusSkipped, Max: chk.Points,
				Messages: []string{fmt.Sprintf("skipped: %s has to pass first", checkLabel(step, blocker))}, Hints: []string{}, Findings: []opsdojo.Finding{}}
		} else {
			cr = r.runCheck(ctx, Input{Lab: lab, Step: step, Check: chk, Container: target.Container, Files: target.Files, Engine: target.Engine, Session: target.Session, Learner: target.Learner, Progress: target.Progress})
		}
		status[chk.ID] = cr.Status
		res.Checks = append(res.Checks, cr)
		res.Points += cr.Points
		res.Max += cr.Max
	}
	res.Status = rollUp(res.Checks)
	res.Duration = time.Since(start)
	return res
}

// checkLabel names a check to the learner: its title in quotes, never its
// id (ids are the lab's internal names). A check without a title is "an
// earlier check".
func checkLabel(step labs.Step, id string) string {
	for _, c := range step.Checks {
		if c.ID == id && c.Title != "" {
			return fmt.Sprintf("%q", c.Title)
		}
	}
	return "an earlier check"
}

func (r *Runner) runCheck(ctx context.Context, in Input) (cr opsdojo.CheckResult) {
	start := time.Now()
	defer func() {
		// A grader bug is the grader's error, never a crashed server.
		if p := recover(); p != nil {
			r.log.Error("checker panicked", "lab", in.Lab.ID, "check", in.Check.ID, "panic", p)
			cr = opsdojo.CheckResult{Status: opsdojo.StatusError, Messages: []string{"the grader failed; this attempt does not count against you"}, Log: fmt.Sprint(p)}
		}
		cr.CheckID, cr.Title, cr.Kind, cr.Max = in.Check.ID, in.Check.Title, in.Check.Kind, in.Check.Points
		if cr.Status == opsdojo.StatusPass && !cr.Scored {
			cr.Points = in.Check.Points
		}
		if cr.Status != opsdojo.StatusPass && in.Check.Hint != "" {
			cr.Hints = append(cr.Hints, in.Check.Hint)
		}
		if cr.Messages == nil {
			cr.Messages = []string{}
		}
		if cr.Hints == nil {
			cr.Hints = []string{}
		}
		if cr.Findings == nil {
			cr.Findings = []opsdojo.Finding{}
		}
		if cr.Status != opsdojo.StatusPass && cr.Points > cr.Max {
			cr.Points = cr.Max
		}
		cr.Duration = time.Since(start)
	}()
	checker, ok := r.kinds[in.Check.Kind]
	if !ok {
		return opsdojo.CheckResult{Status: opsdojo.StatusError, Messages: []string{fmt.Sprintf("this server cannot grade checks of kind %q", in.Check.Kind)}}
	}
	return checker.Check(ctx, in)
}

func firstNotPassed(deps []string, status map[string]opsdojo.CheckStatus) string {
	for _, d := range deps {
		if status[d] != opsdojo.StatusPass {
			return d
		}
	}
	return ""
}

// rollUp: any failure fails the step (there is work to do); otherwise a
// grader error makes it an error (not charged); otherwise it passes.
func rollUp(checks []opsdojo.CheckResult) opsdojo.CheckStatus {
	status := opsdojo.StatusPass
	graded := 0
	for _, c := range checks {
		switch c.Status {
		case opsdojo.StatusFail:
			return opsdojo.StatusFail
		case opsdojo.StatusError:
			status = opsdojo.StatusError
		}
		if c.Status != opsdojo.StatusSkipped {
			graded++
		}
	}
	// Nothing graded (every check skipped, or none): not a pass.
	if graded == 0 {
		return opsdojo.StatusError
	}
	return status
}
