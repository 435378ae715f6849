package grading

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"gopkg.in/yaml.v3"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// DockerfileChecker is the `dockerfile` check kind: it reads a learner's
// Dockerfile (and optionally their .dockerignore), parses it with BuildKit's
// parser and reports every broken rule as a Finding with a line and a
// message that teaches. It never builds anything; the docker-build kind does.
//
// The check's `with:` block (decoded strictly):
//
//	with:
//	  path: app/Dockerfile              # the learner's Dockerfile, relative to their home (required)
//	  rules: [pinned-base, exec-form]   # rules to enforce; default: every rule that applies
//	  port: 8080                        # for `expose` (1-65535); `expose` applies only when set
//	  dockerignore: app/.dockerignore   # for `dockerignore`; it applies only when set
//	  must_ignore: [.git, .env]         # paths (relative to the build context) the
//	                                    # .dockerignore must exclude; default [.git]
//
// Rule ids (part of the contract; labs name them):
//
//	pinned-base     every FROM names a tag or digest other than latest (scratch and stage names are fine)
//	multi-stage     two or more stages; the final stage holds no build toolchain and copies artefacts with COPY --from
//	non-root-user   the final stage runs as a USER other than root/0
//	copy-not-add    ADD only for http(s) URLs; COPY for everything else
//	exec-form       CMD and ENTRYPOINT in exec (JSON array) form
//	healthcheck     the final stage has a HEALTHCHECK (not NONE)
//	expose          the final stage EXPOSEs `port`
//	dockerignore    the .dockerignore exists and excludes every path of must_ignore
//	apt-hygiene     each RUN with apt-get install also runs apt-get update first, uses -y and
//	                --no-install-recommends, and removes /var/lib/apt/lists
//	legacy-builder  no BuildKit-only syntax (heredocs, RUN --mount, COPY --chmod/--link, ...):
//	                opsdojo builds with the legacy builder (Docker API 1.41)
//
// Findings of rule `syntax` (the file does not parse) are always reported.
// Comments in the learner's file (`# hadolint ignore=...`, `# check=skip=...`)
// switch nothing off.
type DockerfileChecker struct{}

// Rule ids of the dockerfile kind.
const (
	DockerfileRulePinnedBase    = "pinned-base"
	DockerfileRuleMultiStage    = "multi-stage"
	DockerfileRuleNonRootUser   = "non-root-user"
	DockerfileRuleCopyNotAdd    = "copy-not-add"
	DockerfileRuleExecForm      = "exec-form"
	DockerfileRuleHealthcheck   = "healthcheck"
	DockerfileRuleExpose        = "expose"
	DockerfileRuleDockerignore  = "dockerignore"
	DockerfileRuleAptHygiene    = "apt-hygiene"
	DockerfileRuleLegacyBuilder = "legacy-builder"
	// DockerfileRuleSyntax marks findings where the file does not parse; always on.
	DockerfileRuleSyntax = "syntax"
)

// DockerfileRules lists the selectable rule ids in the order they are
// documented.
var DockerfileRules = []string{
	DockerfileRulePinnedBase, DockerfileRuleMultiStage, DockerfileRuleNonRootUser, DockerfileRuleCopyNotAdd, DockerfileRuleExecForm,
	DockerfileRuleHealthcheck, DockerfileRuleExpose, DockerfileRuleDockerignore, DockerfileRuleAptHygiene, DockerfileRuleLegacyBuilder,
}

const (
	// dockerfileReadLimit bounds what the grader reads of a learner file.
	dockerfileReadLimit = 1 << 20
	// dockerfileMaxFindings is how many findings a result lists.
	dockerfileMaxFindings = 200
	// dockerfileKeepFindings bounds the findings held in memory while
	// analysing; beyond it they are only counted.
	dockerfileKeepFindings = 2000
	// dfMaxMustIgnore bounds must_ignore.
	dfMaxMustIgnore = 32
	// dfMaxExpand bounds the words handed to the variable expander.
	dfMaxExpand = 4096
	// dfMaxIgnorePatterns and dfMaxIgnoreSegments bound the .dockerignore
	// patterns matched (real ones have tens of short lines).
	dfMaxIgnorePatterns = 1000
	dfMaxIgnoreSegments = 32
)

// dockerfileArgs is the decoded `with:` block.
type dockerfileArgs struct {
	Path         string   `yaml:"path"`
	Rules        []string `yaml:"rules"`
	Port         int      `yaml:"port"`
	Dockerignore string   `yaml:"dockerignore"`
	MustIgnore   []string `yaml:"must_ignore"`
}

// dockerfileOptions is what the analysis needs, validated.
type dockerfileOptions struct {
	path         string
	rules        map[string]bool
	port         int
	dockerignore string
	mustIgnore   []string
}

func (o *dockerfileOptions) on(rule string) bool { return o.rules[rule] }

// ValidateArgs implements ArgsValidator: it decodes with strictly and checks
// it, so a lab author sees mistakes when the lab loads.
func (DockerfileChecker) ValidateArgs(labDir string, with []byte) error {
	_, err := parseDockerfileArgs(with)
	return err
}

var dfYAMLUnknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)

func parseDockerfileArgs(with []byte) (*dockerfileOptions, error) {
	if len(bytes.TrimSpace(with)) == 0 {
		return nil, errors.New("dockerfile checks need a with: block naming at least path (the learner's Dockerfile, e.g. path: app/Dockerfile)")
	}
	var a dockerfileArgs
	dec := yaml.NewDecoder(bytes.NewReader(with))
	dec.KnownFields(true)
	if err := dec.Decode(&a); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
		msg = dfYAMLUnknownField.ReplaceAllString(msg, "unknown field $1 (known: path, rules, port, dockerignore, must_ignore)")
		return nil, fmt.Errorf("with: %s", msg)
	}
	var problems []string
	o := &dockerfileOptions{rules: map[string]bool{}, port: a.Port}
	if a.Path == "" {
		problems = append(problems, "path is required: the learner's Dockerfile relative to their home, e.g. app/Dockerfile")
	} else if p, err := CleanPath(a.Path); err != nil {
		problems = append(problems, "path: "+err.Error())
	} else {
		o.path = p
	}
	if a.Port < 0 || a.Port > 65535 {
		problems = append(problems, fmt.Sprintf("port %d must be between 1 and 65535", a.Port))
	}
	if a.Dockerignore != "" {
		if p, err := CleanPath(a.Dockerignore); err != nil {
			problems = append(problems, "dockerignore: "+err.Error())
		} else {
			o.dockerignore = p
		}
	}
	if len(a.MustIgnore) > 0 && a.Dockerignore == "" {
		problems = append(problems, "must_ignore needs dockerignore: the path of the learner's .dockerignore")
	}
	if len(a.MustIgnore) > dfMaxMustIgnore {
		problems = append(problems, fmt.Sprintf("must_ignore lists at most %d paths", dfMaxMustIgnore))
	}
	for _, m := range a.MustIgnore {
		c, err := CleanPath(m)
		if err != nil || c == "." {
			problems = append(problems, fmt.Sprintf("must_ignore: %q must be a path inside the build context, such as .git or server.log", m))
			continue
		}
		if strings.Count(c, "/") >= dfMaxIgnoreSegments {
			problems = append(problems, fmt.Sprintf("must_ignore: %q is too deep", m))
			continue
		}
		o.mustIgnore = append(o.mustIgnore, c)
	}
	if a.Dockerignore != "" && len(a.MustIgnore) == 0 {
		o.mustIgnore = []string{".git"}
	}
	if a.Rules == nil {
		for _, r := range DockerfileRules {
			if (r == DockerfileRuleExpose && a.Port == 0) || (r == DockerfileRuleDockerignore && a.Dockerignore == "") {
				continue
			}
			o.rules[r] = true
		}
	} else if len(a.Rules) == 0 {
		problems = append(problems, "rules is empty: list the rules to enforce, or leave rules out to enforce all that apply")
	}
	for _, r := range a.Rules {
		switch {
		case !slices.Contains(DockerfileRules, r):
			problems = append(problems, fmt.Sprintf("unknown rule %q (known: %s)", r, strings.Join(DockerfileRules, ", ")))
		case o.rules[r]:
			problems = append(problems, fmt.Sprintf("rule %q is listed twice", r))
		case r == DockerfileRuleExpose && a.Port == 0:
			problems = append(problems, "rule expose needs port: the port the final stage must EXPOSE")
		case r == DockerfileRuleDockerignore && a.Dockerignore == "":
			problems = append(problems, "rule dockerignore needs dockerignore: the path of the learner's .dockerignore")
		default:
			o.rules[r] = true
		}
	}
	if a.Port != 0 && len(a.Rules) > 0 && !o.rules[DockerfileRuleExpose] {
		problems = append(problems, "port is set but rules does not list expose")
	}
	if a.Dockerignore != "" && len(a.Rules) > 0 && !o.rules[DockerfileRuleDockerignore] {
		problems = append(problems, "dockerignore is set but rules does not list dockerignore")
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return o, nil
}

// Check implements Checker.
func (DockerfileChecker) Check(ctx context.Context, in Input) opsdojo.CheckResult {
	opts, err := parseDockerfileArgs(in.Check.With)
	if err != nil {
		return dfErrorResult("this check is set up wrongly, so your Dockerfile could not be graded; this attempt does not count against you", err.Error())
	}
	limit := in.Check.Timeout
	if limit <= 0 {
		limit = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if in.Files == nil {
		return dfErrorResult("the learner's files cannot be read here, so the Dockerfile could not be graded", "dockerfile check without Files")
	}
	fs := newDFFindingSet(opts.path)
	var messages []string

	src, err := in.Files.ReadFile(ctx, opts.path, dockerfileReadLimit)
	switch {
	case err == nil:
		if aerr := analyzeDockerfile(ctx, src, opts, fs); aerr != nil {
			return dfGraderTrouble(ctx, aerr)
		}
	case ctx.Err() != nil:
		return dfGraderTrouble(ctx, ctx.Err())
	case opsdojo.ErrorCode(err) == opsdojo.ENOTFOUND:
		msg := fmt.Sprintf("%s does not exist yet: create it.", opts.path)
		if path.Base(opts.path) == "Dockerfile" {
			msg = fmt.Sprintf("%s does not exist yet: create it (the name is exactly Dockerfile, capital D, no extension).", opts.path)
		}
		messages = append(messages, msg)
	case opsdojo.ErrorCode(err) == opsdojo.EINVALID:
		messages = append(messages, opsdojo.ErrorMessage(err))
	default:
		return dfErrorResult("your Dockerfile could not be read, so it could not be graded; this attempt does not count against you", err.Error())
	}

	if opts.on(DockerfileRuleDockerignore) {
		di, err := in.Files.ReadFile(ctx, opts.dockerignore, dockerfileReadLimit)
		switch {
		case err == nil:
			dfCheckDockerignore(di, opts, fs)
		case ctx.Err() != nil:
			return dfGraderTrouble(ctx, ctx.Err())
		case opsdojo.ErrorCode(err) == opsdojo.ENOTFOUND:
			fs.add(opsdojo.Finding{File: opts.dockerignore, Rule: DockerfileRuleDockerignore, Message: fmt.Sprintf(
				"%s does not exist yet. Without it `docker build` sends the whole folder to the builder, and `COPY . .` bakes everything into a layer: %s, logs, editor junk and local secrets. Create it with one pattern per line, e.g. %s.",
				opts.dockerignore, strings.Join(opts.mustIgnore, ", "), dfSuggestIgnores(opts.mustIgnore))})
		case opsdojo.ErrorCode(err) == opsdojo.EINVALID:
			fs.add(opsdojo.Finding{File: opts.dockerignore, Rule: DockerfileRuleDockerignore, Message: opsdojo.ErrorMessage(err)})
		default:
			return dfErrorResult("your .dockerignore could not be read, so it could not be graded; this attempt does not count against you", err.Error())
		}
	}

	res := opsdojo.CheckResult{Hints: []string{}}
	findings, more := fs.result()
	res.Findings = findings
	if len(messages) == 0 && fs.total == 0 {
		res.Status = opsdojo.StatusPass
		files := opts.path
		if opts.on(DockerfileRuleDockerignore) {
			files += " and " + opts.dockerignore
		}
		res.Messages = []string{fmt.Sprintf("No problems in %s (rules checked: %s).", files, strings.Join(opts.ruleList(), ", "))}
		return res
	}
	res.Status = opsdojo.StatusFail
	if s := fs.summary(); s != "" {
		messages = append(messages, s)
	}
	if more > 0 {
		messages = append(messages, fmt.Sprintf("…and %d more not listed: fix the ones shown and check again.", more))
	}
	res.Messages = messages
	return res
}

// dfErrorResult is a grader error: never charged to the learner.
func dfErrorResult(msg, log string) opsdojo.CheckResult {
	return opsdojo.CheckResult{Status: opsdojo.StatusError, Messages: []string{msg}, Log: log}
}

// dfGraderTrouble turns an analysis error into a grader error.
func dfGraderTrouble(ctx context.Context, err error) opsdojo.CheckResult {
	if ctx.Err() != nil {
		return dfErrorResult("grading your Dockerfile took too long and was stopped; this attempt does not count against you", err.Error())
	}
	return dfErrorResult("the Dockerfile grader failed; this attempt does not count against you", err.Error())
}

func (o *dockerfileOptions) ruleList() []string {
	var out []string
	for _, r := range DockerfileRules {
		if o.rules[r] {
			out = append(out, r)
		}
	}
	return out
}

// DockerfileInstructionLines returns the 1-based start line of each
// instruction of a Dockerfile, in order, ARGs before the first FROM
// included. The legacy builder numbers its "Step n/m" the same way, so
// lines[n-1] is where step n starts.
func DockerfileInstructionLines(src []byte) (lines []int, err error) {
	defer func() {
		if p := recover(); p != nil {
			lines, err = nil, fmt.Errorf("dockerfile parser panicked: %v", p)
		}
	}()
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	lines = make([]int, 0, len(res.AST.Children))
	for _, n := range res.AST.Children {
		lines = append(lines, n.StartLine)
	}
	return lines, nil
}

// dfFindingSet collects findings. It holds at most 2×dockerfileKeepFindings
// at a time, trimming to the first dockerfileKeepFindings in display order
// when full, so a file with a problem on every line costs bounded memory.
type dfFindingSet struct {
	primary string // the Dockerfile: its findings are listed first
	list    []opsdojo.Finding
	total   int
	files   map[string]int
	order   []string
}

func newDFFindingSet(primary string) *dfFindingSet {
	return &dfFindingSet{primary: primary, files: map[string]int{}}
}

func (f *dfFindingSet) add(fd opsdojo.Finding) {
	f.total++
	if _, ok := f.files[fd.File]; !ok {
		f.order = append(f.order, fd.File)
	}
	f.files[fd.File]++
	f.list = append(f.list, fd)
	if len(f.list) >= 2*dockerfileKeepFindings {
		f.sort()
		f.list = f.list[:dockerfileKeepFindings]
	}
}

// sort orders the findings for display: the Dockerfile's first, by line;
// findings on one line keep the order they were found in.
func (f *dfFindingSet) sort() {
	sort.SliceStable(f.list, func(i, j int) bool {
		a, b := f.list[i], f.list[j]
		if a.File != b.File && (a.File == f.primary || b.File == f.primary) {
			return a.File == f.primary
		}
		return a.Line < b.Line
	})
}

// result returns the findings to show and how many were left out.
func (f *dfFindingSet) result() ([]opsdojo.Finding, int) {
	f.sort()
	list := f.list
	if len(list) > dockerfileMaxFindings {
		list = list[:dockerfileMaxFindings]
	}
	return list, f.total - len(list)
}

// summary is one line: "3 problems in app/Dockerfile, 1 in app/.dockerignore".
func (f *dfFindingSet) summary() string {
	if f.total == 0 {
		return ""
	}
	files := slices.Clone(f.order)
	sort.SliceStable(files, func(i, j int) bool { return files[i] == f.primary && files[j] != f.primary })
	var parts []string
	for i, name := range files {
		n := f.files[name]
		switch {
		case i > 0:
			parts = append(parts, fmt.Sprintf("%d in %s", n, name))
		case n == 1:
			parts = append(parts, "1 problem in "+name)
		default:
			parts = append(parts, fmt.Sprintf("%d problems in %s", n, name))
		}
	}
	return strings.Join(parts, ", ")
}

// dfStage is one build stage as the rules see it.
type dfStage struct {
	index  int
	name   string // lower case, "" when unnamed
	line   int    // line of its FROM
	raw    string // base image as written
	base   string // base image after ARG substitution
	parent int    // index of the earlier stage it builds on, or -1
	// scratch: the stage (or the stage it builds on) starts FROM scratch.
	scratch bool
	// broken: its FROM did not parse; base-related rules skip it.
	broken bool
	cmds   []dfCmd
	// env holds the stage's ENV values (with those of the stage it builds
	// on); stages built on this one inherit them. ARG values do not carry
	// over.
	env dfEnv
}

// dfCmd is one parsed instruction of a stage.
type dfCmd struct {
	line int
	node *parser.Node
	cmd  instructions.Command
	// expanded holds USER's value or EXPOSE's ports after ARG/ENV
	// substitution; unresolved marks that a variable had no value.
	expanded   []string
	unresolved bool
}

// dfModel is a parsed Dockerfile.
type dfModel struct {
	stages []*dfStage
	// meta holds the defaults of ARGs declared before the first FROM.
	meta map[string]string
	// byName maps a stage name (lower case) to the first stage of that name.
	byName map[string]int
}

func (m *dfModel) final() *dfStage {
	if len(m.stages) == 0 {
		return nil
	}
	return m.stages[len(m.stages)-1]
}

// chain returns the stage and the earlier stages it builds on, nearest first.
func (m *dfModel) chain(s *dfStage) []*dfStage {
	out := []*dfStage{s}
	for s.parent >= 0 && len(out) <= len(m.stages) {
		s = m.stages[s.parent]
		out = append(out, s)
	}
	return out
}

// stageByRef finds an earlier stage by name or index (COPY --from, FROM).
func (m *dfModel) stageByRef(ref string, before int) (*dfStage, bool) {
	if n, err := strconv.Atoi(ref); err == nil {
		if n >= 0 && n < before {
			return m.stages[n], true
		}
		return nil, false
	}
	if i, ok := m.byName[strings.ToLower(ref)]; ok && i < before {
		return m.stages[i], true
	}
	return nil, false
}

// dfEnv implements shell.EnvGetter.
type dfEnv map[string]string

func (e dfEnv) Get(k string) (string, bool) { v, ok := e[k]; return v, ok }
func (e dfEnv) Keys() []string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// dfExpand substitutes $VAR and ${VAR...} in word; ok is false when a
// variable has no value or the word does not lex.
func dfExpand(lex *shell.Lex, word string, env dfEnv) (string, bool) {
	if !strings.Contains(word, "$") {
		return word, true
	}
	if len(word) > dfMaxExpand {
		// BuildKit's lexer is slow on huge nested words; no real base
		// image, user or port needs this much text.
		return word, false
	}
	res, err := lex.ProcessWordWithMatches(word, env)
	if err != nil {
		return word, false
	}
	return res.Result, len(res.Unmatched) == 0
}

// dfParseResult carries parser.Parse's answer out of its goroutine.
type dfParseResult struct {
	res *parser.Result
	err error
}

// parseDockerfile runs BuildKit's parser, which cannot be cancelled, in a
// goroutine so the check can give up when ctx ends; its input is bounded by
// the read limit, so the goroutine ends soon after.
func parseDockerfile(ctx context.Context, src []byte) (*parser.Result, error) {
	ch := make(chan dfParseResult, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- dfParseResult{err: dfErrPanic{fmt.Errorf("dockerfile parser panicked: %v", p)}}
			}
		}()
		res, err := parser.Parse(bytes.NewReader(src))
		ch <- dfParseResult{res: res, err: err}
	}()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		return r.res, r.err
	}
}

// dfErrPanic marks a parser panic, which is the grader's trouble.
type dfErrPanic struct{ error }

// analyzeDockerfile parses src and adds a finding for every broken rule. It
// returns an error only for the grader's own trouble (ctx ended).
func analyzeDockerfile(ctx context.Context, src []byte, o *dockerfileOptions, fs *dfFindingSet) error {
	add := func(line int, rule, format string, args ...any) {
		fs.add(opsdojo.Finding{File: o.path, Line: line, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	nlines := dfCountLines(src)
	if len(bytes.TrimSpace(src)) == 0 {
		add(1, DockerfileRuleSyntax, "%s is empty. A Dockerfile starts with FROM, the image to build on, e.g. `FROM opsdojo/base:bookworm`.", o.path)
		return nil
	}
	if bytes.IndexByte(src, 0) >= 0 {
		add(1, DockerfileRuleSyntax, "%s holds binary data (NUL bytes), not Dockerfile text. Did a build output or a copied binary land here? Write the Dockerfile as plain text with an editor such as nano.", o.path)
		return nil
	}
	res, err := parseDockerfile(ctx, src)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		if errors.As(err, new(dfErrPanic)) {
			return err
		}
		line, msg := dfErrorLine(err), dfCleanParseError(err)
		if strings.Contains(msg, "greater than max allowed size") {
			// The scanner stopped before the long line: it is the next one.
			line++
			msg = "this line is longer than 64 KiB, the most Docker reads as one line. Split a long RUN over several lines ending in \\, or COPY a script from the build context"
		}
		add(dfClampLine(line, nlines), DockerfileRuleSyntax, "Docker cannot parse this file: %s.", msg)
		return nil
	}
	m, err := dfBuildModel(ctx, res, nlines, o, add)
	if err != nil {
		return err
	}
	return runDockerfileRules(ctx, m, o, add)
}

// dfBuildModel turns the AST into stages, reporting instructions that do not
// parse as syntax findings and carrying on with the rest.
func dfBuildModel(ctx context.Context, res *parser.Result, nlines int, o *dockerfileOptions, add func(int, string, string, ...any)) (*dfModel, error) {
	m := &dfModel{meta: map[string]string{}, byName: map[string]int{}}
	lint := linter.New(&linter.Config{}) // a nil linter panics on `# check=` comments
	lex := shell.NewLex(res.EscapeToken)
	var vars dfEnv // the current stage's ARG and ENV values, for substitution
	var env dfEnv  // the current stage's ENV values, inherited by stages built on it
	for i, node := range res.AST.Children {
		if i&255 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		line := dfClampLine(node.StartLine, nlines)
		v, err := instructions.ParseInstructionWithLinter(node, lint)
		if err != nil {
			add(line, DockerfileRuleSyntax, "%s", dfInstructionError(node, err))
			if strings.EqualFold(node.Value, "from") {
				m.stages = append(m.stages, &dfStage{index: len(m.stages), line: line, parent: -1, broken: true, env: dfEnv{}})
				vars, env = dfEnv{}, m.stages[len(m.stages)-1].env
			}
			continue
		}
		switch c := v.(type) {
		case *instructions.Stage:
			s := &dfStage{index: len(m.stages), name: c.Name, line: line, raw: c.BaseName, parent: -1, env: dfEnv{}}
			base, ok := dfExpand(lex, c.BaseName, m.meta)
			s.base = strings.TrimSpace(base)
			if !ok || s.base == "" {
				if o.on(DockerfileRulePinnedBase) {
					add(line, DockerfileRulePinnedBase, "FROM %s: the base image comes from a build argument with no default value, so nobody can tell which image this builds on (and a plain `docker build` fails). Declare the ARG before the first FROM with a pinned default, e.g. `ARG BASE=opsdojo/base:bookworm`.", dfQuote(c.BaseName))
				}
				s.broken = true
			} else if p, ok := m.stageByRef(s.base, len(m.stages)); ok {
				s.parent = p.index
				s.scratch = p.scratch
				for k, v := range p.env {
					s.env[k] = v
				}
			} else {
				s.scratch = strings.EqualFold(s.base, "scratch")
			}
			m.stages = append(m.stages, s)
			if _, dup := m.byName[s.name]; s.name != "" && !dup {
				m.byName[s.name] = s.index
			}
			env = s.env
			vars = dfEnv{}
			for k, v := range env {
				vars[k] = v
			}
		case *instructions.ArgCommand:
			if len(m.stages) == 0 {
				for _, kv := range c.Args {
					if kv.Value != nil {
						m.meta[kv.Key], _ = dfExpand(lex, *kv.Value, m.meta)
					}
				}
				continue
			}
			for _, kv := range c.Args {
				if kv.Value != nil {
					vars[kv.Key], _ = dfExpand(lex, *kv.Value, vars)
				} else if mv, ok := m.meta[kv.Key]; ok {
					vars[kv.Key] = mv
				}
			}
			m.addCmd(line, node, c)
		case instructions.Command:
			if len(m.stages) == 0 {
				add(line, DockerfileRuleSyntax, "%s comes before the first FROM. Only ARG may come before FROM: every other instruction belongs to a build stage, and a stage starts with FROM.", strings.ToUpper(node.Value))
				continue
			}
			cmd := m.addCmd(line, node, c)
			switch c := c.(type) {
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					val, _ := dfExpand(lex, kv.Value, vars)
					vars[kv.Key], env[kv.Key] = val, val
				}
			case *instructions.UserCommand:
				val, ok := dfExpand(lex, c.User, vars)
				cmd.expanded, cmd.unresolved = []string{val}, !ok
			case *instructions.ExposeCommand:
				for _, p := range c.Ports {
					val, ok := dfExpand(lex, p, vars)
					cmd.expanded = append(cmd.expanded, strings.Fields(val)...)
					cmd.unresolved = cmd.unresolved || !ok
				}
			}
		}
	}
	return m, nil
}

func (m *dfModel) addCmd(line int, node *parser.Node, c instructions.Command) *dfCmd {
	s := m.stages[len(m.stages)-1]
	s.cmds = append(s.cmds, dfCmd{line: line, node: node, cmd: c})
	return &s.cmds[len(s.cmds)-1]
}

// dfInstructionError words an instruction's parse error for the learner.
func dfInstructionError(node *parser.Node, err error) string {
	name := strings.ToUpper(node.Value)
	msg := dfCleanParseError(err)
	var unknown *instructions.UnknownInstructionError
	if errors.As(err, &unknown) {
		return fmt.Sprintf("%s is not a Dockerfile instruction (%s). Instructions are FROM, RUN, COPY, ADD, WORKDIR, ENV, ARG, USER, EXPOSE, HEALTHCHECK, CMD, ENTRYPOINT, LABEL, VOLUME, SHELL, STOPSIGNAL, ONBUILD; check the spelling, and that the line above does not end with a stray backslash.", dfQuote(node.Value), msg)
	}
	if strings.HasPrefix(strings.ToLower(msg), "unknown flag: ") {
		flag := strings.TrimSpace(msg[len("unknown flag: "):])
		if flag != strings.ToLower(flag) {
			return fmt.Sprintf("%s: unknown flag --%s. Docker's flags are case-sensitive: write --%s.", name, flag, strings.ToLower(flag))
		}
	}
	return fmt.Sprintf("%s: %s. Docker refuses to build a file with this error.", name, msg)
}

var dfParseErrorPrefix = regexp.MustCompile(`^(dockerfile parse error on line \d+: )+`)

// dfCleanParseError strips location prefixes and keeps the message short
// and printable.
func dfCleanParseError(err error) string {
	msg := dfParseErrorPrefix.ReplaceAllString(err.Error(), "")
	return dfClip(msg, 200)
}

// dfErrorLine is the line a parser error names, 0 when none.
func dfErrorLine(err error) int {
	var le *parser.LocationError
	if errors.As(err, &le) {
		for _, loc := range le.Locations {
			if len(loc) > 0 {
				return loc[0].Start.Line
			}
		}
	}
	return 0
}

// dfCountLines counts the lines of src as an editor numbers them.
func dfCountLines(src []byte) int {
	n := bytes.Count(src, []byte{'\n'})
	if len(src) > 0 && src[len(src)-1] != '\n' {
		n++
	}
	return n
}

func dfClampLine(line, nlines int) int {
	if nlines < 1 {
		nlines = 1
	}
	return max(1, min(line, nlines))
}

// dfClip makes s safe to show: valid UTF-8, no control characters, at most n
// runes.
func dfClip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	count := 0
	for _, r := range s {
		if count == n {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f {
			r = ' '
		}
		b.WriteRune(r)
		count++
	}
	return b.String()
}

// dfQuote shows a piece of the learner's file inside a message.
func dfQuote(s string) string { return "`" + dfClip(strings.TrimSpace(s), 80) + "`" }
