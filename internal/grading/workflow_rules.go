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
	// reported remembers findings about one job's if: or
	// continue-on-error: that several needs assertions would repeat.
	reported map[string]bool
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

// needs checks that the job waits for each wanted job, directly or
// through others, and runs only after it succeeded: needs: alone gives
// that (GitHub adds success() && to an if: that calls no status function),
// but an if: with always(), failure(), cancelled() (or !cancelled(),
// success() || failure()) on the job or on a job between them lets it run
// after a failure, and so does continue-on-error: on the wanted job (its
// failure counts as a success).
func (a *wfAsserter) needs(id string, want []string) {
	j := a.job(id)
	if j == nil {
		return
	}
	// reach: every job j waits for. gated: those j runs only after, when
	// each job on the way keeps success(); via remembers the first job on
	// the way that does not.
	reach := map[string]bool{}
	gated := map[string]bool{}
	via := map[string]*actionlint.Job{}
	type item struct {
		job   *actionlint.Job
		gated bool
		open  *actionlint.Job
	}
	queue := []item{{j, true, nil}}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		g, open := cur.gated, cur.open
		if g && !a.keepsSuccess(cur.job) {
			g, open = false, cur.job
		}
		for _, n := range cur.job.Needs {
			k := strings.ToLower(wfStr(n))
			if k == "" || g && gated[k] || !g && reach[k] {
				continue
			}
			reach[k] = true
			if g {
				gated[k] = true
			} else if via[k] == nil {
				via[k] = open
			}
			if nj := a.wf.Jobs[k]; nj != nil {
				queue = append(queue, item{nj, g, open})
			}
		}
	}
	var missing []string
	for _, w := range want {
		if !reach[strings.ToLower(w)] {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 {
		pos := j.Pos
		if len(j.Needs) > 0 && j.Needs[0] != nil {
			pos = j.Needs[0].Pos
		}
		a.add("needs", pos, "job %s does not wait for %s: add needs: [%s]. Jobs without needs: start at once, in parallel, so %s would run even when %s fails", wfStr(j.ID), strings.Join(missing, " and "), strings.Join(want, ", "), wfStr(j.ID), strings.Join(missing, " or "))
	}
	for _, w := range want {
		k := strings.ToLower(w)
		if !reach[k] {
			continue
		}
		if !gated[k] {
			a.statusOverride(via[k], j, w)
		}
		if nj := a.wf.Jobs[k]; nj != nil {
			a.continueOnError(nj, j)
		}
	}
}

// keepsSuccess: the job runs only when every job it needs succeeded.
func (a *wfAsserter) keepsSuccess(j *actionlint.Job) bool {
	cond, ok := wfParseIf(j.If)
	if !ok || cond == nil {
		// An unreadable if: is actionlint's to report.
		return true
	}
	return !wfRunsIn(cond, wfNeedFailed) && !wfRunsIn(cond, wfRunCancelled)
}

// statusOverride reports the if: of job x (on the way from job to the
// wanted job w) that lets it run after a failure; once per job x.
func (a *wfAsserter) statusOverride(x, job *actionlint.Job, w string) {
	if x == nil || x.If == nil {
		return
	}
	if a.reported == nil {
		a.reported = map[string]bool{}
	}
	key := "if:" + strings.ToLower(wfStr(x.ID))
	if a.reported[key] {
		return
	}
	a.reported[key] = true
	cond, _ := wfParseIf(x.If)
	calls := wfStatusCalls(cond)
	for i := range calls {
		calls[i] += "()"
	}
	var needs []string
	for _, n := range x.Needs {
		needs = append(needs, wfStr(n))
	}
	xid := wfStr(x.ID)
	var when []string
	if wfRunsIn(cond, wfNeedFailed) {
		when = append(when, strings.Join(needs, " or ")+" fails")
	}
	if wfRunsIn(cond, wfRunCancelled) {
		when = append(when, "the run is cancelled")
	}
	msg := fmt.Sprintf("job %s's if: calls %s, so %s runs even when %s", xid, strings.Join(calls, " and "), xid, strings.Join(when, " or "))
	if x != job {
		msg += fmt.Sprintf(": %s can follow a failed %s", wfStr(job.ID), w)
	}
	msg += ". GitHub adds success() && to an if: only when it calls none of success(), failure(), cancelled() and always(): drop them (a condition without them, such as github.ref == 'refs/heads/main', still waits for every need to succeed), or start it with success() &&"
	a.add("needs", x.If.Pos, "%s", msg)
}

// continueOnError reports continue-on-error: on a job another job waits
// for: a failure there counts as a success. An expression that reads only
// the matrix (continue-on-error: ${{ matrix.experimental }}) is the usual
// way to let chosen runs of a matrix fail, and is accepted.
func (a *wfAsserter) continueOnError(w, job *actionlint.Job) {
	c := w.ContinueOnError
	if c == nil {
		return
	}
	if a.reported == nil {
		a.reported = map[string]bool{}
	}
	key := "continue-on-error:" + strings.ToLower(wfStr(w.ID))
	if a.reported[key] {
		return
	}
	wid := wfStr(w.ID)
	why := fmt.Sprintf("GitHub counts a failed %s as a success, so %s runs after %s fails: remove it (on a matrix job, continue-on-error: ${{ matrix.experimental }} lets only the runs you mark fail)", wid, wfStr(job.ID), wid)
	switch {
	case c.Expression != nil:
		n, ok := wfParseExpr(c.Expression.Value)
		if ok && wfOnlyMatrix(n) {
			return
		}
		a.reported[key] = true
		a.add("needs", c.Pos, "continue-on-error: %s on job %s can be true: then %s", c.Expression.Value, wid, why)
	case c.Value || a.rawTrue(c.Pos):
		a.reported[key] = true
		a.add("needs", c.Pos, "continue-on-error: true on job %s: %s", wid, why)
	}
}

// rawTrue: the scalar at pos is a YAML true in any spelling (True, TRUE).
func (a *wfAsserter) rawTrue(pos *actionlint.Pos) bool {
	if a.doc == nil || pos == nil {
		return false
	}
	found := false
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || found {
			return
		}
		if n.Kind == yaml.ScalarNode && n.Line == pos.Line && n.Column == pos.Col {
			found = n.Tag == "!!bool" && strings.EqualFold(n.Value, "true")
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(a.doc)
	return found
}

// wfOnlyMatrix: the expression reads the matrix context and nothing else.
func wfOnlyMatrix(n actionlint.ExprNode) bool {
	matrix, other := false, false
	actionlint.VisitExprNode(n, func(node, _ actionlint.ExprNode, entering bool) {
		if v, ok := node.(*actionlint.VariableNode); ok && entering {
			if strings.EqualFold(v.Name, "matrix") {
				matrix = true
			} else {
				other = true
			}
		}
	})
	return matrix && !other
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
	jid := wfStr(j.ID)
	if j.If != nil {
		cond, ok := wfParseIf(j.If)
		if ok {
			if why := wfMainMistake(cond, jid); why != "" {
				a.add("main-only", j.If.Pos, "job %s's if: %q %s", jid, j.If.Value, why)
				return
			}
		}
		a.add("main-only", j.If.Pos, "job %s's if: %q does not limit it to main: it would also run for pull requests and other branches. Use if: github.ref == 'refs/heads/main' (github.ref is refs/pull/N/merge on a pull request)", jid, j.If.Value)
		return
	}
	for _, s := range j.Steps {
		if s == nil || s.If == nil {
			continue
		}
		if cond, ok := wfParseIf(s.If); ok && cond != nil && wfImpliesMain(cond, true) {
			env := ""
			if j.Environment != nil && j.Environment.Name != nil {
				env = fmt.Sprintf(": it waits for the %s environment's reviewers and can read its secrets", j.Environment.Name.Value)
			}
			a.add("main-only", j.Pos, "job %s runs for every trigger; only its steps check the branch (line %d), so on a pull request the job still starts%s. Move the condition to the job: if: github.ref == 'refs/heads/main' under %s:", jid, wfLine(s.If.Pos), env, jid)
			return
		}
	}
	a.add("main-only", j.Pos, "job %s runs for every trigger, pull requests and other branches included: add if: github.ref == 'refs/heads/main' so only merged code on main is deployed", jid)
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
// runs only on main and does not run when that need is skipped.
func (a *wfAsserter) jobMainOnly(j *actionlint.Job, visiting map[string]bool) bool {
	k := strings.ToLower(wfStr(j.ID))
	if visiting[k] {
		return false
	}
	visiting[k] = true
	defer delete(visiting, k)
	cond, ok := wfParseIf(j.If)
	if ok && cond != nil && wfImpliesMain(cond, true) {
		return true
	}
	if !ok || wfRunsIn(cond, wfNeedSkipped) {
		return false
	}
	for _, n := range j.Needs {
		if nj := a.wf.Jobs[strings.ToLower(wfStr(n))]; nj != nil && a.jobMainOnly(nj, visiting) {
			return true
		}
	}
	return false
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
	lkey := strings.ToLower(key)
	x := wfExpandMatrix(m, lkey)
	pos := m.Pos
	row := m.Rows[lkey]
	if row != nil && row.Name != nil {
		pos = row.Name.Pos
	}
	switch {
	case x.unknown != nil && x.what == "the whole matrix":
		a.add("matrix", x.unknown.Pos, "job %s's matrix is computed by an expression (%s), computed when the workflow runs, so the grader cannot see its %s values: list them in the file", wfStr(j.ID), x.unknown.Value, key)
		return
	case x.unknown != nil && row != nil && row.Expression == x.unknown:
		a.add("matrix", x.unknown.Pos, "job %s's matrix %s: is an expression (%s), computed when the workflow runs, so the grader cannot count its values: list them", wfStr(j.ID), key, x.unknown.Value)
		return
	case x.unknown != nil:
		a.add("matrix", x.unknown.Pos, "job %s's matrix takes %s from an expression (%s), computed when the workflow runs, so the grader cannot tell which %s values the job gets: write the entries in the file", wfStr(j.ID), x.what, x.unknown.Value, key)
		return
	case x.tooMany > 0:
		a.add("matrix", m.Pos, "job %s's matrix is too large for the grader to expand (%d or more combinations of its lists, with their include: and exclude: entries); GitHub runs at most 256 jobs of a matrix", wfStr(j.ID), x.tooMany)
		return
	}
	values := map[string]bool{}
	var shown, computed []string
	var missing []*wfMatrixRun
	for _, r := range x.runs {
		v, ok := r.vals[lkey]
		switch {
		case !ok:
			missing = append(missing, r)
		case v.expr:
			computed = append(computed, v.v.(*actionlint.RawYAMLString).Value)
		case !values[v.v.String()]:
			values[v.v.String()] = true
			shown = append(shown, v.v.String())
		}
	}
	if len(values) == 0 && len(computed) == 0 && row == nil {
		a.add("matrix", m.Pos, "job %s's matrix has no %s: key; add %s: with at least %d values (or include: entries that set it), so the job runs once per value", wfStr(j.ID), key, key, min)
		return
	}
	if len(values) < min {
		msg := fmt.Sprintf("job %s's matrix %s: has %d value(s) (%s); it needs at least %d, so the job runs once per value", wfStr(j.ID), key, len(values), strings.Join(shown, ", "), min)
		switch {
		case len(computed) > 0:
			msg += fmt.Sprintf(". %s is computed when the workflow runs, so the grader does not count it: write the version in the file", computed[0])
		case x.mergedKey:
			msg += fmt.Sprintf(". include: entries that do not conflict with the matrix's own keys extend its runs instead of adding runs, and a later entry overwrites what an earlier one set: list the values under %s: instead", key)
		case x.excluded:
			msg += ". exclude: removed the runs with the other values"
		}
		a.add("matrix", pos, "%s", msg)
	}
	for i, r := range missing {
		if i == 3 {
			a.add("matrix", pos, "job %s's matrix has %d more runs without %s", wfStr(j.ID), len(missing)-i, key)
			break
		}
		at := pos
		if r.at != nil {
			at = r.at
		}
		a.add("matrix", at, "job %s's matrix: the run %s has no %s, so ${{ matrix.%s }} is empty in it: give every run a value (in the %s: list, or in the include: entry that makes the run)", wfStr(j.ID), x.describe(r), key, key, key)
	}
	a.matrixNumbers(j, key)
}

// matrixNumbers flags version numbers YAML reads as floats: go-version:
// [1.20] becomes 1.2 before setup-go sees it.
func (a *wfAsserter) matrixNumbers(j *actionlint.Job, key string) {
	var nodes []*yaml.Node
	if seq := wfNodeAt(a.doc, "jobs", wfStr(j.ID), "strategy", "matrix", key); seq != nil && seq.Kind == yaml.SequenceNode {
		nodes = append(nodes, seq.Content...)
	}
	if inc := wfNodeAt(a.doc, "jobs", wfStr(j.ID), "strategy", "matrix", "include"); inc != nil && inc.Kind == yaml.SequenceNode {
		for _, e := range inc.Content {
			for e != nil && e.Kind == yaml.AliasNode {
				e = e.Alias
			}
			if e == nil || e.Kind != yaml.MappingNode {
				continue
			}
			for i := 0; i+1 < len(e.Content); i += 2 {
				if strings.EqualFold(e.Content[i].Value, key) {
					nodes = append(nodes, e.Content[i+1])
				}
			}
		}
	}
	for _, v := range nodes {
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
	// A step that runs the command but cannot fail the job (continue-on-
	// error, or `|| true` after it) does not count: the jobs that need
	// this one would run after it failed.
	var excuse string
	var excusePos *actionlint.Pos
	for _, s := range j.Steps {
		if s == nil {
			continue
		}
		e, ok := s.Exec.(*actionlint.ExecRun)
		if !ok || e == nil || e.Run == nil {
			continue
		}
		for _, want := range anyOf {
			line, ok := wfScriptLine(e.Run.Value, want)
			if !ok {
				continue
			}
			if c := s.ContinueOnError; c != nil && (c.Expression == nil && (c.Value || a.rawTrue(c.Pos)) || c.Expression != nil && !wfExprOnlyMatrix(c.Expression.Value)) {
				if excuse == "" {
					excuse = fmt.Sprintf("the step that runs `%s` in job %s has continue-on-error: %s, so the job succeeds when it fails and the jobs that need %s run anyway: remove it", want, wfStr(j.ID), wfBoolText(c), wfStr(j.ID))
					excusePos = c.Pos
				}
				continue
			}
			if m := wfSwallow.FindString(line); m != "" {
				if excuse == "" {
					excuse = fmt.Sprintf("`%s` in job %s ends with `%s`, so the step succeeds when it fails and the jobs that need %s run anyway: remove it", strings.TrimSpace(line), wfStr(j.ID), strings.TrimSpace(m), wfStr(j.ID))
					excusePos = e.Run.Pos
				}
				continue
			}
			return
		}
	}
	if excuse != "" {
		a.add("runs", excusePos, "%s", excuse)
		return
	}
	q := make([]string, len(anyOf))
	for i, c := range anyOf {
		q[i] = "`" + c + "`"
	}
	a.add("runs", j.Pos, "no run: step of job %s runs %s", wfStr(j.ID), strings.Join(q, " or "))
}

// wfSwallow matches what makes a failing command succeed: || true, || :,
// || exit 0, || echo ...
var wfSwallow = regexp.MustCompile(`\|\|\s*(true\b|:|exit\s+0\b|echo\b).*$`)

func wfBoolText(c *actionlint.Bool) string {
	if c.Expression != nil {
		return c.Expression.Value
	}
	return "true"
}

// wfExprOnlyMatrix: the ${{ }} text reads the matrix context and nothing
// else (continue-on-error: ${{ matrix.experimental }}).
func wfExprOnlyMatrix(v string) bool {
	n, ok := wfParseExpr(v)
	return ok && wfOnlyMatrix(n)
}

var wfShellSep = strings.NewReplacer(";", " ", "&&", " ", "||", " ", "|", " ", "(", " ", ")", " ", "`", " ", "$(", " ")

// wfScriptLine returns the first line of script (comment cut off) that has
// the words of cmd in a row.
func wfScriptLine(script, cmd string) (string, bool) {
	want := strings.Fields(cmd)
	if len(want) == 0 {
		return "", false
	}
	for _, line := range strings.Split(script, "\n") {
		if i := wfCommentStart(line); i >= 0 {
			line = line[:i]
		}
		words := strings.Fields(wfShellSep.Replace(line))
		for i := 0; i+len(want) <= len(words); i++ {
			match := true
			for k := range want {
				if words[i+k] != want[k] {
					match = false
					break
				}
			}
			if match {
				return line, true
			}
		}
	}
	return "", false
}

// wfCommentStart returns where a # comment starts (a # at the start of a
// word), or -1.
func wfCommentStart(line string) int {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t' || strings.ContainsRune(";&|()`", rune(line[i-1]))) {
			return i
		}
	}
	return -1
}
