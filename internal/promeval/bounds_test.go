package promeval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// manySeries returns test input_series: n series of x, each with points
// samples, one a minute.
func manySeries(n, points int) string {
	var b strings.Builder
	b.WriteString("    interval: 1m\n    input_series:\n")
	for i := range n {
		fmt.Fprintf(&b, "      - {series: 'x{i=\"%d\"}', values: '0+%dx%d'}\n", i, i+1, points-1)
	}
	return b.String()
}

// TestDeadlineStopsPathologicalPromQL proves that evaluation in this
// process stops within its deadline when the rules are expensive: the
// engine honours the context inside a query, and the evaluation loop
// checks it between queries.
func TestDeadlineStopsPathologicalPromQL(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 300k points")
	}
	series := manySeries(1000, 300)
	cases := []struct{ name, expr, evalEvery, evalTime string }{
		// 18,000 evaluations of a query reading every point.
		{"many heavy queries", "sum(rate(x[1d]))", "1s", "5h"},
		// One query: a subquery of 1.8 million steps over 1000 series.
		{"one huge subquery", "max_over_time(sum(x)[5h:10ms])", "1m", "1m"},
		// count_values over a subquery's results: a series per distinct value.
		{"count_values explosion", `count_values("v", max_over_time(x[5h:10ms]))`, "1m", "1m"},
		// A regex on every label value of every series, at every step.
		{"regex on every series", `count({__name__=~".+", i=~"(.*a){20}|.*"})`, "1s", "5h"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rules := fmt.Sprintf("groups:\n  - name: g\n    rules:\n      - record: r\n        expr: '%s'\n", c.expr)
			tests := fmt.Sprintf("evaluation_interval: %s\ntests:\n  -\n%s    promql_expr_test:\n      - {expr: r, eval_time: %s}\n", c.evalEvery, series, c.evalTime)
			const timeout = time.Second
			start := time.Now()
			res, err := Evaluate(context.Background(), Request{Rules: []byte(rules), Tests: []byte(tests), Limits: Limits{Timeout: timeout}})
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("took %s; stopped: %q; tests: %+v", took, res.Stopped, res.Tests)
			// Parsing 300k points of test input comes first; allow for it
			// and for the race detector.
			if took > timeout+15*time.Second {
				t.Fatalf("took %s with a %s deadline", took, timeout)
			}
			if res.Stopped == "" && (len(res.Tests) == 0 || res.Tests[0].Pass) {
				t.Fatalf("neither stopped nor failed: %+v", res)
			}
			if res.Stopped != "" && !strings.Contains(res.Stopped, "did not finish within 1s") {
				t.Fatalf("stopped = %q", res.Stopped)
			}
		})
	}
}

func TestMaxSamplesIsARuleError(t *testing.T) {
	rules := "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: 'sum(max_over_time(x[1h:1s]))'\n"
	tests := "tests:\n  -\n" + manySeries(100, 61) + "    promql_expr_test:\n      - {expr: r, eval_time: 1h}\n"
	res, err := Evaluate(context.Background(), Request{Rules: []byte(rules), Tests: []byte(tests), Limits: Limits{MaxSamples: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tests) != 1 || res.Tests[0].Pass || !strings.Contains(res.Tests[0].Actual, "too many samples") {
		t.Fatalf("tests = %+v", res.Tests)
	}
}

func TestMaxRecorded(t *testing.T) {
	rules := "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: x\n"
	tests := "tests:\n  -\n" + manySeries(100, 61) + "    promql_expr_test:\n      - {expr: r, eval_time: 1h}\n"
	res, err := Evaluate(context.Background(), Request{Rules: []byte(rules), Tests: []byte(tests), Limits: Limits{MaxRecorded: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Stopped, "more than 1000 samples") {
		t.Fatalf("stopped = %q", res.Stopped)
	}
}

// TestIsolatedStopsWhatTheDeadlineCannot shows the helper process ending
// what no context reaches: a template that loops, one that doubles a
// string until memory runs out, and the PromQL parser's quadratic time on
// a long chain of operators.
func TestIsolatedStopsWhatTheDeadlineCannot(t *testing.T) {
	tests := "tests:\n  - interval: 1m\n    input_series:\n      - {series: 'up{job=\"a\"}', values: '0 0 0'}\n    alert_rule_test:\n      - {eval_time: 2m, alertname: A, exp_alerts: []}\n"
	alert := func(annotation string) string {
		return "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        annotations:\n          summary: '" + annotation + "'\n"
	}
	double := `{{ $x := "0123456789abcdef" }}` + strings.Repeat(`{{ $x = printf "%s%s" $x $x }}`, 40) + `{{ $x }}`
	// The heap cap is small so that the doubling template reaches it in
	// few, cheap steps: under the race detector on a busy machine, copying
	// strings of hundreds of MiB took long enough to be killed instead.
	const maxMemory = 48 << 20
	cases := []struct {
		name, rules, want string
		timeout           time.Duration
	}{
		{"template loop", alert("{{ range 100000000000 }}{{ end }}"), "did not finish within 1s", time.Second},
		// A long timeout: the heap watchdog must stop it, not the clock.
		{"template memory", alert(double), "needed more than 48 MiB", 20 * time.Second},
		{"quadratic parse", "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: '1" + strings.Repeat("+1", 60000) + "'\n", "parsing the rule file did not finish within 1s", time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			res, err := EvaluateIsolated(context.Background(), Request{Rules: []byte(c.rules), Tests: []byte(tests), Limits: Limits{Timeout: c.timeout, MaxMemory: maxMemory}})
			took := time.Since(start)
			if err != nil {
				t.Fatalf("after %s: %v", took, err)
			}
			t.Logf("took %s: %q", took, res.Stopped)
			if !strings.Contains(res.Stopped, c.want) {
				t.Fatalf("stopped = %q; want %q", res.Stopped, c.want)
			}
			// The message says which watchdog stopped it (the heap's, not
			// the clock's, for "template memory"). How fast is not asserted
			// (the machines are noisy); that it ends is: the parent kills
			// the worker after the grace period, and killing a process
			// takes nowhere near the slack added here.
			if limit := c.timeout + grace + 10*time.Second; took > limit {
				t.Fatalf("took %s; the kill comes at %s", took, c.timeout+grace)
			}
		})
	}
}

func TestIsolatedMatchesInProcess(t *testing.T) {
	req := Request{Rules: readTestdata(t, "http_rules.yml"), Tests: readTestdata(t, "http_test.yml"), Compare: Compare{Annotations: MatchListed}}
	a, err := Evaluate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := EvaluateIsolated(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Fatalf("in process:\n%+v\nisolated:\n%+v", a, b)
	}
	if len(a.Tests) == 0 || !a.Passed() {
		t.Fatalf("%+v", a)
	}

	// A broken test file is the author's error, on both paths.
	req.Tests = []byte("tests: [")
	if _, err := EvaluateIsolated(context.Background(), req); err == nil || !strings.Contains(err.Error(), ErrBadTests.Error()) {
		t.Fatalf("bad tests: %v", err)
	}
	// Findings come back through the pipe too.
	req.Rules, req.Tests = []byte("groups:\n  - name: g\n    rules:\n      - record: r\n        expr: sum(\n"), nil
	res, err := EvaluateIsolated(context.Background(), req)
	if err != nil || len(res.Findings) != 1 || res.Findings[0].Rule != RulePromQL || res.Findings[0].Line != 5 {
		t.Fatalf("findings: %+v %v", res, err)
	}
}

func TestIsolatedHonoursCallerContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	rules := "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        annotations:\n          summary: '{{ range 100000000000 }}{{ end }}'\n"
	tests := "tests:\n  - interval: 1m\n    input_series:\n      - {series: 'up', values: '0 0'}\n    alert_rule_test:\n      - {eval_time: 1m, alertname: A, exp_alerts: []}\n"
	start := time.Now()
	_, err := EvaluateIsolated(ctx, Request{Rules: []byte(rules), Tests: []byte(tests), Limits: Limits{Timeout: 10 * time.Second}})
	if err == nil || time.Since(start) > 15*time.Second { // long before the 10 s limit plus grace would end it
		t.Fatalf("err = %v after %s", err, time.Since(start))
	}
}

func TestMain(m *testing.M) {
	RunWorkerIfAsked()
	os.Exit(m.Run())
}
