// Package promeval checks a Prometheus rule file and runs unit tests
// against it, in the format of `promtool test rules`, on the real PromQL
// engine. It is pure: rule file bytes, test file bytes and limits go in,
// structured results come out; nothing touches disk or network.
//
// Evaluate runs in the calling process and is bounded by a context deadline
// (the engine honours it) and by the Limits. Some things the deadline cannot
// stop: Go templates in alert labels and annotations (`{{ range 1e12 }}`),
// and the PromQL parser, which is quadratic on long operator chains. A
// server grading untrusted rule files therefore uses EvaluateIsolated, which
// runs the same code in a helper process that is killed at the deadline and
// capped in memory.
package promeval

import (
	"time"
)

// Limits bound one evaluation. Zero fields take the defaults below.
type Limits struct {
	// Timeout bounds the whole evaluation: parsing and every test.
	Timeout time.Duration `json:"timeout"`
	// MaxSamples bounds the samples one query may hold in memory (the
	// engine's MaxSamples).
	MaxSamples int `json:"max_samples"`
	// MaxSeries bounds the input series of a test file (all groups).
	MaxSeries int `json:"max_series"`
	// MaxPoints bounds the input samples of a test file (all groups),
	// counted before `a+bxn` expansions are expanded.
	MaxPoints int `json:"max_points"`
	// MaxSteps bounds the rule evaluation steps of a test file (all groups).
	MaxSteps int `json:"max_steps"`
	// MaxRules bounds the rules of a rule file.
	MaxRules int `json:"max_rules"`
	// MaxRecorded bounds the samples the rules may write (recording rule
	// results, ALERTS series) per test group.
	MaxRecorded int `json:"max_recorded"`
	// MaxMemory bounds the helper process's heap (EvaluateIsolated only).
	MaxMemory int64 `json:"max_memory"`
}

// Defaults for Limits.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMaxSamples  = 5_000_000
	DefaultMaxSeries   = 10_000
	DefaultMaxPoints   = 1_000_000
	DefaultMaxSteps    = 20_000
	DefaultMaxRules    = 1_000
	DefaultMaxRecorded = 2_000_000
	DefaultMaxMemory   = 768 << 20
	// MaxFileBytes is the largest rule or test file accepted.
	MaxFileBytes = 1 << 20
)

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	def(&l.MaxSamples, DefaultMaxSamples)
	def(&l.MaxSeries, DefaultMaxSeries)
	def(&l.MaxPoints, DefaultMaxPoints)
	def(&l.MaxSteps, DefaultMaxSteps)
	def(&l.MaxRules, DefaultMaxRules)
	def(&l.MaxRecorded, DefaultMaxRecorded)
	if l.MaxMemory <= 0 {
		l.MaxMemory = DefaultMaxMemory
	}
	return l
}

// Finding is one problem in the rule file. Line and Column are 1-based; 0
// when unknown. Rule is "rulefmt" (YAML, structure, names, templates) or
// "promql" (an expression).
type Finding struct {
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// Rule ids of findings.
const (
	RuleFmt    = "rulefmt"
	RulePromQL = "promql"
)

// RuleInfo describes one rule of a parsed rule file.
type RuleInfo struct {
	Group string `json:"group"`
	// Kind is "alert" or "record".
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Line is the line of the rule's list item.
	Line          int           `json:"line"`
	Expr          string        `json:"expr"`
	For           time.Duration `json:"for,omitempty"`
	KeepFiringFor time.Duration `json:"keep_firing_for,omitempty"`
	// Labels are the rule's labels merged over its group's.
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// LabelLines and AnnotationLines give the line of each key, when known.
	LabelLines      map[string]int `json:"label_lines,omitempty"`
	AnnotationLines map[string]int `json:"annotation_lines,omitempty"`
}

// Kinds of rules.
const (
	KindAlert  = "alert"
	KindRecord = "record"
)

// TestResult is one unit test case: what the author expected, what the
// rules did, both in words a learner can read.
type TestResult struct {
	Name     string `json:"name"`
	Pass     bool   `json:"pass"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
}

// Result is what an evaluation found.
type Result struct {
	// Findings are problems in the rule file. When there are any, Rules is
	// empty and no test ran.
	Findings []Finding `json:"findings"`
	// Rules lists the rules in file order.
	Rules []RuleInfo `json:"rules"`
	// Tests holds one result per test case that ran.
	Tests []TestResult `json:"tests"`
	// Stopped is set when the evaluation stopped early because of the rules
	// (a timeout, a limit): it says why, for the learner.
	Stopped string `json:"stopped,omitempty"`
}

// Passed reports whether the rule file parsed, every test ran and passed.
func (r *Result) Passed() bool {
	if len(r.Findings) > 0 || r.Stopped != "" {
		return false
	}
	for _, t := range r.Tests {
		if !t.Pass {
			return false
		}
	}
	return true
}
