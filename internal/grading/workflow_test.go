package grading_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rhysd/actionlint"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

const wfPath = ".github/workflows/ci.yml"

// memFiles serves learner files from memory, or fails with err.
type memFiles struct {
	files map[string][]byte
	err   error
	reads int
}

func (m *memFiles) ReadFile(ctx context.Context, name string, limit int64) ([]byte, error) {
	m.reads++
	if m.err != nil {
		return nil, m.err
	}
	b, ok := m.files[name]
	if !ok {
		return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "%s does not exist", name)
	}
	if int64(len(b)) > limit {
		return nil, opsdojo.Errorf(opsdojo.EINVALID, "%s is %d bytes; the grader reads at most %d", name, len(b), limit)
	}
	return b, nil
}

func (m *memFiles) Archive(ctx context.Context, dir string, w io.Writer, limit int64) error {
	return errors.New("not used by workflow checks")
}

func wfRunner() *grading.Runner {
	r := grading.NewRunner(discard())
	r.Register("workflow", grading.WorkflowChecker{})
	return r
}

func wfCheck(with string) labs.Check {
	return labs.Check{ID: "ci", Title: "CI workflow", Kind: "workflow", Points: 1, Hint: "check hint", Timeout: 20 * time.Second, With: []byte(with)}
}

// gradeWF runs one workflow check through the Runner, as the server does.
func gradeWF(t testing.TB, with string, files grading.Files) opsdojo.CheckResult {
	t.Helper()
	return gradeWFCtx(t, context.Background(), with, files)
}

func gradeWFCtx(t testing.TB, ctx context.Context, with string, files grading.Files) opsdojo.CheckResult {
	t.Helper()
	r := wfRunner()
	if err := r.ValidateCheck("", "workflow", []byte(with)); err != nil {
		t.Fatalf("with: %v", err)
	}
	step := labs.Step{ID: "ci", Title: "CI", Checks: []labs.Check{wfCheck(with)}}
	res := r.RunStep(ctx, &labs.Lab{ID: "ci-pipeline"}, step, grading.Target{Files: files})
	if len(res.Checks) != 1 {
		t.Fatalf("%d results", len(res.Checks))
	}
	return res.Checks[0]
}

func wfFiles(src string) *memFiles {
	return &memFiles{files: map[string][]byte{wfPath: []byte(src)}}
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "workflow", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// allAsserts turns every assertion on, as the ci-pipeline lab's last step does.
const allAsserts = `path: .github/workflows/ci.yml
triggers: {push_branches: [main], pull_request: true}
jobs: [lint, test, build, deploy]
needs: {build: [lint, test], deploy: [build]}
main_only: [deploy]
environment: {deploy: production}
matrix: {test: {go-version: 2}}
pinned_actions: true
cache: true
permissions: {contents: read}
runs: {lint: "go vet", test: ["go test", "make test"], build: go build}
`

func findingsString(fs []opsdojo.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %s:%d:%d [%s] %s", f.File, f.Line, f.Column, f.Rule, f.Message)
	}
	return b.String()
}

func TestWorkflowGoodPasses(t *testing.T) {
	cr := gradeWF(t, allAsserts, wfFiles(readTestdata(t, "good.yml")))
	if cr.Status != opsdojo.StatusPass {
		t.Fatalf("status %s, messages %q, findings:%s", cr.Status, cr.Messages, findingsString(cr.Findings))
	}
	if cr.Points != 1 || len(cr.Messages) != 1 || !strings.Contains(cr.Messages[0], wfPath) {
		t.Fatalf("points %v messages %q", cr.Points, cr.Messages)
	}
	if len(cr.Hints) != 0 {
		t.Fatalf("a passing check got hints %q", cr.Hints)
	}
}

// edit replaces old (which must occur exactly once) by new.
type edit struct{ old, new string }

func applyEdits(t *testing.T, src string, edits []edit) string {
	t.Helper()
	for _, e := range edits {
		if n := strings.Count(src, e.old); n != 1 {
			t.Fatalf("edit %q occurs %d times", e.old, n)
		}
		src = strings.Replace(src, e.old, e.new, 1)
	}
	return src
}

type wantFinding struct {
	rule string
	line int
	col  int    // 0: not asserted
	text string // a fragment of the message; "" not asserted
}

func matchFindings(t *testing.T, got []opsdojo.Finding, want []wantFinding) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d findings, want %d:%s", len(got), len(want), findingsString(got))
	}
	for i, w := range want {
		g := got[i]
		if g.Rule != w.rule || g.Line != w.line || (w.col != 0 && g.Column != w.col) || !strings.Contains(g.Message, w.text) {
			t.Errorf("finding %d = %s:%d:%d [%s] %s\nwant [%s] at line %d col %d containing %q", i, g.File, g.Line, g.Column, g.Rule, g.Message, w.rule, w.line, w.col, w.text)
		}
		if g.File != wfPath {
			t.Errorf("finding %d names file %q", i, g.File)
		}
	}
}

// TestWorkflowAssertions: each assertion passing and failing on variations
// of testdata/workflow/good.yml (lint off, so only the assertion speaks).
func TestWorkflowAssertions(t *testing.T) {
	good := readTestdata(t, "good.yml")
	cases := []struct {
		name  string
		with  string
		edits []edit
		want  []wantFinding
	}{
		// triggers
		{"triggers pass", "triggers: {push_branches: [main], pull_request: true}", nil, nil},
		{"push without branch filter runs everywhere", "triggers: {push_branches: [main, release/1.x]}",
			[]edit{{"  push:\n    branches: [main]\n", "  push:\n"}}, nil},
		{"push glob", "triggers: {push_branches: [main, release/1.x]}",
			[]edit{{"branches: [main]", "branches: [ma*, 'release/**']"}}, nil},
		{"push branches-ignore", "triggers: {push_branches: [main]}",
			[]edit{{"branches: [main]", "branches-ignore: ['dependabot/**']"}}, nil},
		{"no pull_request", "triggers: {push_branches: [main], pull_request: true}",
			[]edit{{"  pull_request:\n", ""}}, []wantFinding{{"triggers", 5, 1, "does not run on pull requests"}}},
		{"pull_request_target is not pull_request", "triggers: {pull_request: true}",
			[]edit{{"  pull_request:\n", "  pull_request_target:\n"}}, []wantFinding{{"triggers", 5, 1, "pull_request_target runs with the base repository's secrets"}}},
		{"push to another branch", "triggers: {push_branches: [main]}",
			[]edit{{"branches: [main]", "branches: [develop, 'feature/*']"}}, []wantFinding{{"triggers", 7, 5, `lists "develop", "feature/*"`}}},
		{"negated main", "triggers: {push_branches: [main]}",
			[]edit{{"branches: [main]", "branches: ['**', '!main']"}}, []wantFinding{{"triggers", 7, 5, "none of those patterns matches main"}}},
		{"main ignored", "triggers: {push_branches: [main]}",
			[]edit{{"branches: [main]", "branches-ignore: [main]"}}, []wantFinding{{"triggers", 7, 5, "branches-ignore: excludes it"}}},
		{"push only tags", "triggers: {push_branches: [main]}",
			[]edit{{"branches: [main]", "tags: ['v*']"}}, []wantFinding{{"triggers", 6, 3, "filters only tags"}}},
		{"no push", "triggers: {push_branches: [main], pull_request: true}",
			[]edit{{"  push:\n    branches: [main]\n", ""}}, []wantFinding{{"triggers", 5, 1, "does not run on push"}}},

		// jobs
		{"jobs pass", "jobs: [lint, test, build, deploy]", nil, nil},
		{"job missing", "jobs: [lint, test, build, deploy, release]", nil,
			[]wantFinding{{"jobs", 18, 1, `no job "release" under jobs: (it has lint, test, build, deploy)`}}},
		{"missing job reported once", "jobs: [release]\nneeds: {release: [build]}\nmain_only: [release]\nenvironment: {release: production}", nil,
			[]wantFinding{{"jobs", 18, 1, `"release"`}}},

		// needs
		{"needs pass", "needs: {build: [lint, test], deploy: [build]}", nil, nil},
		{"needs transitive", "needs: {deploy: [lint, test, build]}", nil, nil},
		{"needs one missing", "needs: {build: [lint, test]}",
			[]edit{{"needs: [lint, test]", "needs: [lint]"}}, []wantFinding{{"needs", 53, 13, "does not wait for test"}}},
		{"no needs at all", "needs: {deploy: [build]}",
			[]edit{{"    needs: build\n", ""}}, []wantFinding{{"needs", 68, 3, "job deploy does not wait for build"}}},

		// main-only
		{"main-only pass", "main_only: [deploy]", nil, nil},
		{"main-only ${{ }}", "main_only: [deploy]",
			[]edit{{"if: github.event_name == 'push' && github.ref == 'refs/heads/main'", "if: ${{ github.ref == 'refs/heads/main' }}"}}, nil},
		{"main-only ref_name", "main_only: [deploy]",
			[]edit{{"if: github.event_name == 'push' && github.ref == 'refs/heads/main'", "if: \"github.ref_name == 'main'\""}}, nil},
		{"main-only index syntax and case", "main_only: [deploy]",
			[]edit{{"if: github.event_name == 'push' && github.ref == 'refs/heads/main'", "if: (github['ref'] == 'refs/heads/Main') && !cancelled()"}}, nil},
		{"main-only inherited through needs", "main_only: [deploy]",
			[]edit{{"    if: github.event_name == 'push' && github.ref == 'refs/heads/main'\n", ""},
				{"    needs: [lint, test]\n", "    needs: [lint, test]\n    if: github.ref == 'refs/heads/main'\n"}}, nil},
		{"main-only by triggers", "main_only: [deploy]",
			[]edit{{"    if: github.event_name == 'push' && github.ref == 'refs/heads/main'\n", ""}, {"  pull_request:\n", ""}}, nil},
		{"no if", "main_only: [deploy]",
			[]edit{{"    if: github.event_name == 'push' && github.ref == 'refs/heads/main'\n", ""}},
			[]wantFinding{{"main-only", 68, 3, "job deploy runs for every trigger"}}},
		{"if on another condition", "main_only: [deploy]",
			[]edit{{"if: github.event_name == 'push' && github.ref == 'refs/heads/main'", "if: github.event_name == 'push'"}},
			[]wantFinding{{"main-only", 70, 9, "does not limit it to main"}}},
		{"if not main", "main_only: [deploy]",
			[]edit{{"github.ref == 'refs/heads/main'", "github.ref != 'refs/heads/main'"}},
			[]wantFinding{{"main-only", 70, 9, ""}}},
		{"if or", "main_only: [deploy]",
			[]edit{{"github.event_name == 'push' && github.ref", "github.event_name == 'pull_request' || github.ref"}},
			[]wantFinding{{"main-only", 70, 9, ""}}},
		{"if contains", "main_only: [deploy]",
			[]edit{{"github.ref == 'refs/heads/main'", "contains(github.ref, 'main')"}},
			[]wantFinding{{"main-only", 70, 9, ""}}},
		{"if text around ${{ }}", "main_only: [deploy]",
			[]edit{{"if: github.event_name == 'push' && github.ref == 'refs/heads/main'", "if: \"${{ github.ref == 'refs/heads/main' }} \""}},
			[]wantFinding{{"main-only", 70, 9, ""}}},
		{"always() defeats inherited main-only", "main_only: [deploy]",
			[]edit{{"if: github.event_name == 'push' && github.ref == 'refs/heads/main'", "if: always()"},
				{"    needs: [lint, test]\n", "    needs: [lint, test]\n    if: github.ref == 'refs/heads/main'\n"}},
			[]wantFinding{{"main-only", 71, 9, "does not limit it to main"}}},

		// environment
		{"environment pass", "environment: {deploy: production}", nil, nil},
		{"environment scalar, other case", "environment: {deploy: production}",
			[]edit{{"    environment:\n      name: production\n      url: https://greeter.example.com\n", "    environment: Production\n"}}, nil},
		{"no environment", "environment: {deploy: production}",
			[]edit{{"    environment:\n      name: production\n      url: https://greeter.example.com\n", ""}},
			[]wantFinding{{"environment", 68, 3, "has no environment: add environment: production"}}},
		{"other environment", "environment: {deploy: production}",
			[]edit{{"name: production", "name: staging"}},
			[]wantFinding{{"environment", 73, 13, `"staging"`}}},

		// matrix
		{"matrix pass", "matrix: {test: {go-version: 2}}", nil, nil},
		{"matrix include counts", "matrix: {test: {go-version: 2}}",
			[]edit{{"go-version: ['1.22', '1.23']", "go-version: ['1.22']\n        include: [{go-version: '1.23'}]"}}, nil},
		{"matrix one value", "matrix: {test: {go-version: 2}}",
			[]edit{{"go-version: ['1.22', '1.23']", "go-version: ['1.23']"}},
			[]wantFinding{{"matrix", 43, 9, `has 1 value(s) ("1.23")`}}},
		{"matrix other key", "matrix: {test: {go-version: 2}}",
			[]edit{{"go-version: ['1.22', '1.23']", "go: ['1.22', '1.23']"}},
			[]wantFinding{{"matrix", 42, 7, "no go-version: key"}}},
		{"no matrix", "matrix: {test: {go-version: 2}}",
			[]edit{{"    strategy:\n      fail-fast: false\n      matrix:\n        go-version: ['1.22', '1.23']\n", ""}},
			[]wantFinding{{"matrix", 37, 3, "has no strategy: matrix:"}}},
		{"matrix from expression", "matrix: {test: {go-version: 2}}",
			[]edit{{"go-version: ['1.22', '1.23']", "go-version: ${{ fromJSON(vars.GO_VERSIONS) }}"}},
			[]wantFinding{{"matrix", 43, 21, "is an expression"}}},
		{"unquoted 1.20", "matrix: {test: {go-version: 2}}",
			[]edit{{"go-version: ['1.22', '1.23']", "go-version: [1.20, 1.21]"}},
			[]wantFinding{{"matrix", 43, 22, `the job gets 1.2, not 1.20: quote it ("1.20")`}}},

		// pinned actions
		{"pinned pass", "pinned_actions: true", nil, nil},
		{"pinned sha, local, docker tag", "pinned_actions: true",
			[]edit{{"      - uses: actions/checkout@v4\n      - uses: actions/setup-go@v5\n        with:\n          go-version-file: go.mod\n      - name: gofmt",
				"      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683\n      - uses: ./.github/actions/setup\n      - uses: docker://golang:1.23\n      - name: gofmt"}}, nil},
		{"unpinned", "pinned_actions: true",
			[]edit{{"      - uses: actions/checkout@v4\n      - uses: actions/setup-go@v5\n        with:\n          go-version-file: go.mod\n      - name: gofmt",
				"      - uses: actions/checkout@main\n      - uses: actions/setup-go\n      - uses: docker://golang\n      - name: gofmt"},
				{"actions/upload-artifact@v4", "actions/upload-artifact@v4-beta"}},
			[]wantFinding{
				{"pinned-actions", 23, 15, `follows "main", not a release`},
				{"pinned-actions", 24, 15, "names no version"},
				{"pinned-actions", 25, 15, "tagged latest"},
				{"pinned-actions", 61, 15, `follows "v4-beta"`},
			}},
		{"reusable workflow unpinned", "pinned_actions: true",
			[]edit{{"  deploy:\n", "  release:\n    uses: octo/shared/.github/workflows/release.yml@master\n  deploy:\n"}},
			[]wantFinding{{"pinned-actions", 69, 11, `follows "master"`}}},

		// cache
		{"cache pass", "cache: true", nil, nil},
		{"cache via actions/cache", "cache: true",
			[]edit{{"go-version: ${{ matrix.go-version }}", "go-version: ${{ matrix.go-version }}\n          cache: false\n      - uses: actions/cache@v4\n        with:\n          path: ~/go/pkg/mod\n          key: go-${{ hashFiles('go.sum') }}"}},
			nil},
		{"setup-node cache", "cache: true",
			[]edit{{"actions/setup-go@v5\n        with:\n          go-version: ${{ matrix.go-version }}", "actions/setup-node@v4\n        with:\n          cache: npm"}},
			nil},
		{"cache off everywhere", "cache: true",
			[]edit{{"go-version-file: go.mod\n      - name: gofmt", "go-version-file: go.mod\n          cache: false\n      - name: gofmt"},
				{"go-version: ${{ matrix.go-version }}", "go-version: ${{ matrix.go-version }}\n          cache: false"},
				{"go-version-file: go.mod\n      - name: build", "go-version-file: go.mod\n          cache: false\n      - name: build"}},
			[]wantFinding{{"cache", 27, 18, "cache: false turns off"}}},
		{"old setup-go does not cache by default", "cache: true",
			[]edit{{"go-version-file: go.mod\n      - name: gofmt", "go-version-file: go.mod\n          cache: false\n      - name: gofmt"},
				{"actions/setup-go@v5\n        with:\n          go-version: ${{ matrix.go-version }}", "actions/setup-go@v3\n        with:\n          go-version: ${{ matrix.go-version }}"},
				{"go-version-file: go.mod\n      - name: build", "go-version-file: go.mod\n          cache: false\n      - name: build"}},
			[]wantFinding{{"cache", 27, 18, "cache: false"}}},
		{"no setup action at all", "cache: true",
			[]edit{{"      - uses: actions/setup-go@v5\n        with:\n          go-version: ${{ matrix.go-version }}\n", ""},
				{"      - uses: actions/setup-go@v5\n        with:\n          go-version-file: go.mod\n      - name: gofmt", "      - name: gofmt"},
				{"      - uses: actions/setup-go@v5\n        with:\n          go-version-file: go.mod\n      - name: build", "      - name: build"}},
			[]wantFinding{{"cache", 18, 1, "no step caches dependencies"}}},

		// permissions
		{"permissions pass", "permissions: {contents: read}", nil, nil},
		{"permissions empty passes", "permissions: {contents: read}",
			[]edit{{"permissions:\n  contents: read\n", "permissions: {}\n"}}, nil},
		{"permissions per job", "permissions: {contents: read}",
			[]edit{{"permissions:\n  contents: read\n", "\n\n"},
				{"  lint:\n", "  lint:\n    permissions: {contents: read}\n"},
				{"  test:\n", "  test:\n    permissions: {contents: read}\n"},
				{"  build:\n", "  build:\n    permissions: {contents: read}\n"},
				{"  deploy:\n", "  deploy:\n    permissions: {}\n"}}, nil},
		{"no permissions", "permissions: {contents: read}",
			[]edit{{"permissions:\n  contents: read\n", "\n\n"}},
			[]wantFinding{{"permissions", 1, 1, "sets no permissions: for its GITHUB_TOKEN: add permissions: {contents: read}"}}},
		{"some jobs without", "permissions: {contents: read}",
			[]edit{{"permissions:\n  contents: read\n", "\n\n"},
				{"  lint:\n", "  lint:\n    permissions: {contents: read}\n"}},
			[]wantFinding{
				{"permissions", 38, 3, "job test sets no permissions"},
				{"permissions", 53, 3, "job build"},
				{"permissions", 69, 3, "job deploy"},
			}},
		{"write-all", "permissions: {contents: read}",
			[]edit{{"permissions:\n  contents: read\n", "permissions: write-all\n\n"}},
			[]wantFinding{{"permissions", 11, 14, "write-all"}}},
		{"read-all", "permissions: {contents: read}",
			[]edit{{"permissions:\n  contents: read\n", "permissions: read-all\n\n"}},
			[]wantFinding{{"permissions", 11, 14, "read-all"}}},
		{"contents write and extra scope", "permissions: {contents: read}",
			[]edit{{"  contents: read\n", "  contents: write\n  packages: write\n  issues: none\n"}},
			[]wantFinding{{"permissions", 12, 3, "contents: write, more than this pipeline needs (read at most)"},
				{"permissions", 13, 3, "packages: write, more than this pipeline needs (none at most)"}}},
		{"job escalates", "permissions: {contents: read}",
			[]edit{{"  deploy:\n", "  deploy:\n    permissions: write-all\n"}},
			[]wantFinding{{"permissions", 69, 18, "job deploy gives its token write-all"}}},

		// runs
		{"runs pass", "runs: {lint: go vet, test: go test, build: [make build, go build]}", nil, nil},
		{"runs chained", "runs: {test: go test}",
			[]edit{{"run: go test -race -count=1 ./...", "run: go vet ./... && go test ./..."}}, nil},
		{"runs only in a comment", "runs: {test: go test}",
			[]edit{{"run: go test -race -count=1 ./...", "run: go vet ./... # go test later"}},
			[]wantFinding{{"runs", 37, 3, "no run: step of job test runs `go test`"}}},
		{"runs alternatives", "runs: {test: [make test, gotestsum]}", nil,
			[]wantFinding{{"runs", 37, 3, "`make test` or `gotestsum`"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := applyEdits(t, good, c.edits)
			cr := gradeWF(t, "path: "+wfPath+"\nlint: false\n"+c.with, wfFiles(src))
			matchFindings(t, cr.Findings, c.want)
			wantStatus := opsdojo.StatusPass
			if len(c.want) > 0 {
				wantStatus = opsdojo.StatusFail
			}
			if cr.Status != wantStatus {
				t.Fatalf("status %s, want %s; messages %q", cr.Status, wantStatus, cr.Messages)
			}
			if len(cr.Messages) != 1 || strings.Contains(cr.Messages[0], "\n") {
				t.Fatalf("messages %q: want one line", cr.Messages)
			}
			if wantStatus == opsdojo.StatusFail && !strings.Contains(cr.Messages[0], cr.Findings[0].Message) {
				t.Fatalf("summary %q does not quote the first finding", cr.Messages[0])
			}
		})
	}
}

// TestWorkflowActionlintFindings: actionlint's findings arrive with their
// place and kind.
func TestWorkflowActionlintFindings(t *testing.T) {
	src := `on: push
jobs:
  test:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        go: ['1.22', '1.23']
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-go@v5
        with:
          go-versions: ${{ matrix.go-version }}
      - run: echo "${{ github.event.pull_request.title }}"
  deploy:
    needs: [buld]
    runs-on: ubuntu-latest
    steps:
      - run: echo hi
`
	cr := gradeWF(t, "path: "+wfPath, wfFiles(src))
	matchFindings(t, cr.Findings, []wantFinding{
		{"actionlint/action", 12, 11, `input "go-versions" is not defined in action "actions/setup-go@v5"`},
		{"actionlint/expression", 12, 28, `property "go-version" is not defined`},
		{"actionlint/expression", 13, 24, `"github.event.pull_request.title" is potentially untrusted`},
		{"actionlint/job-needs", 14, 3, `needs job "buld" which does not exist`},
	})
	if cr.Status != opsdojo.StatusFail || !strings.HasPrefix(cr.Messages[0], "4 problems in "+wfPath+"; the first, at "+wfPath+":12: input") {
		t.Fatalf("%s %q", cr.Status, cr.Messages)
	}
	// lint: false keeps the assertions and drops actionlint's findings,
	// but not YAML errors: nothing can be asserted on a broken file.
	cr = gradeWF(t, "path: "+wfPath+"\nlint: false\njobs: [test]", wfFiles(src))
	if cr.Status != opsdojo.StatusPass {
		t.Fatalf("lint: false: %s%s", cr.Status, findingsString(cr.Findings))
	}
	cr = gradeWF(t, "path: "+wfPath+"\nlint: false\njobs: [test]", wfFiles("on: push\njobs:\n  test: [\n"))
	matchFindings(t, cr.Findings, []wantFinding{{"yaml", 3, 0, "not valid YAML: did not find expected node content"}})
	// Syntax problems actionlint finds in valid YAML.
	cr = gradeWF(t, "path: "+wfPath, wfFiles("on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    step:\n      - run: go test\n"))
	matchFindings(t, cr.Findings, []wantFinding{
		{"actionlint/syntax-check", 3, 3, `"steps" section is missing in job "test"`},
		{"actionlint/syntax-check", 5, 5, `unexpected key "step" for "job" section`},
	})
}

// TestWorkflowLearnerConfigIgnored: a .github/actionlint.yaml in the
// learner's repository, and the current directory, change nothing: the
// grader's configuration is the only one, and no other file is read.
func TestWorkflowLearnerConfigIgnored(t *testing.T) {
	home := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(home, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(".github/workflows/ci.yml", `on: push
jobs:
  test:
    runs-on: [self-hosted, gpu-xl]
    steps:
      - uses: ./.github/actions/setup
      - run: echo "${{ github.event.head_commit.message }}"
`)
	// Silence everything, and teach actionlint the custom runner label.
	write(".github/actionlint.yaml", "self-hosted-runner:\n  labels: [gpu-xl]\npaths:\n  .github/workflows/**/*.yml:\n    ignore: ['.*']\n")
	write(".github/actionlint.yml", "self-hosted-runner:\n  labels: [gpu-xl]\n")
	// actionlint takes a folder for a project when it has .github/workflows and .git.
	if err := os.Mkdir(filepath.Join(home, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A local action with a required input the workflow does not give:
	// actionlint reports that only if it reads this file.
	write(".github/actions/setup/action.yml", "name: setup\ndescription: set up\ninputs:\n  token:\n    description: a token\n    required: true\nruns:\n  using: composite\n  steps:\n    - run: echo hi\n      shell: bash\n")

	// Control: actionlint pointed at the project honours that config.
	l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{WorkingDir: home})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.LintFile(filepath.Join(home, ".github/workflows/ci.yml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 0 {
		for _, e := range errs {
			t.Logf("control: %s", e.Error())
		}
		t.Fatalf("control: actionlint with the learner's config reported %d errors, want 0 (the config silences them)", len(errs))
	}

	// Control: with its config overridden, actionlint pointed at the
	// project reads the local action and misses its required input.
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(empty, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err = actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{WorkingDir: home, ConfigFile: empty})
	if err != nil {
		t.Fatal(err)
	}
	errs, err = l.LintFile(filepath.Join(home, ".github/workflows/ci.yml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	readAction := false
	for _, e := range errs {
		readAction = readAction || strings.Contains(e.Message, `missing input "token"`)
	}
	if !readAction {
		t.Fatalf("control: actionlint on the project did not read the local action: %v", errs)
	}

	t.Chdir(home)
	cr := gradeWF(t, "path: "+wfPath, grading.DirFiles{Root: home})
	matchFindings(t, cr.Findings, []wantFinding{
		{"actionlint/runner-label", 4, 28, `label "gpu-xl" is unknown`},
		{"actionlint/expression", 7, 24, "potentially untrusted"},
	})
	for _, f := range cr.Findings {
		if strings.Contains(f.Message, "token") {
			t.Fatalf("the local action's metadata was read: %s", f.Message)
		}
	}
}

// TestWorkflowBadInputs: hostile or broken files fail quickly, in bounded
// memory, as learner mistakes and never as grader errors.
func TestWorkflowBadInputs(t *testing.T) {
	bomb := func(levels, fan int) string {
		var b strings.Builder
		b.WriteString("on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n        a0: &a0 [\"lol\", \"lol\"]\n")
		for i := 1; i < levels; i++ {
			fmt.Fprintf(&b, "        a%d: &a%d [", i, i)
			for j := 0; j < fan; j++ {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "*a%d", i-1)
			}
			b.WriteString("]\n")
		}
		b.WriteString("    steps:\n      - run: echo hi\n")
		return b.String()
	}
	deepBlock := func(n int) string {
		var b strings.Builder
		b.WriteString("on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n        a:\n")
		for i := 0; i < n; i++ {
			b.WriteString(strings.Repeat(" ", 10+i) + "-\n")
		}
		return b.String()
	}
	manyJobs := func(n int) string {
		var b strings.Builder
		b.WriteString("on: push\njobs:\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "  j%d:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo %d\n", i, i)
		}
		return b.String()
	}
	// longMatrix: rows of n distinct values each, the worst case for
	// actionlint's duplicate check.
	longMatrix := func(n, rows int) string {
		var b strings.Builder
		b.WriteString("on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n")
		for r := 0; r < rows; r++ {
			fmt.Fprintf(&b, "        v%d: [", r)
			for i := 0; i < n; i++ {
				fmt.Fprintf(&b, "%d,", i)
			}
			b.WriteString("]\n")
		}
		b.WriteString("    steps:\n      - run: echo ${{ matrix.v0 }}\n")
		return b.String()
	}
	// nearDuplicates: n matrix values that share an aliased list of size
	// items and differ only at their end, so comparing two is slow.
	nearDuplicates := func(n, size int) string {
		var b strings.Builder
		b.WriteString("on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n        base: [&a [")
		for i := 0; i < size; i++ {
			fmt.Fprintf(&b, "%d,", i)
		}
		b.WriteString("]]\n        v: [")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "[*a, %d],", i)
		}
		b.WriteString("]\n    steps:\n      - run: echo \"${{ toJSON(matrix.v) }}\"\n")
		return b.String()
	}
	huge := filepath.Join(t.TempDir(), "home")
	if err := os.MkdirAll(filepath.Join(huge, ".github/workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(huge, wfPath))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(50 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	symlinkHome := t.TempDir()
	os.MkdirAll(filepath.Join(symlinkHome, ".github/workflows"), 0o755)
	if err := os.Symlink("/etc/passwd", filepath.Join(symlinkHome, wfPath)); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name  string
		files grading.Files
		rule  string // the first finding's rule; "" for none
		text  string // in the first message
	}{
		{"billion laughs", wfFiles(bomb(10, 10)), "yaml", "more than 20000 nodes once anchors and aliases are expanded"},
		{"small alias fan-out is linted", wfFiles(bomb(3, 3)), "actionlint/matrix", "duplicate value"},
		{"aliases as people use them", wfFiles("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: &steps\n      - uses: actions/checkout@v4\n      - run: go test ./...\n  b:\n    runs-on: ubuntu-latest\n    steps: *steps\n"), "", "actionlint finds no problems"},
		{"recursive alias", wfFiles("on: push\njobs: &j\n  t: *j\n"), "yaml", "refers to the node that contains it"},
		{"recursive alias in a list", wfFiles("on: push\njobs:\n  t:\n    steps: &s [*s]\n"), "yaml", "refers to the node that contains it"},
		{"100k nested flow lists", wfFiles("on: push\njobs: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000)), "yaml", "exceeded max depth of 10000"},
		{"5k nested flow lists", wfFiles("on: push\njobs: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000)), "yaml", "nested more than 64 levels"},
		{"deep block nesting", wfFiles(deepBlock(1000)), "yaml", "nested more than 64 levels"},
		{"many jobs within the budget", wfFiles(manyJobs(500)), "", "actionlint finds no problems"},
		{"many jobs", wfFiles(manyJobs(501)), "yaml", "more than 500 entries"},
		{"long matrix", wfFiles(longMatrix(45000, 1)), "yaml", "more than 500 entries"},
		{"long matrix rows within the budget", wfFiles(longMatrix(500, 39)), "", "actionlint finds no problems"},
		{"near-duplicate matrix values within the budget", wfFiles(nearDuplicates(500, 36)), "", "actionlint finds no problems"},
		{"binary", wfFiles("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "yaml", "NUL bytes"},
		{"not UTF-8", wfFiles("on: push\nname: caf\xe9\njobs: {}\n"), "yaml", "not UTF-8"},
		{"control characters", wfFiles("on: push\njobs: {}\x07\n"), "yaml", "ci.yml:2: the file contains a control character (U+0007)"},
		{"empty", wfFiles(""), "yaml", "the file is empty"},
		{"blank", wfFiles(" \n\t\n"), "yaml", "the file is empty"},
		{"comments only", wfFiles("# TODO\n"), "actionlint/syntax-check", "workflow is empty"},
		{"a scalar", wfFiles("hello\n"), "actionlint/syntax-check", ""},
		{"a list", wfFiles("- on: push\n"), "actionlint/syntax-check", ""},
		{"duplicate keys", wfFiles("on: push\non: pull_request\njobs: {}\n"), "actionlint/syntax-check", `key "on" is duplicated`},
		{"tab indentation", wfFiles("on: push\njobs:\n\tt: {}\n"), "yaml", "ci.yml:3: not valid YAML"},
		{"50 MB file", grading.DirFiles{Root: huge}, "", "the grader reads at most 1048576"},
		{"2 MB in memory", wfFiles(strings.Repeat("# padding\n", 200000)), "", "the grader reads at most"},
		{"symlink out of home", grading.DirFiles{Root: symlinkHome}, "", "points outside"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			before := ms.TotalAlloc
			start := time.Now()
			cr := gradeWF(t, "path: "+wfPath, c.files)
			took := time.Since(start)
			runtime.ReadMemStats(&ms)
			alloc := ms.TotalAlloc - before
			t.Logf("%s in %s, %d KB allocated: %q", cr.Status, took.Round(time.Millisecond), alloc>>10, cr.Messages)
			if c.rule == "" && strings.Contains(c.text, "actionlint finds no problems") {
				if cr.Status != opsdojo.StatusPass {
					t.Fatalf("status %s%s", cr.Status, findingsString(cr.Findings))
				}
			} else if cr.Status != opsdojo.StatusFail {
				t.Fatalf("status %s, want fail; messages %q log %q", cr.Status, cr.Messages, cr.Log)
			}
			if c.rule != "" && (len(cr.Findings) == 0 || cr.Findings[0].Rule != c.rule) {
				t.Fatalf("findings:%s\nwant the first with rule %s", findingsString(cr.Findings), c.rule)
			}
			if len(cr.Messages) != 1 || !strings.Contains(cr.Messages[0], c.text) {
				t.Fatalf("messages %q, want one containing %q", cr.Messages, c.text)
			}
			if took > wfSlowCheck {
				t.Errorf("took %s", took)
			}
			if alloc > 200<<20 {
				t.Errorf("allocated %d MB", alloc>>20)
			}
		})
	}
}

// TestWorkflowReadErrors: how each kind of read failure is graded.
func TestWorkflowReadErrors(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status opsdojo.CheckStatus
		text   string
	}{
		{"missing", nil, opsdojo.StatusFail, wfPath + " does not exist yet"},
		{"invalid", opsdojo.Errorf(opsdojo.EINVALID, "%s is not a regular file", wfPath), opsdojo.StatusFail, "is not a regular file"},
		{"engine down", opsdojo.Errorf(opsdojo.EUNAVAILABLE, "down"), opsdojo.StatusError, "Docker engine is not reachable"},
		{"other", errors.New("exec: read /home/learner/x: input/output error"), opsdojo.StatusError, "could not be read"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cr := gradeWF(t, "path: "+wfPath, &memFiles{err: c.err})
			if cr.Status != c.status || len(cr.Messages) != 1 || !strings.Contains(cr.Messages[0], c.text) {
				t.Fatalf("%s %q; want %s with %q", cr.Status, cr.Messages, c.status, c.text)
			}
			if strings.Contains(cr.Messages[0], "input/output") {
				t.Fatalf("internal error text reached the learner: %q", cr.Messages)
			}
			if c.status == opsdojo.StatusFail && !slices.Equal(cr.Hints, []string{"check hint"}) {
				t.Fatalf("hints %q", cr.Hints)
			}
		})
	}
	cr := gradeWF(t, "path: "+wfPath, &memFiles{})
	matchFindings(t, cr.Findings, []wantFinding{{"missing", 0, 0, "create this file"}})
}

// ctxFiles blocks until the context ends.
type ctxFiles struct{}

func (ctxFiles) ReadFile(ctx context.Context, name string, limit int64) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (ctxFiles) Archive(ctx context.Context, dir string, w io.Writer, limit int64) error {
	return ctx.Err()
}

// TestWorkflowContext: a check honours its timeout and a cancelled
// context; neither is charged to the learner.
func TestWorkflowContext(t *testing.T) {
	r := wfRunner()
	chk := wfCheck("path: " + wfPath)
	chk.Timeout = 50 * time.Millisecond
	start := time.Now()
	res := r.RunStep(context.Background(), &labs.Lab{ID: "ci-pipeline"}, labs.Step{ID: "s", Checks: []labs.Check{chk}}, grading.Target{Files: ctxFiles{}})
	if cr := res.Checks[0]; cr.Status != opsdojo.StatusError || time.Since(start) > 15*time.Second { // it ends; how fast is for benchmarks
		t.Fatalf("blocked read: %s %q after %s", cr.Status, cr.Messages, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cr := gradeWFCtx(t, ctx, "path: "+wfPath, wfFiles(readTestdata(t, "good.yml")))
	if cr.Status != opsdojo.StatusError || !strings.Contains(cr.Messages[0], "ran out of time") {
		t.Fatalf("cancelled: %s %q", cr.Status, cr.Messages)
	}
}

// TestWorkflowValidateArgs: lab authors get clear errors for bad with: blocks.
func TestWorkflowValidateArgs(t *testing.T) {
	cases := []struct {
		with string
		err  string // "" when valid
	}{
		{"path: .github/workflows/ci.yml", ""},
		{allAsserts, ""},
		{"path: .github/workflows/ci.yaml\nlint: false\ncache: true", ""},
		{"path: .github/workflows/ci.yml\nruns: {test: [go test, make test]}", ""},
		{"", "need a with: block"},
		{"lint: true", "path is required"},
		{"path: /etc/ci.yml", "must be relative"},
		{"path: ../ci.yml", "leaves the learner's home"},
		{"path: .github/workflows/ci.json", "must end in .yml or .yaml"},
		{"path: .github/workflows/ci.yml\npinned: true", `unknown field "pinned" in with: (known: path, lint, triggers`},
		{"path: .github/workflows/ci.yml\ntriggers: {push: [main]}", `unknown field "push" in triggers: (known: push_branches, pull_request)`},
		{"path: .github/workflows/ci.yml\ntriggers: {}", "name push_branches, pull_request or both"},
		{"path: .github/workflows/ci.yml\ntriggers: {push_branches: ['release/*']}", "not a plain branch name"},
		{"path: .github/workflows/ci.yml\njobs: [lint, 'bad job']", `"bad job" is not a job id`},
		{"path: .github/workflows/ci.yml\njobs: [lint, Lint]", "listed twice"},
		{"path: .github/workflows/ci.yml\njobs: lint", "cannot unmarshal"},
		{"path: .github/workflows/ci.yml\nneeds: {build: []}", "needs.build: list the jobs"},
		{"path: .github/workflows/ci.yml\nneeds: {build: [build]}", "cannot need itself"},
		{"path: .github/workflows/ci.yml\nenvironment: {deploy: ''}", "name the environment"},
		{"path: .github/workflows/ci.yml\nmatrix: {test: {go-version: 0}}", "between 1 and 256"},
		{"path: .github/workflows/ci.yml\nmatrix: {test: {go-version: two}}", "cannot unmarshal"},
		{"path: .github/workflows/ci.yml\nmatrix: {test: {}}", "name a matrix key"},
		{"path: .github/workflows/ci.yml\npermissions: {content: read}", `"content" is not a GITHUB_TOKEN scope`},
		{"path: .github/workflows/ci.yml\npermissions: {contents: admin}", "must be read, write or none"},
		{"path: .github/workflows/ci.yml\nruns: {test: ''}", "empty command"},
		{"path: .github/workflows/ci.yml\nruns: {test: {cmd: go test}}", "a command or a list of commands"},
		{"path: .github/workflows/ci.yml\nlint: false", "needs at least one assertion"},
		{"- path: x.yml", "cannot unmarshal"},
	}
	var v grading.ArgsValidator = grading.WorkflowChecker{}
	r := wfRunner()
	for _, c := range cases {
		err := v.ValidateArgs("", []byte(c.with))
		if c.err == "" {
			if err != nil {
				t.Errorf("%q: %v", c.with, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: error %v, want one containing %q", c.with, err, c.err)
		} else if strings.Contains(err.Error(), "line ") || strings.Contains(err.Error(), "grading.") {
			t.Errorf("%q: error %q leaks decoder details", c.with, err)
		}
		if rerr := r.ValidateCheck("", "workflow", []byte(c.with)); (rerr == nil) != (err == nil) {
			t.Errorf("%q: the runner's validation disagrees: %v vs %v", c.with, rerr, err)
		}
	}
	// A misconfigured check that slipped past validation is a grader error.
	res := r.RunStep(context.Background(), &labs.Lab{ID: "x"}, labs.Step{ID: "s", Checks: []labs.Check{wfCheck("lint: true")}}, grading.Target{Files: wfFiles("on: push")})
	if res.Checks[0].Status != opsdojo.StatusError {
		t.Fatalf("misconfigured check: %s", res.Checks[0].Status)
	}
}
