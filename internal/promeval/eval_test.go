package promeval

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

const alertRules = `
groups:
  - name: http
    rules:
      - record: job:http_errors:ratio5m
        expr: |
          sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))
            /
          sum by (job) (rate(http_requests_total[5m]))
      - alert: HighErrorRate
        expr: job:http_errors:ratio5m > 0.05
        for: 5m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.job }} fails {{ $value | humanizePercentage }}"
`

// sustained: a third of checkout's requests fail from minute 11 on.
const sustainedSeries = `
    interval: 1m
    input_series:
      - series: 'http_requests_total{job="checkout", code="200"}'
        values: '0+600x40'
      - series: 'http_requests_total{job="checkout", code="500"}'
        values: '0x10 0+300x29'
`

func evalOK(t *testing.T, rules, tests string, cmp Compare) *Result {
	t.Helper()
	res, err := Evaluate(context.Background(), Request{Rules: []byte(rules), Tests: []byte(tests), Compare: cmp})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) > 0 || res.Stopped != "" {
		t.Fatalf("findings %+v, stopped %q", res.Findings, res.Stopped)
	}
	return res
}

func wantTests(t *testing.T, res *Result, want ...TestResult) {
	t.Helper()
	if len(res.Tests) != len(want) {
		t.Fatalf("got %d tests, want %d: %+v", len(res.Tests), len(want), res.Tests)
	}
	for i, w := range want {
		if got := res.Tests[i]; !reflect.DeepEqual(got, w) {
			t.Errorf("test %d:\n got  %+v\n want %+v", i, got, w)
		}
	}
}

func TestAlertFiresAfterFor(t *testing.T) {
	tests := `
tests:
  - name: sustained` + sustainedSeries + `
    alert_rule_test:
      - {eval_time: 15m, alertname: HighErrorRate, exp_alerts: []}
      - eval_time: 20m
        alertname: HighErrorRate
        exp_alerts:
          - exp_labels: {job: checkout, severity: page}
      - eval_time: 20m
        alertname: HighErrorRate
        exp_alerts: []
`
	res := evalOK(t, alertRules, tests, Compare{Annotations: MatchListed})
	wantTests(t, res,
		TestResult{Name: "sustained: HighErrorRate at 15m", Pass: true, Expected: "does not fire", Actual: "did not fire (pending since 12m)"},
		TestResult{Name: "sustained: HighErrorRate at 20m", Pass: true, Expected: `fires with {job="checkout", severity="page"}`, Actual: `fired with {job="checkout", severity="page"} (firing since 17m)`},
		TestResult{Name: "sustained: HighErrorRate at 20m", Pass: false, Expected: "does not fire", Actual: `fired with {job="checkout", severity="page"} (firing since 17m)`},
	)
	// Exact comparison (promtool's) also compares the annotations.
	res = evalOK(t, alertRules, tests, Compare{})
	if res.Tests[1].Pass || !strings.Contains(res.Tests[1].Actual, `and annotations {summary="checkout fails 33.33%"}`) {
		t.Fatalf("exact: %+v", res.Tests[1])
	}
}

func TestAlertIgnoresShortSpike(t *testing.T) {
	tests := `
tests:
  - interval: 1m
    input_series:
      - series: 'http_requests_total{job="checkout", code="200"}'
        values: '0+600x40'
      - series: 'http_requests_total{job="checkout", code="500"}'
        values: '0x10 100 200x29'
    alert_rule_test:
      - {eval_time: 13m, alertname: HighErrorRate, exp_alerts: []}
      - {eval_time: 16m, alertname: HighErrorRate, exp_alerts: []}
`
	res := evalOK(t, alertRules, tests, Compare{})
	wantTests(t, res,
		TestResult{Name: "HighErrorRate at 13m", Pass: true, Expected: "does not fire", Actual: "did not fire (pending since 12m)"},
		TestResult{Name: "HighErrorRate at 16m", Pass: true, Expected: "does not fire", Actual: "did not fire"},
	)
	// Without for: the spike pages.
	noFor := strings.Replace(alertRules, "for: 5m", "for: 0s", 1)
	res = evalOK(t, noFor, tests, Compare{})
	if res.Tests[0].Pass || !strings.HasPrefix(res.Tests[0].Actual, "fired with") {
		t.Fatalf("without for: %+v", res.Tests[0])
	}
}

func TestRecordingRuleFeedsAlertAndExprTest(t *testing.T) {
	tests := `
evaluation_interval: 1m
tests:
  -` + sustainedSeries + `
    promql_expr_test:
      - expr: round(job:http_errors:ratio5m, 0.001)
        eval_time: 30m
        exp_samples:
          - {labels: '{job="checkout"}', value: 0.333}
      - expr: job:http_errors:ratio5m
        eval_time: 5m
        exp_samples:
          - {labels: 'job:http_errors:ratio5m{job="checkout"}', value: 0}
      - expr: ALERTS{alertstate="firing"}
        eval_time: 20m
        exp_samples:
          - {labels: 'ALERTS{alertname="HighErrorRate", alertstate="firing", job="checkout", severity="page"}', value: 1}
      - expr: round(job:http_errors:ratio5m, 0.01)
        eval_time: 30m
        exp_samples:
          - {labels: '{job="checkout"}', value: 0.5}
      - expr: nothing_here
        eval_time: 1m
        exp_samples: []
`
	res := evalOK(t, alertRules, tests, Compare{})
	wantTests(t, res,
		TestResult{Name: "round(job:http_errors:ratio5m, 0.001) at 30m", Pass: true, Expected: `{job="checkout"} 0.333`, Actual: `{job="checkout"} 0.333`},
		TestResult{Name: "job:http_errors:ratio5m at 5m", Pass: true, Expected: `job:http_errors:ratio5m{job="checkout"} 0`, Actual: `job:http_errors:ratio5m{job="checkout"} 0`},
		TestResult{Name: `ALERTS{alertstate="firing"} at 20m`, Pass: true,
			Expected: `ALERTS{alertname="HighErrorRate", alertstate="firing", job="checkout", severity="page"} 1`,
			Actual:   `ALERTS{alertname="HighErrorRate", alertstate="firing", job="checkout", severity="page"} 1`},
		TestResult{Name: "round(job:http_errors:ratio5m, 0.01) at 30m", Pass: false, Expected: `{job="checkout"} 0.5`, Actual: `{job="checkout"} 0.33`},
		TestResult{Name: "nothing_here at 1m", Pass: true, Expected: "no samples", Actual: "no samples"},
	)
}

func TestRecordedSeriesGoStale(t *testing.T) {
	// The recording rule's output disappears at minute 5: a stale marker
	// ends it at once instead of 5 minutes of lookback.
	rules := "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: x > 0\n"
	tests := `
tests:
  - interval: 1m
    input_series:
      - {series: 'x', values: '1 1 1 1 1 0 0 0'}
    promql_expr_test:
      - {expr: r, eval_time: 4m, exp_samples: [{labels: 'r', value: 1}]}
      - {expr: r, eval_time: 6m, exp_samples: []}
`
	res := evalOK(t, rules, tests, Compare{})
	for _, tr := range res.Tests {
		if !tr.Pass {
			t.Errorf("%+v", tr)
		}
	}
}

func TestKeepFiringFor(t *testing.T) {
	rules := "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n        keep_firing_for: 3m\n"
	tests := `
tests:
  - interval: 1m
    input_series:
      - {series: 'up{job="a"}', values: '1 0 0 1 1 1 1 1 1'}
    alert_rule_test:
      - {eval_time: 2m, alertname: Down, exp_alerts: [{exp_labels: {job: a}}]}
      - {eval_time: 5m, alertname: Down, exp_alerts: [{exp_labels: {job: a}}]}
      - {eval_time: 6m, alertname: Down, exp_alerts: []}
`
	res := evalOK(t, rules, tests, Compare{})
	for _, tr := range res.Tests {
		if !tr.Pass {
			t.Errorf("%+v", tr)
		}
	}
}

func TestCompareListed(t *testing.T) {
	rules := "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n        labels: {severity: ticket, team: web}\n        annotations:\n          summary: '{{ $labels.instance }} down'\n"
	tests := `
tests:
  - interval: 1m
    input_series:
      - {series: 'up{instance="a"}', values: '0 0'}
      - {series: 'up{instance="b"}', values: '0 0'}
    alert_rule_test:
      - eval_time: 1m
        alertname: Down
        exp_alerts:
          - exp_labels: {instance: b, severity: ticket}
          - exp_labels: {instance: a, severity: ticket}
            exp_annotations: {summary: 'a down'}
      - eval_time: 1m
        alertname: Down
        exp_alerts:
          - exp_labels: {instance: a, severity: page}
          - exp_labels: {instance: b, severity: ticket}
      - eval_time: 1m
        alertname: Down
        exp_alerts:
          - exp_labels: {instance: a}
`
	res := evalOK(t, rules, tests, Compare{Labels: MatchListed, Annotations: MatchListed})
	wantTests(t, res,
		TestResult{Name: "Down at 1m", Pass: true,
			Expected: `fires 2 alerts: {instance="a", severity="ticket"} and annotations {summary="a down"}; {instance="b", severity="ticket"}`,
			Actual:   `fired 2 alerts: {instance="a", severity="ticket", team="web"} and annotations {summary="a down"} (firing since 0s); {instance="b", severity="ticket", team="web"} and annotations {summary="b down"} (firing since 0s)`},
		TestResult{Name: "Down at 1m", Pass: false,
			Expected: `fires 2 alerts: {instance="a", severity="page"}; {instance="b", severity="ticket"}`,
			Actual:   `fired 2 alerts: {instance="a", severity="ticket", team="web"} (firing since 0s); {instance="b", severity="ticket", team="web"} (firing since 0s)`},
		TestResult{Name: "Down at 1m", Pass: false,
			Expected: `fires with {instance="a"}`,
			Actual:   `fired 2 alerts: {instance="a", severity="ticket", team="web"} (firing since 0s); {instance="b", severity="ticket", team="web"} (firing since 0s)`},
	)
	// Exact: extra labels fail.
	res = evalOK(t, rules, tests, Compare{})
	if res.Tests[0].Pass {
		t.Fatalf("exact comparison passed: %+v", res.Tests[0])
	}
}

func TestEvaluationErrors(t *testing.T) {
	// Two series collapse into one label set once __name__ is dropped.
	rules := "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: '{__name__=~\"x|y\"}'\n"
	tests := `
tests:
  - name: dup
    interval: 1m
    input_series:
      - {series: 'x', values: '1 1'}
      - {series: 'y', values: '1 1'}
    alert_rule_test:
      - {eval_time: 1m, alertname: A, exp_alerts: []}
      - {eval_time: 1m, alertname: Missing, exp_alerts: []}
  - name: missing
    interval: 1m
    input_series:
      - {series: 'z', values: '1 1'}
    alert_rule_test:
      - eval_time: 1m
        alertname: Missing
        exp_alerts: [{exp_labels: {a: b}}]
`
	res := evalOK(t, rules, tests, Compare{})
	wantTests(t, res,
		TestResult{Name: "dup: rules evaluate without errors", Expected: "every rule evaluates",
			Actual: "alerting rule A failed at 0s: vector contains metrics with the same labelset after applying alert labels"},
		TestResult{Name: "missing: Missing at 1m", Expected: `fires with {a="b"}`, Actual: "did not fire: there is no alerting rule named Missing"},
	)
}

func TestGroupOrderAndOffset(t *testing.T) {
	// The second group reads the first's output; group_eval_order runs
	// "late" last even though it comes first in the file.
	rules := `
groups:
  - name: late
    rules:
      - record: b
        expr: a * 2
  - name: early
    query_offset: 1m
    rules:
      - record: a
        expr: x
`
	tests := `
group_eval_order: [early, late]
tests:
  - interval: 1m
    input_series:
      - {series: 'x', values: '1 2 3 4 5'}
    promql_expr_test:
      - {expr: a, eval_time: 3m, exp_samples: [{labels: 'a', value: 3}]}
      - {expr: b, eval_time: 3m, exp_samples: [{labels: 'b', value: 6}]}
`
	res := evalOK(t, rules, tests, Compare{})
	for _, tr := range res.Tests {
		if !tr.Pass {
			t.Errorf("%+v", tr)
		}
	}
}

func TestParseTestsErrors(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"empty", "", "empty"},
		{"unknown field", "tests:\n  - name: a\n    input_serie: []\n", "field input_serie not found"},
		{"no tests", "evaluation_interval: 1m\n", "no tests"},
		{"huge expansion", "tests:\n  - input_series:\n      - {series: 'x', values: '1+1x100000000'}\n", "line 3: input series \"x\": the values expand to more than"},
		{"huge expansion in uint64", "tests:\n  - input_series:\n      - {series: 'x', values: '1x99999999999999999999999'}\n", "expand to more than"},
		{"many repetitions", "tests:\n  - input_series:\n      - {series: 'x', values: '" + strings.Repeat("1x9999 ", 200) + "'}\n", "expand to more than"},
		{"values hidden in series", "tests:\n  - input_series:\n      - {series: 'x 1x100000000', values: ''}\n", "input series"},
		{"histogram", "tests:\n  - input_series:\n      - {series: 'x', values: '{{schema:0 sum:1 count:1}}'}\n", "native histograms"},
		{"bad series", "tests:\n  - input_series:\n      - {series: 'x{', values: '1'}\n", "line 3: input series"},
		{"bad values", "tests:\n  - input_series:\n      - {series: 'x', values: '1 a 2'}\n", "input series"},
		{"bad expr", "tests:\n  - promql_expr_test:\n      - {expr: 'sum(', eval_time: 1m}\n", "line 3: promql_expr_test expr"},
		{"no alertname", "tests:\n  - alert_rule_test:\n      - {eval_time: 1m}\n", "needs an alertname"},
		{"too many steps", "evaluation_interval: 1s\ntests:\n  - promql_expr_test:\n      - {expr: '1', eval_time: 30d}\n", "more than 20000 rule evaluations"},
		{"repeated group order", "group_eval_order: [a, a]\ntests:\n  - name: x\n", "repeated"},
		{"bad start", "tests:\n  - start_timestamp: yesterday\n", "start_timestamp"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := ParseTests([]byte(c.src), Limits{MaxPoints: 1_000_000})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v; want %q", err, c.want)
			}
			if d := time.Since(start); d > 15*time.Second { // refused early, not after the work: it ends
				t.Fatalf("took %s", d)
			}
		})
	}
}

func TestParseTestsSeriesLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("tests:\n  - input_series:\n")
	for i := range 11 {
		fmt.Fprintf(&b, "      - {series: 'x{i=\"%d\"}', values: '1x9'}\n", i)
	}
	if _, err := ParseTests([]byte(b.String()), Limits{MaxSeries: 10}); err == nil || !strings.Contains(err.Error(), "more than 10 input series") {
		t.Fatalf("series limit: %v", err)
	}
	if _, err := ParseTests([]byte(b.String()), Limits{MaxPoints: 105}); err == nil || !strings.Contains(err.Error(), "expand to more than") {
		t.Fatalf("points limit: %v", err)
	}
	if _, err := ParseTests([]byte(b.String()), Limits{MaxPoints: 110}); err != nil {
		t.Fatalf("110 points within 110: %v", err)
	}
}

func TestEvaluateBadTestsIsError(t *testing.T) {
	_, err := Evaluate(context.Background(), Request{Rules: []byte("groups: []"), Tests: []byte("tests: 3")})
	if !errors.Is(err, ErrBadTests) {
		t.Fatalf("err = %v", err)
	}
	if (Compare{Labels: "fuzzy"}).Valid() == nil {
		t.Fatal("compare mode fuzzy accepted")
	}
}

func TestEvaluateParentCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Evaluate(ctx, Request{Rules: []byte(alertRules), Tests: []byte("tests:\n  -" + sustainedSeries + "    promql_expr_test: [{expr: up, eval_time: 10m}]\n")})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}
