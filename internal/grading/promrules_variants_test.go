package grading_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opsdojo/opsdojo/internal/promeval"
)

// promLabDir is the lab whose hidden tests the variants run against.
const promLabDir = "../../labs/prometheus-alerting"

// promSolution returns the rule file the last step's solution writes: the
// instructed answer, kept in sync with the lab.
func promSolution(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(promLabDir, "solutions", "04-actionable.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<<'YAML'\n(.*?)\nYAML\n`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no rule file in solutions/04-actionable.sh")
	}
	return string(m[1]) + "\n"
}

// promVariant is a learner's rule file: the solution with edits.
type promVariant struct {
	name  string
	edits []edit
	// pass: every hidden test file passes. Otherwise each file in failIn
	// fails (all_test.yml always repeats the earlier ones, so it fails too).
	pass   bool
	failIn []string
}

// promEdit applies edits that must each match exactly once.
func promEdit(t *testing.T, src string, edits []edit) string {
	t.Helper()
	for _, e := range edits {
		if n := strings.Count(src, e.old); n != 1 {
			t.Fatalf("edit %q occurs %d times", e.old, n)
		}
		src = strings.Replace(src, e.old, e.new, 1)
	}
	return src
}

const (
	ratioRule = "          sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m]))\n            /\n          sum by (job) (rate(http_requests_total[5m]))\n"
	alertFor  = "        expr: job:http_errors:ratio5m > 0.05\n        for: 5m\n"
	downFor   = "        expr: up == 0\n        for: 3m\n"
)

func ratioWith(num, den string) edit {
	return edit{ratioRule, "          " + num + "\n            /\n          " + den + "\n"}
}

func window(w string) edit {
	return ratioWith(`sum by (job) (rate(http_requests_total{code=~"5.."}[`+w+`]))`, `sum by (job) (rate(http_requests_total[`+w+`]))`)
}

func highFor(d string) edit {
	return edit{alertFor, strings.Replace(alertFor, "for: 5m", "for: "+d, 1)}
}

func downForEdit(d string) edit {
	return edit{downFor, strings.Replace(downFor, "for: 3m", "for: "+d, 1)}
}

var (
	ratioTests = "tests/ratio_test.yml"
	highTests  = "tests/high_error_rate_test.yml"
	downTests  = "tests/target_down_test.yml"
	allTests   = "tests/all_test.yml"
)

// TestPromRulesLabVariants runs the prometheus-alerting lab's hidden tests
// on learner rule files the lab's own solution does not cover: the
// instructed answer and the forms equivalent to it pass; a for: or a rate
// window other than the instructions' 5 minutes (3 for TargetDown), or a
// threshold other than 5%, fails.
func TestPromRulesLabVariants(t *testing.T) {
	sol := promSolution(t)
	// The alert placed before the recording rule reads the ratio of the
	// previous evaluation: one evaluation interval later, which the tests
	// allow (a separate group, in real Prometheus, has that offset too).
	alertFirst := func(src string) string {
		rec := "      # Share of requests that failed with a 5xx over the last 5 minutes, per job.\n      - record: job:http_errors:ratio5m\n        expr: |\n" + ratioRule + "\n"
		i := strings.Index(src, "      # Users are failing")
		j := strings.Index(src, "      # One instance down")
		if i < 0 || j < 0 || !strings.Contains(src, rec) {
			t.Fatal("the solution's layout changed")
		}
		alert := src[i:j]
		return strings.Replace(strings.Replace(src, alert, "", 1), rec, alert+rec, 1)
	}
	variants := []promVariant{
		{name: "instructed answer", pass: true},
		{name: "for: 300s", edits: []edit{highFor("300s")}, pass: true},
		{name: "for: 5m0s", edits: []edit{highFor("5m0s")}, pass: true},
		{name: "increase instead of rate", edits: []edit{ratioWith(
			`sum by (job) (increase(http_requests_total{code=~"5.."}[5m]))`,
			`sum by (job) (increase(http_requests_total[5m]))`)}, pass: true},
		{name: "window in seconds", edits: []edit{window("300s")}, pass: true},
		{name: "sum(...) by (job) and 5xx spelled out", edits: []edit{ratioWith(
			`sum(rate(http_requests_total{code=~"500|501|502|503|504|505|5.."}[5m])) by (job)`,
			`sum(rate(http_requests_total[5m])) by (job)`)}, pass: true},
		{name: "alert reads the expression itself", edits: []edit{{
			"        expr: job:http_errors:ratio5m > 0.05\n",
			"        expr: sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m])) / sum by (job) (rate(http_requests_total[5m])) > 0.05\n"}}, pass: true},
		{name: "threshold written as 5/100", edits: []edit{{"ratio5m > 0.05", "ratio5m > 5/100"}}, pass: true},

		{name: "for: 4m", edits: []edit{highFor("4m")}, failIn: []string{highTests}},
		{name: "for: 4m30s", edits: []edit{highFor("4m30s")}, failIn: []string{highTests}},
		{name: "for: 6m", edits: []edit{highFor("6m")}, failIn: []string{highTests}},
		{name: "for: 8m", edits: []edit{highFor("8m")}, failIn: []string{highTests}},
		{name: "for: 10m", edits: []edit{highFor("10m")}, failIn: []string{highTests}},
		{name: "no for:", edits: []edit{{alertFor, "        expr: job:http_errors:ratio5m > 0.05\n"}}, failIn: []string{highTests}},
		{name: "threshold 2%", edits: []edit{{"ratio5m > 0.05", "ratio5m > 0.02"}}, failIn: []string{highTests}},
		{name: "threshold 10%", edits: []edit{{"ratio5m > 0.05", "ratio5m > 0.1"}}, failIn: []string{highTests}},
		{name: "threshold as a percentage", edits: []edit{{"ratio5m > 0.05", "ratio5m > 5"}}, failIn: []string{highTests}},

		{name: "window [1m]", edits: []edit{window("1m")}, failIn: []string{ratioTests}},
		{name: "window [2m]", edits: []edit{window("2m")}, failIn: []string{ratioTests}},
		{name: "window [4m]", edits: []edit{window("4m")}, failIn: []string{ratioTests}},
		{name: "window [6m]", edits: []edit{window("6m")}, failIn: []string{ratioTests}},
		{name: "window [10m]", edits: []edit{window("10m")}, failIn: []string{ratioTests}},
		{name: "irate over [5m]", edits: []edit{ratioWith(
			`sum by (job) (irate(http_requests_total{code=~"5.."}[5m]))`,
			`sum by (job) (irate(http_requests_total[5m]))`)}, failIn: []string{ratioTests}},
		{name: "errors over [1m], requests over [5m]", edits: []edit{ratioWith(
			`sum by (job) (rate(http_requests_total{code=~"5.."}[1m]))`,
			`sum by (job) (rate(http_requests_total[5m]))`)}, failIn: []string{ratioTests}},

		{name: "TargetDown for: 2m", edits: []edit{downForEdit("2m")}, failIn: []string{downTests}},
		{name: "TargetDown for: 4m", edits: []edit{downForEdit("4m")}, failIn: []string{downTests}},
		{name: "TargetDown for: 180s", edits: []edit{downForEdit("180s")}, pass: true},
	}
	ctx := context.Background()
	tests := map[string][]byte{}
	for _, name := range []string{ratioTests, highTests, downTests, allTests} {
		b, err := os.ReadFile(filepath.Join(promLabDir, name))
		if err != nil {
			t.Fatal(err)
		}
		tests[name] = b
	}
	grade := func(t *testing.T, rules, testFile string) *promeval.Result {
		t.Helper()
		// A generous "it ends" bound: the verdict must come from the tests,
		// never from a slow, shared machine stopping the evaluation.
		res, err := promeval.Evaluate(ctx, promeval.Request{Rules: []byte(rules), Tests: tests[testFile],
			Limits:  promeval.Limits{Timeout: 2 * time.Minute},
			Compare: promeval.Compare{Annotations: promeval.MatchListed}})
		if err != nil {
			t.Fatalf("%s: %v", testFile, err)
		}
		if res.Stopped != "" {
			t.Fatalf("%s: the evaluation stopped: %s", testFile, res.Stopped)
		}
		if len(res.Findings) > 0 {
			t.Fatalf("%s: the rule file does not parse: %+v", testFile, res.Findings)
		}
		return res
	}
	failed := func(res *promeval.Result) string {
		var b strings.Builder
		for _, tr := range res.Tests {
			if !tr.Pass {
				fmt.Fprintf(&b, "\n    %s: expected %s, got %s", tr.Name, tr.Expected, tr.Actual)
			}
		}
		return b.String()
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			rules := promEdit(t, sol, v.edits)
			if v.name == "instructed answer" {
				// also with the alert before the recording rule
				t.Run("alert first", func(t *testing.T) {
					for name := range tests {
						if res := grade(t, alertFirst(rules), name); !res.Passed() {
							t.Errorf("%s fails:%s", name, failed(res))
						}
					}
				})
			}
			if v.pass {
				for name := range tests {
					if res := grade(t, rules, name); !res.Passed() {
						t.Errorf("%s fails:%s", name, failed(res))
					}
				}
				return
			}
			for _, name := range append(v.failIn, allTests) {
				if res := grade(t, rules, name); res.Passed() {
					t.Errorf("%s passes; want it to fail", name)
				}
			}
		})
	}
}

// TestPromRulesLabAllTests: the last step's hidden tests are exactly the
// earlier steps' ones, with the same evaluation interval, so tightening one
// file cannot leave the final check looser.
func TestPromRulesLabAllTests(t *testing.T) {
	type testFile struct {
		EvaluationInterval string           `yaml:"evaluation_interval"`
		Tests              []map[string]any `yaml:"tests"`
	}
	read := func(name string) testFile {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(promLabDir, name))
		if err != nil {
			t.Fatal(err)
		}
		var f testFile
		if err := yaml.Unmarshal(b, &f); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return f
	}
	all := read(allTests)
	var want []map[string]any
	for _, name := range []string{ratioTests, highTests, downTests} {
		f := read(name)
		if f.EvaluationInterval != all.EvaluationInterval {
			t.Errorf("%s evaluates every %q, %s every %q", name, f.EvaluationInterval, allTests, all.EvaluationInterval)
		}
		want = append(want, f.Tests...)
	}
	if !reflect.DeepEqual(all.Tests, want) {
		t.Errorf("%s is not the earlier steps' tests put together", allTests)
	}
}

// TestPromRulesWindowSemantics pins what labs/prometheus-alerting's step 1
// tells learners about the grader's engine: range selectors are left-open
// (Prometheus 3), unlike the lab image's promtool 2.42, which gives 6 and
// a rate of 1 on the first and third of these (checked by hand with
// `promtool test rules` in the lab image).
func TestPromRulesWindowSemantics(t *testing.T) {
	tests := `evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'x'
        values: '0+60x20'
    promql_expr_test:
      - expr: count_over_time(x[5m])
        eval_time: 10m
        exp_samples: [{labels: '{}', value: 5}]
      - expr: count_over_time(x[5m])
        eval_time: 10m30s
        exp_samples: [{labels: '{}', value: 5}]
      - expr: rate(x[1m])
        eval_time: 10m
        exp_samples: []
      - expr: rate(x[1m])
        eval_time: 10m30s
        exp_samples: []
`
	res, err := promeval.Evaluate(context.Background(), promeval.Request{Rules: []byte("groups: []\n"), Tests: []byte(tests)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tests) != 4 {
		t.Fatalf("%d results", len(res.Tests))
	}
	for _, tr := range res.Tests {
		if !tr.Pass {
			t.Errorf("%s: expected %s, got %s", tr.Name, tr.Expected, tr.Actual)
		}
	}
	steps, err := os.ReadFile(filepath.Join(promLabDir, "steps", "01-ratio.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The text names the module version go.mod pins: a bump must revisit it.
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`github.com/prometheus/prometheus (v0\.3(\d\d)\.(\d+))`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod does not pin github.com/prometheus/prometheus v0.3xx: the grader is no longer Prometheus 3")
	}
	release := fmt.Sprintf("Prometheus 3.%s", strings.TrimLeft(string(m[2]), "0"))
	for _, s := range []string{release, string(m[1]), "promtool 2.42", "(t-5m, t]"} {
		if !strings.Contains(string(steps), s) {
			t.Errorf("steps/01-ratio.md no longer says %q", s)
		}
	}
}
