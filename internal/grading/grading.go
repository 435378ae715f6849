// Package grading runs a step's checks against a learner's work and rolls
// their results up. Each check kind is a Checker; exec is the first, and the
// domain graders (Dockerfile, CI workflow, Prometheus rules) register beside
// it.
package grading

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
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
	Lab       *labs.Lab
	Step      labs.Step
	Check     labs.Check
	Container Container
}

// Checker grades one check of one kind. It reports learner mistakes as
// StatusFail and its own trouble as StatusError; it never panics the server.
type Checker interface {
	Check(ctx context.Context, in Input) opsdojo.CheckResult
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
	return r
}

// Register adds or replaces the checker of a kind.
func (r *Runner) Register(kind string, c Checker) { r.kinds[kind] = c }

// RunStep runs every check of a step in order and rolls up the result.
func (r *Runner) RunStep(ctx context.Context, lab *labs.Lab, step labs.Step, c Container) opsdojo.StepResult {
	start := time.Now()
	res := opsdojo.StepResult{StepID: step.ID, Checks: make([]opsdojo.CheckResult, 0, len(step.Checks))}
	for _, chk := range step.Checks {
		cr := r.runCheck(ctx, Input{Lab: lab, Step: step, Check: chk, Container: c})
		res.Checks = append(res.Checks, cr)
		res.Points += cr.Points
		res.Max += cr.Max
	}
	res.Status = rollUp(res.Checks)
	res.Duration = time.Since(start)
	return res
}

func (r *Runner) runCheck(ctx context.Context, in Input) (cr opsdojo.CheckResult) {
	start := time.Now()
	defer func() {
		// A grader bug is the grader's error, never a crashed server.
		if p := recover(); p != nil {
			r.log.Error("checker panicked", "lab", in.Lab.ID, "check", in.Check.ID, "panic", p)
			cr = opsdojo.CheckResult{Status: opsdojo.StatusError, Messages: []string{"the grader failed; this attempt does not count against you"}, Log: fmt.Sprint(p)}
		}
		cr.CheckID, cr.Title, cr.Max = in.Check.ID, in.Check.Title, in.Check.Points
		if cr.Status == opsdojo.StatusPass && cr.Points == 0 {
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
		cr.Duration = time.Since(start)
	}()
	checker, ok := r.kinds[in.Check.Kind]
	if !ok {
		return opsdojo.CheckResult{Status: opsdojo.StatusError, Messages: []string{fmt.Sprintf("this server cannot grade checks of kind %q", in.Check.Kind)}}
	}
	return checker.Check(ctx, in)
}

// rollUp: any failure fails the step (there is work to do); otherwise a
// grader error makes it an error (not charged); otherwise it passes.
func rollUp(checks []opsdojo.CheckResult) opsdojo.CheckStatus {
	status := opsdojo.StatusPass
	for _, c := range checks {
		switch c.Status {
		case opsdojo.StatusFail:
			return opsdojo.StatusFail
		case opsdojo.StatusError, opsdojo.StatusSkipped:
			status = opsdojo.StatusError
		}
	}
	if len(checks) == 0 {
		return opsdojo.StatusError
	}
	return status
}
