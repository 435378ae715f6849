package promeval

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRulesFindings(t *testing.T) {
	cases := []struct {
		name, src string
		line      int
		rule      string
		contains  string
	}{
		{"yaml syntax", "groups:\n  - name: g\n    rules:\n      - record: a\n       expr: up\n", 3, RuleFmt, "did not find expected '-' indicator"},
		{"unknown top-level field", "group:\n  - name: g\n", 1, RuleFmt, `unknown field "group" in the top level`},
		{"unknown rule field", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        severity: page\n", 6, RuleFmt, `unknown field "severity" in a rule`},
		{"promql plain", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: sum(rate(x[5m])\n", 5, RulePromQL, `group "g", A: the expression does not parse: unclosed left parenthesis`},
		{"promql block second line", "groups:\n  - name: g\n    rules:\n      - record: job:x:ratio\n        expr: |\n          sum(rate(x[5m]))\n            / sum by (job) (rate(y[5m])\n", 7, RulePromQL, "unclosed left parenthesis"},
		{"promql unknown function", "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: rat(x[5m])\n", 5, RulePromQL, "unknown function with name \"rat\""},
		{"template", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        annotations:\n          summary: \"{{ $labels.job \"\n", 7, RuleFmt, `annotation "summary"`},
		{"record and alert", "groups:\n  - name: g\n    rules:\n      - alert: A\n        record: b\n        expr: up\n", 5, RuleFmt, "only one of 'record' and 'alert' must be set"},
		{"neither record nor alert", "groups:\n  - name: g\n    rules:\n      - expr: up\n", 4, RuleFmt, "one of 'record' or 'alert' must be set"},
		{"annotations on a recording rule", "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n        annotations:\n          a: b\n", 4, RuleFmt, "invalid field 'annotations' in recording rule"},
		{"repeated group", "groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n", 4, RuleFmt, "repeated in the same file"},
		{"empty group name", "groups:\n  - name: \"\"\n    rules: []\n", 2, RuleFmt, "Groupname must not be empty"},
		{"bad label name", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels:\n          __name__: x\n", 6, RuleFmt, "invalid label name"},
		{"bad duration", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5 minutes\n", 0, RuleFmt, `unknown unit " minutes" in duration "5 minutes"`},
		{"binary", "groups:\n\x00\x01\x02", 2, RuleFmt, "NUL bytes"},
		{"not utf-8", "groups:\n  - name: caf\xe9\n", 2, RuleFmt, "not UTF-8"},
		{"deep nesting", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), 0, RuleFmt, "max depth"},
		{"billion laughs", "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n", 1, RuleFmt, "unknown field"},
		{"too large", strings.Repeat("#", MaxFileBytes+1), 0, RuleFmt, "at most"},
		// yaml quotes the value, line breaks and all (found by FuzzPromRules).
		{"a value with line breaks", "    0000\n  \n     \n00000000000", 1, RuleFmt, "cannot unmarshal !!str `0000 0...` into rulefmt.RuleGroups"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			rf, fs := ParseRules([]byte(c.src), Limits{})
			if time.Since(start) > 15*time.Second { // bounded, not fast: speed is for benchmarks
				t.Errorf("took %s", time.Since(start))
			}
			if rf != nil || len(fs) == 0 {
				t.Fatalf("parsed without findings: %+v", rf)
			}
			for _, f := range fs {
				if strings.TrimSpace(f.Message) == "" {
					t.Errorf("a finding without a message: %+v", fs)
				}
			}
			for _, f := range fs {
				if f.Line == c.line && f.Rule == c.rule && strings.Contains(f.Message, c.contains) {
					return
				}
			}
			t.Fatalf("no finding at line %d, rule %s, containing %q: %+v", c.line, c.rule, c.contains, fs)
		})
	}
}

func TestParseRulesColumn(t *testing.T) {
	src := "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: 'sum(up) by'\n"
	_, fs := ParseRules([]byte(src), Limits{})
	if len(fs) != 1 || fs[0].Line != 5 || fs[0].Column < 15 {
		t.Fatalf("findings = %+v; want one at line 5, column past the quote", fs)
	}
}

func TestParseRulesInfo(t *testing.T) {
	rf, fs := ParseRules(readTestdata(t, "http_rules.yml"), Limits{})
	if len(fs) > 0 {
		t.Fatal(fs)
	}
	rules := rf.Rules()
	if len(rules) != 3 {
		t.Fatalf("rules = %+v", rules)
	}
	want := []struct {
		kind, name string
		line       int
	}{{KindRecord, "job:http_errors:ratio5m", 4}, {KindAlert, "HighErrorRate", 9}, {KindAlert, "TargetDown", 17}}
	for i, w := range want {
		r := rules[i]
		if r.Kind != w.kind || r.Name != w.name || r.Line != w.line || r.Group != "http" {
			t.Errorf("rule %d = %s %s at line %d, want %s %s at %d", i, r.Kind, r.Name, r.Line, w.kind, w.name, w.line)
		}
	}
	hr := rules[1]
	if hr.For != 5*time.Minute || hr.Labels["severity"] != "page" || hr.LabelLines["severity"] != 13 || hr.AnnotationLines["summary"] != 15 {
		t.Errorf("HighErrorRate = %+v", hr)
	}

	// Group labels apply to every rule; the rule's own win.
	src := "groups:\n  - name: g\n    labels:\n      team: web\n      severity: ticket\n    rules:\n      - alert: A\n        expr: up == 0\n        labels:\n          severity: page\n"
	rf, fs = ParseRules([]byte(src), Limits{})
	if len(fs) > 0 {
		t.Fatal(fs)
	}
	a := rf.Rules()[0]
	if a.Labels["team"] != "web" || a.Labels["severity"] != "page" || a.LabelLines["team"] != 4 || a.LabelLines["severity"] != 10 {
		t.Fatalf("labels = %v lines %v", a.Labels, a.LabelLines)
	}
}

func TestParseRulesTooMany(t *testing.T) {
	var b strings.Builder
	b.WriteString("groups:\n  - name: g\n    rules:\n")
	for i := range 11 {
		fmt.Fprintf(&b, "      - record: r%d\n        expr: up\n", i)
	}
	_, fs := ParseRules([]byte(b.String()), Limits{MaxRules: 10})
	if len(fs) != 1 || !strings.Contains(fs[0].Message, "more than 10 rules") {
		t.Fatalf("findings = %+v", fs)
	}
}

func TestParseRulesEmpty(t *testing.T) {
	for _, src := range []string{"", "# nothing\n", "groups: []\n"} {
		rf, fs := ParseRules([]byte(src), Limits{})
		if len(fs) > 0 || rf == nil || len(rf.Rules()) != 0 {
			t.Errorf("%q: %+v %+v", src, rf, fs)
		}
	}
}
