package promeval

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// RuleFile is a parsed, valid rule file.
type RuleFile struct {
	Groups []Group
}

// Group is one rule group.
type Group struct {
	Name        string
	Line        int
	QueryOffset time.Duration
	Limit       int
	Rules       []RuleInfo
}

// Rules returns every rule in file order.
func (f *RuleFile) Rules() []RuleInfo {
	var out []RuleInfo
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

// newParser returns the PromQL parser rules are parsed and evaluated with:
// Prometheus's defaults (no experimental functions).
func newParser() parser.Parser { return parser.NewParser(parser.Options{}) }

var discardLogger = slog.New(slog.DiscardHandler)

// ParseRules parses a rule file strictly, as `promtool check rules` does
// (unknown fields are errors, every expression and template is parsed). On
// any problem it returns nil and the findings, each at a line when one is
// known.
func ParseRules(content []byte, lim Limits) (*RuleFile, []Finding) {
	lim = lim.withDefaults()
	if len(content) > MaxFileBytes {
		return nil, []Finding{{Rule: RuleFmt, Message: fmt.Sprintf("the file is %d bytes; at most %d are accepted", len(content), MaxFileBytes)}}
	}
	if i := bytes.IndexByte(content, 0); i >= 0 {
		return nil, []Finding{{Line: lineAt(content, i), Rule: RuleFmt, Message: "the file holds NUL bytes: it is not a text file"}}
	}
	if !utf8.Valid(content) {
		return nil, []Finding{{Line: lineAt(content, firstInvalidUTF8(content)), Rule: RuleFmt, Message: "the file is not UTF-8 text"}}
	}
	rgs, errs := rulefmt.Parse(content, false, model.UTF8Validation, newParser(), discardLogger)
	var idx *nodeIndex
	if rgs != nil {
		idx = indexNodes(content)
	}
	if len(errs) > 0 {
		return nil, findingsOf(errs, idx)
	}
	if rgs == nil {
		return nil, []Finding{{Rule: RuleFmt, Message: "the file could not be read as rule groups"}}
	}
	f := &RuleFile{}
	n := 0
	for gi, g := range rgs.Groups {
		gn := idx.group(gi)
		grp := Group{Name: g.Name, Line: gn.line, Limit: g.Limit}
		if g.QueryOffset != nil {
			grp.QueryOffset = time.Duration(*g.QueryOffset)
		}
		for ri, r := range g.Rules {
			n++
			if n > lim.MaxRules {
				return nil, []Finding{{Line: gn.rule(ri).line, Rule: RuleFmt, Message: fmt.Sprintf("the file holds more than %d rules; the grader accepts at most %d", lim.MaxRules, lim.MaxRules)}}
			}
			rn := gn.rule(ri)
			info := RuleInfo{Group: g.Name, Line: rn.line, Expr: r.Expr, For: time.Duration(r.For), KeepFiringFor: time.Duration(r.KeepFiringFor),
				Labels: map[string]string{}, LabelLines: map[string]int{}, AnnotationLines: map[string]int{}}
			if r.Alert != "" {
				info.Kind, info.Name = KindAlert, r.Alert
			} else {
				info.Kind, info.Name = KindRecord, r.Record
			}
			for k, v := range g.Labels {
				info.Labels[k] = v
				if l := gn.labels[k]; l > 0 {
					info.LabelLines[k] = l
				}
			}
			for k, v := range r.Labels {
				info.Labels[k] = v
				if l := rn.labels[k]; l > 0 {
					info.LabelLines[k] = l
				}
			}
			if len(r.Annotations) > 0 {
				info.Annotations = make(map[string]string, len(r.Annotations))
				for k, v := range r.Annotations {
					info.Annotations[k] = v
					if l := rn.annotations[k]; l > 0 {
						info.AnnotationLines[k] = l
					}
				}
			}
			grp.Rules = append(grp.Rules, info)
		}
		f.Groups = append(f.Groups, grp)
	}
	return f, nil
}

// nodeIndex locates groups, rules and their keys in the YAML document, so
// that findings carry lines even where rulefmt's errors do not.
type nodeIndex struct {
	groups []groupNodes
}

type groupNodes struct {
	name   string
	line   int
	labels map[string]int
	rules  []ruleNodes
}

type ruleNodes struct {
	line        int
	expr        *yaml.Node
	keys        map[string]int
	labels      map[string]int
	annotations map[string]int
}

func (x *nodeIndex) group(i int) groupNodes {
	if x == nil || i < 0 || i >= len(x.groups) {
		return groupNodes{}
	}
	return x.groups[i]
}

func (g groupNodes) rule(i int) ruleNodes {
	if i < 0 || i >= len(g.rules) {
		return ruleNodes{}
	}
	return g.rules[i]
}

func resolve(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode && depth < 16; depth++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return resolve(n.Content[0])
	}
	return n
}

// mapValue returns the key and value nodes of key in a mapping.
func mapValue(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], resolve(m.Content[i+1])
		}
	}
	return nil, nil
}

func keyLines(m *yaml.Node) map[string]int {
	out := map[string]int{}
	if m == nil || m.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		out[m.Content[i].Value] = m.Content[i].Line
	}
	return out
}

func indexNodes(content []byte) *nodeIndex {
	var doc yaml.Node
	if err := yaml.Unmarshal(content, &doc); err != nil {
		return nil
	}
	x := &nodeIndex{}
	_, groups := mapValue(resolve(&doc), "groups")
	if groups == nil || groups.Kind != yaml.SequenceNode {
		return x
	}
	for _, gn := range groups.Content {
		gn = resolve(gn)
		g := groupNodes{line: gn.Line}
		if _, name := mapValue(gn, "name"); name != nil {
			g.name = name.Value
		}
		_, lbls := mapValue(gn, "labels")
		g.labels = keyLines(lbls)
		_, rules := mapValue(gn, "rules")
		if rules != nil && rules.Kind == yaml.SequenceNode {
			for _, rn := range rules.Content {
				rn = resolve(rn)
				r := ruleNodes{line: rn.Line, keys: keyLines(rn)}
				_, r.expr = mapValue(rn, "expr")
				_, l := mapValue(rn, "labels")
				r.labels = keyLines(l)
				_, a := mapValue(rn, "annotations")
				r.annotations = keyLines(a)
				g.rules = append(g.rules, r)
			}
		}
		x.groups = append(x.groups, g)
	}
	return x
}

var (
	posPrefix     = regexp.MustCompile(`^(\d+):(\d+): (?:(\d+):(\d+): )?`)
	yamlLinePfx   = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)
	unknownField  = regexp.MustCompile(`^field (\S+) not found in type rulefmt\.(\w+)$`)
	templateField = regexp.MustCompile(`^(label|annotation) "([^"]*)": `)
)

// findingsOf turns rulefmt's errors into findings with lines.
func findingsOf(errs []error, idx *nodeIndex) []Finding {
	var out []Finding
	seen := map[string]bool{}
	add := func(f Finding) {
		f.Message = cleanMessage(f.Message)
		key := fmt.Sprintf("%d:%d:%s:%s", f.Line, f.Column, f.Rule, f.Message)
		if !seen[key] {
			seen[key] = true
			out = append(out, f)
		}
	}
	for _, err := range errs {
		if rerr, ok := errors.AsType[*rulefmt.Error](err); ok {
			add(ruleFinding(rerr, idx))
			continue
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if strings.HasPrefix(msg, "unmarshal errors:\n") {
			for _, m := range unmarshalErrors(strings.TrimPrefix(msg, "unmarshal errors:\n")) {
				add(yamlFinding(m))
			}
			continue
		}
		if sm := posPrefix.FindStringSubmatch(msg); sm != nil {
			line, _ := strconv.Atoi(sm[1])
			col, _ := strconv.Atoi(sm[2])
			msg = msg[len(sm[0]):]
			if line == 0 {
				// rulefmt's group positions are not filled in: find the
				// group by the name the message quotes.
				line, col = idx.groupLine(msg), 0
			}
			add(Finding{Line: line, Column: col, Rule: RuleFmt, Message: msg})
			continue
		}
		add(yamlFinding(msg))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// unmarshalErrors splits yaml's list of unmarshal errors, one per "line N:"
// entry. An entry quotes the learner's value, which can itself hold line
// breaks: those lines belong to the entry before.
func unmarshalErrors(list string) []string {
	var out []string
	for _, l := range strings.Split(list, "\n") {
		if yamlLinePfx.MatchString(strings.TrimSpace(l)) || len(out) == 0 {
			out = append(out, strings.TrimSpace(l))
			continue
		}
		if l = strings.TrimSpace(l); l != "" {
			out[len(out)-1] += " " + l
		}
	}
	return out
}

func yamlFinding(msg string) Finding {
	f := Finding{Rule: RuleFmt, Message: msg}
	if sm := yamlLinePfx.FindStringSubmatch(msg); sm != nil {
		f.Line, _ = strconv.Atoi(sm[1])
		f.Message = msg[len(sm[0]):]
	}
	if sm := unknownField.FindStringSubmatch(f.Message); sm != nil {
		where := map[string]string{"RuleGroups": "the top level (only `groups:` is allowed)", "RuleGroup": "a group", "Rule": "a rule"}[sm[2]]
		if where == "" {
			where = sm[2]
		}
		f.Message = fmt.Sprintf("unknown field %q in %s", sm[1], where)
	}
	return f
}

func ruleFinding(e *rulefmt.Error, idx *nodeIndex) Finding {
	rn := idx.ruleIn(e.Group, e.Rule-1)
	name := e.RuleName
	if name == "" {
		name = fmt.Sprintf("rule %d", e.Rule)
	}
	where := fmt.Sprintf("group %q, %s", e.Group, name)
	inner := e.Err.Error()
	f := Finding{Rule: RuleFmt, Line: rn.line}
	if pe, ok := errors.AsType[parser.ParseErrors](error(&e.Err)); ok && len(pe) > 0 {
		f.Rule = RulePromQL
		f.Line, f.Column = exprPosition(rn.expr, pe[0])
		f.Message = fmt.Sprintf("%s: the expression does not parse: %v", where, pe[0].Err)
		return f
	}
	if pe, ok := errors.AsType[*parser.ParseErr](error(&e.Err)); ok {
		f.Rule = RulePromQL
		f.Line, f.Column = exprPosition(rn.expr, *pe)
		f.Message = fmt.Sprintf("%s: the expression does not parse: %v", where, pe.Err)
		return f
	}
	if sm := posPrefix.FindStringSubmatch(inner); sm != nil {
		if l, _ := strconv.Atoi(sm[1]); l > 0 {
			f.Line, _ = strconv.Atoi(sm[1])
			f.Column, _ = strconv.Atoi(sm[2])
		}
		inner = inner[len(sm[0]):]
	}
	if sm := templateField.FindStringSubmatch(inner); sm != nil {
		lines := rn.labels
		if sm[1] == "annotation" {
			lines = rn.annotations
		}
		if l := lines[sm[2]]; l > 0 {
			f.Line, f.Column = l, 0
		}
	}
	if strings.HasPrefix(inner, "invalid label name: ") || strings.HasPrefix(inner, "invalid label value: ") {
		if l := rn.keys["labels"]; l > 0 {
			f.Line = l
		}
	}
	if strings.HasPrefix(inner, "invalid annotation name: ") {
		if l := rn.keys["annotations"]; l > 0 {
			f.Line = l
		}
	}
	if f.Line == 0 {
		f.Line = rn.line
	}
	f.Message = where + ": " + inner
	return f
}

var (
	repeatedGroup = regexp.MustCompile(`^groupname: "(.*)" is repeated`)
)

// groupLine finds the group a group-level message is about: the second of
// a repeated name, or the first without a name.
func (x *nodeIndex) groupLine(msg string) int {
	if x == nil {
		return 0
	}
	if sm := repeatedGroup.FindStringSubmatch(msg); sm != nil {
		seen := 0
		for _, g := range x.groups {
			if g.name == sm[1] {
				if seen++; seen == 2 {
					return g.line
				}
			}
		}
	}
	if strings.HasPrefix(msg, "Groupname must not be empty") {
		for _, g := range x.groups {
			if g.name == "" {
				return g.line
			}
		}
	}
	return 0
}

// ruleIn finds rule i of the group called name (rulefmt's errors name the
// group, not its index). An invalid file may repeat a group name: then the
// first such group with a rule i is taken.
func (x *nodeIndex) ruleIn(name string, i int) ruleNodes {
	if x == nil {
		return ruleNodes{}
	}
	for _, g := range x.groups {
		if g.name == name && i >= 0 && i < len(g.rules) {
			return g.rules[i]
		}
	}
	return ruleNodes{}
}

// exprPosition maps a position inside an expression to the file.
func exprPosition(expr *yaml.Node, pe parser.ParseErr) (line, col int) {
	if expr == nil {
		return 0, 0
	}
	// Errors at the end of the input ("unclosed left parenthesis") point
	// past the block's final newline: keep them on its last line.
	q := strings.TrimRight(pe.Query, "\n")
	pos := int(pe.PositionRange.Start)
	if pos < 0 {
		pos = 0
	}
	if pos > len(q) {
		pos = len(q)
	}
	l, lastNL := 0, -1
	for i := 0; i < pos; i++ {
		if q[i] == '\n' {
			l++
			lastNL = i
		}
	}
	c := pos - lastNL
	switch expr.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// The block starts on the line after the `|` or `>` indicator;
		// its indentation is not part of the query.
		return expr.Line + 1 + l, 0
	default:
		if l == 0 {
			off := 0
			if expr.Style == yaml.DoubleQuotedStyle || expr.Style == yaml.SingleQuotedStyle {
				off = 1
			}
			return expr.Line, expr.Column + off + c - 1
		}
		return expr.Line + l, 0
	}
}

func cleanMessage(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

func lineAt(b []byte, off int) int {
	if off < 0 || off > len(b) {
		return 0
	}
	return bytes.Count(b[:off], []byte("\n")) + 1
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}
