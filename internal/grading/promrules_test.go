package grading_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/promeval"
)

func promLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func promTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "promrules", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// promEnv is a lab folder (for hidden tests) and a learner's home.
type promEnv struct {
	lab, home string
}

func newPromEnv(t *testing.T, labFiles, homeFiles map[string]string) promEnv {
	t.Helper()
	e := promEnv{lab: t.TempDir(), home: t.TempDir()}
	write := func(root string, files map[string]string) {
		for name, content := range files {
			p := filepath.Join(root, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(e.lab, labFiles)
	write(e.home, homeFiles)
	return e
}

// check grades one promrules check through the Runner, as the server does.
func (e promEnv) check(t *testing.T, c grading.PromRulesChecker, with string) opsdojo.CheckResult {
	t.Helper()
	r := grading.NewRunner(promLog())
	r.Register("promrules", c)
	if err := r.ValidateCheck(e.lab, "promrules", []byte(with)); err != nil {
		t.Fatalf("ValidateCheck: %v", err)
	}
	chk := labs.Check{ID: "rules", Title: "rules", Kind: "promrules", Points: 2, Hint: "the check's hint", Timeout: 20 * time.Second, With: []byte(with)}
	step := labs.Step{ID: "s", Title: "s", Checks: []labs.Check{chk}}
	res := r.RunStep(context.Background(), &labs.Lab{ID: "prom", Dir: e.lab}, step, grading.Target{Files: grading.DirFiles{Root: e.home}})
	if len(res.Checks) != 1 {
		t.Fatalf("%d results", len(res.Checks))
	}
	return res.Checks[0]
}

var inProcess = grading.PromRulesChecker{InProcess: true}

func TestPromRulesValidateArgs(t *testing.T) {
	lab := t.TempDir()
	os.MkdirAll(filepath.Join(lab, "tests"), 0o755)
	os.WriteFile(filepath.Join(lab, "tests", "ok.yml"), promTestdata(t, "fuzz_test.yml"), 0o644)
	os.WriteFile(filepath.Join(lab, "tests", "broken.yml"), []byte("tests:\n  - input_series:\n      - {series: 'x', values: '1+1x100000000'}\n"), 0o644)
	os.WriteFile(filepath.Join(lab, "tests", "empty.yml"), []byte("tests:\n  - name: nothing\n"), 0o644)
	outside := filepath.Join(t.TempDir(), "secret.yml")
	os.WriteFile(outside, promTestdata(t, "fuzz_test.yml"), 0o644)
	os.Symlink(outside, filepath.Join(lab, "tests", "link.yml"))

	cases := []struct{ name, with, want string }{
		{"ok", "path: rules/http.yml\ntests: tests/ok.yml\nrequire:\n  recording: [job:x:ratio5m]\n  alerts: [A]\n  labels: {severity: [page]}\n  annotations: [summary]\ncompare: {labels: exact, annotations: listed}\n", ""},
		{"no with", "", "need a with: block"},
		{"unknown field", "path: r.yml\nrequires: {}\n", `unknown field "requires" (known here: path, tests, compare, require)`},
		{"unknown require field", "path: r.yml\nrequire: {alert: [A]}\n", `unknown field "alert" (known here: recording, alerts, labels, annotations)`},
		{"no path", "tests: tests/ok.yml\n", "path is required"},
		{"path escapes", "path: ../etc/passwd\n", "leaves the learner's home"},
		{"absolute path", "path: /etc/passwd\n", "must be relative"},
		{"bad compare", "path: r.yml\ncompare: {labels: fuzzy}\n", "compare.labels"},
		{"bad recording name", "path: r.yml\nrequire: {recording: ['job:x ratio']}\n", "not a metric name"},
		{"empty label values", "path: r.yml\nrequire: {labels: {severity: []}}\n", "list the values"},
		{"bad annotation", "path: r.yml\nrequire: {annotations: ['a-b']}\n", "not an annotation name"},
		{"tests missing", "path: r.yml\ntests: tests/nope.yml\n", "does not exist in the lab folder"},
		{"tests escape", "path: r.yml\ntests: ../secret.yml\n", "does not exist in the lab folder"},
		{"tests symlink out", "path: r.yml\ntests: tests/link.yml\n", "points outside the lab folder"},
		{"tests absolute", "path: r.yml\ntests: " + outside + "\n", "relative to the lab folder"},
		{"tests broken", "path: r.yml\ntests: tests/broken.yml\n", "expand to more than"},
		{"tests empty", "path: r.yml\ntests: tests/empty.yml\n", "has no alert_rule_test or promql_expr_test"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := grading.PromRulesChecker{}.ValidateArgs(lab, []byte(c.with))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("err = %v; want %q", err, c.want)
			}
		})
	}
}

func TestPromRulesMissingAndUnreadable(t *testing.T) {
	e := newPromEnv(t, nil, map[string]string{"big.yml": strings.Repeat("#", 2<<20)})
	cr := e.check(t, inProcess, "path: rules/http.yml\n")
	if cr.Status != opsdojo.StatusFail || cr.Messages[0] != "~/rules/http.yml does not exist yet" || cr.Findings[0].Rule != "missing" {
		t.Fatalf("missing: %+v", cr)
	}
	if cr.Hints[len(cr.Hints)-1] != "the check's hint" {
		t.Fatalf("hints = %q", cr.Hints)
	}
	cr = e.check(t, inProcess, "path: big.yml\n")
	if cr.Status != opsdojo.StatusFail || !strings.Contains(cr.Messages[0], "reads at most") {
		t.Fatalf("2 MiB: %+v", cr)
	}
	// 50 MB (sparse): refused by size before any byte is read.
	f, _ := os.Create(filepath.Join(e.home, "huge.yml"))
	f.Truncate(50 << 20)
	f.Close()
	start := time.Now()
	cr = e.check(t, inProcess, "path: huge.yml\n")
	if cr.Status != opsdojo.StatusFail || time.Since(start) > 15*time.Second { // it ends; how fast is for benchmarks
		t.Fatalf("50 MB: %+v after %s", cr, time.Since(start))
	}
	os.MkdirAll(filepath.Join(e.home, "rules", "dir.yml"), 0o755)
	cr = e.check(t, inProcess, "path: rules/dir.yml\n")
	if cr.Status != opsdojo.StatusFail || !strings.Contains(cr.Messages[0], "not a regular file") {
		t.Fatalf("directory: %+v", cr)
	}
}

func TestPromRulesParseFindings(t *testing.T) {
	e := newPromEnv(t, nil, map[string]string{"rules/http.yml": string(promTestdata(t, "broken_rules.yml"))})
	cr := e.check(t, inProcess, "path: rules/http.yml\n")
	if cr.Status != opsdojo.StatusFail {
		t.Fatalf("status %s", cr.Status)
	}
	// rulefmt stops at the unknown field (a YAML decoding error) before it
	// looks at expressions.
	if len(cr.Findings) != 1 || cr.Findings[0] != (opsdojo.Finding{File: "rules/http.yml", Line: 18, Rule: "rulefmt", Message: `unknown field "fore" in a rule`}) {
		t.Fatalf("findings = %+v", cr.Findings)
	}
	if !strings.Contains(cr.Messages[0], "~/rules/http.yml is not a valid rule file (1 problem): line 18: unknown field") {
		t.Fatalf("messages = %q", cr.Messages)
	}
	if !strings.Contains(strings.Join(cr.Hints, "\n"), "promtool check rules ~/rules/http.yml") {
		t.Fatalf("hints = %q", cr.Hints)
	}

	fixed := strings.Replace(string(promTestdata(t, "broken_rules.yml")), "fore:", "for:", 1)
	os.WriteFile(filepath.Join(e.home, "rules", "http.yml"), []byte(fixed), 0o644)
	cr = e.check(t, inProcess, "path: rules/http.yml\n")
	want := []opsdojo.Finding{
		{File: "rules/http.yml", Line: 8, Rule: "promql", Message: `group "http", job:http_errors:ratio5m: the expression does not parse: unclosed left parenthesis`},
		{File: "rules/http.yml", Line: 10, Column: 43, Rule: "promql", Message: `group "http", HighErrorRate: the expression does not parse: unexpected end of input`},
		{File: "rules/http.yml", Line: 15, Rule: "rulefmt", Message: `group "http", HighErrorRate: annotation "summary": template: __alert_HighErrorRate:1: unexpected "}" in operand`},
	}
	if fmt.Sprint(cr.Findings) != fmt.Sprint(want) {
		t.Fatalf("findings:\n%+v\nwant\n%+v", cr.Findings, want)
	}
}

func TestPromRulesRequire(t *testing.T) {
	const rules = `groups:
  - name: http
    rules:
      - record: job:http_errors:ratio5m
        expr: vector(0)
      - alert: HighErrorRate
        expr: job:http_errors:ratio5m > 0.05
        labels:
          severity: critical
        annotations:
          summary: "Error rate is high"
          description: "{{ $value | humanizePercentage }} of requests fail"
      - alert: TargetDown
        expr: up == 0
        annotations:
          summary: '{{ with $labels }}{{ .instance }}{{ end }} is down'
          description: "{{ .Labels.job }}"
      - alert: Noisy
        expr: vector(1)
        labels:
          severity: page
        annotations:
          summary: '{{ "constant" | toUpper }}'
          description: '{{ humanize 5 }} things'
      - record: Watchdog
        expr: vector(1)
`
	e := newPromEnv(t, nil, map[string]string{"rules/http.yml": rules})
	cases := []struct {
		name, require string
		want          []opsdojo.Finding
	}{
		{"all present", "recording: [job:http_errors:ratio5m]\n    alerts: [HighErrorRate, TargetDown]", nil},
		{"recording missing", "recording: [job:http_requests:rate5m]", []opsdojo.Finding{
			{File: "rules/http.yml", Rule: "recording", Message: "there is no recording rule named job:http_requests:rate5m (found: job:http_errors:ratio5m, Watchdog)"}}},
		{"recording is an alert", "recording: [TargetDown]", []opsdojo.Finding{
			{File: "rules/http.yml", Line: 13, Rule: "recording", Message: "there is no recording rule named TargetDown (it is an alert here: a recording rule starts with `record:`)"}}},
		{"alert missing", "alerts: [HighLatency]", []opsdojo.Finding{
			{File: "rules/http.yml", Rule: "alerts", Message: "there is no alerting rule named HighLatency (found: HighErrorRate, TargetDown, Noisy)"}}},
		{"alert is a recording", "alerts: [Watchdog]", []opsdojo.Finding{
			{File: "rules/http.yml", Line: 25, Rule: "alerts", Message: "there is no alerting rule named Watchdog (it is a recording rule here: an alerting rule starts with `alert:`)"}}},
		{"labels", "labels: {severity: [page, ticket]}", []opsdojo.Finding{
			{File: "rules/http.yml", Line: 9, Rule: "labels", Message: `alert HighErrorRate has severity="critical"; use one of: page, ticket`},
			{File: "rules/http.yml", Line: 13, Rule: "labels", Message: "alert TargetDown has no severity label; give it one of: page, ticket"}}},
		{"annotations", "annotations: [summary, description, runbook_url]", []opsdojo.Finding{
			{File: "rules/http.yml", Line: 6, Rule: "annotations", Message: "alert HighErrorRate has no runbook_url annotation"},
			{File: "rules/http.yml", Line: 11, Rule: "annotations", Message: "alert HighErrorRate: the summary annotation is fixed text; use templating such as {{ $labels.job }} or {{ $value }} so it says what is wrong and where"},
			{File: "rules/http.yml", Line: 13, Rule: "annotations", Message: "alert TargetDown has no runbook_url annotation"},
			{File: "rules/http.yml", Line: 18, Rule: "annotations", Message: "alert Noisy has no runbook_url annotation"},
			{File: "rules/http.yml", Line: 23, Rule: "annotations", Message: "alert Noisy: the summary annotation is fixed text; use templating such as {{ $labels.job }} or {{ $value }} so it says what is wrong and where"},
			{File: "rules/http.yml", Line: 24, Rule: "annotations", Message: "alert Noisy: the description annotation is fixed text; use templating such as {{ $labels.job }} or {{ $value }} so it says what is wrong and where"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cr := e.check(t, inProcess, "path: rules/http.yml\nrequire:\n    "+c.require+"\n")
			if fmt.Sprint(cr.Findings) != fmt.Sprint(append([]opsdojo.Finding{}, c.want...)) {
				t.Fatalf("findings:\n%+v\nwant\n%+v", cr.Findings, c.want)
			}
			if (len(c.want) == 0) != (cr.Status == opsdojo.StatusPass) {
				t.Fatalf("status %s with findings %v", cr.Status, cr.Findings)
			}
			if len(c.want) > 0 && !strings.Contains(cr.Messages[0], c.want[0].Message) {
				t.Fatalf("messages = %q", cr.Messages)
			}
		})
	}
	// A file without rules fails even without assertions.
	e = newPromEnv(t, nil, map[string]string{"rules/http.yml": "groups: []\n"})
	cr := e.check(t, inProcess, "path: rules/http.yml\n")
	if cr.Status != opsdojo.StatusFail || !strings.Contains(cr.Messages[0], "defines no rules") {
		t.Fatalf("empty: %+v", cr)
	}
}

func TestPromRulesUnitTests(t *testing.T) {
	e := newPromEnv(t,
		map[string]string{"tests/t.yml": string(promTestdata(t, "fuzz_test.yml"))},
		map[string]string{"rules/http.yml": string(promTestdata(t, "lab_solution.yml"))})
	with := "path: rules/http.yml\ntests: tests/t.yml\ncompare: {annotations: listed}\n"
	for _, c := range []grading.PromRulesChecker{inProcess, {}} {
		cr := e.check(t, c, with)
		if cr.Status != opsdojo.StatusPass || cr.Points != 2 || len(cr.Tests) != 4 {
			t.Fatalf("in process %v: %+v", c.InProcess, cr)
		}
		for _, tr := range cr.Tests {
			if !tr.Pass {
				t.Fatalf("%+v", tr)
			}
		}
	}
	// Without for:, HighErrorRate fires at once; with a percentage, never.
	sol := string(promTestdata(t, "lab_solution.yml"))
	broken := strings.Replace(strings.Replace(sol, "for: 5m", "for: 10m", 1), "severity: ticket", "severity: page", 1)
	os.WriteFile(filepath.Join(e.home, "rules", "http.yml"), []byte(broken), 0o644)
	cr := e.check(t, inProcess, with)
	if cr.Status != opsdojo.StatusFail || cr.Points != 0 {
		t.Fatalf("%+v", cr)
	}
	want := []opsdojo.TestResult{
		{Name: "fuzz: TargetDown at 6m", Expected: `fires with {instance="c1", job="checkout", severity="ticket"}`, Actual: `fired with {instance="c1", job="checkout", severity="page"} (firing since 5m)`},
		{Name: "fuzz: HighErrorRate at 8m", Expected: `fires with {job="checkout", severity="page"}`, Actual: "did not fire (pending since 2m)"},
		{Name: "fuzz: TargetDown at 8m", Pass: true, Expected: "does not fire", Actual: "did not fire"},
		{Name: "fuzz: round(job:http_errors:ratio5m, 0.01) at 8m", Pass: true, Expected: `{job="checkout"} 0.33`, Actual: `{job="checkout"} 0.33`},
	}
	if fmt.Sprint(cr.Tests) != fmt.Sprint(want) {
		t.Fatalf("tests:\n%+v\nwant\n%+v", cr.Tests, want)
	}
	if cr.Messages[0] != `2 of 4 hidden tests failed. First: fuzz: TargetDown at 6m — expected: fires with {instance="c1", job="checkout", severity="ticket"}; got: fired with {instance="c1", job="checkout", severity="page"} (firing since 5m)` {
		t.Fatalf("messages = %q", cr.Messages)
	}
}

// TestPromRulesKillsRunawayRules: a learner's annotation that loops forever
// cannot be interrupted inside Go's template engine; the helper process is
// stopped at the deadline and the check fails, within its timeout.
func TestPromRulesKillsRunawayRules(t *testing.T) {
	rules := strings.Replace(string(promTestdata(t, "lab_solution.yml")),
		`summary: "{{ $labels.instance }} ({{ $labels.job }}) is down"`,
		`summary: "{{ range 100000000000 }}{{ end }}"`, 1)
	e := newPromEnv(t,
		map[string]string{"tests/t.yml": string(promTestdata(t, "fuzz_test.yml"))},
		map[string]string{"rules/http.yml": rules})
	start := time.Now()
	cr := e.check(t, grading.PromRulesChecker{Limits: promeval.Limits{Timeout: time.Second}}, "path: rules/http.yml\ntests: tests/t.yml\n")
	took := time.Since(start)
	t.Logf("took %s: %q", took, cr.Messages)
	if cr.Status != opsdojo.StatusFail || len(cr.Messages) != 1 || !strings.Contains(cr.Messages[0], "evaluating rule TargetDown at 2m did not finish within 1s") {
		t.Fatalf("%+v", cr)
	}
	if took > 20*time.Second { // the kill comes at 1 s + grace; this only proves it ends
		t.Fatalf("took %s", took)
	}
}

// applySolutions copies the lab's home to a temporary folder and returns
// it with a function that runs step i's solution there, as the learner.
func labHome(t *testing.T, lab *labs.Lab) (string, func(i int)) {
	t.Helper()
	home := t.TempDir()
	err := filepath.WalkDir(lab.HomeDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(lab.HomeDir, p)
		dst := filepath.Join(home, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	return home, func(i int) {
		t.Helper()
		cmd := exec.Command(bash, "-s")
		cmd.Dir = home
		cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8"}
		cmd.Stdin = strings.NewReader(lab.Steps[i].Solution)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("solution of step %s: %v\n%s", lab.Steps[i].ID, err, out.String())
		}
	}
}

// TestPromRulesLab loads labs/prometheus-alerting with the promrules kind
// registered and applies its solutions in order to a copy of its home:
// every step fails on the starter files and before its own solution, and
// passes after it (and keeps passing after the later ones).
func TestPromRulesLab(t *testing.T) {
	// The matrix below grades in this process (fast under the race
	// detector); the final pass grades through the helper process, as the
	// server does.
	runner := grading.NewRunner(promLog())
	runner.Register("promrules", inProcess)
	lab, problems := labs.Load("../../labs/prometheus-alerting", runner)
	if len(problems) > 0 {
		t.Fatalf("lab problems:\n%v", problems)
	}
	home, solve := labHome(t, lab)

	// The hidden tests are not among the learner's files.
	hidden := map[string]bool{}
	entries, _ := os.ReadDir(filepath.Join(lab.Dir, "tests"))
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(lab.Dir, "tests", e.Name()))
		hidden[string(b)] = true
	}
	if len(hidden) == 0 {
		t.Fatal("no hidden tests")
	}
	filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if b, _ := os.ReadFile(p); d.Type().IsRegular() && hidden[string(b)] {
			t.Errorf("%s is a hidden test in the learner's home", p)
		}
		return nil
	})

	target := grading.Target{Files: grading.DirFiles{Root: home}}
	run := func(i int) opsdojo.StepResult {
		return runner.RunStep(context.Background(), lab, lab.Steps[i], target)
	}
	describe := func(r opsdojo.StepResult) string {
		var b strings.Builder
		for _, c := range r.Checks {
			fmt.Fprintf(&b, "\n  %s: %s %q %s", c.CheckID, c.Status, c.Messages, c.Log)
			for _, tr := range c.Tests {
				if !tr.Pass {
					fmt.Fprintf(&b, "\n    %s: expected %s, got %s", tr.Name, tr.Expected, tr.Actual)
				}
			}
		}
		return b.String()
	}
	for i, s := range lab.Steps {
		r := run(i)
		if r.Status != opsdojo.StatusFail {
			t.Errorf("step %s on the starter files: %s%s", s.ID, r.Status, describe(r))
		}
		for _, c := range r.Checks {
			if c.Status == opsdojo.StatusPass || c.Status == opsdojo.StatusError {
				t.Errorf("step %s on the starter files: check %s %s %q", s.ID, c.CheckID, c.Status, c.Messages)
			}
		}
	}
	for i, s := range lab.Steps {
		if r := run(i); r.Status != opsdojo.StatusFail {
			t.Errorf("step %s passes before its solution:%s", s.ID, describe(r))
		}
		solve(i)
		for j := 0; j <= i; j++ {
			r := run(j)
			if r.Status != opsdojo.StatusPass || r.Points != r.Max {
				t.Errorf("after solution %s, step %s: %s %v/%v%s", s.ID, lab.Steps[j].ID, r.Status, r.Points, r.Max, describe(r))
			}
		}
	}
	// Solutions are safe to run twice; the server's way of grading agrees.
	for i := range lab.Steps {
		solve(i)
	}
	runner.Register("promrules", grading.PromRulesChecker{})
	for i, s := range lab.Steps {
		if r := run(i); r.Status != opsdojo.StatusPass {
			t.Errorf("after running the solutions twice, step %s: %s%s", s.ID, r.Status, describe(r))
		}
	}
}

// promMemFiles serves one rule file from memory.
type promMemFiles struct{ data []byte }

func (f promMemFiles) ReadFile(_ context.Context, name string, limit int64) ([]byte, error) {
	if name != "rules/http.yml" {
		return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "%s does not exist", name)
	}
	if int64(len(f.data)) > limit {
		return nil, opsdojo.Errorf(opsdojo.EINVALID, "%s is %d bytes; the grader reads at most %d", name, len(f.data), limit)
	}
	return f.data, nil
}

func (promMemFiles) Archive(context.Context, string, io.Writer, int64) error { return nil }

// FuzzPromRules feeds rule files to the checker (parse, assertions and the
// unit tests of testdata/promrules/fuzz_test.yml, in this process) and
// asserts it never panics and always answers pass or fail. Inputs with
// `range` are skipped: a template loop cannot be stopped in this process
// (the server evaluates in a helper process; TestPromRulesKillsRunawayRules
// covers that).
func FuzzPromRules(f *testing.F) {
	// Small seeds: every input runs the unit tests, and the fuzzer
	// minimizes what it finds by running it again and again.
	for _, name := range []string{"lab_solution.yml", "broken_rules.yml"} {
		f.Add(promTestdata(f, name))
	}
	f.Add([]byte(""))
	f.Add([]byte("groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n"))
	lab := f.TempDir()
	os.WriteFile(filepath.Join(lab, "t.yml"), promTestdata(f, "fuzz_test.yml"), 0o644)
	with := []byte("path: rules/http.yml\ntests: t.yml\ncompare: {annotations: listed}\nrequire:\n  recording: [job:http_errors:ratio5m]\n  alerts: [HighErrorRate, TargetDown]\n  labels: {severity: [page, ticket]}\n  annotations: [summary, description]\n")
	checker := grading.PromRulesChecker{InProcess: true, Limits: promeval.Limits{Timeout: 2 * time.Second, MaxRules: 200, MaxSamples: 100000, MaxRecorded: 100000}}
	if err := checker.ValidateArgs(lab, with); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Contains(data, []byte("range")) {
			t.Skip()
		}
		in := grading.Input{
			Lab:   &labs.Lab{ID: "fuzz", Dir: lab},
			Check: labs.Check{ID: "rules", Kind: "promrules", Timeout: 5 * time.Second, With: with},
			Files: promMemFiles{data},
		}
		cr := checker.Check(context.Background(), in)
		if cr.Status != opsdojo.StatusPass && cr.Status != opsdojo.StatusFail {
			t.Fatalf("status %s: %q %s", cr.Status, cr.Messages, cr.Log)
		}
		if cr.Status == opsdojo.StatusFail && len(cr.Messages) == 0 {
			t.Fatalf("a failure without a message: %+v", cr)
		}
		for _, fd := range cr.Findings {
			if fd.File != "rules/http.yml" || fd.Rule == "" || fd.Message == "" || fd.Line < 0 {
				t.Fatalf("finding %+v", fd)
			}
		}
	})
}

func BenchmarkPromRulesParse(b *testing.B) {
	src := promTestdata(b, "realistic_rules.yml")
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		rf, fs := promeval.ParseRules(src, promeval.Limits{})
		if len(fs) > 0 || len(rf.Rules()) < 30 {
			b.Fatal(fs)
		}
	}
}

func benchmarkUnitTests(b *testing.B, c grading.PromRulesChecker) {
	lab := b.TempDir()
	os.WriteFile(filepath.Join(lab, "t.yml"), promTestdata(b, "realistic_test.yml"), 0o644)
	with := []byte("path: rules/http.yml\ntests: t.yml\ncompare: {annotations: listed}\n")
	in := grading.Input{
		Lab:   &labs.Lab{ID: "bench", Dir: lab},
		Check: labs.Check{ID: "rules", Kind: "promrules", Timeout: 20 * time.Second, With: with},
		Files: promMemFiles{promTestdata(b, "lab_solution.yml")},
	}
	for b.Loop() {
		cr := c.Check(context.Background(), in)
		if cr.Status != opsdojo.StatusPass || len(cr.Tests) != 15 {
			b.Fatalf("%+v", cr)
		}
	}
}

// BenchmarkPromRulesUnitTests runs the lab's full hidden suite (15 cases in
// 6 test groups, up to 41 evaluation steps each) against its solution.
func BenchmarkPromRulesUnitTests(b *testing.B) { benchmarkUnitTests(b, inProcess) }

// BenchmarkPromRulesUnitTestsIsolated is the same through the helper
// process, as the server runs it.
func BenchmarkPromRulesUnitTestsIsolated(b *testing.B) {
	benchmarkUnitTests(b, grading.PromRulesChecker{})
}
