package promeval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/template"
)

// Match says how a test compares what it lists with what the rules did.
type Match string

const (
	// MatchExact compares like promtool: the alert's labels (or
	// annotations) must be exactly those the test lists.
	MatchExact Match = "exact"
	// MatchListed compares only what the test lists: an alert may carry
	// labels (annotations) the test does not name. Lets a hidden test
	// accept a learner's own wording of a summary.
	MatchListed Match = "listed"
)

// Compare selects how alert tests compare labels and annotations. Empty
// fields mean MatchExact.
type Compare struct {
	Labels      Match `json:"labels,omitempty"`
	Annotations Match `json:"annotations,omitempty"`
}

// Valid reports whether the fields hold known modes.
func (c Compare) Valid() error {
	for name, m := range map[string]Match{"labels": c.Labels, "annotations": c.Annotations} {
		if m != "" && m != MatchExact && m != MatchListed {
			return fmt.Errorf("compare.%s must be %q or %q, not %q", name, MatchExact, MatchListed, m)
		}
	}
	return nil
}

// Request is one evaluation: a learner's rule file against a test file.
type Request struct {
	Rules   []byte  `json:"rules"`
	Tests   []byte  `json:"tests"`
	Limits  Limits  `json:"limits"`
	Compare Compare `json:"compare"`
}

// errBadTests marks problems of the test file (the author's, not the
// learner's).
var errBadTests = errors.New("invalid unit test file")

// Evaluate parses the rule file and, if it is valid, runs every test of
// the test file (if there is one) against it, in this process. It returns an error only for
// trouble that is not the rule file's fault: a broken test file, or ctx
// ending before the evaluation's own deadline.
func Evaluate(ctx context.Context, req Request) (*Result, error) {
	return evaluate(ctx, req, nil)
}

// progress tells a watchdog what the evaluation is doing, and what it has
// found so far.
type progress struct {
	what  atomic.Pointer[string]
	rules atomic.Pointer[[]RuleInfo]
}

func (p *progress) set(format string, args ...any) {
	if p != nil {
		s := fmt.Sprintf(format, args...)
		p.what.Store(&s)
	}
}

func (p *progress) get() string {
	if p == nil {
		return ""
	}
	if s := p.what.Load(); s != nil {
		return *s
	}
	return ""
}

func evaluate(parent context.Context, req Request, prog *progress) (*Result, error) {
	lim := req.Limits.withDefaults()
	if err := req.Compare.Valid(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(parent, lim.Timeout)
	defer cancel()
	res := &Result{Findings: []Finding{}, Rules: []RuleInfo{}, Tests: []TestResult{}}

	var tf *TestFile
	if len(req.Tests) > 0 {
		prog.set("reading the unit tests")
		var err error
		if tf, err = ParseTests(req.Tests, lim); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadTests, err)
		}
	}
	prog.set("parsing the rule file")
	rf, findings := ParseRules(req.Rules, lim)
	if len(findings) > 0 {
		res.Findings = findings
		return res, nil
	}
	res.Rules = rf.Rules()
	if prog != nil {
		prog.rules.Store(&res.Rules)
	}
	if parent.Err() != nil {
		return nil, parent.Err()
	}
	if tf == nil {
		return res, nil
	}
	for _, tg := range tf.groups {
		r := newRun(ctx, lim, req.Compare, tf, tg, rf, prog)
		stop := r.run()
		res.Tests = append(res.Tests, r.results...)
		if stop != "" {
			if parent.Err() != nil {
				return nil, parent.Err()
			}
			res.Stopped = stop
			break
		}
	}
	return res, nil
}

// ruleState is the evaluation state of one rule across steps.
type ruleState struct {
	info  *RuleInfo
	group *Group
	// prev holds the series written at the previous step, for staleness.
	prev map[string]labels.Labels
	// active alerts by label set.
	active map[string]*alertState
}

type alertState struct {
	labels          labels.Labels
	annotations     labels.Labels
	activeAt        time.Time
	firedAt         time.Time
	keepFiringSince time.Time
	firing          bool
	value           float64
}

// run evaluates one test group.
type run struct {
	ctx     context.Context
	lim     Limits
	cmp     Compare
	tf      *TestFile
	tg      *testGroup
	engine  *promql.Engine
	store   *memStore
	rules   []*ruleState
	prog    *progress
	extURL  *url.URL
	written int
	results []TestResult
}

func newRun(ctx context.Context, lim Limits, cmp Compare, tf *TestFile, tg *testGroup, rf *RuleFile, prog *progress) *run {
	r := &run{ctx: ctx, lim: lim, cmp: cmp, tf: tf, tg: tg, store: newMemStore(), prog: prog}
	r.engine = promql.NewEngine(promql.EngineOpts{
		Logger:                   discardLogger,
		MaxSamples:               lim.MaxSamples,
		Timeout:                  lim.Timeout,
		LookbackDelta:            5 * time.Minute,
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
		NoStepSubqueryIntervalFn: func(int64) int64 { return tf.evalInterval.Milliseconds() },
		Parser:                   newParser(),
	})
	if u, err := url.Parse(tg.externalURL); err == nil {
		r.extURL = u
	}
	// Groups run in group_eval_order, then file order.
	order := make([]int, len(rf.Groups))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool {
		return tf.groupOrder[rf.Groups[order[i]].Name] < tf.groupOrder[rf.Groups[order[j]].Name]
	})
	for _, gi := range order {
		g := &rf.Groups[gi]
		for ri := range g.Rules {
			r.rules = append(r.rules, &ruleState{info: &g.Rules[ri], group: g, prev: map[string]labels.Labels{}, active: map[string]*alertState{}})
		}
	}
	for _, s := range tg.series {
		for i := range s.ts {
			r.store.load(s.lset, s.ts[i], s.vals[i])
		}
	}
	return r
}

func (r *run) prefix() string {
	if r.tg.name != "" {
		return r.tg.name + ": "
	}
	return ""
}

// run evaluates every step and checks the tests; it returns why it
// stopped early, or "".
func (r *run) run() string {
	mint := r.tg.start
	maxt := mint.Add(r.tg.maxEval)
	step := r.tf.evalInterval

	alertTimes := map[time.Duration][]alertTest{}
	var times []time.Duration
	for _, a := range r.tg.alertTests {
		if _, ok := alertTimes[a.evalTime]; !ok {
			times = append(times, a.evalTime)
		}
		alertTimes[a.evalTime] = append(alertTimes[a.evalTime], a)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	next := 0

	for ts := mint; !ts.After(maxt); ts = ts.Add(step) {
		r.store.watermark = ts.UnixMilli()
		for _, rs := range r.rules {
			if r.ctx.Err() != nil {
				return r.stopped(fmt.Sprintf("evaluating rule %s at %s", rs.info.Name, since(ts, mint)))
			}
			r.prog.set("evaluating rule %s at %s", rs.info.Name, since(ts, mint))
			if err := r.evalRule(rs, ts); err != nil {
				if r.ctx.Err() != nil {
					return r.stopped(fmt.Sprintf("evaluating rule %s at %s", rs.info.Name, since(ts, mint)))
				}
				var lim limitError
				if errors.As(err, &lim) {
					return r.stopped(string(lim))
				}
				r.results = append(r.results, TestResult{
					Name:     r.prefix() + "rules evaluate without errors",
					Expected: "every rule evaluates",
					Actual:   fmt.Sprintf("%s %s failed at %s: %v", kindWord(rs.info.Kind), rs.info.Name, since(ts, mint), err),
				})
				return ""
			}
		}
		for next < len(times) && ts.Sub(mint) <= times[next] && times[next] < ts.Add(step).Sub(mint) {
			for _, at := range alertTimes[times[next]] {
				r.results = append(r.results, r.checkAlert(at, ts, mint))
			}
			next++
		}
	}
	for _, et := range r.tg.exprTests {
		if r.ctx.Err() != nil {
			return r.stopped("running promql_expr_test " + et.expr)
		}
		r.prog.set("querying %s at %s", et.expr, model.Duration(et.evalTime))
		r.results = append(r.results, r.checkExpr(et, mint))
	}
	return ""
}

type limitError string

func (e limitError) Error() string { return string(e) }

func (r *run) stopped(doing string) string {
	return fmt.Sprintf("%s did not finish within %s: make the rules cheaper", doing, r.lim.Timeout)
}

func kindWord(kind string) string {
	if kind == KindAlert {
		return "alerting rule"
	}
	return "recording rule"
}

func since(ts, mint time.Time) string { return model.Duration(ts.Sub(mint)).String() }

// query runs an instant query the way the rule manager does.
func (r *run) query(ctx context.Context, qs string, t time.Time) (promql.Vector, error) {
	q, err := r.engine.NewInstantQuery(ctx, r.store, nil, qs, t)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	switch v := res.Value.(type) {
	case promql.Vector:
		return v, nil
	case promql.Scalar:
		return promql.Vector{promql.Sample{T: v.T, F: v.V, Metric: labels.EmptyLabels()}}, nil
	default:
		return nil, errors.New("rule result is not a vector or scalar")
	}
}

func (r *run) evalRule(rs *ruleState, ts time.Time) error {
	qt := ts.Add(-rs.group.QueryOffset)
	vec, err := r.query(r.ctx, rs.info.Expr, qt)
	if err != nil {
		return err
	}
	var out promql.Vector
	if rs.info.Kind == KindRecord {
		out, err = r.record(rs, vec)
	} else {
		out, err = r.alert(rs, vec, ts, qt)
	}
	if err != nil {
		return err
	}
	return r.write(rs, out, qt)
}

func (r *run) record(rs *ruleState, vec promql.Vector) (promql.Vector, error) {
	lb := labels.NewBuilder(labels.EmptyLabels())
	seen := make(map[string]struct{}, len(vec))
	for i := range vec {
		lb.Reset(vec[i].Metric)
		lb.Set(model.MetricNameLabel, rs.info.Name)
		for _, k := range sortedKeys(rs.info.Labels) {
			lb.Set(k, rs.info.Labels[k])
		}
		vec[i].Metric = lb.Labels()
		key := string(vec[i].Metric.Bytes(nil))
		if _, dup := seen[key]; dup {
			return nil, errors.New("vector contains metrics with the same labelset after applying rule labels")
		}
		seen[key] = struct{}{}
	}
	if l := rs.group.Limit; l > 0 && len(vec) > l {
		return nil, fmt.Errorf("exceeded limit of %d with %d series", l, len(vec))
	}
	return vec, nil
}

var templateDefs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"

func (r *run) alert(rs *ruleState, vec promql.Vector, ts, qt time.Time) (promql.Vector, error) {
	name := rs.info.Name
	current := make(map[string]*alertState, len(vec))
	lb := labels.NewBuilder(labels.EmptyLabels())
	labelKeys := sortedKeys(rs.info.Labels)
	annKeys := sortedKeys(rs.info.Annotations)
	for _, smpl := range vec {
		data := template.AlertTemplateData(smpl.Metric.Map(), r.tg.externalLabels, r.tg.externalURL, smpl)
		expand := func(text string) string {
			tmpl := template.NewTemplateExpander(r.ctx, templateDefs+text, "__alert_"+name, data,
				model.Time(ts.UnixMilli()), template.QueryFunc(r.query), r.extURL, nil)
			out, err := tmpl.Expand()
			if err != nil {
				return fmt.Sprintf("<error expanding template: %s>", err)
			}
			return out
		}
		lb.Reset(smpl.Metric)
		lb.Del(model.MetricNameLabel)
		for _, k := range labelKeys {
			lb.Set(k, expand(rs.info.Labels[k]))
		}
		lb.Set(labels.AlertName, name)
		sb := labels.NewScratchBuilder(len(annKeys))
		for _, k := range annKeys {
			sb.Add(k, expand(rs.info.Annotations[k]))
		}
		lset := lb.Labels()
		key := string(lset.Bytes(nil))
		if _, dup := current[key]; dup {
			return nil, errors.New("vector contains metrics with the same labelset after applying alert labels")
		}
		current[key] = &alertState{labels: lset, annotations: sb.Labels(), activeAt: ts, value: smpl.F}
	}
	for key, a := range current {
		if old, ok := rs.active[key]; ok {
			old.value, old.annotations = a.value, a.annotations
			continue
		}
		rs.active[key] = a
	}
	var out promql.Vector
	for key, a := range rs.active {
		if _, ok := current[key]; !ok {
			// Gone from the result: resolved, unless keep_firing_for holds
			// a firing alert a while longer.
			keep := false
			if a.firing && rs.info.KeepFiringFor > 0 {
				if a.keepFiringSince.IsZero() {
					a.keepFiringSince = ts
				}
				keep = ts.Sub(a.keepFiringSince) < rs.info.KeepFiringFor
			}
			if !keep {
				delete(rs.active, key)
				continue
			}
		} else {
			a.keepFiringSince = time.Time{}
		}
		if !a.firing && ts.Sub(a.activeAt) >= rs.info.For {
			a.firing, a.firedAt = true, ts
		}
		if a.firing && ts.Sub(a.activeAt) < rs.info.For {
			a.firing, a.firedAt, a.keepFiringSince = false, time.Time{}, time.Time{}
		}
		state := "pending"
		if a.firing {
			state = "firing"
		}
		lb.Reset(a.labels)
		lb.Set(model.MetricNameLabel, "ALERTS")
		lb.Set("alertstate", state)
		out = append(out, promql.Sample{Metric: lb.Labels(), T: qt.UnixMilli(), F: 1})
		lb.Reset(a.labels)
		lb.Set(model.MetricNameLabel, "ALERTS_FOR_STATE")
		out = append(out, promql.Sample{Metric: lb.Labels(), T: qt.UnixMilli(), F: float64(a.activeAt.Unix())})
	}
	if l := rs.group.Limit; l > 0 && len(rs.active) > l {
		n := len(rs.active)
		rs.active = map[string]*alertState{}
		return nil, fmt.Errorf("exceeded limit of %d with %d alerts", l, n)
	}
	return out, nil
}

// write appends a rule's output and marks series it no longer returns
// stale, as the rule manager does.
func (r *run) write(rs *ruleState, vec promql.Vector, qt time.Time) error {
	returned := make(map[string]labels.Labels, len(vec))
	for _, s := range vec {
		switch r.store.add(s.Metric, s.T, s.F) {
		case duplicateDiff:
			return fmt.Errorf("duplicate sample for timestamp: %s already has another value at this time", metricString(s.Metric))
		case outOfOrder:
			return fmt.Errorf("out of order sample: %s already has a later sample", metricString(s.Metric))
		}
		returned[string(s.Metric.Bytes(nil))] = s.Metric
		r.written++
	}
	for key, lset := range rs.prev {
		if _, ok := returned[key]; !ok {
			r.store.add(lset, qt.UnixMilli(), staleNaN)
			r.written++
		}
	}
	rs.prev = returned
	if r.written > r.lim.MaxRecorded {
		return limitError(fmt.Sprintf("the rules wrote more than %d samples during the tests; the grader stops there", r.lim.MaxRecorded))
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkAlert compares the alerts firing after the evaluation at ts with
// what the test expects at its eval_time.
func (r *run) checkAlert(at alertTest, ts, mint time.Time) TestResult {
	tr := TestResult{Name: fmt.Sprintf("%s%s at %s", r.prefix(), at.alertname, model.Duration(at.evalTime))}
	var got, pending []*alertState
	exists := false
	for _, rs := range r.rules {
		if rs.info.Kind != KindAlert || rs.info.Name != at.alertname {
			continue
		}
		exists = true
		for _, a := range rs.active {
			if a.firing {
				got = append(got, a)
			} else {
				pending = append(pending, a)
			}
		}
	}
	sort.Slice(got, func(i, j int) bool { return labels.Compare(got[i].labels, got[j].labels) < 0 })
	sort.Slice(pending, func(i, j int) bool { return pending[i].activeAt.Before(pending[j].activeAt) })
	exp := append([]alertInstance(nil), at.exp...)
	sort.Slice(exp, func(i, j int) bool { return labels.Compare(exp[i].labels, exp[j].labels) < 0 })

	listed := map[string]bool{}
	for _, e := range exp {
		e.annotations.Range(func(l labels.Label) { listed[l.Name] = true })
	}
	tr.Expected = r.describeExpected(exp)
	tr.Pass = len(got) == len(exp) && r.matchAll(exp, got)
	switch {
	case !exists:
		tr.Actual = fmt.Sprintf("did not fire: there is no alerting rule named %s", at.alertname)
	case len(got) == 0 && len(pending) > 0:
		tr.Actual = fmt.Sprintf("did not fire (pending since %s", since(pending[0].activeAt, mint))
		if len(pending) > 1 {
			tr.Actual += fmt.Sprintf(", %d alerts pending", len(pending))
		}
		tr.Actual += ")"
	case len(got) == 0:
		tr.Actual = "did not fire"
	default:
		parts := make([]string, len(got))
		for i, a := range got {
			parts[i] = r.describeAlert(a.labels, a.annotations, listed)
			if !a.firedAt.IsZero() {
				parts[i] += fmt.Sprintf(" (firing since %s)", since(a.firedAt, mint))
			}
		}
		tr.Actual = "fired " + plural(len(got), "with ", "alerts: ") + strings.Join(parts, "; ")
	}
	return tr
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return strconv.Itoa(n) + " " + many
}

func (r *run) describeExpected(exp []alertInstance) string {
	if len(exp) == 0 {
		return "does not fire"
	}
	parts := make([]string, len(exp))
	for i, e := range exp {
		all := map[string]bool{}
		e.annotations.Range(func(l labels.Label) { all[l.Name] = true })
		parts[i] = r.describeAlert(e.labels, e.annotations, all)
	}
	return "fires " + plural(len(exp), "with ", "alerts: ") + strings.Join(parts, "; ")
}

// describeAlert prints an alert's labels (without alertname) and the
// annotations a test compares.
func (r *run) describeAlert(lset, ann labels.Labels, listed map[string]bool) string {
	s := labelString(lset, labels.AlertName)
	var parts []string
	ann.Range(func(l labels.Label) {
		if r.cmp.Annotations != MatchListed || listed[l.Name] {
			parts = append(parts, fmt.Sprintf("%s=%q", l.Name, l.Value))
		}
	})
	if len(parts) > 0 {
		s += " and annotations {" + strings.Join(parts, ", ") + "}"
	}
	return s
}

// metricString prints a series the way PromQL selects it: name{labels}.
func metricString(lset labels.Labels) string {
	name := lset.Get(model.MetricNameLabel)
	rest := labelString(lset, model.MetricNameLabel)
	if name != "" && rest == "{}" {
		return name
	}
	return name + rest
}

func labelString(lset labels.Labels, skip string) string {
	var parts []string
	lset.Range(func(l labels.Label) {
		if l.Name != skip {
			parts = append(parts, fmt.Sprintf("%s=%q", l.Name, l.Value))
		}
	})
	return "{" + strings.Join(parts, ", ") + "}"
}

// matchAll reports whether every expected alert can be paired with a
// distinct firing alert (a bipartite matching; the sets are small).
func (r *run) matchAll(exp []alertInstance, got []*alertState) bool {
	owner := make([]int, len(got))
	for i := range owner {
		owner[i] = -1
	}
	var try func(e int, seen []bool) bool
	try = func(e int, seen []bool) bool {
		for g := range got {
			if seen[g] || !r.matches(exp[e], got[g]) {
				continue
			}
			seen[g] = true
			if owner[g] < 0 || try(owner[g], seen) {
				owner[g] = e
				return true
			}
		}
		return false
	}
	for e := range exp {
		if !try(e, make([]bool, len(got))) {
			return false
		}
	}
	return true
}

func (r *run) matches(e alertInstance, g *alertState) bool {
	return subsetOrEqual(e.labels, g.labels, r.cmp.Labels) && subsetOrEqual(e.annotations, g.annotations, r.cmp.Annotations)
}

func subsetOrEqual(exp, got labels.Labels, m Match) bool {
	if m != MatchListed {
		return labels.Equal(exp, got)
	}
	ok := true
	exp.Range(func(l labels.Label) {
		// An empty expected value asks for the label to be absent.
		ok = ok && got.Get(l.Name) == l.Value
	})
	return ok
}

// checkExpr runs a promql_expr_test.
func (r *run) checkExpr(et exprTest, mint time.Time) TestResult {
	expr := strings.Join(strings.Fields(et.expr), " ")
	if len(expr) > 80 {
		expr = expr[:77] + "..."
	}
	tr := TestResult{Name: fmt.Sprintf("%s%s at %s", r.prefix(), expr, model.Duration(et.evalTime))}
	exp := append([]sampleOut(nil), et.exp...)
	sortSamples(exp)
	tr.Expected = describeSamples(exp)
	vec, err := r.query(r.ctx, et.expr, mint.Add(et.evalTime))
	if err != nil {
		tr.Actual = "the query failed: " + err.Error()
		return tr
	}
	got := make([]sampleOut, len(vec))
	for i, s := range vec {
		got[i] = sampleOut{labels: s.Metric, value: s.F}
	}
	sortSamples(got)
	tr.Actual = describeSamples(got)
	tr.Pass = len(got) == len(exp)
	for i := 0; tr.Pass && i < len(got); i++ {
		tr.Pass = labels.Equal(got[i].labels, exp[i].labels) && r.sameFloat(got[i].value, exp[i].value)
	}
	return tr
}

func (r *run) sameFloat(a, b float64) bool {
	if a == b || (math.IsNaN(a) && math.IsNaN(b)) {
		return true
	}
	return r.tf.fuzzy && (math.Nextafter(a, math.Inf(-1)) == b || math.Nextafter(a, math.Inf(1)) == b)
}

func describeSamples(s []sampleOut) string {
	if len(s) == 0 {
		return "no samples"
	}
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = metricString(x.labels) + " " + strconv.FormatFloat(x.value, 'g', -1, 64)
	}
	return strings.Join(parts, "; ")
}
