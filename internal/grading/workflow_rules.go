package grading

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/rhysd/actionlint"
	"gopkg.in/yaml.v3"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// wfAsserter checks a lab's assertions against a parsed workflow. The AST
// may come from a file with syntax errors, so every field may be nil.
type wfAsserter struct {
	args     wfArgs
	file     string
	wf       *actionlint.Workflow
	doc      *yaml.Node
	findings []opsdojo.Finding
	// missingJobs remembers the jobs already reported missing, so one
	// absent job is one finding however many assertions name it.
	missingJobs map[string]bool
}

// run checks every assertion and returns how many it checked.
func (a *wfAsserter) run() int {
	n := 0
	if t := a.args.Triggers; t != nil {
		a.triggers(t)
		n++
	}
	for _, id := range a.args.Jobs {
		a.job(id)
		n++
	}
	for _, id := range wfSortedKeys(a.args.Needs) {
		a.needs(id, a.args.Needs[id])
		n++
	}
	for _, id := range a.args.MainOnly {
		a.mainOnly(id)
		n++
	}
	for _, id := range wfSortedKeys(a.args.Environment) {
		a.environment(id, a.args.Environment[id])
		n++
	}
	for _, id := range wfSortedKeys(a.args.Matrix) {
		for _, key := range wfSortedKeys(a.args.Matrix[id]) {
			a.matrix(id, key, a.args.Matrix[id][key])
			n++
		}
	}
	if a.args.PinnedActions {
		a.pinnedActions()
		n++
	}
	if a.args.Cache {
		a.cache()
		n++
	}
	if a.args.Permissions != nil {
		a.permissions(a.args.Permissions)
		n++
	}
	for _, id := range wfSortedKeys(a.args.Runs) {
		a.runs(id, a.args.Runs[id])
		n++
	}
	return n
}

func (a *wfAsserter) add(rule string, pos *actionlint.Pos, format string, args ...any) {
	f := opsdojo.Finding{File: a.file, Rule: rule, Message: fmt.Sprintf(format, args...)}
	if pos != nil {
		f.Line, f.Column = pos.Line, pos.Col
	}
	a.findings = append(a.findings, f)
}

// topKey returns the position of a top-level key of the workflow file,
// falling back to the start of the file.
func (a *wfAsserter) topKey(key string) *actionlint.Pos {
	if a.doc != nil && len(a.doc.Content) > 0 {
		m := a.doc.Content[0]
		if m.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(m.Content); i += 2 {
				if strings.EqualFold(m.Content[i].Value, key) {
					return &actionlint.Pos{Line: m.Content[i].Line, Col: m.Content[i].Column}
				}
			}
		}
	}
	return &actionlint.Pos{Line: 1, Col: 1}
}

func (a *wfAsserter) jobs() []*actionlint.Job {
	var jobs []*actionlint.Job
	for _, j := range a.wf.Jobs {
		if j != nil {
			jobs = append(jobs, j)
		}
	}
	sort.Slice(jobs, func(i, k int) bool { return wfLine(jobs[i].Pos) < wfLine(jobs[k].Pos) })
	return jobs
}

// job returns the job with the id, reporting it (once) when it is missing.
func (a *wfAsserter) job(id string) *actionlint.Job {
	if j := a.wf.Jobs[strings.ToLower(id)]; j != nil {
		return j
	}
	if a.missingJobs == nil {
		a.missingJobs = map[string]bool{}
	}
	if !a.missingJobs[strings.ToLower(id)] {
		a.missingJobs[strings.ToLower(id)] = true
		have := make([]string, 0, len(a.wf.Jobs))
		for _, j := range a.jobs() {
			have = append(have, wfStr(j.ID))
		}
		found := "it has none yet"
		if len(have) > 0 {
			found = "it has " + strings.Join(have, ", ")
		}
		a.add("jobs", a.topKey("jobs"), "there is no job %q under jobs: (%s); each job runs on its own runner, in parallel with the others unless it needs: them", id, found)
	}
	return nil
}

func wfStr(s *actionlint.String) string {
	if s == nil {
		return ""
	}
	return s.Value
}

func wfLine(p *actionlint.Pos) int {
	if p == nil {
		return 0
	}
	return p.Line
}

// ---- triggers

func (a *wfAsserter) events(hook string) []*actionlint.WebhookEvent {
	var out []*actionlint.WebhookEvent
	for _, ev := range a.wf.On {
		if e, ok := ev.(*actionlint.WebhookEvent); ok && e != nil && e.Hook != nil && strings.EqualFold(e.Hook.Value, hook) {
			out = append(out, e)
		}
	}
	return out
}

func (a *wfAsserter) triggers(t *wfTriggerArgs) {
	on := a.topKey("on")
	if t.PullRequest && len(a.events("pull_request")) == 0 {
		if len(a.events("pull_request_target")) > 0 {
			a.add("triggers", on, "the workflow runs on pull_request_target, not pull_request: pull_request_target runs with the base repository's secrets and a write token, so building a pull request's code there hands both to whoever opened it; use pull_request")
		} else {
			a.add("triggers", on, "the workflow does not run on pull requests: add pull_request: under on: so every change is linted and tested before it is merged, not after")
		}
	}
	if len(t.PushBranches) == 0 {
		return
	}
	pushes := a.events("push")
	if len(pushes) == 0 {
		a.add("triggers", on, "the workflow does not run on push: add push: with branches: [%s] under on:, so the branch you release from is built after every merge", strings.Join(t.PushBranches, ", "))
		return
	}
	push := pushes[0]
	for _, br := range t.PushBranches {
		switch {
		case !push.Branches.IsEmpty():
			if !wfRefFilterMatches(push.Branches.Values, br) {
				a.add("triggers", push.Branches.Name.Pos, "a push to %s does not run the workflow: push: branches: lists %s, and none of those patterns matches %s", br, wfQuoteList(push.Branches.Values), br)
			}
		case !push.BranchesIgnore.IsEmpty():
			if wfRefFilterMatches(push.BranchesIgnore.Values, br) {
				a.add("triggers", push.BranchesIgnore.Name.Pos, "a push to %s does not run the workflow: push: branches-ignore: excludes it", br)
			}
		case !push.Tags.IsEmpty() || !push.TagsIgnore.IsEmpty():
			a.add("triggers", push.Pos, "push: filters only tags, so pushes to branches (%s included) never run the workflow; add branches: [%s]", br, br)
		}
	}
}

func wfQuoteList(ss []*actionlint.String) string {
	q := make([]string, 0, len(ss))
	for _, s := range ss {
		q = append(q, strconv.Quote(wfStr(s)))
	}
	return strings.Join(q, ", ")
}

// wfRefFilterMatches evaluates a GitHub branch filter: patterns in order,
// a leading ! excludes, the last pattern that matches decides.
func wfRefFilterMatches(patterns []*actionlint.String, ref string) bool {
	matched := false
	for _, p := range patterns {
		v := wfStr(p)
		neg := strings.HasPrefix(v, "!")
		if neg {
			v = v[1:]
		}
		if wfGlobMatch(v, ref) {
			matched = !neg
		}
	}
	return matched
}

// wfGlobMatch matches a GitHub filter pattern: * is anything but /, ** is
// anything, ? and + repeat the previous character, [...] is a class.
func wfGlobMatch(pattern, s string) bool {
	if pattern == s {
		return true
	}
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '*' && i+1 < len(pattern) && pattern[i+1] == '*':
			re.WriteString(".*")
			i++
		case c == '*':
			re.WriteString("[^/]*")
		case (c == '?' || c == '+') && i > 0:
			re.WriteByte(c)
		case c == '[':
			end := strings.IndexByte(pattern[i:], ']')
			if end < 0 {
				re.WriteString(regexp.QuoteMeta(pattern[i:]))
				i = len(pattern)
				continue
			}
			re.WriteString(pattern[i : i+end+1])
			i += end
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	rx, err := regexp.Compile(re.String())
	return err == nil && rx.MatchString(s)
}

// ---- needs

func (a *wfAsserter) needs(id string, want []string) {
	j := a.job(id)
	if j == nil {
		return
	}
	// Transitive closure of needs.
	seen := map[string]bool{}
	queue := []*actionlint.Job{j}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, n := range cur.Needs {
			k := strings.ToLower(wfStr(n))
			if k == "" || seen[k] {
				continue
			}
			seen[k] = true
			if nj := a.wf.Jobs[k]; nj != nil {
				queue = append(queue, nj)
			}
		}
	}
	var missing []string
	for _, w := range want {
		if !seen[strings.ToLower(w)] {
			missing = append(missing, w)
		}
	}
	if len(missing) == 0 {
		return
	}
	pos := j.Pos
	if len(j.Needs) > 0 && j.Needs[0] != nil {
		pos = j.Needs[0].Pos
	}
	a.add("needs", pos, "job %s does not wait for %s: add needs: [%s]. Jobs without needs: start at once, in parallel, so %s would run even when %s fails", wfStr(j.ID), strings.Join(missing, " and "), strings.Join(want, ", "), wfStr(j.ID), strings.Join(missing, " or "))
}

// ---- main-only

func (a *wfAsserter) mainOnly(id string) {
	j := a.job(id)
	if j == nil {
		return
	}
	if a.onlyPushToMain() || a.jobMainOnly(j, map[string]bool{}) {
		return
	}
	pos := j.Pos
	if j.If != nil {
		pos = j.If.Pos
		a.add("main-only", pos, "job %s's if: %q does not limit it to main: it would also run for pull requests and other branches. Use if: github.ref == 'refs/heads/main' (github.ref is refs/pull/N/merge on a pull request)", wfStr(j.ID), j.If.Value)
		return
	}
	a.add("main-only", pos, "job %s runs for every trigger, pull requests and other branches included: add if: github.ref == 'refs/heads/main' so only merged code on main is deployed", wfStr(j.ID))
}

// onlyPushToMain: every trigger is a push whose branches filter is just main.
func (a *wfAsserter) onlyPushToMain() bool {
	if len(a.wf.On) == 0 {
		return false
	}
	for _, ev := range a.wf.On {
		e, ok := ev.(*actionlint.WebhookEvent)
		if !ok || e == nil || e.Hook == nil || e.Hook.Value != "push" || e.Branches.IsEmpty() || !e.BranchesIgnore.IsEmpty() {
			return false
		}
		for _, b := range e.Branches.Values {
			if v := wfStr(b); v != "main" && v != "refs/heads/main" {
				return false
			}
		}
	}
	return true
}

// jobMainOnly: the job's condition implies main, or it needs a job that
// runs only on main and keeps the default success() gate (a skipped need
// skips it too).
func (a *wfAsserter) jobMainOnly(j *actionlint.Job, visiting map[string]bool) bool {
	k := strings.ToLower(wfStr(j.ID))
	if visiting[k] {
		return false
	}
	visiting[k] = true
	defer delete(visiting, k)
	cond, ok := wfParseIf(j.If)
	if ok && cond != nil && wfImpliesMain(cond) {
		return true
	}
	if j.If != nil && (!ok || wfCallsStatusOverride(cond)) {
		return false
	}
	for _, n := range j.Needs {
		if nj := a.wf.Jobs[strings.ToLower(wfStr(n))]; nj != nil && a.jobMainOnly(nj, visiting) {
			return true
		}
	}
	return false
}

// wfParseIf parses an if: condition. ok is false when it cannot be read
// (then it must be treated as possibly always true); a nil node with ok
// means there is no condition.
func wfParseIf(s *actionlint.String) (actionlint.ExprNode, bool) {
	if s == nil {
		return nil, true
	}
	v := s.Value
	if strings.Contains(v, "${{") {
		// ${{ }} must wrap the whole condition: anything around it, even a
		// space, makes a non-empty string, which is always true.
		if !strings.HasPrefix(v, "${{") || !strings.HasSuffix(v, "}}") || strings.Count(v, "${{") != 1 {
			return nil, false
		}
		v = v[3 : len(v)-2]
	}
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 4096 {
		return nil, false
	}
	n, err := actionlint.NewExprParser().Parse(actionlint.NewExprLexer(v + "}}"))
	if err != nil || n == nil {
		return nil, false
	}
	return n, true
}

// wfImpliesMain reports whether a condition can only be true for the
// main branch.
func wfImpliesMain(n actionlint.ExprNode) bool {
	switch e := n.(type) {
	case *actionlint.LogicalOpNode:
		if e.Kind == actionlint.LogicalOpNodeKindAnd {
			return wfImpliesMain(e.Left) || wfImpliesMain(e.Right)
		}
		if e.Kind == actionlint.LogicalOpNodeKindOr {
			return wfImpliesMain(e.Left) && wfImpliesMain(e.Right)
		}
	case *actionlint.CompareOpNode:
		if e.Kind != actionlint.CompareOpNodeKindEq {
			return false
		}
		return wfRefIsMain(e.Left, e.Right) || wfRefIsMain(e.Right, e.Left)
	}
	return false
}

// wfRefIsMain: ref is github.ref and lit is 'refs/heads/main', or ref is
// github.ref_name and lit is 'main' (GitHub compares strings ignoring case).
func wfRefIsMain(ref, lit actionlint.ExprNode) bool {
	s, ok := lit.(*actionlint.StringNode)
	if !ok {
		return false
	}
	switch wfContextProp(ref) {
	case "github.ref":
		return strings.EqualFold(s.Value, "refs/heads/main")
	case "github.ref_name":
		return strings.EqualFold(s.Value, "main")
	}
	return false
}

// wfContextProp renders github.ref or github['ref'] as "github.ref".
func wfContextProp(n actionlint.ExprNode) string {
	var recv actionlint.ExprNode
	var prop string
	switch e := n.(type) {
	case *actionlint.ObjectDerefNode:
		recv, prop = e.Receiver, e.Property
	case *actionlint.IndexAccessNode:
		s, ok := e.Index.(*actionlint.StringNode)
		if !ok {
			return ""
		}
		recv, prop = e.Operand, s.Value
	default:
		return ""
	}
	v, ok := recv.(*actionlint.VariableNode)
	if !ok {
		return ""
	}
	return strings.ToLower(v.Name) + "." + strings.ToLower(prop)
}

// wfCallsStatusOverride: always(), failure() or cancelled() lets a job run
// although a job it needs was skipped.
func wfCallsStatusOverride(n actionlint.ExprNode) bool {
	found := false
	actionlint.VisitExprNode(n, func(node, _ actionlint.ExprNode, entering bool) {
		if c, ok := node.(*actionlint.FuncCallNode); ok && entering {
			switch strings.ToLower(c.Callee) {
			case "always", "failure", "cancelled":
				found = true
			}
		}
	})
	return found
}

// ---- environment

func (a *wfAsserter) environment(id, want string) {
	j := a.job(id)
	if j == nil {
		return
	}
	if j.Environment == nil || j.Environment.Name == nil {
		a.add("environment", j.Pos, "job %s has no environment: add environment: %s. An environment can require a reviewer's approval, limit which branches may deploy, and holds the %s secrets so that other jobs cannot read them", wfStr(j.ID), want, want)
		return
	}
	if got := j.Environment.Name.Value; !strings.EqualFold(strings.TrimSpace(got), want) {
		a.add("environment", j.Environment.Name.Pos, "job %s deploys to environment %q; this pipeline's deploy target is %q", wfStr(j.ID), got, want)
	}
}

// ---- matrix

func (a *wfAsserter) matrix(id, key string, min int) {
	j := a.job(id)
	if j == nil {
		return
	}
	if j.Strategy == nil || j.Strategy.Matrix == nil {
		a.add("matrix", j.Pos, "job %s has no strategy: matrix:; add one with %s: and at least %d values, so the job runs once per value and a change that breaks one of them fails CI", wfStr(j.ID), key, min)
		return
	}
	m := j.Strategy.Matrix
	if m.Expression != nil {
		a.add("matrix", m.Expression.Pos, "job %s's matrix is computed by an expression, so the grader cannot see its values: list %s: values directly", wfStr(j.ID), key)
		return
	}
	row := m.Rows[strings.ToLower(key)]
	if row == nil {
		a.add("matrix", m.Pos, "job %s's matrix has no %s: key; add %s: with at least %d values", wfStr(j.ID), key, key, min)
		return
	}
	if row.Expression != nil {
		a.add("matrix", row.Expression.Pos, "job %s's matrix %s: is an expression, so the grader cannot count its values: list them", wfStr(j.ID), key)
		return
	}
	values := map[string]bool{}
	var shown []string
	addValue := func(v actionlint.RawYAMLValue) {
		if v == nil {
			return
		}
		s := v.String()
		if !values[s] {
			values[s] = true
			shown = append(shown, s)
		}
	}
	for _, v := range row.Values {
		addValue(v)
	}
	if m.Include != nil {
		for _, c := range m.Include.Combinations {
			if c == nil {
				continue
			}
			if as := c.Assigns[strings.ToLower(key)]; as != nil {
				addValue(as.Value)
			}
		}
	}
	pos := m.Pos
	if row.Name != nil {
		pos = row.Name.Pos
	}
	if len(values) < min {
		a.add("matrix", pos, "job %s's matrix %s: has %d value(s) (%s); it needs at least %d, so the job runs once per value", wfStr(j.ID), key, len(values), strings.Join(shown, ", "), min)
	}
	a.matrixNumbers(j, key)
}

// matrixNumbers flags version numbers YAML reads as floats: go-version:
// [1.20] becomes 1.2 before setup-go sees it.
func (a *wfAsserter) matrixNumbers(j *actionlint.Job, key string) {
	seq := wfNodeAt(a.doc, "jobs", wfStr(j.ID), "strategy", "matrix", key)
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return
	}
	for _, v := range seq.Content {
		if v.Kind != yaml.ScalarNode || v.Style != 0 || v.Tag != "!!float" {
			continue
		}
		if i := strings.IndexByte(v.Value, '.'); i >= 0 && strings.HasSuffix(v.Value, "0") {
			f, err := strconv.ParseFloat(v.Value, 64)
			if err == nil {
				a.add("matrix", &actionlint.Pos{Line: v.Line, Col: v.Column}, "%s is a number in YAML, so the job gets %s, not %s: quote it (%q)", v.Value, strconv.FormatFloat(f, 'f', -1, 64), v.Value, v.Value)
			}
		}
	}
}

// wfNodeAt follows mapping keys (case-insensitively) from the document.
func wfNodeAt(doc *yaml.Node, keys ...string) *yaml.Node {
	if doc == nil || len(doc.Content) == 0 {
		return nil
	}
	n := doc.Content[0]
	for _, k := range keys {
		for n != nil && n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if strings.EqualFold(n.Content[i].Value, k) {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// ---- pinned actions

var (
	wfVersionRef = regexp.MustCompile(`^v?[0-9]+(\.[0-9]+){0,2}$`)
	wfSHARef     = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

func (a *wfAsserter) pinnedActions() {
	for _, j := range a.jobs() {
		if j.WorkflowCall != nil && j.WorkflowCall.Uses != nil {
			a.checkPinned(j.WorkflowCall.Uses)
		}
		for _, s := range j.Steps {
			if s == nil {
				continue
			}
			if e, ok := s.Exec.(*actionlint.ExecAction); ok && e != nil && e.Uses != nil {
				a.checkPinned(e.Uses)
			}
		}
	}
}

func (a *wfAsserter) checkPinned(u *actionlint.String) {
	spec := strings.TrimSpace(u.Value)
	why := "a tag or branch that can move means the code running in your CI, with your token and secrets, can change without a commit in your repository, and builds stop being reproducible"
	switch {
	case spec == "":
		return // actionlint reports it
	case strings.HasPrefix(spec, "./"):
		return // a local action comes from the same commit
	case strings.Contains(spec, "${{"):
		a.add("pinned-actions", u.Pos, "uses: %s is computed by an expression; name a fixed action and version", spec)
	case strings.HasPrefix(spec, "docker://"):
		img := strings.TrimPrefix(spec, "docker://")
		if strings.Contains(img, "@sha256:") {
			return
		}
		tag := ""
		if i := strings.LastIndexByte(img, ':'); i > strings.LastIndexByte(img, '/') {
			tag = img[i+1:]
		}
		if tag == "" || tag == "latest" {
			a.add("pinned-actions", u.Pos, "uses: %s runs whatever image is tagged latest today: pin a version tag or a digest (@sha256:...); %s", spec, why)
		}
	default:
		i := strings.LastIndexByte(spec, '@')
		if i < 0 {
			a.add("pinned-actions", u.Pos, "uses: %s names no version: add @ and a release, e.g. %s@v4, or a full commit SHA", spec, spec)
			return
		}
		name, ref := spec[:i], spec[i+1:]
		if wfVersionRef.MatchString(ref) || wfSHARef.MatchString(ref) {
			return
		}
		a.add("pinned-actions", u.Pos, "uses: %s follows %q, not a release: %s. Pin a release tag (%s@v4) or, stricter, a full 40-character commit SHA", spec, ref, why, name)
	}
}

// ---- cache

func (a *wfAsserter) cache() {
	var firstSetup, disabled *actionlint.Pos
	for _, j := range a.jobs() {
		for _, s := range j.Steps {
			if s == nil {
				continue
			}
			e, ok := s.Exec.(*actionlint.ExecAction)
			if !ok || e == nil || e.Uses == nil {
				continue
			}
			name, ref, _ := strings.Cut(strings.ToLower(strings.TrimSpace(e.Uses.Value)), "@")
			input := func(k string) (string, *actionlint.Pos, bool) {
				in := e.Inputs[k]
				if in == nil || in.Value == nil {
					return "", nil, false
				}
				return strings.ToLower(strings.TrimSpace(in.Value.Value)), in.Value.Pos, true
			}
			switch {
			case name == "actions/cache" || name == "actions/cache/restore":
				return
			case name == "actions/setup-go":
				if firstSetup == nil {
					firstSetup = e.Uses.Pos
				}
				v, pos, set := input("cache")
				if wfMajor(ref) >= 4 {
					if !set || v != "false" {
						return
					}
					if disabled == nil {
						disabled = pos
					}
				} else if set && v != "false" {
					return
				}
			case strings.Contains(name, "/setup-"):
				if firstSetup == nil {
					firstSetup = e.Uses.Pos
				}
				if v, _, set := input("cache"); set && v != "" && v != "false" {
					return
				}
				if v, _, set := input("bundler-cache"); set && v == "true" {
					return
				}
			}
		}
	}
	switch {
	case disabled != nil:
		a.add("cache", disabled, "cache: false turns off setup-go's cache of downloaded modules and build output, so every run downloads and compiles everything again; remove it")
	case firstSetup != nil:
		a.add("cache", firstSetup, "no step caches dependencies: use actions/setup-go@v5 (it caches modules and the build cache by default) or actions/cache, so runs reuse downloads instead of fetching everything again")
	default:
		a.add("cache", a.topKey("jobs"), "no step caches dependencies: set up Go with actions/setup-go@v5 (it caches modules and the build cache by default) or add actions/cache, so runs reuse downloads instead of fetching everything again")
	}
}

// wfMajor returns the major version of a ref like v5 or v5.1.0; a SHA or
// anything else counts as current (99).
func wfMajor(ref string) int {
	r := strings.TrimPrefix(ref, "v")
	if i := strings.IndexByte(r, '.'); i >= 0 {
		r = r[:i]
	}
	n, err := strconv.Atoi(r)
	if err != nil {
		return 99
	}
	return n
}

// ---- permissions

func (a *wfAsserter) permissions(allowed map[string]string) {
	if a.wf.Permissions != nil {
		a.checkPermissions("the workflow", a.wf.Permissions, allowed)
	}
	var bare []*actionlint.Job
	jobs := a.jobs()
	for _, j := range jobs {
		if j.Permissions != nil {
			a.checkPermissions("job "+wfStr(j.ID), j.Permissions, allowed)
		} else if a.wf.Permissions == nil {
			bare = append(bare, j)
		}
	}
	want := wfPermList(allowed)
	why := "without a permissions: block the GITHUB_TOKEN gets the repository's default, which can be write access to code, packages and releases for every step and every action you call"
	switch {
	case len(bare) == 0:
	case len(bare) == len(jobs):
		a.add("permissions", &actionlint.Pos{Line: 1, Col: 1}, "the workflow sets no permissions: for its GITHUB_TOKEN: add permissions: %s at the top level; %s", want, why)
	default:
		for _, j := range bare {
			a.add("permissions", j.Pos, "job %s sets no permissions: and the workflow has no top-level block: add permissions: %s (at the top, for every job); %s", wfStr(j.ID), want, why)
		}
	}
}

func wfPermList(allowed map[string]string) string {
	var parts []string
	for _, s := range wfSortedKeys(allowed) {
		if allowed[s] != "none" {
			parts = append(parts, s+": "+allowed[s])
		}
	}
	if len(parts) == 0 {
		return "{}"
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func (a *wfAsserter) checkPermissions(who string, p *actionlint.Permissions, allowed map[string]string) {
	want := wfPermList(allowed)
	if p.All != nil {
		switch v := strings.ToLower(strings.TrimSpace(p.All.Value)); v {
		case "write-all":
			a.add("permissions", p.All.Pos, "%s gives its token write-all: every step, and every action it calls, could push code, publish packages or change releases. Grant only what it needs: %s", who, want)
		case "read-all":
			a.add("permissions", p.All.Pos, "%s gives its token read-all, read access to every scope (issues, packages, security events, ...); least privilege means only what it needs: %s", who, want)
		default:
			a.add("permissions", p.All.Pos, "%s sets permissions: %s; list the scopes instead: %s", who, p.All.Value, want)
		}
		return
	}
	names := make([]string, 0, len(p.Scopes))
	for k := range p.Scopes {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		s := p.Scopes[name]
		if s == nil || s.Value == nil {
			continue
		}
		got, ok := wfPermLevels[strings.ToLower(strings.TrimSpace(s.Value.Value))]
		if !ok {
			continue // actionlint reports unknown values
		}
		limit := wfPermLevels[allowed[name]] // a scope not allowed: none
		if got > limit {
			max := allowed[name]
			if max == "" {
				max = "none"
			}
			pos := p.Pos
			if s.Name != nil {
				pos = s.Name.Pos
			}
			a.add("permissions", pos, "%s grants %s: %s, more than this pipeline needs (%s at most). Least privilege limits what a compromised step or action could do with the token", who, wfStr(s.Name), s.Value.Value, max)
		}
	}
}

// ---- runs

func (a *wfAsserter) runs(id string, anyOf []string) {
	j := a.job(id)
	if j == nil {
		return
	}
	for _, s := range j.Steps {
		if s == nil {
			continue
		}
		if e, ok := s.Exec.(*actionlint.ExecRun); ok && e != nil && e.Run != nil {
			for _, want := range anyOf {
				if wfScriptRuns(e.Run.Value, want) {
					return
				}
			}
		}
	}
	q := make([]string, len(anyOf))
	for i, c := range anyOf {
		q[i] = "`" + c + "`"
	}
	a.add("runs", j.Pos, "no run: step of job %s runs %s", wfStr(j.ID), strings.Join(q, " or "))
}

var wfShellSep = strings.NewReplacer(";", " ", "&&", " ", "||", " ", "|", " ", "(", " ", ")", " ", "`", " ", "$(", " ")

// wfScriptRuns reports whether some line of script has the words of cmd in
// a row, comments left out.
func wfScriptRuns(script, cmd string) bool {
	want := strings.Fields(cmd)
	if len(want) == 0 {
		return false
	}
	for _, line := range strings.Split(script, "\n") {
		words := strings.Fields(wfShellSep.Replace(line))
		for i, w := range words {
			if strings.HasPrefix(w, "#") {
				words = words[:i]
				break
			}
		}
		for i := 0; i+len(want) <= len(words); i++ {
			match := true
			for k := range want {
				if words[i+k] != want[k] {
					match = false
					break
				}
			}
			if match {
				return true
			}
		}
	}
	return false
}
