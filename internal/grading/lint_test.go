package grading

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/promeval"
)

func lintRules(fs []opsdojo.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	return out
}

func TestLintKindOf(t *testing.T) {
	for name, want := range map[string]string{
		"app/Dockerfile":                  LintDockerfile,
		"Dockerfile.dev":                  LintDockerfile,
		"build/api.dockerfile":            LintDockerfile,
		"repo/.github/workflows/ci.yml":   LintWorkflow,
		".github/workflows/release.yaml":  LintWorkflow,
		"rules/http.yml":                  LintPromRules,
		"compose.yaml":                    "",
		"main.go":                         "",
		"notes/Dockerfile-ideas.txt":      "",
		"repo/.github/workflows/notes.md": "",
	} {
		src := []byte("services: {}\n")
		if strings.HasPrefix(name, "rules/") {
			src = []byte("# rules\ngroups:\n  - name: x\n")
		}
		if got := LintKindOf(name, src); got != want {
			t.Errorf("LintKindOf(%q) = %q, want %q", name, got, want)
		}
	}
}

// The editor lints with the general Dockerfile rules only: a lab's
// expectations (multi-stage, a USER, a HEALTHCHECK, a port, a
// .dockerignore) are not reported while typing.
func TestLintDockerfileGeneralRulesOnly(t *testing.T) {
	l := &Linter{}
	res, err := l.Lint(context.Background(), "app/Dockerfile", []byte("FROM golang:latest\nRUN go build -o /app .\nCMD /app\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(lintRules(res.Findings), ",")
	if res.Kind != LintDockerfile || !strings.Contains(got, DockerfileRulePinnedBase) || !strings.Contains(got, DockerfileRuleExecForm) {
		t.Fatalf("kind %q, rules %q: want pinned-base and exec-form findings", res.Kind, got)
	}
	for _, labRule := range []string{DockerfileRuleMultiStage, DockerfileRuleNonRootUser, DockerfileRuleHealthcheck, DockerfileRuleExpose, DockerfileRuleDockerignore} {
		if strings.Contains(got, labRule) {
			t.Errorf("lab-specific rule %s reported while typing: %v", labRule, res.Findings)
		}
	}
	for _, f := range res.Findings {
		if f.Line < 1 || f.File != "app/Dockerfile" {
			t.Errorf("finding without a line or with another file: %+v", f)
		}
	}

	res, err = l.Lint(context.Background(), "app/Dockerfile", []byte("FROM opsdojo/base:bookworm\nCOPPY . /app\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) == 0 {
		t.Fatalf("a broken Dockerfile has no findings")
	}
}

// A workflow that actionlint accepts has no findings, however far it is
// from what the ci-pipeline lab asserts (no lint job, an action on a
// branch instead of a release, no main-only deploy).
func TestLintWorkflowReportsNoLabAssertions(t *testing.T) {
	l := &Linter{}
	clean := `on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@main
      - run: echo hi
`
	res, err := l.Lint(context.Background(), "repo/.github/workflows/ci.yml", []byte(clean))
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != LintWorkflow || len(res.Findings) != 0 {
		t.Fatalf("kind %q, findings %+v: want a workflow with no findings", res.Kind, res.Findings)
	}
	broken := strings.Replace(clean, "runs-on: ubuntu-latest", "run-on: ubuntu-latest", 1)
	res, err = l.Lint(context.Background(), "repo/.github/workflows/ci.yml", []byte(broken))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) == 0 || !strings.HasPrefix(res.Findings[0].Rule, "actionlint/") || res.Findings[0].Line == 0 {
		t.Fatalf("findings %+v: want an actionlint finding with a line", res.Findings)
	}
}

// The rule file is parsed (rulefmt and PromQL) without any unit tests: a
// valid file that the prometheus-alerting lab's hidden tests would fail
// has no findings, and no tests are ever handed to the evaluator.
func TestLintPromRulesRunsNoHiddenTests(t *testing.T) {
	var reqs []promeval.Request
	l := &Linter{Evaluate: func(ctx context.Context, req promeval.Request) (*promeval.Result, error) {
		reqs = append(reqs, req)
		return promeval.Evaluate(ctx, req)
	}}
	wrong := `groups:
  - name: http
    rules:
      - alert: HighErrorRate
        expr: vector(1)
        for: 1m
`
	res, err := l.Lint(context.Background(), "rules/http.yml", []byte(wrong))
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != LintPromRules || len(res.Findings) != 0 {
		t.Fatalf("kind %q, findings %+v: want promrules with no findings", res.Kind, res.Findings)
	}
	// The lab's hidden tests do fail this file: the lint is not passing
	// it by accident of the file being right.
	tests, err := os.ReadFile(filepath.Join("..", "..", "labs", "prometheus-alerting", "tests", "high_error_rate_test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	full, err := promeval.Evaluate(context.Background(), promeval.Request{Rules: []byte(wrong), Tests: tests})
	if err != nil {
		t.Fatal(err)
	}
	if full.Passed() {
		t.Fatal("the hidden tests pass this file; pick one they fail")
	}

	res, err = l.Lint(context.Background(), "rules/http.yml", []byte(strings.Replace(wrong, "vector(1)", "rate(x[5m] > ", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) == 0 || res.Findings[0].Rule != promeval.RulePromQL || res.Findings[0].Line != 5 {
		t.Fatalf("findings %+v: want a promql finding on line 5", res.Findings)
	}
	if len(reqs) != 2 {
		t.Fatalf("%d evaluations, want 2", len(reqs))
	}
	for _, r := range reqs {
		if len(r.Tests) != 0 {
			t.Errorf("the lint handed unit tests to the evaluator: %q", r.Tests)
		}
	}
}

func TestLintBounds(t *testing.T) {
	l := &Linter{}
	if _, err := l.Lint(context.Background(), "Dockerfile", make([]byte, LintMaxBytes+1)); opsdojo.ErrorCode(err) != opsdojo.EINVALID {
		t.Fatalf("oversized buffer: %v, want EINVALID", err)
	}
	res, err := l.Lint(context.Background(), "main.go", []byte("package main"))
	if err != nil || res.Kind != "" || len(res.Findings) != 0 {
		t.Fatalf("a Go file: %+v %v, want no lint", res, err)
	}
}

// Lint latency per keystroke pause (docs/benchmarks.md): Dockerfiles and
// workflows in-process, rule files in a helper process as on a server.
func BenchmarkLint(b *testing.B) {
	wf, err := os.ReadFile(filepath.Join("testdata", "workflow", "good.yml"))
	if err != nil {
		b.Fatal(err)
	}
	rules, err := os.ReadFile(filepath.Join("testdata", "promrules", "realistic_rules.yml"))
	if err != nil {
		b.Fatal(err)
	}
	df, err := os.ReadFile(filepath.Join("testdata", "dockerfile", "realistic.Dockerfile"))
	if err != nil {
		b.Fatal(err)
	}
	l := NewLinter(1)
	for _, c := range []struct {
		name, path string
		src        []byte
	}{
		{"dockerfile", "app/Dockerfile", df},
		{"workflow", ".github/workflows/ci.yml", wf},
		{"promrules-isolated", "rules/http.yml", rules},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				res, err := l.Lint(context.Background(), c.path, c.src)
				if err != nil || res.Kind == "" {
					b.Fatalf("%+v %v", res, err)
				}
			}
		})
	}
}
