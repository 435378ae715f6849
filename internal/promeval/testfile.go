package promeval

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// The test file format of `promtool test rules`. rule_files is accepted
// and ignored: the rules under test are always the learner's file.
type testFileYAML struct {
	RuleFiles          []string        `yaml:"rule_files"`
	EvaluationInterval model.Duration  `yaml:"evaluation_interval"`
	GroupEvalOrder     []string        `yaml:"group_eval_order"`
	Tests              []testGroupYAML `yaml:"tests"`
	FuzzyCompare       bool            `yaml:"fuzzy_compare"`
}

type testGroupYAML struct {
	Interval        model.Duration    `yaml:"interval"`
	InputSeries     []seriesYAML      `yaml:"input_series"`
	AlertRuleTests  []alertTestYAML   `yaml:"alert_rule_test"`
	PromqlExprTests []exprTestYAML    `yaml:"promql_expr_test"`
	ExternalLabels  map[string]string `yaml:"external_labels"`
	ExternalURL     string            `yaml:"external_url"`
	Name            string            `yaml:"name"`
	StartTimestamp  string            `yaml:"start_timestamp"`
}

type seriesYAML struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

type alertTestYAML struct {
	EvalTime  model.Duration `yaml:"eval_time"`
	Alertname string         `yaml:"alertname"`
	ExpAlerts []expAlertYAML `yaml:"exp_alerts"`
}

type expAlertYAML struct {
	ExpLabels      map[string]string `yaml:"exp_labels"`
	ExpAnnotations map[string]string `yaml:"exp_annotations"`
}

type exprTestYAML struct {
	Expr       string          `yaml:"expr"`
	EvalTime   model.Duration  `yaml:"eval_time"`
	ExpSamples []expSampleYAML `yaml:"exp_samples"`
}

type expSampleYAML struct {
	Labels    string  `yaml:"labels"`
	Value     float64 `yaml:"value"`
	Histogram string  `yaml:"histogram"`
}

// TestFile is a parsed, validated unit test file, ready to run against any
// rule file.
type TestFile struct {
	evalInterval time.Duration
	groupOrder   map[string]int
	fuzzy        bool
	groups       []*testGroup
}

type testGroup struct {
	name           string
	interval       time.Duration
	start          time.Time
	series         []inputSeries
	alertTests     []alertTest
	exprTests      []exprTest
	externalLabels map[string]string
	externalURL    string
	maxEval        time.Duration
}

type inputSeries struct {
	lset labels.Labels
	ts   []int64
	vals []float64
}

type alertTest struct {
	evalTime  time.Duration
	alertname string
	exp       []alertInstance
}

type exprTest struct {
	expr     string
	evalTime time.Duration
	exp      []sampleOut
}

// Cases counts the test cases of the file.
func (f *TestFile) Cases() int {
	n := 0
	for _, g := range f.groups {
		n += len(g.alertTests) + len(g.exprTests)
	}
	return n
}

// ParseTests parses and validates a unit test file within the limits: every
// series, value sequence and expression is parsed, so a broken test fails
// when it is loaded, not in front of a learner. Errors name the line when
// they can.
func ParseTests(content []byte, lim Limits) (*TestFile, error) {
	lim = lim.withDefaults()
	if len(content) > MaxFileBytes {
		return nil, fmt.Errorf("the test file is %d bytes; at most %d are accepted", len(content), MaxFileBytes)
	}
	var raw testFileYAML
	dec := yaml.NewDecoder(bytes.NewReader(content))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the test file is empty")
		}
		return nil, fmt.Errorf("test file: %w", err)
	}
	var doc yaml.Node
	_ = yaml.Unmarshal(content, &doc)
	at := func(path ...any) string { return lineOf(&doc, path...) }

	f := &TestFile{evalInterval: time.Duration(raw.EvaluationInterval), groupOrder: map[string]int{}, fuzzy: raw.FuzzyCompare}
	if f.evalInterval == 0 {
		f.evalInterval = time.Minute
	}
	if f.evalInterval < time.Millisecond {
		return nil, fmt.Errorf("%sevaluation_interval must be at least 1ms", at("evaluation_interval"))
	}
	for i, g := range raw.GroupEvalOrder {
		if _, dup := f.groupOrder[g]; dup {
			return nil, fmt.Errorf("%sgroup name repeated in group_eval_order: %s", at("group_eval_order", i), g)
		}
		f.groupOrder[g] = i
	}
	if len(raw.Tests) == 0 {
		return nil, fmt.Errorf("%sthe test file has no tests", at("tests"))
	}
	p := newParser()
	var nSeries, nPoints, nSteps int
	for gi, tg := range raw.Tests {
		gat := func(path ...any) string { return at(append([]any{"tests", gi}, path...)...) }
		g := &testGroup{name: tg.Name, interval: time.Duration(tg.Interval), externalLabels: tg.ExternalLabels, externalURL: tg.ExternalURL, start: time.Unix(0, 0).UTC()}
		if g.interval == 0 {
			g.interval = f.evalInterval
		}
		if g.interval < time.Millisecond {
			return nil, fmt.Errorf("%sinterval must be at least 1ms", gat("interval"))
		}
		if tg.StartTimestamp != "" {
			t, err := parseStart(tg.StartTimestamp)
			if err != nil {
				return nil, fmt.Errorf("%sstart_timestamp: %v", gat("start_timestamp"), err)
			}
			g.start = t
		}
		for si, s := range tg.InputSeries {
			nSeries++
			if nSeries > lim.MaxSeries {
				return nil, fmt.Errorf("%sthe test file has more than %d input series", gat("input_series", si), lim.MaxSeries)
			}
			in, err := parseInputSeries(p, s, g, lim.MaxPoints-nPoints, lim.MaxPoints)
			if err != nil {
				return nil, fmt.Errorf("%sinput series %q: %v", gat("input_series", si), s.Series, err)
			}
			nPoints += len(in.ts)
			g.series = append(g.series, in)
		}
		for ai, a := range tg.AlertRuleTests {
			if a.Alertname == "" {
				return nil, fmt.Errorf("%san alert_rule_test needs an alertname", gat("alert_rule_test", ai))
			}
			t := alertTest{evalTime: time.Duration(a.EvalTime), alertname: a.Alertname}
			for _, e := range a.ExpAlerts {
				lm := map[string]string{}
				for k, v := range e.ExpLabels {
					lm[k] = v
				}
				lm[labels.AlertName] = a.Alertname
				t.exp = append(t.exp, alertInstance{labels: labels.FromMap(lm), annotations: labels.FromMap(e.ExpAnnotations)})
			}
			g.alertTests = append(g.alertTests, t)
			g.maxEval = max(g.maxEval, t.evalTime)
		}
		for ei, e := range tg.PromqlExprTests {
			if _, err := p.ParseExpr(e.Expr); err != nil {
				return nil, fmt.Errorf("%spromql_expr_test expr %q: %v", gat("promql_expr_test", ei, "expr"), e.Expr, err)
			}
			t := exprTest{expr: e.Expr, evalTime: time.Duration(e.EvalTime)}
			for si, s := range e.ExpSamples {
				if s.Histogram != "" {
					return nil, fmt.Errorf("%snative histograms are not supported by this grader", gat("promql_expr_test", ei, "exp_samples", si))
				}
				lset := labels.EmptyLabels()
				if strings.TrimSpace(s.Labels) != "" {
					var err error
					if lset, err = p.ParseMetric(s.Labels); err != nil {
						return nil, fmt.Errorf("%sexp_samples labels %q: %v", gat("promql_expr_test", ei, "exp_samples", si), s.Labels, err)
					}
				}
				t.exp = append(t.exp, sampleOut{labels: lset, value: s.Value})
			}
			g.exprTests = append(g.exprTests, t)
			g.maxEval = max(g.maxEval, t.evalTime)
		}
		steps := int(g.maxEval/f.evalInterval) + 1
		nSteps += steps
		if g.maxEval/f.evalInterval > time.Duration(lim.MaxSteps) || nSteps > lim.MaxSteps {
			return nil, fmt.Errorf("%sthe tests need more than %d rule evaluations (eval_time up to %s every %s)", gat(), lim.MaxSteps, model.Duration(g.maxEval), model.Duration(f.evalInterval))
		}
		f.groups = append(f.groups, g)
	}
	return f, nil
}

// repeatCount finds the `xN` repetitions of a value sequence.
var repeatCount = regexp.MustCompile(`x(\d+)`)

// parseInputSeries expands one input series, refusing before expansion any
// sequence that would hold more than budget points: Prometheus's own parser
// expands `1+1x100000000` into a slice first and asks questions later.
func parseInputSeries(p parser.Parser, s seriesYAML, g *testGroup, budget, limit int) (inputSeries, error) {
	lset, err := p.ParseMetric(s.Series)
	if err != nil {
		return inputSeries{}, err
	}
	if strings.Contains(s.Values, "{{") {
		return inputSeries{}, errors.New("native histograms are not supported by this grader")
	}
	// An upper bound of the points the sequence expands to: a field is one
	// point, or N+1 for each `xN` in it (a repetition never spans fields).
	tooMany := fmt.Errorf("the values expand to more than %d points (the test file may hold at most %d in all)", max(budget, 0), limit)
	bound := 0
	for _, field := range strings.Fields(s.Values) {
		reps := repeatCount.FindAllStringSubmatch(field, -1)
		if len(reps) == 0 {
			bound++
		}
		for _, m := range reps {
			n, err := strconv.ParseUint(m[1], 10, 32)
			if err != nil || int(n) >= budget {
				return inputSeries{}, tooMany
			}
			bound += int(n) + 1
		}
		if bound > budget {
			return inputSeries{}, tooMany
		}
	}
	_, vals, err := p.ParseSeriesDesc(s.Series + " " + s.Values)
	if err != nil {
		return inputSeries{}, err
	}
	in := inputSeries{lset: lset}
	start := g.start.UnixMilli()
	step := g.interval.Milliseconds()
	for i, v := range vals {
		if v.Omitted {
			continue
		}
		if v.Histogram != nil {
			return inputSeries{}, errors.New("native histograms are not supported by this grader")
		}
		in.ts = append(in.ts, start+int64(i)*step)
		in.vals = append(in.vals, v.Value)
	}
	return in, nil
}

func parseStart(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e11 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor Unix seconds", s)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// lineOf returns "line N: " for a path of mapping keys and sequence
// indexes in a YAML document, or "" when it cannot be found.
func lineOf(doc *yaml.Node, path ...any) string {
	n := resolve(doc)
	line := 0
	for _, p := range path {
		if n == nil {
			break
		}
		switch k := p.(type) {
		case string:
			kn, vn := mapValue(n, k)
			if kn == nil {
				n = nil
				break
			}
			line = kn.Line
			n = vn
		case int:
			if n.Kind != yaml.SequenceNode || k >= len(n.Content) {
				n = nil
				break
			}
			n = resolve(n.Content[k])
			line = n.Line
		}
	}
	if line == 0 {
		return ""
	}
	return fmt.Sprintf("line %d: ", line)
}

// alertInstance is an alert as a test compares it.
type alertInstance struct {
	labels      labels.Labels
	annotations labels.Labels
}

// sampleOut is a sample of a query result as a test compares it.
type sampleOut struct {
	labels labels.Labels
	value  float64
}

func sortSamples(s []sampleOut) {
	sort.Slice(s, func(i, j int) bool { return labels.Compare(s[i].labels, s[j].labels) < 0 })
}
