package grading

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rhysd/actionlint"
	"gopkg.in/yaml.v3"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// WorkflowChecker grades a GitHub Actions workflow the learner wrote. It
// never runs the workflow: it reads the file, lints it with actionlint (as a
// library, with a configuration the grader owns) and checks the assertions
// the lab declares against the parsed workflow.
//
// Arguments (every assertion is optional; at least one of lint or an
// assertion must be on):
//
//	with:
//	  path: .github/workflows/ci.yml  # required; relative to the learner's home
//	  lint: true                      # actionlint findings fail the check (default true)
//	  triggers:
//	    push_branches: [main]         # a push to each of these branches runs the workflow
//	                                  # (a push trigger without branch filters runs on every branch)
//	    pull_request: true            # on.pull_request is present
//	  jobs: [lint, test]              # these jobs exist
//	  needs:                          # job → jobs it must wait for, directly or transitively, and run
//	    build: [lint, test]           # only after they succeeded: an if: calling always(), failure(),
//	                                  # cancelled() (also !cancelled(), success() || failure()) that can
//	                                  # be true after a failed need or a cancelled run, on the job or on
//	                                  # a job between, is a finding, and so is continue-on-error: on a
//	                                  # needed job (true, or an expression reading more than matrix.*)
//	  main_only: [deploy]             # the job runs only for refs/heads/main: its if: implies
//	                                  # github.ref (or github.event.ref) == 'refs/heads/main' or
//	                                  # github.ref_name == 'main' (parsed with actionlint's expression
//	                                  # parser: ${{ }}, !(... != ...), && and || are understood), or it
//	                                  # needs a job that does and does not run when that need is skipped,
//	                                  # or the workflow is only triggered by pushes to main. The
//	                                  # condition must pin main by itself: github.event_name == 'push',
//	                                  # startsWith(github.ref, ...) and github.base_ref fail with their
//	                                  # own explanation, as does a guard on the steps only
//	  environment: {deploy: production}   # the job deploys through this environment (case-insensitive)
//	  matrix: {test: {go-version: 2}}     # the job's runs, expanded as GitHub does (lists, minus
//	                                      # exclude:, plus include: entries that extend or add runs;
//	                                      # see workflow_matrix.go), give the key at least N values,
//	                                      # and every run has it; a ${{ }} that decides the runs is a
//	                                      # finding (the grader cannot know them); unquoted numbers
//	                                      # such as 1.20, which YAML turns into 1.2, are findings too
//	  pinned_actions: true            # every uses: names a release (@v4, @v4.2, @v4.2.2) or a full
//	                                  # commit SHA; local ./actions are fine; docker:// needs a tag
//	                                  # other than latest, or a digest
//	  cache: true                     # some step caches dependencies: actions/cache, setup-go v4+
//	                                  # without cache: false, setup-go older with cache: true, or any
//	                                  # other setup-* action with cache: set
//	  permissions: {contents: read}   # the GITHUB_TOKEN gets at most these scopes: the workflow-level
//	                                  # block and every job-level block stay within them, and a job
//	                                  # with no block at all (nor a workflow-level one) fails; read-all
//	                                  # and write-all exceed any list; permissions: {} passes
//	  runs: {test: "go test"}         # a run: step of the job runs this command (a list means any of
//	                                  # them); matched word by word, ignoring # comments; a step that
//	                                  # cannot fail the job (continue-on-error: true, `|| true`,
//	                                  # `|| exit 0`, `|| echo ...` after the command) does not count
//
// Rule ids of findings: missing (the file does not exist), yaml (not
// parseable, or too large once anchors are expanded), actionlint/<kind>
// (one per actionlint check), and per assertion: triggers, jobs, needs,
// main-only, environment, matrix, pinned-actions, cache, permissions, runs.
//
// Status: pass when there are no findings, else fail; Messages holds one
// line (the first finding and how many there are). A file that cannot be
// read for the learner's reasons (missing, over 1 MiB, a symlink out of the
// home) fails; the grader's own trouble (misconfigured check, engine down,
// timeout, an actionlint crash) is an error, never charged.
//
// Before actionlint sees the file it must be UTF-8 text without control
// characters that parses as YAML with at most wfMaxNodes nodes once
// aliases are expanded, wfMaxDepth levels and wfMaxItems entries per list
// or mapping; otherwise the finding is rule yaml. That keeps a check of a
// hostile file under about 0.2 s and a few MB.
//
// The file is read only through Input.Files. actionlint gets the bytes
// (under the name "<stdin>", so it never looks for a project, a
// .github/actionlint.yaml, local actions or reusable workflows on any
// disk), a configuration built here, and no shellcheck or pyflakes.
type WorkflowChecker struct{}

// Limits of what a workflow check reads and parses.
const (
	wfMaxFile = 1 << 20
	// wfMaxNodes and wfMaxDepth bound the YAML tree with aliases expanded:
	// actionlint expands aliases, so a "billion laughs" file of a few
	// hundred bytes would otherwise take minutes and gigabytes. An 80-line
	// workflow has about 150 nodes and a depth of 7.
	wfMaxNodes = 20000
	wfMaxDepth = 64
	// wfMaxItems bounds one list or mapping: some of actionlint's checks
	// compare every item of a list with every other (a matrix row of 45,000
	// values takes 10 s). GitHub runs at most 256 jobs of a matrix. With
	// wfMaxNodes this keeps the worst case near 50 ms.
	wfMaxItems = 500
	// wfMaxFindings caps what one check reports.
	wfMaxFindings = 100
)

type wfArgs struct {
	Path          string                    `yaml:"path"`
	Lint          *bool                     `yaml:"lint"`
	Triggers      *wfTriggerArgs            `yaml:"triggers"`
	Jobs          []string                  `yaml:"jobs"`
	Needs         map[string][]string       `yaml:"needs"`
	MainOnly      []string                  `yaml:"main_only"`
	Environment   map[string]string         `yaml:"environment"`
	Matrix        map[string]map[string]int `yaml:"matrix"`
	PinnedActions bool                      `yaml:"pinned_actions"`
	Cache         bool                      `yaml:"cache"`
	Permissions   map[string]string         `yaml:"permissions"`
	Runs          map[string]wfAnyOf        `yaml:"runs"`
}

type wfTriggerArgs struct {
	PushBranches []string `yaml:"push_branches"`
	PullRequest  bool     `yaml:"pull_request"`
}

// wfAnyOf is one string or a list of strings.
type wfAnyOf []string

func (a *wfAnyOf) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*a = wfAnyOf{n.Value}
		return nil
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		*a = l
		return nil
	}
	return errors.New("runs: each job takes a command or a list of commands")
}

func (a wfArgs) lint() bool { return a.Lint == nil || *a.Lint }

var (
	wfJobID      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,99}$`)
	wfBranchName = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,200}$`)
	wfPermLevels = map[string]int{"none": 0, "read": 1, "write": 2}
	wfPermScopes = map[string]bool{
		"actions": true, "artifact-metadata": true, "attestations": true, "checks": true, "contents": true,
		"deployments": true, "discussions": true, "id-token": true, "issues": true, "models": true,
		"packages": true, "pages": true, "pull-requests": true, "repository-projects": true,
		"security-events": true, "statuses": true,
	}
	wfYAMLLine      = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	wfFieldNotFound = regexp.MustCompile(`field (\S+) not found in type grading\.(\w+)`)
	wfKnownFields   = map[string]string{
		"wfArgs":        "path, lint, triggers, jobs, needs, main_only, environment, matrix, pinned_actions, cache, permissions, runs",
		"wfTriggerArgs": "push_branches, pull_request",
	}
)

// parseWorkflowArgs decodes with: strictly and validates it.
func parseWorkflowArgs(with []byte) (wfArgs, error) {
	var a wfArgs
	if len(bytes.TrimSpace(with)) == 0 {
		return a, errors.New("workflow checks need a with: block naming at least the path")
	}
	dec := yaml.NewDecoder(bytes.NewReader(with))
	dec.KnownFields(true)
	if err := dec.Decode(&a); err != nil {
		if errors.Is(err, io.EOF) {
			return a, errors.New("workflow checks need a with: block naming at least the path")
		}
		return a, wfArgsError(err)
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	switch p, err := CleanPath(a.Path); {
	case a.Path == "":
		add("path is required (the workflow file, e.g. .github/workflows/ci.yml)")
	case err != nil:
		add("%v", err)
	case !strings.HasSuffix(p, ".yml") && !strings.HasSuffix(p, ".yaml"):
		add("path %q must end in .yml or .yaml: GitHub only reads those", a.Path)
	default:
		a.Path = p
	}
	job := func(field, id string) {
		if !wfJobID.MatchString(id) {
			add("%s: %q is not a job id (letters, digits, - and _, starting with a letter or _)", field, id)
		}
	}
	asserts := 0
	if t := a.Triggers; t != nil {
		if len(t.PushBranches) == 0 && !t.PullRequest {
			add("triggers: name push_branches, pull_request or both")
		}
		for _, b := range t.PushBranches {
			if !wfBranchName.MatchString(b) {
				add("triggers.push_branches: %q is not a plain branch name (no patterns)", b)
			}
		}
		asserts++
	}
	seen := map[string]bool{}
	for _, j := range a.Jobs {
		job("jobs", j)
		if seen[strings.ToLower(j)] {
			add("jobs: %q is listed twice", j)
		}
		seen[strings.ToLower(j)] = true
	}
	for _, j := range wfSortedKeys(a.Needs) {
		job("needs", j)
		if len(a.Needs[j]) == 0 {
			add("needs.%s: list the jobs %s must wait for", j, j)
		}
		for _, d := range a.Needs[j] {
			job("needs."+j, d)
			if strings.EqualFold(d, j) {
				add("needs.%s: a job cannot need itself", j)
			}
		}
	}
	for _, j := range a.MainOnly {
		job("main_only", j)
	}
	for _, j := range wfSortedKeys(a.Environment) {
		job("environment", j)
		if strings.TrimSpace(a.Environment[j]) == "" {
			add("environment.%s: name the environment", j)
		}
	}
	for _, j := range wfSortedKeys(a.Matrix) {
		job("matrix", j)
		if len(a.Matrix[j]) == 0 {
			add("matrix.%s: name a matrix key and its minimum number of values, e.g. {go-version: 2}", j)
		}
		for _, k := range wfSortedKeys(a.Matrix[j]) {
			if strings.TrimSpace(k) == "" {
				add("matrix.%s: empty matrix key", j)
			}
			if n := a.Matrix[j][k]; n < 1 || n > 256 {
				add("matrix.%s.%s: %d must be between 1 and 256", j, k, n)
			}
		}
	}
	if a.Permissions != nil {
		for _, s := range wfSortedKeys(a.Permissions) {
			if !wfPermScopes[s] {
				add("permissions: %q is not a GITHUB_TOKEN scope", s)
			}
			if _, ok := wfPermLevels[a.Permissions[s]]; !ok {
				add("permissions.%s: %q must be read, write or none", s, a.Permissions[s])
			}
		}
		asserts++
	}
	for _, j := range wfSortedKeys(a.Runs) {
		job("runs", j)
		if len(a.Runs[j]) == 0 {
			add("runs.%s: name a command", j)
		}
		for _, c := range a.Runs[j] {
			if len(strings.Fields(c)) == 0 {
				add("runs.%s: empty command", j)
			}
		}
	}
	asserts += len(a.Jobs) + len(a.Needs) + len(a.MainOnly) + len(a.Environment) + len(a.Matrix) + len(a.Runs)
	if a.PinnedActions {
		asserts++
	}
	if a.Cache {
		asserts++
	}
	if asserts == 0 && !a.lint() {
		add("with lint: false the check needs at least one assertion")
	}
	if len(problems) > 0 {
		return a, errors.New(strings.Join(problems, "; "))
	}
	return a, nil
}

// wfArgsError rewrites yaml.v3's decoding errors for lab authors: line
// numbers inside the re-encoded with: block mean nothing to them.
func wfArgsError(err error) error {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for i, m := range msgs {
		m = strings.TrimPrefix(m, "yaml: ")
		if sm := wfYAMLLine.FindStringSubmatch(m); sm != nil {
			m = sm[2]
		}
		if sm := wfFieldNotFound.FindStringSubmatch(m); sm != nil {
			where := "with:"
			if sm[2] == "wfTriggerArgs" {
				where = "triggers:"
			}
			m = fmt.Sprintf("unknown field %q in %s (known: %s)", sm[1], where, wfKnownFields[sm[2]])
		}
		m = strings.ReplaceAll(m, "into grading.wfArgs", "into the with: mapping")
		m = strings.ReplaceAll(m, "into grading.wfTriggerArgs", "into the triggers: mapping")
		msgs[i] = m
	}
	return errors.New(strings.Join(msgs, "; "))
}

// ValidateArgs implements ArgsValidator.
func (WorkflowChecker) ValidateArgs(_ string, with []byte) error {
	_, err := parseWorkflowArgs(with)
	return err
}

// Check reads, lints and asserts.
func (WorkflowChecker) Check(ctx context.Context, in Input) opsdojo.CheckResult {
	start := time.Now()
	args, err := parseWorkflowArgs(in.Check.With)
	if err != nil {
		return wfError("the lab's workflow check is misconfigured; this attempt does not count against you", err.Error())
	}
	if in.Files == nil {
		return wfError("this check needs the learner's files, and none are available here", "")
	}
	if in.Check.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, in.Check.Timeout)
		defer cancel()
	}
	src, err := in.Files.ReadFile(ctx, args.Path, wfMaxFile)
	switch {
	case err == nil:
	case opsdojo.ErrorCode(err) == opsdojo.ENOTFOUND:
		return opsdojo.CheckResult{Status: opsdojo.StatusFail,
			Messages: []string{args.Path + " does not exist yet"},
			Findings: []opsdojo.Finding{{File: args.Path, Rule: "missing", Message: "create this file: GitHub runs every .yml file in .github/workflows/ of the default branch"}}}
	case opsdojo.ErrorCode(err) == opsdojo.EINVALID:
		return opsdojo.CheckResult{Status: opsdojo.StatusFail, Messages: []string{opsdojo.ErrorMessage(err)}, Log: err.Error()}
	case ctx.Err() != nil:
		return wfError("the check ran out of time reading your workflow; try again", err.Error())
	case opsdojo.ErrorCode(err) == opsdojo.EUNAVAILABLE:
		return wfError("the Docker engine is not reachable, so your work could not be checked; try again shortly", err.Error())
	default:
		return wfError("your workflow could not be read; this attempt does not count against you", err.Error())
	}
	res := gradeWorkflow(ctx, args, src)
	res.Log = fmt.Sprintf("%s: %d bytes, %d findings, %s\n", args.Path, len(src), len(res.Findings), time.Since(start).Round(time.Microsecond)) + res.Log
	return res
}

func wfError(msg, log string) opsdojo.CheckResult {
	return opsdojo.CheckResult{Status: opsdojo.StatusError, Messages: []string{msg}, Log: log}
}

// gradeWorkflow grades the bytes of a workflow file.
func gradeWorkflow(ctx context.Context, args wfArgs, src []byte) opsdojo.CheckResult {
	file := args.Path
	var findings []opsdojo.Finding
	doc, f := wfPrecheck(file, src)
	if f != nil {
		findings = append(findings, *f)
		return wfResult(file, findings, "", args.lint(), 0)
	}
	if ctx.Err() != nil {
		return wfError("the check ran out of time; try again", ctx.Err().Error())
	}
	out, err := wfLint(ctx, src)
	if err != nil {
		if ctx.Err() != nil {
			return wfError("the check ran out of time; try again", err.Error())
		}
		return wfError("the workflow linter failed on your file; this attempt does not count against you", err.Error())
	}
	for _, e := range out.errs {
		if e == nil {
			continue
		}
		if e.Kind == "syntax-check" && strings.HasPrefix(e.Message, "could not parse as YAML") {
			findings = append(findings, opsdojo.Finding{File: file, Line: e.Line, Column: e.Column, Rule: "yaml", Message: e.Message})
			continue
		}
		if args.lint() {
			findings = append(findings, opsdojo.Finding{File: file, Line: e.Line, Column: e.Column, Rule: "actionlint/" + e.Kind, Message: e.Message})
		}
	}
	asserted := 0
	if out.wf != nil {
		a := &wfAsserter{args: args, file: file, wf: out.wf, doc: doc}
		asserted = a.run()
		findings = append(findings, a.findings...)
	}
	return wfResult(file, findings, out.log, args.lint(), asserted)
}

// wfResult sorts and caps findings and sums them up in one line.
func wfResult(file string, findings []opsdojo.Finding, log string, lint bool, asserted int) opsdojo.CheckResult {
	sort.SliceStable(findings, func(i, j int) bool {
		a, b := findings[i], findings[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Message < b.Message
	})
	findings = wfDedup(findings)
	res := opsdojo.CheckResult{Findings: findings, Log: log}
	if len(findings) == 0 {
		res.Status = opsdojo.StatusPass
		var what string
		switch {
		case lint && asserted > 0:
			what = fmt.Sprintf("actionlint finds no problems and it meets all %d requirements checked", asserted)
		case lint:
			what = "actionlint finds no problems"
		default:
			what = fmt.Sprintf("it meets all %d requirements checked", asserted)
		}
		res.Messages = []string{fmt.Sprintf("%s: %s", file, what)}
		return res
	}
	res.Status = opsdojo.StatusFail
	total := len(findings)
	if total > wfMaxFindings {
		res.Findings = findings[:wfMaxFindings]
		res.Findings = append(res.Findings, opsdojo.Finding{File: file, Rule: findings[wfMaxFindings].Rule,
			Message: fmt.Sprintf("%d more problems not shown; fix these first", total-wfMaxFindings)})
	}
	first := findings[0]
	at := file
	if first.Line > 0 {
		at = fmt.Sprintf("%s:%d", file, first.Line)
	}
	if total == 1 {
		res.Messages = []string{fmt.Sprintf("%s: %s", at, first.Message)}
	} else {
		res.Messages = []string{fmt.Sprintf("%d problems in %s; the first, at %s: %s", total, file, at, first.Message)}
	}
	return res
}

func wfDedup(fs []opsdojo.Finding) []opsdojo.Finding {
	out := fs[:0]
	for i, f := range fs {
		if i > 0 && f == fs[i-1] {
			continue
		}
		out = append(out, f)
	}
	return out
}

// wfPrecheck refuses what is not a workflow-sized YAML text before
// actionlint sees it, and returns the YAML tree (aliases unexpanded) for
// locating keys the workflow AST has no position for.
func wfPrecheck(file string, src []byte) (doc *yaml.Node, f *opsdojo.Finding) {
	yamlFinding := func(line int, msg string) *opsdojo.Finding {
		return &opsdojo.Finding{File: file, Line: line, Rule: "yaml", Message: msg}
	}
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, yamlFinding(1, "the file is empty: a workflow needs at least on: (when it runs) and jobs: (what it runs)")
	}
	if i := bytes.IndexByte(src, 0); i >= 0 {
		return nil, yamlFinding(wfLineAt(src, i), "the file contains NUL bytes: it is binary, not YAML text")
	}
	if !utf8.Valid(src) {
		i := 0
		for i < len(src) {
			r, n := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return nil, yamlFinding(wfLineAt(src, i), "the file is not UTF-8 text; save it as UTF-8")
	}
	if i := bytes.IndexFunc(src, func(r rune) bool { return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f }); i >= 0 {
		return nil, yamlFinding(wfLineAt(src, i), fmt.Sprintf("the file contains a control character (%U) YAML does not allow; delete it", src[i]))
	}
	doc = &yaml.Node{}
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("the YAML parser gave up on this file")
			}
		}()
		return yaml.Unmarshal(src, doc)
	}()
	if err != nil {
		line, msg := 0, strings.TrimPrefix(err.Error(), "yaml: ")
		if sm := wfYAMLLine.FindStringSubmatch(msg); sm != nil {
			fmt.Sscan(sm[1], &line)
			msg = sm[2]
		}
		return nil, yamlFinding(line, "not valid YAML: "+msg)
	}
	b := wfBudget{memo: map[*yaml.Node]wfSize{}, active: map[*yaml.Node]bool{}}
	if _, err := b.walk(doc, 0); err != nil {
		return nil, yamlFinding(err.line, err.msg)
	}
	return doc, nil
}

// wfLineAt returns the line of a byte offset; \n, \r\n and a lone \r end
// a line, as in YAML.
func wfLineAt(src []byte, off int) int {
	if off > len(src) {
		off = len(src)
	}
	line := 1
	for i, c := range src[:off] {
		if c == '\n' || c == '\r' && (i+1 >= len(src) || src[i+1] != '\n') {
			line++
		}
	}
	return line
}

// wfBudget measures the YAML tree as actionlint will see it: with every
// alias replaced by a copy of its anchor.
type wfBudget struct {
	memo   map[*yaml.Node]wfSize
	active map[*yaml.Node]bool
	nodes  int
}

type wfSize struct{ nodes, height int }

type wfBudgetError struct {
	line int
	msg  string
}

func (b *wfBudget) walk(n *yaml.Node, depth int) (wfSize, *wfBudgetError) {
	if depth > wfMaxDepth {
		return wfSize{}, &wfBudgetError{n.Line, fmt.Sprintf("the YAML is nested more than %d levels deep; a workflow never needs that", wfMaxDepth)}
	}
	if s, ok := b.memo[n]; ok {
		if depth+s.height > wfMaxDepth {
			return wfSize{}, &wfBudgetError{n.Line, fmt.Sprintf("the YAML is nested more than %d levels deep once aliases are expanded", wfMaxDepth)}
		}
		b.nodes += s.nodes
		if b.nodes > wfMaxNodes {
			return wfSize{}, b.tooBig(n)
		}
		return s, nil
	}
	if b.active[n] {
		return wfSize{}, &wfBudgetError{n.Line, fmt.Sprintf("the alias *%s refers to the node that contains it: it would expand forever", n.Anchor)}
	}
	b.active[n] = true
	defer delete(b.active, n)
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return wfSize{}, nil
		}
		if b.active[n.Alias] {
			return wfSize{}, &wfBudgetError{n.Line, fmt.Sprintf("the alias *%s refers to the node that contains it: it would expand forever", n.Value)}
		}
		return b.walk(n.Alias, depth)
	}
	before := b.nodes
	b.nodes++
	if b.nodes > wfMaxNodes {
		return wfSize{}, b.tooBig(n)
	}
	if items := len(n.Content); n.Kind == yaml.MappingNode && items/2 > wfMaxItems || n.Kind == yaml.SequenceNode && items > wfMaxItems {
		return wfSize{}, &wfBudgetError{n.Line, fmt.Sprintf("this list or mapping has more than %d entries; a workflow never needs that many (GitHub runs at most 256 jobs of a matrix)", wfMaxItems)}
	}
	height := 0
	for _, c := range n.Content {
		s, err := b.walk(c, depth+1)
		if err != nil {
			return wfSize{}, err
		}
		height = max(height, s.height+1)
	}
	s := wfSize{nodes: b.nodes - before, height: height}
	b.memo[n] = s
	return s, nil
}

func (b *wfBudget) tooBig(n *yaml.Node) *wfBudgetError {
	return &wfBudgetError{n.Line, fmt.Sprintf("the YAML has more than %d nodes once anchors and aliases are expanded; real workflows are far smaller (is an alias repeating a big anchor?)", wfMaxNodes)}
}

// wfLintConfig is the only actionlint configuration ever used: a learner's
// .github/actionlint.yaml is never read, so its ignore patterns and
// runner labels cannot silence a finding (and a broken one cannot break
// the grader).
var wfLintConfig = &actionlint.Config{}

// wfStdin is the name that makes Linter.Lint skip looking for a project
// on disk (it compares the path with this literal): no config file, local
// action or reusable workflow is read.
const wfStdin = "<stdin>"

// wfCapture is a rule that finds nothing and keeps the parsed workflow,
// so the assertions read the tree actionlint linted without a second parse.
type wfCapture struct {
	actionlint.RuleBase
	wf *actionlint.Workflow
}

func (c *wfCapture) VisitWorkflowPre(w *actionlint.Workflow) error {
	c.wf = w
	return nil
}

type wfLintOut struct {
	errs []*actionlint.Error
	wf   *actionlint.Workflow
	log  string
}

// wfLint lints src and returns the AST the assertions read. It runs on its
// own goroutine so ctx is honoured; the work is bounded by the precheck,
// so a goroutine left behind finishes soon.
func wfLint(ctx context.Context, src []byte) (wfLintOut, error) {
	type result struct {
		out wfLintOut
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: fmt.Errorf("actionlint panicked: %v", p)}
			}
			ch <- r
		}()
		t0 := time.Now()
		capture := &wfCapture{RuleBase: actionlint.NewRuleBase("opsdojo-capture", "keeps the parsed workflow for the grader")}
		// A linter per check: cheap, and the capture rule is this check's.
		// Color, ConfigFile, IgnorePatterns, Shellcheck and Pyflakes stay
		// zero: no change to the library's global color setting, no config
		// file, nothing the learner can match away, no external processes.
		l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{
			Oneline:    true,
			WorkingDir: "/nonexistent",
			OnRulesCreated: func(rules []actionlint.Rule) []actionlint.Rule {
				out := rules[:0]
				for _, r := range rules {
					if r.Name() == "shellcheck" || r.Name() == "pyflakes" {
						continue
					}
					r.SetConfig(wfLintConfig)
					out = append(out, r)
				}
				return append(out, capture)
			},
		})
		if err != nil {
			r.err = err
			return
		}
		errs, err := l.Lint(wfStdin, src, nil)
		if err != nil {
			r.err = err
			return
		}
		r.out = wfLintOut{errs: errs, wf: capture.wf, log: fmt.Sprintf("actionlint %s\n", time.Since(t0).Round(time.Microsecond))}
	}()
	select {
	case r := <-ch:
		return r.out, r.err
	case <-ctx.Done():
		return wfLintOut{}, ctx.Err()
	}
}

func wfSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
