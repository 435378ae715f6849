package grading

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template/parse"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/promeval"
)

// PromRulesChecker grades a Prometheus rule file the learner wrote: it
// parses it as `promtool check rules` does, checks the structural
// assertions the lab declares, and runs the lab's hidden unit tests (the
// format of `promtool test rules`) against it on the real PromQL engine.
// The evaluation itself lives in package promeval; this is the glue.
//
// Arguments:
//
//	with:
//	  path: rules/http.yml          # required; the rule file, relative to the learner's home
//	  tests: tests/http_test.yml    # optional; unit tests, relative to the LAB folder: they are
//	                                # read on the server and never enter the learner's container.
//	                                # Their rule_files: is ignored (the learner's file is tested).
//	  compare:                      # optional; how alert_rule_test compares (default exact,
//	    labels: exact               #   like promtool); listed: an alert may carry labels or
//	    annotations: listed         #   annotations the test does not name (for free-text summaries)
//	  require:                      # optional structural assertions
//	    recording: [job:http_errors:ratio5m]   # recording rules that must exist
//	    alerts: [HighErrorRate, TargetDown]    # alerting rules that must exist
//	    labels: {severity: [page, ticket]}     # every alert has the label, with one of the values
//	    annotations: [summary, description]    # every alert has these annotations, and each uses
//	                                           # templating ($labels, $value, .Labels or .Value)
//
// Rule ids of findings: missing (no file), rulefmt (YAML, structure,
// names, templates: what promtool check rules reports), promql (an
// expression does not parse), and per assertion: recording, alerts,
// labels, annotations. Failed unit tests are reported as Tests, each with
// what was expected and what happened.
//
// Bounds: the file is read through Input.Files (at most 1 MiB). Parsing and
// evaluation run in a helper process (promeval.EvaluateIsolated) that is
// killed past the check's timeout and whose heap is capped, because neither
// Go templates in annotations nor the PromQL parser can be interrupted
// in-process; the engine's MaxSamples and the series, points, steps and
// written-samples limits of promeval.Limits apply inside it.
type PromRulesChecker struct {
	// Limits overrides promeval's defaults; Timeout is taken from the
	// check's timeout when zero.
	Limits promeval.Limits
	// InProcess evaluates in this process instead of a helper process: for
	// tests and fuzzing only, where no template loops forever.
	InProcess bool
	// Workers bounds concurrent helper processes (NewRunner gives one
	// slot per CPU); nil leaves them unbounded.
	Workers *promeval.Workers
}

// Limits of what a promrules check reads.
const (
	promMaxFile = 1 << 20
	// promMaxFindings caps what one check reports.
	promMaxFindings = 100
	// promDefaultTimeout applies when a check has none.
	promDefaultTimeout = 20 * time.Second
)

type promArgs struct {
	Path    string          `yaml:"path"`
	Tests   string          `yaml:"tests"`
	Compare promCompareArgs `yaml:"compare"`
	Require promRequireArgs `yaml:"require"`
}

type promCompareArgs struct {
	Labels      string `yaml:"labels"`
	Annotations string `yaml:"annotations"`
}

type promRequireArgs struct {
	Recording   []string            `yaml:"recording"`
	Alerts      []string            `yaml:"alerts"`
	Labels      map[string][]string `yaml:"labels"`
	Annotations []string            `yaml:"annotations"`
}

func (a promArgs) compare() promeval.Compare {
	return promeval.Compare{Labels: promeval.Match(a.Compare.Labels), Annotations: promeval.Match(a.Compare.Annotations)}
}

var (
	promMetricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	promLabelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	promFieldNF    = regexp.MustCompile(`field (\S+) not found in type grading\.(\w+)`)
	promKnown      = map[string]string{
		"promArgs":        "path, tests, compare, require",
		"promCompareArgs": "labels, annotations",
		"promRequireArgs": "recording, alerts, labels, annotations",
	}
)

// parsePromArgs decodes with: strictly and validates what needs no files.
func parsePromArgs(with []byte) (promArgs, error) {
	var a promArgs
	if len(bytes.TrimSpace(with)) == 0 {
		return a, errors.New("promrules checks need a with: block naming at least the path")
	}
	dec := yaml.NewDecoder(bytes.NewReader(with))
	dec.KnownFields(true)
	if err := dec.Decode(&a); err != nil {
		if errors.Is(err, io.EOF) {
			return a, errors.New("promrules checks need a with: block naming at least the path")
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if sm := promFieldNF.FindStringSubmatch(msg); sm != nil {
			return a, fmt.Errorf("unknown field %q (known here: %s)", sm[1], promKnown[sm[2]])
		}
		return a, errors.New(msg)
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	switch p, err := CleanPath(a.Path); {
	case a.Path == "":
		add("path is required (the learner's rule file, e.g. rules/http.yml)")
	case err != nil:
		add("%v", err)
	default:
		a.Path = p
	}
	if a.Tests != "" && (filepath.IsAbs(a.Tests) || strings.Contains(a.Tests, "\\")) {
		add("tests %q must be relative to the lab folder", a.Tests)
	}
	if err := a.compare().Valid(); err != nil {
		add("%v", err)
	}
	for _, r := range a.Require.Recording {
		if !promMetricName.MatchString(r) {
			add("require.recording: %q is not a metric name", r)
		}
	}
	for _, r := range a.Require.Alerts {
		if strings.TrimSpace(r) == "" {
			add("require.alerts: an alert name is empty")
		}
	}
	for _, k := range sortedKeysOf(a.Require.Labels) {
		if !promLabelName.MatchString(k) {
			add("require.labels: %q is not a label name", k)
		}
		if len(a.Require.Labels[k]) == 0 {
			add("require.labels.%s: list the values the label may take", k)
		}
	}
	for _, n := range a.Require.Annotations {
		if !promLabelName.MatchString(n) {
			add("require.annotations: %q is not an annotation name", n)
		}
	}
	if len(problems) > 0 {
		return a, errors.New(strings.Join(problems, "; "))
	}
	return a, nil
}

func sortedKeysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// readLabFile reads a file the lab names, refusing paths and symlinks that
// leave the lab folder.
func readLabFile(labDir, rel string, limit int64) ([]byte, error) {
	if rel == "" || filepath.IsAbs(rel) {
		return nil, fmt.Errorf("%q: paths are relative to the lab folder", rel)
	}
	root, err := filepath.EvalSymlinks(labDir)
	if err != nil {
		return nil, fmt.Errorf("lab folder: %w", err)
	}
	real, err := filepath.EvalSymlinks(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s does not exist in the lab folder", rel)
		}
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	if !strings.HasPrefix(real, root+string(filepath.Separator)) {
		return nil, fmt.Errorf("%s points outside the lab folder", rel)
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", rel)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", rel, limit)
	}
	return b, nil
}

// ValidateArgs implements ArgsValidator: the arguments, and the hidden test
// file, which must exist inside the lab folder and parse.
func (c PromRulesChecker) ValidateArgs(labDir string, with []byte) error {
	a, err := parsePromArgs(with)
	if err != nil {
		return err
	}
	if a.Tests == "" {
		return nil
	}
	b, err := readLabFile(labDir, a.Tests, promeval.MaxFileBytes)
	if err != nil {
		return fmt.Errorf("tests: %v", err)
	}
	tf, err := promeval.ParseTests(b, c.Limits)
	if err != nil {
		return fmt.Errorf("tests: %s: %v", a.Tests, err)
	}
	if tf.Cases() == 0 {
		return fmt.Errorf("tests: %s has no alert_rule_test or promql_expr_test", a.Tests)
	}
	return nil
}

// Check implements Checker.
func (c PromRulesChecker) Check(ctx context.Context, in Input) opsdojo.CheckResult {
	start := time.Now()
	args, err := parsePromArgs(in.Check.With)
	if err != nil {
		return promError("the lab's rules check is misconfigured; this attempt does not count against you", err.Error())
	}
	if in.Files == nil {
		return promError("this check needs the learner's files, and none are available here", "")
	}
	budget := in.Check.Timeout
	if budget <= 0 {
		budget = promDefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	src, err := in.Files.ReadFile(ctx, args.Path, promMaxFile)
	switch {
	case err == nil:
	case opsdojo.ErrorCode(err) == opsdojo.ENOTFOUND:
		return opsdojo.CheckResult{Status: opsdojo.StatusFail,
			Messages: []string{"~/" + args.Path + " does not exist yet"},
			Findings: []opsdojo.Finding{{File: args.Path, Rule: "missing", Message: "create this file: Prometheus loads the rule files its configuration lists under rule_files"}}}
	case opsdojo.ErrorCode(err) == opsdojo.EINVALID:
		return opsdojo.CheckResult{Status: opsdojo.StatusFail, Messages: []string{opsdojo.ErrorMessage(err)}, Log: err.Error()}
	case ctx.Err() != nil:
		return promError("the check ran out of time reading your rule file; try again", err.Error())
	case opsdojo.ErrorCode(err) == opsdojo.EUNAVAILABLE:
		return promError("the Docker engine is not reachable, so your work could not be checked; try again shortly", err.Error())
	default:
		return promError("your rule file could not be read; this attempt does not count against you", err.Error())
	}
	var tests []byte
	if args.Tests != "" {
		if in.Lab == nil {
			return promError("the lab's hidden tests are not available here", "no lab")
		}
		if tests, err = readLabFile(in.Lab.Dir, args.Tests, promeval.MaxFileBytes); err != nil {
			return promError("the lab's hidden tests could not be read; this attempt does not count against you", err.Error())
		}
	}
	lim := c.Limits
	if lim.Timeout <= 0 {
		// Leave the helper process time to start and to be killed within
		// the check's budget.
		lim.Timeout = max(budget-4*time.Second, budget/2)
	}
	req := promeval.Request{Rules: src, Tests: tests, Limits: lim, Compare: args.compare()}
	evaluate := promeval.EvaluateIsolated
	switch {
	case c.InProcess:
		evaluate = promeval.Evaluate
	case c.Workers != nil:
		evaluate = c.Workers.Evaluate
	}
	res, err := evaluate(ctx, req)
	if err != nil {
		if errors.Is(err, promeval.ErrBadTests) {
			return promError("the lab's hidden tests are broken; this attempt does not count against you", err.Error())
		}
		if ctx.Err() != nil {
			return promError(fmt.Sprintf("the check did not finish within %s; this attempt does not count against you", budget), err.Error())
		}
		return promError("the rules could not be evaluated; this attempt does not count against you", err.Error())
	}
	cr := promResult(args, res)
	cr.Log = fmt.Sprintf("%s: %d bytes, %d rules, %d findings, %d tests, %s\n", args.Path, len(src), len(res.Rules), len(cr.Findings), len(res.Tests),
		time.Since(start).Round(time.Microsecond)) + cr.Log
	return cr
}

func promError(msg, log string) opsdojo.CheckResult {
	return opsdojo.CheckResult{Status: opsdojo.StatusError, Messages: []string{msg}, Log: log}
}

// promResult turns an evaluation into a check result.
func promResult(args promArgs, res *promeval.Result) opsdojo.CheckResult {
	file := args.Path
	cr := opsdojo.CheckResult{Status: opsdojo.StatusPass, Findings: []opsdojo.Finding{}}
	for _, f := range res.Findings {
		cr.Findings = append(cr.Findings, opsdojo.Finding{File: file, Line: f.Line, Column: f.Column, Rule: f.Rule, Message: f.Message})
	}
	if len(res.Findings) > 0 {
		cr.Status = opsdojo.StatusFail
		cr.Messages = []string{fmt.Sprintf("~/%s is not a valid rule file (%s): %s", file, countOf(len(res.Findings), "problem"), firstFinding(cr.Findings[0]))}
		cr.Hints = []string{"Run `promtool check rules ~/" + file + "`: it reports the same problems."}
		capFindings(&cr)
		return cr
	}
	if len(res.Rules) == 0 && res.Stopped == "" {
		cr.Findings = append(cr.Findings, opsdojo.Finding{File: file, Line: 1, Rule: promeval.RuleFmt, Message: "the file defines no rules: it needs a groups: list whose groups have rules:"})
	}
	cr.Findings = append(cr.Findings, checkRequire(file, args.Require, res.Rules)...)
	cr.Tests = make([]opsdojo.TestResult, 0, len(res.Tests))
	failed := 0
	var firstFail *opsdojo.TestResult
	for _, t := range res.Tests {
		cr.Tests = append(cr.Tests, opsdojo.TestResult{Name: t.Name, Pass: t.Pass, Expected: t.Expected, Actual: t.Actual})
		if !t.Pass {
			failed++
			if firstFail == nil {
				firstFail = &cr.Tests[len(cr.Tests)-1]
			}
		}
	}
	if len(cr.Findings) > 0 {
		cr.Status = opsdojo.StatusFail
		msg := firstFinding(cr.Findings[0])
		if len(cr.Findings) > 1 {
			msg += fmt.Sprintf(" (and %s more)", countOf(len(cr.Findings)-1, "problem"))
		}
		cr.Messages = append(cr.Messages, msg)
	}
	if res.Stopped != "" {
		cr.Status = opsdojo.StatusFail
		cr.Messages = append(cr.Messages, "The hidden tests stopped early: "+res.Stopped)
	}
	if failed > 0 {
		cr.Status = opsdojo.StatusFail
		cr.Messages = append(cr.Messages, fmt.Sprintf("%d of %s failed. First: %s — expected: %s; got: %s",
			failed, countOf(len(res.Tests), "hidden test"), firstFail.Name, firstFail.Expected, firstFail.Actual))
	}
	capFindings(&cr)
	return cr
}

func capFindings(cr *opsdojo.CheckResult) {
	if len(cr.Findings) > promMaxFindings {
		n := len(cr.Findings) - promMaxFindings
		cr.Findings = cr.Findings[:promMaxFindings]
		cr.Messages = append(cr.Messages, fmt.Sprintf("%s more not shown", countOf(n, "problem")))
	}
}

func countOf(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func firstFinding(f opsdojo.Finding) string {
	if f.Line > 0 {
		return fmt.Sprintf("line %d: %s", f.Line, f.Message)
	}
	return f.Message
}

// checkRequire checks the structural assertions.
func checkRequire(file string, req promRequireArgs, rules []promeval.RuleInfo) []opsdojo.Finding {
	var out []opsdojo.Finding
	names := func(kind string) []string {
		var l []string
		for _, r := range rules {
			if r.Kind == kind {
				l = append(l, r.Name)
			}
		}
		return l
	}
	find := func(kind, name string) (promeval.RuleInfo, bool) {
		for _, r := range rules {
			if r.Kind == kind && r.Name == name {
				return r, true
			}
		}
		return promeval.RuleInfo{}, false
	}
	missing := func(rule, kind, other, name string) {
		msg := fmt.Sprintf("there is no %s named %s", map[string]string{promeval.KindRecord: "recording rule", promeval.KindAlert: "alerting rule"}[kind], name)
		line := 0
		if r, ok := find(other, name); ok {
			line = r.Line
			if kind == promeval.KindRecord {
				msg += " (it is an alert here: a recording rule starts with `record:`)"
			} else {
				msg += " (it is a recording rule here: an alerting rule starts with `alert:`)"
			}
		} else if have := names(kind); len(have) > 0 {
			msg += fmt.Sprintf(" (found: %s)", strings.Join(have, ", "))
		}
		out = append(out, opsdojo.Finding{File: file, Line: line, Rule: rule, Message: msg})
	}
	for _, n := range req.Recording {
		if _, ok := find(promeval.KindRecord, n); !ok {
			missing("recording", promeval.KindRecord, promeval.KindAlert, n)
		}
	}
	for _, n := range req.Alerts {
		if _, ok := find(promeval.KindAlert, n); !ok {
			missing("alerts", promeval.KindAlert, promeval.KindRecord, n)
		}
	}
	for _, r := range rules {
		if r.Kind != promeval.KindAlert {
			continue
		}
		for _, k := range sortedKeysOf(req.Labels) {
			allowed := req.Labels[k]
			v, ok := r.Labels[k]
			switch {
			case !ok:
				out = append(out, opsdojo.Finding{File: file, Line: r.Line, Rule: "labels",
					Message: fmt.Sprintf("alert %s has no %s label; give it one of: %s", r.Name, k, strings.Join(allowed, ", "))})
			case !contains(allowed, v):
				line := r.LabelLines[k]
				if line == 0 {
					line = r.Line
				}
				out = append(out, opsdojo.Finding{File: file, Line: line, Rule: "labels",
					Message: fmt.Sprintf("alert %s has %s=%q; use one of: %s", r.Name, k, v, strings.Join(allowed, ", "))})
			}
		}
		for _, n := range req.Annotations {
			text, ok := r.Annotations[n]
			switch {
			case !ok:
				out = append(out, opsdojo.Finding{File: file, Line: r.Line, Rule: "annotations",
					Message: fmt.Sprintf("alert %s has no %s annotation", r.Name, n)})
			case !templated(text):
				line := r.AnnotationLines[n]
				if line == 0 {
					line = r.Line
				}
				out = append(out, opsdojo.Finding{File: file, Line: line, Rule: "annotations",
					Message: fmt.Sprintf("alert %s: the %s annotation is fixed text; use templating such as {{ $labels.job }} or {{ $value }} so it says what is wrong and where", r.Name, n)})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// promTemplateDefs are the variables Prometheus defines before an alert's
// template, so that the template parses the way Prometheus parses it.
const promTemplateDefs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"

// templated reports whether a label or annotation template refers to the
// alert's labels or value ($labels, $value, .Labels, .Value), judged on the
// parsed template rather than on the text.
func templated(text string) bool {
	if !strings.Contains(text, "{{") {
		return false
	}
	t := parse.New("annotation")
	t.Mode = parse.SkipFuncCheck
	if _, err := t.Parse(promTemplateDefs+text, "{{", "}}", map[string]*parse.Tree{}); err != nil || t.Root == nil {
		return false
	}
	nodes := t.Root.Nodes
	if len(nodes) >= 4 {
		nodes = nodes[4:] // the definitions
	}
	found := false
	var walk func(n parse.Node, depth int)
	walk = func(n parse.Node, depth int) {
		if found || n == nil || depth > 200 {
			return
		}
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c, depth+1)
			}
		case *parse.ActionNode:
			walk(n.Pipe, depth+1)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c, depth+1)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a, depth+1)
			}
		case *parse.ChainNode:
			walk(n.Node, depth+1)
		case *parse.IfNode:
			walk(n.Pipe, depth+1)
			walk(n.List, depth+1)
			walk(n.ElseList, depth+1)
		case *parse.RangeNode:
			walk(n.Pipe, depth+1)
			walk(n.List, depth+1)
			walk(n.ElseList, depth+1)
		case *parse.WithNode:
			walk(n.Pipe, depth+1)
			walk(n.List, depth+1)
			walk(n.ElseList, depth+1)
		case *parse.TemplateNode:
			walk(n.Pipe, depth+1)
		case *parse.VariableNode:
			if len(n.Ident) > 0 && (n.Ident[0] == "$labels" || n.Ident[0] == "$value") {
				found = true
			}
		case *parse.FieldNode:
			if len(n.Ident) > 0 && (n.Ident[0] == "Labels" || n.Ident[0] == "Value") {
				found = true
			}
		}
	}
	for _, n := range nodes {
		walk(n, 0)
	}
	return found
}
