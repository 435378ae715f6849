package grading

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// RuleRemoteSource marks a learner Dockerfile the server refuses to build
// because it would make the Docker engine fetch something for the learner.
const RuleRemoteSource = "remote-source"

// BaseImage is an image a Dockerfile builds on (FROM) or copies from
// (COPY --from), with the line that names it. The engine decides whether
// the learner may use it: the Dockerfile alone cannot tell a lab image from
// another learner's.
type BaseImage struct {
	Ref  string
	Line int
}

// schemeLike matches a source that starts like a URL ("http:", "git+ssh:").
var schemeLike = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// remoteSource reports whether an ADD/COPY source is something the engine
// would (or might) fetch instead of reading the build context. The legacy
// builder fetches http(s) itself, from the host, outside the learner's
// network; the other forms are refused too so that a newer engine that
// understands them cannot be talked into fetching either.
func remoteSource(src string) bool {
	s := strings.ToLower(strings.TrimSpace(src))
	return strings.Contains(s, "://") || strings.HasPrefix(s, "git@") || schemeLike.MatchString(s)
}

// PlanBuild reads a learner's Dockerfile before it is built. It returns
// the images the build would start from (FROM, COPY --from), for the
// engine to vet, and a finding for everything the server refuses to build:
// ADD from a URL or from a variable (which can hold a URL), ONBUILD
// triggers that would do the same in a later build, image names that use
// variables without a default. It fails closed: a Dockerfile that does not
// parse is refused. err is only the grader's own trouble (ctx ended).
func PlanBuild(ctx context.Context, src []byte, file string) ([]BaseImage, []opsdojo.Finding, error) {
	var findings []opsdojo.Finding
	refuse := func(line int, format string, args ...any) {
		findings = append(findings, opsdojo.Finding{File: file, Line: line, Rule: RuleRemoteSource, Message: fmt.Sprintf(format, args...)})
	}
	nlines := dfCountLines(src)
	if len(strings.TrimSpace(string(src))) == 0 {
		refuse(1, "%s is empty. A Dockerfile starts with FROM, the image to build on, e.g. `FROM opsdojo/base:bookworm`.", file)
		return nil, findings, nil
	}
	res, err := parseDockerfile(ctx, src)
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	if err != nil {
		if errors.As(err, new(dfErrPanic)) {
			return nil, nil, err
		}
		refuse(dfClampLine(dfErrorLine(err), nlines), "Docker cannot parse this file: %s.", dfCleanParseError(err))
		return nil, findings, nil
	}
	// The engine parses the file again with its own, older parser. Where
	// the two could disagree the file is refused: heredocs (the older
	// parser reads a heredoc's body as instructions, so an ADD inside one
	// is invisible here but runs there), and any line that reads as an
	// ADD of a URL or variable whatever surrounds it.
	for _, node := range res.AST.Children {
		if len(node.Heredocs) > 0 {
			refuse(dfClampLine(node.StartLine, nlines), "heredocs (`<<EOF`) do not work with this server's classic builder, which would read their lines as instructions. Write the commands on one RUN line joined with `&&`, or COPY a script from the build context.")
		}
	}
	lint := linter.New(&linter.Config{})
	lex := shell.NewLex(res.EscapeToken)
	meta := dfEnv{}
	stages := map[string]bool{} // earlier stage names, lower case
	nstages := 0
	var bases []BaseImage
	for i, node := range res.AST.Children {
		if i&255 == 0 && ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		line := dfClampLine(node.StartLine, nlines)
		v, err := instructions.ParseInstructionWithLinter(node, lint)
		if err != nil {
			refuse(line, "%s", dfInstructionError(node, err))
			continue
		}
		switch c := v.(type) {
		case *instructions.ArgCommand:
			if nstages > 0 {
				continue // a stage's ARGs do not reach FROM lines
			}
			for _, kv := range c.Args {
				if kv.Value == nil {
					// No build args are passed: a bare ARG stays empty.
					delete(meta, kv.Key)
					continue
				}
				val, ok := dfExpand(lex, *kv.Value, meta)
				if !ok {
					delete(meta, kv.Key)
					continue
				}
				meta[kv.Key] = val
			}
		case *instructions.Stage:
			name := c.BaseName
			if strings.Contains(name, "$") {
				expanded, ok := dfExpand(lex, name, meta)
				if !ok || strings.Contains(expanded, "$") || strings.TrimSpace(expanded) == "" {
					refuse(line, "FROM %s uses a variable without a default value. Give the ARG a default before the first FROM (`ARG BASE=opsdojo/base:bookworm`) or write the image name out.", dfQuote(name))
					nstages++
					continue
				}
				name = expanded
			}
			switch {
			case strings.EqualFold(name, "scratch"):
			case stages[strings.ToLower(name)]:
			default:
				bases = append(bases, BaseImage{Ref: name, Line: line})
			}
			if c.Name != "" {
				stages[strings.ToLower(c.Name)] = true
			}
			nstages++
		case *instructions.AddCommand:
			refuseAddSources(line, c.SourcePaths, refuse, "")
		case *instructions.CopyCommand:
			refuseCopySources(line, c.SourcePaths, refuse, "")
			if c.From == "" {
				continue
			}
			if strings.Contains(c.From, "$") {
				refuse(line, "COPY --from=%s uses a variable: write the stage name out (`COPY --from=build ...`).", dfClip(c.From, 80))
				continue
			}
			if n, err := strconv.Atoi(c.From); err == nil && n >= 0 && n < nstages {
				continue
			}
			if stages[strings.ToLower(c.From)] {
				continue
			}
			bases = append(bases, BaseImage{Ref: c.From, Line: line})
		case *instructions.OnbuildCommand:
			if msg := RefuseTrigger(c.Expression); msg != "" {
				refuse(line, "%s", msg)
			}
		case *instructions.RunCommand:
			refuseRunFlags(line, c, refuse)
		}
	}
	refused := map[int]bool{}
	for _, f := range findings {
		refused[f.Line] = true
	}
	for i, line := range strings.Split(string(src), "\n") {
		f := strings.Fields(strings.ToUpper(line))
		if len(f) > 1 && f[0] == "ONBUILD" {
			f = f[1:]
		}
		if len(f) > 1 && f[0] == "ADD" && !refused[i+1] && (strings.Contains(line, "://") || strings.Contains(line, "$") || strings.Contains(strings.ToLower(line), "git@")) {
			refuse(i+1, "this line reads as an ADD from a URL or a variable, which this server does not build: the engine would fetch it from the host. Download in a RUN step instead (`RUN curl -fsSLo /path/to/file URL`).")
		}
	}
	sort.SliceStable(findings, func(i, j int) bool { return findings[i].Line < findings[j].Line })
	return bases, dedupeFindings(findings), nil
}

// dedupeFindings keeps the first finding of each line.
func dedupeFindings(fs []opsdojo.Finding) []opsdojo.Finding {
	seen := map[int]bool{}
	out := fs[:0]
	for _, f := range fs {
		if !seen[f.Line] {
			seen[f.Line] = true
			out = append(out, f)
		}
	}
	return out
}

// RefuseTrigger vets one ONBUILD trigger (as written after ONBUILD, or as
// an image's Config.OnBuild holds it): it returns why the server refuses
// it, or "". A trigger runs in a later build whose stages this Dockerfile
// cannot know, so COPY --from is refused outright there.
func RefuseTrigger(expr string) string {
	res, err := parser.Parse(strings.NewReader(expr))
	if err != nil || len(res.AST.Children) != 1 {
		return fmt.Sprintf("ONBUILD %s does not parse as one instruction; the server does not build with it.", dfQuote(expr))
	}
	node := res.AST.Children[0]
	v, err := instructions.ParseInstructionWithLinter(node, linter.New(&linter.Config{}))
	if err != nil {
		return fmt.Sprintf("ONBUILD %s does not parse: %s", dfQuote(expr), dfInstructionError(node, err))
	}
	var msg string
	note := func(_ int, format string, args ...any) {
		if msg == "" {
			msg = fmt.Sprintf(format, args...)
		}
	}
	switch c := v.(type) {
	case *instructions.AddCommand:
		refuseAddSources(0, c.SourcePaths, note, "ONBUILD ")
	case *instructions.CopyCommand:
		refuseCopySources(0, c.SourcePaths, note, "ONBUILD ")
		if c.From != "" {
			note(0, "ONBUILD COPY --from=%s is not allowed on this server: it would copy from an image chosen when someone else builds on yours. Copy what you need in this Dockerfile instead.", dfClip(c.From, 80))
		}
	}
	return msg
}

// refuseRunFlags refuses RUN flags that would take a step off the
// learner's network or out of its sandbox. The legacy builder this server
// uses rejects them anyway ("Unknown flag: network"); refusing them here
// keeps that true on an engine that would honour them.
func refuseRunFlags(line int, c *instructions.RunCommand, refuse func(int, string, ...any)) {
	for _, f := range c.FlagsUsed {
		switch f {
		case "network", "security":
			refuse(line, "RUN --%s is not allowed on this server: every RUN step runs on your lab's network with the build's limits. Remove the flag.", f)
			return
		}
	}
}

func refuseAddSources(line int, srcs []string, refuse func(int, string, ...any), prefix string) {
	for _, src := range srcs {
		switch {
		case remoteSource(src):
			refuse(line, "%sADD %s: this server does not let the Docker engine fetch URLs. The engine would download it from the host itself, outside your lab's network. Download it in a RUN step instead, which runs on your lab's network (`RUN curl -fsSLo /path/to/file URL`, with curl installed in an earlier step), or COPY a file from the build context.", prefix, dfQuote(src))
			return
		case strings.Contains(src, "$"):
			refuse(line, "%sADD %s: ADD sources cannot use variables on this server, because a variable can hold a URL that the engine would fetch from the host. Write the path out, or COPY it; to download something, use `RUN curl -fsSLo /path/to/file URL`.", prefix, dfQuote(src))
			return
		}
	}
}

func refuseCopySources(line int, srcs []string, refuse func(int, string, ...any), prefix string) {
	for _, src := range srcs {
		if remoteSource(src) {
			refuse(line, "%sCOPY %s: COPY reads only files of the build context. To download something, use `RUN curl -fsSLo /path/to/file URL` in a RUN step.", prefix, dfQuote(src))
			return
		}
	}
}
