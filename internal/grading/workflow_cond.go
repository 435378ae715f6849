package grading

import (
	"fmt"
	"strings"

	"github.com/rhysd/actionlint"
)

// Conditions (if:) are read with actionlint's expression parser, never
// with patterns over the text: `github.ref=='refs/heads/main'`,
// `${{ github['ref'] == 'refs/heads/Main' }}` and
// `!(github.ref != 'refs/heads/main')` are the same condition.

// wfTri is a truth value that may be unknown until the workflow runs.
type wfTri int8

const (
	wfFalse wfTri = iota
	wfTrue
	wfUnknown
)

func wfTriOf(b bool) wfTri {
	if b {
		return wfTrue
	}
	return wfFalse
}

func (t wfTri) not() wfTri {
	switch t {
	case wfTrue:
		return wfFalse
	case wfFalse:
		return wfTrue
	}
	return wfUnknown
}

// wfJobStatus is what GitHub's status functions return in a job's if:
// in one situation of the jobs it needs. always() is always true.
type wfJobStatus struct {
	name                       string
	success, failure, canceled bool
}

var (
	// A needed job (or one of its ancestors) failed: failure() is true
	// for any failed ancestor.
	wfNeedFailed = wfJobStatus{name: "failed", failure: true}
	// The run was cancelled (by hand, or by concurrency: cancel-in-progress).
	wfRunCancelled = wfJobStatus{name: "cancelled", canceled: true}
	// A needed job was skipped (its own if: was false): neither success
	// nor failure.
	wfNeedSkipped = wfJobStatus{name: "skipped"}
)

// wfStatusFuncs are the functions whose presence in an if: stops GitHub
// from adding its implicit success() &&.
var wfStatusFuncs = map[string]bool{"success": true, "failure": true, "cancelled": true, "always": true}

// wfStatusCalls lists the status functions a condition calls, in order,
// each once, lower case.
func wfStatusCalls(n actionlint.ExprNode) []string {
	var out []string
	seen := map[string]bool{}
	actionlint.VisitExprNode(n, func(node, _ actionlint.ExprNode, entering bool) {
		if c, ok := node.(*actionlint.FuncCallNode); ok && entering {
			name := strings.ToLower(c.Callee)
			if wfStatusFuncs[name] && !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	})
	return out
}

// wfEvalStatus evaluates a condition in a status situation: status
// functions and literals are known, everything else (github.ref, other
// functions) is unknown, with Kleene's three-valued && || and !.
func wfEvalStatus(n actionlint.ExprNode, s wfJobStatus) wfTri {
	switch e := n.(type) {
	case *actionlint.FuncCallNode:
		switch strings.ToLower(e.Callee) {
		case "always":
			return wfTrue
		case "success":
			return wfTriOf(s.success)
		case "failure":
			return wfTriOf(s.failure)
		case "cancelled":
			return wfTriOf(s.canceled)
		}
	case *actionlint.NotOpNode:
		return wfEvalStatus(e.Operand, s).not()
	case *actionlint.LogicalOpNode:
		l, r := wfEvalStatus(e.Left, s), wfEvalStatus(e.Right, s)
		if e.Kind == actionlint.LogicalOpNodeKindAnd {
			switch {
			case l == wfFalse || r == wfFalse:
				return wfFalse
			case l == wfTrue && r == wfTrue:
				return wfTrue
			}
			return wfUnknown
		}
		switch {
		case l == wfTrue || r == wfTrue:
			return wfTrue
		case l == wfFalse && r == wfFalse:
			return wfFalse
		}
		return wfUnknown
	case *actionlint.CompareOpNode:
		// success() == false and the like: only two known booleans.
		if e.Kind == actionlint.CompareOpNodeKindEq || e.Kind == actionlint.CompareOpNodeKindNotEq {
			l, r := wfEvalStatus(e.Left, s), wfEvalStatus(e.Right, s)
			if l != wfUnknown && r != wfUnknown && wfIsBoolish(e.Left) && wfIsBoolish(e.Right) {
				eq := l == r
				if e.Kind == actionlint.CompareOpNodeKindNotEq {
					eq = !eq
				}
				return wfTriOf(eq)
			}
		}
	case *actionlint.BoolNode:
		return wfTriOf(e.Value)
	case *actionlint.NullNode:
		return wfFalse
	case *actionlint.IntNode:
		return wfTriOf(e.Value != 0)
	case *actionlint.FloatNode:
		return wfTriOf(e.Value != 0)
	case *actionlint.StringNode:
		return wfTriOf(e.Value != "")
	}
	return wfUnknown
}

// wfIsBoolish: the node's value is a boolean (so == compares truth values).
func wfIsBoolish(n actionlint.ExprNode) bool {
	switch e := n.(type) {
	case *actionlint.BoolNode, *actionlint.NotOpNode, *actionlint.LogicalOpNode:
		return true
	case *actionlint.FuncCallNode:
		return wfStatusFuncs[strings.ToLower(e.Callee)]
	}
	return false
}

// wfRunsIn reports whether a job with this condition may run in the
// situation; a condition that calls no status function gets GitHub's
// implicit success() && and so never runs after a failed or skipped need.
func wfRunsIn(cond actionlint.ExprNode, s wfJobStatus) bool {
	if cond == nil || len(wfStatusCalls(cond)) == 0 {
		return s.success
	}
	return wfEvalStatus(cond, s) != wfFalse
}

// wfParseIf parses an if: condition. ok is false when it cannot be read
// (then it must be treated as possibly always true); a nil node with ok
// means there is no condition.
func wfParseIf(s *actionlint.String) (actionlint.ExprNode, bool) {
	if s == nil {
		return nil, true
	}
	return wfParseExpr(s.Value)
}

// wfParseExpr parses a condition written bare or as one ${{ }}.
func wfParseExpr(v string) (actionlint.ExprNode, bool) {
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

// wfContextProp renders github.ref, github['ref'] or github.event.ref as
// a lower-case dotted path; "" for anything else.
func wfContextProp(n actionlint.ExprNode) string {
	switch e := n.(type) {
	case *actionlint.VariableNode:
		return strings.ToLower(e.Name)
	case *actionlint.ObjectDerefNode:
		if r := wfContextProp(e.Receiver); r != "" {
			return r + "." + strings.ToLower(e.Property)
		}
	case *actionlint.IndexAccessNode:
		s, ok := e.Index.(*actionlint.StringNode)
		if !ok {
			return ""
		}
		if r := wfContextProp(e.Operand); r != "" {
			return r + "." + strings.ToLower(s.Value)
		}
	}
	return ""
}

// wfRefProps are the expressions that hold the full ref being built.
// github.event.ref is set by push events only (null on a pull request).
var wfRefProps = map[string]bool{"github.ref": true, "github.event.ref": true}

// wfImpliesMain reports whether n (negated when !positive) can be true
// only for the main branch. The condition must pin main by itself: which
// events and branches trigger the workflow changes over time, and a deploy
// guard must not depend on it.
func wfImpliesMain(n actionlint.ExprNode, positive bool) bool {
	switch e := n.(type) {
	case *actionlint.NotOpNode:
		return wfImpliesMain(e.Operand, !positive)
	case *actionlint.LogicalOpNode:
		and := e.Kind == actionlint.LogicalOpNodeKindAnd
		if !positive {
			and = !and // De Morgan
		}
		if and {
			return wfImpliesMain(e.Left, positive) || wfImpliesMain(e.Right, positive)
		}
		return wfImpliesMain(e.Left, positive) && wfImpliesMain(e.Right, positive)
	case *actionlint.CompareOpNode:
		eq := e.Kind == actionlint.CompareOpNodeKindEq
		if !eq && e.Kind != actionlint.CompareOpNodeKindNotEq {
			return false
		}
		if eq != positive {
			return false
		}
		return wfIsMain(e.Left, e.Right) || wfIsMain(e.Right, e.Left)
	}
	return false
}

// wfIsMain: prop == lit pins the main branch. GitHub compares strings
// ignoring case.
func wfIsMain(prop, lit actionlint.ExprNode) bool {
	s, ok := lit.(*actionlint.StringNode)
	if !ok {
		return false
	}
	p := wfContextProp(prop)
	switch {
	case wfRefProps[p]:
		return strings.EqualFold(s.Value, "refs/heads/main")
	case p == "github.ref_name":
		return strings.EqualFold(s.Value, "main")
	}
	return false
}

// wfMainMistake explains the first comparison in a condition that looks
// like a main-branch guard but is not one, or returns "". The text follows
// `job X's if: "..." `.
func wfMainMistake(n actionlint.ExprNode, job string) string {
	msg := ""
	actionlint.VisitExprNode(n, func(node, _ actionlint.ExprNode, entering bool) {
		if !entering || msg != "" {
			return
		}
		switch e := node.(type) {
		case *actionlint.CompareOpNode:
			if e.Kind != actionlint.CompareOpNodeKindEq {
				return
			}
			for _, pair := range [][2]actionlint.ExprNode{{e.Left, e.Right}, {e.Right, e.Left}} {
				s, ok := pair[1].(*actionlint.StringNode)
				if !ok {
					continue
				}
				switch p := wfContextProp(pair[0]); {
				case wfRefProps[p] && !strings.HasPrefix(strings.ToLower(s.Value), "refs/"):
					msg = fmt.Sprintf("is never true: %s is the full ref, refs/heads/main: comparing it with '%s' is never true, so %s would never run. Write %s == 'refs/heads/%s' (or github.ref_name == '%s')", p, s.Value, job, p, s.Value, s.Value)
				case p == "github.ref_name" && strings.HasPrefix(strings.ToLower(s.Value), "refs/"):
					short := s.Value[strings.LastIndexByte(s.Value, '/')+1:]
					msg = fmt.Sprintf("is never true: github.ref_name is the short name, main: comparing it with '%s' is never true, so %s would never run. Write github.ref_name == '%s' (or github.ref == '%s')", s.Value, job, short, s.Value)
				case p == "github.base_ref":
					msg = fmt.Sprintf("does not limit it to main: github.base_ref is the branch a pull request wants to merge into: github.base_ref == '%s' is true for every pull request into %s, before anyone reviewed or merged it, and empty after a push. Use github.ref == 'refs/heads/main', the branch that was pushed", s.Value, s.Value)
				case p == "github.event_name" && strings.EqualFold(s.Value, "push"):
					msg = fmt.Sprintf("does not limit it to main: github.event_name == '%s' keeps pull requests out, but not other branches: the day push: runs for more branches or tags, a push there deploys too. Add && github.ref == 'refs/heads/main'", s.Value)
				case p == "github.head_ref":
					msg = fmt.Sprintf("does not limit it to main: github.head_ref is the branch a pull request comes from (any fork can name its branch %s), and empty after a push. Use github.ref == 'refs/heads/main', the branch that was pushed", s.Value)
				}
				if msg != "" {
					return
				}
			}
		case *actionlint.FuncCallNode:
			fn := strings.ToLower(e.Callee)
			if fn != "startswith" && fn != "endswith" && fn != "contains" || len(e.Args) == 0 {
				return
			}
			p := wfContextProp(e.Args[0])
			if !wfRefProps[p] && p != "github.ref_name" {
				return
			}
			name := map[string]string{"startswith": "startsWith", "endswith": "endsWith", "contains": "contains"}[fn]
			examples := map[string]string{
				"startswith": "refs/heads/main-old, refs/heads/maintenance",
				"endswith":   "refs/heads/feature/main, refs/heads/not-main",
				"contains":   "refs/heads/maintenance, refs/heads/fix-main-crash",
			}[fn]
			msg = fmt.Sprintf("does not limit it to main: %s() is also true for %s, so the day push: runs for more branches, those deploy too. Compare the whole ref: github.ref == 'refs/heads/main'", name, examples)
		}
	})
	return msg
}
