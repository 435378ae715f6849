package grading

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/promeval"
)

// The editor's lint-as-you-type (issue 11) runs the static graders on the
// buffer a learner is editing, with their general rules only: what any
// Dockerfile, workflow or rule file must satisfy. It never sees a lab, so
// it cannot run a lab's hidden promrules tests, report a lab's workflow
// assertions or apply a lab's Dockerfile expectations (a port, a
// .dockerignore list, multi-stage, a USER, a HEALTHCHECK): those stay for
// Check, where they are graded.

// Lint kinds: which grader a buffer goes to.
const (
	LintDockerfile = "dockerfile"
	LintWorkflow   = "workflow"
	LintPromRules  = "promrules"
)

// LintMaxBytes is the largest buffer linted, the graders' own file cap.
const LintMaxBytes = 1 << 20

// lintDockerfileRules are the Dockerfile rules that hold for any
// Dockerfile built here. The others describe what a particular lab asks
// for and are left to its checks.
var lintDockerfileRules = []string{DockerfileRulePinnedBase, DockerfileRuleCopyNotAdd, DockerfileRuleExecForm,
	DockerfileRuleAptHygiene, DockerfileRuleLegacyBuilder}

// LintKindOf picks the grader for a file from its path (relative to the
// learner's home) and, for YAML that is neither a workflow nor anything
// else known, from whether it has a top-level `groups:` key, as rule files
// do. "" means no lint applies.
func LintKindOf(name string, src []byte) string {
	base := path.Base(name)
	lower := strings.ToLower(base)
	switch {
	case base == "Dockerfile" || strings.HasPrefix(base, "Dockerfile.") || strings.HasSuffix(lower, ".dockerfile"):
		return LintDockerfile
	case !strings.HasSuffix(lower, ".yml") && !strings.HasSuffix(lower, ".yaml"):
		return ""
	case strings.HasPrefix(name, ".github/workflows/") || strings.Contains(name, "/.github/workflows/"):
		return LintWorkflow
	}
	for _, line := range bytes.Split(src, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("groups:")) {
			return LintPromRules
		}
	}
	return ""
}

// Linter lints editor buffers.
type Linter struct {
	// Evaluate parses a rule file (promeval.Workers.Evaluate on a server:
	// the PromQL and template parsers cannot be interrupted in-process).
	Evaluate func(ctx context.Context, req promeval.Request) (*promeval.Result, error)
	// Timeout bounds one lint (default 5 s).
	Timeout time.Duration
}

// NewLinter returns a linter whose rule files are parsed in at most
// workers helper processes at once.
func NewLinter(workers int) *Linter {
	return &Linter{Evaluate: promeval.NewWorkers(workers).Evaluate}
}

// LintResult is what the editor shows.
type LintResult struct {
	Kind     string            `json:"kind"`
	Findings []opsdojo.Finding `json:"findings"`
}

// Lint runs the general rules of the grader for name's kind on src. Errors
// are the linter's own trouble (a timeout, a helper process that died),
// never a problem of the buffer: those are findings.
func (l *Linter) Lint(ctx context.Context, name string, src []byte) (LintResult, error) {
	res := LintResult{Kind: LintKindOf(name, src), Findings: []opsdojo.Finding{}}
	if len(src) > LintMaxBytes {
		return res, opsdojo.Errorf(opsdojo.EINVALID, "the file is larger than %d bytes; the graders read at most that", LintMaxBytes)
	}
	timeout := l.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch res.Kind {
	case LintDockerfile:
		o := &dockerfileOptions{path: name, rules: map[string]bool{}}
		for _, r := range lintDockerfileRules {
			o.rules[r] = true
		}
		fs := newDFFindingSet(name)
		if err := analyzeDockerfile(ctx, src, o, fs); err != nil {
			return res, fmt.Errorf("lint %s: %w", name, err)
		}
		res.Findings, _ = fs.result()
	case LintWorkflow:
		// No assertions: only actionlint and the YAML precheck.
		cr := gradeWorkflow(ctx, wfArgs{Path: name}, src)
		if cr.Status == opsdojo.StatusError {
			return res, fmt.Errorf("lint %s: %s", name, strings.Join(cr.Messages, "; "))
		}
		res.Findings = append(res.Findings, cr.Findings...)
	case LintPromRules:
		if l.Evaluate == nil {
			return res, fmt.Errorf("lint %s: no rule evaluator", name)
		}
		// No Tests: a lab's hidden unit tests are never part of a lint.
		pr, err := l.Evaluate(ctx, promeval.Request{Rules: src, Limits: promeval.Limits{Timeout: timeout}})
		if err != nil {
			return res, fmt.Errorf("lint %s: %w", name, err)
		}
		for _, f := range pr.Findings {
			res.Findings = append(res.Findings, opsdojo.Finding{File: name, Line: f.Line, Column: f.Column, Rule: f.Rule, Message: f.Message})
		}
		if len(res.Findings) > promMaxFindings {
			res.Findings = res.Findings[:promMaxFindings]
		}
	}
	return res, nil
}
