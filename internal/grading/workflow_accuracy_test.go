package grading_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// wfAccuracyCase is a variation of testdata/workflow/good.yml graded with
// lint off, so that only the assertion under test speaks.
type wfAccuracyCase struct {
	name  string
	with  string
	edits []edit
	want  []wantFinding
}

func runWFAccuracy(t *testing.T, cases []wfAccuracyCase) {
	t.Helper()
	good := readTestdata(t, "good.yml")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := applyEdits(t, good, c.edits)
			cr := gradeWF(t, "path: "+wfPath+"\nlint: false\n"+c.with, wfFiles(src))
			matchFindings(t, cr.Findings, c.want)
			want := opsdojo.StatusPass
			if len(c.want) > 0 {
				want = opsdojo.StatusFail
			}
			if cr.Status != want {
				t.Fatalf("status %s, want %s; messages %q", cr.Status, want, cr.Messages)
			}
			// The same file, linted: a variant that passes must be one
			// actionlint accepts too, or the case proves nothing.
			if want == opsdojo.StatusPass {
				lint := gradeWF(t, "path: "+wfPath+"\n", wfFiles(src))
				if lint.Status != opsdojo.StatusPass {
					t.Fatalf("actionlint rejects the variant:%s", findingsString(lint.Findings))
				}
			}
		})
	}
}

const goRow = "go-version: ['1.22', '1.23']"

// TestWorkflowMatrixExpansion: the matrix assertion counts the values a key
// takes over the jobs GitHub would run: the key's list, include: entries
// (which extend runs or add runs) and exclude: entries.
func TestWorkflowMatrixExpansion(t *testing.T) {
	m := "matrix: {test: {go-version: 2}}"
	runWFAccuracy(t, []wfAccuracyCase{
		{"include only, flow style", m,
			[]edit{{goRow, "include: [{go-version: '1.22'}, {go-version: '1.23'}]"}}, nil},
		{"include only, block style with more keys", m,
			[]edit{{goRow, "include:\n          - go-version: '1.22'\n            os: ubuntu-latest\n          - go-version: '1.23'\n            os: ubuntu-latest\n            experimental: true"}}, nil},
		{"include only, one version", m,
			[]edit{{goRow, "include:\n          - go-version: '1.23'"}},
			[]wantFinding{{"matrix", 42, 7, `has 1 value(s) ("1.23")`}}},
		{"include only, the key misspelt in one entry", m,
			[]edit{{goRow, "include:\n          - go-version: '1.22'\n          - go_version: '1.23'"}},
			[]wantFinding{
				{"matrix", 42, 7, `has 1 value(s) ("1.22")`},
				{"matrix", 45, 13, `the run {"go_version": "1.23"} has no go-version`},
			}},
		{"include entries merge into the only run", m,
			[]edit{{goRow, "os: [ubuntu-latest]\n        include:\n          - go-version: '1.22'\n          - go-version: '1.23'"}},
			[]wantFinding{{"matrix", 42, 7, "include: entries that do not conflict with the matrix's own keys extend its runs"}}},
		{"include extends each os", m,
			[]edit{{goRow, "os: [ubuntu-latest, macos-latest]\n        include:\n          - os: ubuntu-latest\n            go-version: '1.22'\n          - os: macos-latest\n            go-version: '1.23'"}}, nil},
		{"include leaves one os without a version", m,
			[]edit{{goRow, "os: [ubuntu-latest, macos-latest, windows-latest]\n        include:\n          - os: ubuntu-latest\n            go-version: '1.22'\n          - os: macos-latest\n            go-version: '1.23'"}},
			[]wantFinding{{"matrix", 42, 7, `the run {"os": "windows-latest"} has no go-version`}}},
		{"a list and an include that adds a version", m,
			[]edit{{goRow, "go-version: ['1.23']\n        include:\n          - go-version: '1.24'\n            experimental: true"}}, nil},
		{"exclude removes a version", m,
			[]edit{{goRow, goRow + "\n        exclude:\n          - go-version: '1.22'"}},
			[]wantFinding{{"matrix", 43, 9, `has 1 value(s) ("1.23")`}}},
		{"exclude removes one combination", m,
			[]edit{{goRow, goRow + "\n        os: [ubuntu-latest, windows-latest]\n        exclude:\n          - go-version: '1.22'\n            os: windows-latest"}}, nil},
		{"include adds back what exclude removed", m,
			[]edit{{goRow, "go-version: ['1.22']\n        exclude:\n          - go-version: '1.22'\n        include:\n          - go-version: '1.22'\n          - go-version: '1.23'"}}, nil},
		{"whole include from an expression", m,
			[]edit{{goRow, "include: ${{ fromJSON(vars.GO_MATRIX) }}"}},
			[]wantFinding{{"matrix", 43, 18, "computed when the workflow runs"}}},
		{"exclude from an expression", m,
			[]edit{{goRow, goRow + "\n        exclude: ${{ fromJSON(vars.SKIP) }}"}},
			[]wantFinding{{"matrix", 44, 18, "computed when the workflow runs"}}},
		{"one value from an expression, two known", m,
			[]edit{{goRow, "go-version: ['1.22', '1.23', '${{ vars.NEXT_GO }}']"}}, nil},
		{"one value known, one from an expression", m,
			[]edit{{goRow, "go-version: ['1.22', '${{ vars.NEXT_GO }}']"}},
			[]wantFinding{{"matrix", 43, 9, "${{ vars.NEXT_GO }} is computed when the workflow runs"}}},
		{"another key's list from an expression", m,
			[]edit{{goRow, goRow + "\n        os: ${{ fromJSON(vars.OSES) }}"}}, nil},
		{"unquoted 1.20 in include", m,
			[]edit{{goRow, "include:\n          - go-version: 1.20\n          - go-version: '1.21'"}},
			[]wantFinding{{"matrix", 44, 25, `the job gets 1.2, not 1.20`}}},
	})
}

const deployIf = "if: github.event_name == 'push' && github.ref == 'refs/heads/main'"

func deployIfIs(cond string) edit { return edit{deployIf, "if: " + cond} }

// TestWorkflowNeedsGate: needs: means the job runs only after its needs
// succeeded. A status function in if: (always(), failure(), cancelled(),
// !cancelled(), success() || failure()) or continue-on-error: on a needed
// job lets it run after a failure.
func TestWorkflowNeedsGate(t *testing.T) {
	n := "needs: {build: [lint, test], deploy: [build]}"
	runWFAccuracy(t, []wfAccuracyCase{
		{"no status function keeps success()", n, nil, nil},
		{"success() && main", n, []edit{deployIfIs("success() && github.ref == 'refs/heads/main'")}, nil},
		{"${{ success() && main }}", n, []edit{deployIfIs("${{ success() && github.ref == 'refs/heads/main' }}")}, nil},
		{"not failed and not cancelled", n, []edit{deployIfIs("github.ref == 'refs/heads/main' && !failure() && !cancelled()")}, nil},
		{"always() && main", n, []edit{deployIfIs("always() && github.ref == 'refs/heads/main'")},
			[]wantFinding{{"needs", 70, 9, "job deploy's if: calls always(), so deploy runs even when build fails"}}},
		{"${{ always() && main }}", n, []edit{deployIfIs("${{ always() && github.ref == 'refs/heads/main' }}")},
			[]wantFinding{{"needs", 70, 9, "always()"}}},
		{"!cancelled()", n, []edit{deployIfIs("\"!cancelled() && github.ref == 'refs/heads/main'\"")},
			[]wantFinding{{"needs", 70, 9, "cancelled()"}}},
		{"success() || failure()", n, []edit{deployIfIs("(success() || failure()) && github.ref == 'refs/heads/main'")},
			[]wantFinding{{"needs", 70, 9, "failure()"}}},
		{"failure()", n, []edit{deployIfIs("failure()")},
			[]wantFinding{{"needs", 70, 9, "failure()"}}},
		{"main || always()", n, []edit{deployIfIs("github.ref == 'refs/heads/main' || always()")},
			[]wantFinding{{"needs", 70, 9, "always()"}}},
		{"ALWAYS() in capitals", n, []edit{deployIfIs("ALWAYS() && github.ref == 'refs/heads/main'")},
			[]wantFinding{{"needs", 70, 9, "always()"}}},
		{"always() on build", n, []edit{{"    needs: [lint, test]\n", "    needs: [lint, test]\n    if: always()\n"}},
			[]wantFinding{{"needs", 54, 9, "job build's if: calls always(), so build runs even when lint or test fails"}}},
		{"continue-on-error on build", n, []edit{{"  build:\n", "  build:\n    continue-on-error: true\n"}},
			[]wantFinding{{"needs", 53, 24, "continue-on-error: true on job build"}}},
		{"continue-on-error on test", n, []edit{{"    timeout-minutes: 10\n    strategy:", "    timeout-minutes: 10\n    continue-on-error: true\n    strategy:"}},
			[]wantFinding{{"needs", 40, 24, "continue-on-error: true on job test"}}},
		{"continue-on-error per matrix entry", n, []edit{
			{"    timeout-minutes: 10\n    strategy:", "    timeout-minutes: 10\n    continue-on-error: ${{ matrix.experimental }}\n    strategy:"},
			{goRow, goRow + "\n        experimental: [false]\n        include:\n          - go-version: tip\n            experimental: true"}}, nil},
		{"continue-on-error from another expression", n, []edit{{"  build:\n", "  build:\n    continue-on-error: ${{ github.ref != 'refs/heads/main' }}\n"}},
			[]wantFinding{{"needs", 53, 24, "continue-on-error"}}},
		{"deploy needs test through build, build always()", "needs: {deploy: [test]}",
			[]edit{{"    needs: [lint, test]\n", "    needs: [lint, test]\n    if: always()\n"}},
			[]wantFinding{{"needs", 54, 9, "job build's if: calls always(), so build runs even when lint or test fails or the run is cancelled: deploy can follow a failed test"}}},
		{"deploy needs test directly too", "needs: {deploy: [test]}",
			[]edit{{"    needs: [lint, test]\n", "    needs: [lint, test]\n    if: always()\n"}, {"    needs: build\n", "    needs: [build, test]\n"}}, nil},
	})
}

// TestWorkflowRunsCanFail: a run: step that runs the command but cannot
// fail its job does not count, or the jobs that need it run after a
// failure.
func TestWorkflowRunsCanFail(t *testing.T) {
	r := "runs: {test: [go test, make test]}"
	const testStep = "      - name: test\n        run: go test -race -count=1 ./...\n"
	runWFAccuracy(t, []wfAccuracyCase{
		{"plain", r, nil, nil},
		{"piped through tee (GitHub's bash has pipefail)", r,
			[]edit{{"run: go test -race -count=1 ./...", "run: go test -race -count=1 ./... | tee test.log"}}, nil},
		{"|| exit 1 still fails", r,
			[]edit{{"run: go test -race -count=1 ./...", "run: go test -race -count=1 ./... || exit 1"}}, nil},
		{"continue-on-error from the matrix", r,
			[]edit{{testStep, "      - name: test\n        continue-on-error: ${{ matrix.go-version == '1.23' }}\n        run: go test -race -count=1 ./...\n"}}, nil},
		{"continue-on-error: true", r,
			[]edit{{testStep, "      - name: test\n        continue-on-error: true\n        run: go test -race -count=1 ./...\n"}},
			[]wantFinding{{"runs", 50, 28, "the step that runs `go test` in job test has continue-on-error: true, so the job succeeds when it fails"}}},
		{"|| true", r,
			[]edit{{"run: go test -race -count=1 ./...", "run: go test -race -count=1 ./... || true"}},
			[]wantFinding{{"runs", 50, 14, "ends with `|| true`"}}},
		{"|| echo", r,
			[]edit{{"run: go test -race -count=1 ./...", "run: |\n          go test ./... || echo 'tests failed'"}},
			[]wantFinding{{"runs", 50, 14, "ends with `|| echo 'tests failed'`"}}},
		{"swallowed once, run again properly", r,
			[]edit{{testStep, "      - run: go test ./... || true\n      - run: make test\n"}}, nil},
	})
}

// TestWorkflowMainOnlyVariants: conditions learners write for "deploy only
// main", beyond the lab's solution.
func TestWorkflowMainOnlyVariants(t *testing.T) {
	m := "main_only: [deploy]"
	runWFAccuracy(t, []wfAccuracyCase{
		{"ref only", m, []edit{deployIfIs("github.ref == 'refs/heads/main'")}, nil},
		{"${{ }} with spaces", m, []edit{deployIfIs("${{   github.ref == 'refs/heads/main'   }}")}, nil},
		{"literal first", m, []edit{deployIfIs("\"'refs/heads/main' == github.ref\"")}, nil},
		{"negated !=", m, []edit{deployIfIs("\"!(github.ref != 'refs/heads/main')\"")}, nil},
		{"ref_name and a branch ref_type", m, []edit{deployIfIs("github.ref_name == 'main' && github.ref_type == 'branch'")}, nil},
		{"github.event.ref", m, []edit{deployIfIs("github.event.ref == 'refs/heads/main'")}, nil},
		{"always() && main is main-only (needs reports always())", m, []edit{deployIfIs("always() && github.ref == 'refs/heads/main'")}, nil},
		// The condition must pin main by itself: push: filters change.
		{"event push when push runs only on main", m, []edit{deployIfIs("github.event_name == 'push'")},
			[]wantFinding{{"main-only", 70, 9, "github.event_name == 'push' keeps pull requests out, but not other branches"}}},
		{"event push when push runs on more branches", m,
			[]edit{deployIfIs("github.event_name == 'push'"), {"branches: [main]", "branches: [main, develop]"}},
			[]wantFinding{{"main-only", 70, 9, "does not limit it to main"}}},
		{"event push when push runs on tags too", m,
			[]edit{deployIfIs("github.event_name == 'push'"), {"branches: [main]", "branches: [main]\n    tags: ['v*']"}},
			[]wantFinding{{"main-only", 71, 9, "does not limit it to main"}}},
		{"startsWith", m, []edit{deployIfIs("startsWith(github.ref, 'refs/heads/main')")},
			[]wantFinding{{"main-only", 70, 9, "startsWith() is also true for refs/heads/main-old"}}},
		{"endsWith", m, []edit{deployIfIs("endsWith(github.ref, '/main')")},
			[]wantFinding{{"main-only", 70, 9, "endsWith() is also true"}}},
		{"contains", m, []edit{deployIfIs("contains(github.ref, 'main')")},
			[]wantFinding{{"main-only", 70, 9, "contains() is also true"}}},
		{"ref compared with a short name", m, []edit{deployIfIs("github.ref == 'main'")},
			[]wantFinding{{"main-only", 70, 9, "github.ref is the full ref, refs/heads/main: comparing it with 'main' is never true, so deploy would never run"}}},
		{"ref_name compared with a full ref", m, []edit{deployIfIs("github.ref_name == 'refs/heads/main'")},
			[]wantFinding{{"main-only", 70, 9, "never true"}}},
		{"base_ref is a pull request's target", m, []edit{deployIfIs("github.base_ref == 'main'")},
			[]wantFinding{{"main-only", 70, 9, "github.base_ref is the branch a pull request wants to merge into"}}},
		{"head_ref is a pull request's branch", m, []edit{deployIfIs("github.head_ref == 'main'")},
			[]wantFinding{{"main-only", 70, 9, "github.head_ref is the branch a pull request comes from"}}},
		{"guard on the steps only", m,
			[]edit{{"    " + deployIf + "\n", ""}, {"      - name: deploy\n", "      - name: deploy\n        if: github.ref == 'refs/heads/main'\n"}},
			[]wantFinding{{"main-only", 68, 3, "only its steps check the branch"}}},
	})
}

// ciFinal returns the workflow the ci-pipeline lab's solutions write, all
// steps applied, by running them on a copy of the lab's home.
func ciFinal(t *testing.T, lab *labs.Lab) string {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is needed to run the solutions")
	}
	home := filepath.Join(t.TempDir(), "learner")
	copyTree(t, lab.HomeDir, home)
	for _, st := range lab.Steps {
		cmd := exec.Command("bash", "-s")
		cmd.Dir = home
		cmd.Env = []string{"HOME=" + home, "PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C"}
		cmd.Stdin = strings.NewReader(st.Solution)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("step %s: %v\n%s", st.ID, err, out)
		}
	}
	b, err := os.ReadFile(filepath.Join(home, "repo", ".github", "workflows", "ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWorkflowLabCIPipelineVariants grades learner workflows the lab's own
// solutions do not cover with every step's checks: each variant passes or
// fails the steps it should.
func TestWorkflowLabCIPipelineVariants(t *testing.T) {
	r := wfRunner()
	lab, problems := labs.Load(ciLabDir, r)
	if len(problems) > 0 {
		t.Fatalf("lab problems:\n%s", problems.Error())
	}
	final := ciFinal(t, lab)
	const matrix = "      matrix:\n        go-version: ['1.22', '1.23']\n"
	const guard = "    if: github.event_name == 'push' && github.ref == 'refs/heads/main'\n"
	cases := []struct {
		name  string
		edits []edit
		// failing check ids of the last step (the whole pipeline); empty:
		// every step passes.
		fail []string
	}{
		{"solution", nil, nil},
		{"matrix from include entries only",
			[]edit{{matrix, "      matrix:\n        include:\n          - go-version: '1.22'\n          - go-version: '1.23'\n"}}, nil},
		{"matrix list plus an experimental include",
			[]edit{{matrix, "      matrix:\n        go-version: ['1.22']\n        include:\n          - go-version: '1.23'\n"}}, nil},
		{"success() && main", []edit{{guard, "    if: success() && github.ref == 'refs/heads/main'\n"}}, nil},
		{"ref_name == main as ${{ }}", []edit{{guard, "    if: ${{ github.ref_name == 'main' }}\n"}}, nil},
		{"always() && main deploys after a failed build",
			[]edit{{guard, "    if: always() && github.ref == 'refs/heads/main'\n"}}, []string{"workflow-valid"}},
		{"!cancelled() && main",
			[]edit{{guard, "    if: ${{ !cancelled() && github.ref == 'refs/heads/main' }}\n"}}, []string{"workflow-valid"}},
		{"build continues on error",
			[]edit{{"  build:\n", "  build:\n    continue-on-error: true\n"}}, []string{"workflow-valid"}},
		{"startsWith main",
			[]edit{{guard, "    if: startsWith(github.ref, 'refs/heads/main')\n"}}, []string{"workflow-valid"}},
		{"tests that cannot fail",
			[]edit{{"run: go test -race -count=1 ./...", "run: go test -race -count=1 ./... || true"}}, []string{"workflow-valid"}},
		{"matrix list with one version, exclude the other",
			[]edit{{matrix, "      matrix:\n        go-version: ['1.22', '1.23']\n        exclude:\n          - go-version: '1.22'\n"}}, []string{"workflow-valid"}},
	}
	ctx := context.Background()
	last := lab.Steps[len(lab.Steps)-1]
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := applyEdits(t, final, c.edits)
			home := t.TempDir()
			p := filepath.Join(home, "repo", ".github", "workflows", "ci.yml")
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			target := grading.Target{Files: grading.DirFiles{Root: home}}
			res := r.RunStep(ctx, lab, last, target)
			var failed []string
			for _, cr := range res.Checks {
				if cr.Status == opsdojo.StatusError {
					t.Fatalf("check %s: error %q", cr.CheckID, cr.Messages)
				}
				if cr.Status != opsdojo.StatusPass {
					failed = append(failed, cr.CheckID)
					t.Logf("%s: %q%s", cr.CheckID, cr.Messages, findingsString(cr.Findings))
				}
			}
			if strings.Join(failed, ",") != strings.Join(c.fail, ",") {
				t.Fatalf("failing checks %q, want %q", failed, c.fail)
			}
			// The step that introduced the broken part fails there too.
			if len(c.fail) > 0 {
				anyStepFails := false
				for _, st := range lab.Steps[:len(lab.Steps)-1] {
					if r.RunStep(ctx, lab, st, target).Status == opsdojo.StatusFail {
						anyStepFails = true
					}
				}
				if !anyStepFails {
					t.Fatal("every earlier step passes")
				}
			}
		})
	}
}
