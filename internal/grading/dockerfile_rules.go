package grading

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// dfAddFunc reports one finding in the Dockerfile.
type dfAddFunc func(line int, rule, format string, args ...any)

// runDockerfileRules applies the enabled rules to a parsed Dockerfile.
func runDockerfileRules(ctx context.Context, m *dfModel, o *dockerfileOptions, add dfAddFunc) error {
	final := m.final()
	if final == nil {
		add(1, DockerfileRuleSyntax, "This file has no FROM instruction, so there is nothing to build. A Dockerfile starts with the image it builds on, e.g. `FROM opsdojo/base:bookworm`.")
		return nil
	}
	// Rules that look at every instruction, in file order.
	tick := 0
	for _, s := range m.stages {
		if o.on(DockerfileRulePinnedBase) {
			dfRulePinnedBase(s, add)
		}
		for i := range s.cmds {
			if tick++; tick&255 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			c := &s.cmds[i]
			if o.on(DockerfileRuleCopyNotAdd) {
				dfRuleCopyNotAdd(c, add)
			}
			if o.on(DockerfileRuleExecForm) {
				dfRuleExecForm(c, s, add)
			}
			if o.on(DockerfileRuleAptHygiene) {
				dfRuleAptHygiene(c, add)
			}
			if o.on(DockerfileRuleLegacyBuilder) {
				dfRuleLegacyBuilder(c, add)
			}
		}
	}
	// Rules about the image that ships: the final stage.
	if o.on(DockerfileRuleMultiStage) {
		dfRuleMultiStage(m, final, add)
	}
	if o.on(DockerfileRuleNonRootUser) {
		dfRuleNonRootUser(m, final, add)
	}
	if o.on(DockerfileRuleHealthcheck) {
		dfRuleHealthcheck(m, final, add)
	}
	if o.on(DockerfileRuleExpose) {
		dfRuleExpose(m, final, o.port, add)
	}
	return ctx.Err()
}

// dfBaseProblem says what is wrong with an image reference as a pin: "" (a
// tag or digest), "latest" or "untagged".
func dfBaseProblem(ref string) string {
	if strings.Contains(ref, "@") {
		return ""
	}
	last := ref[strings.LastIndexByte(ref, '/')+1:]
	i := strings.LastIndexByte(last, ':')
	switch {
	case i < 0 || i == len(last)-1:
		return "untagged"
	case strings.EqualFold(last[i+1:], "latest"):
		return "latest"
	}
	return ""
}

func dfRulePinnedBase(s *dfStage, add dfAddFunc) {
	if s.broken || s.parent >= 0 || strings.EqualFold(s.base, "scratch") {
		return
	}
	problem := dfBaseProblem(s.base)
	if problem == "" {
		return
	}
	shown := dfQuote(s.raw)
	if s.raw != s.base {
		shown += " (= " + dfQuote(s.base) + " by its ARG default)"
	}
	repo := s.base
	if i := strings.LastIndexByte(repo, ':'); i > strings.LastIndexByte(repo, '/') {
		repo = repo[:i]
	}
	suggest := "`" + dfClip(repo, 60) + ":<version>`"
	if strings.EqualFold(repo, "opsdojo/base") {
		suggest = "`opsdojo/base:bookworm`"
	}
	switch problem {
	case "untagged":
		add(s.line, DockerfileRulePinnedBase, "FROM %s names no tag, so Docker uses `:latest`: whatever image is newest on the day of the build. Two builds of the same Dockerfile can then differ, and an upstream release can break yours overnight. Pin a tag such as %s, or a digest (`@sha256:…`) to pin the exact bytes.", shown, suggest)
	case "latest":
		add(s.line, DockerfileRulePinnedBase, "FROM %s uses the tag `latest`, which is not a version: it moves with every upstream release, so builds are not repeatable and you cannot tell what you shipped. Pin a real tag such as %s, or a digest (`@sha256:…`).", shown, suggest)
	}
}

func dfIsHTTPURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

func dfRuleCopyNotAdd(c *dfCmd, add dfAddFunc) {
	a, ok := c.cmd.(*instructions.AddCommand)
	if !ok {
		return
	}
	var local []string
	for _, src := range a.SourcePaths {
		if !dfIsHTTPURL(src) {
			local = append(local, src)
		}
	}
	if len(local) == 0 && len(a.SourceContents) == 0 {
		return
	}
	what := "inline content"
	if len(local) > 0 {
		what = dfQuote(strings.Join(local, " "))
	}
	add(c.line, DockerfileRuleCopyNotAdd, "ADD %s: use COPY for files from the build context. ADD does what COPY does plus magic: a local tar archive is silently unpacked, a URL is downloaded, so what lands in the image depends on what the file happens to be. COPY copies exactly what you name; keep ADD for the rare remote URL.", what)
}

// dfShellMeta marks shell text that cannot be turned into exec form word by
// word.
const dfShellMeta = "$&|;<>*?`'\"\\(){}~"

func dfRuleExecForm(c *dfCmd, s *dfStage, add dfAddFunc) {
	var name string
	var line instructions.ShellDependantCmdLine
	switch cmd := c.cmd.(type) {
	case *instructions.CmdCommand:
		name, line = "CMD", cmd.ShellDependantCmdLine
	case *instructions.EntrypointCommand:
		name, line = "ENTRYPOINT", cmd.ShellDependantCmdLine
	default:
		return
	}
	if !line.PrependShell {
		return
	}
	text := strings.TrimSpace(strings.Join(line.CmdLine, " "))
	if strings.HasPrefix(text, "[") {
		add(c.line, DockerfileRuleExecForm, "%s %s looks like the exec form but is not valid JSON, so Docker quietly treats it as shell form (`/bin/sh -c '%s'`). Use double quotes around every word and commas between them, e.g. %s [\"/app/server\"].", name, dfQuote(text), dfClip(text, 40), name)
		return
	}
	suggestion := name + ` ["/app/server"]`
	if text != "" && !strings.ContainsAny(text, dfShellMeta) {
		words, _ := json.Marshal(strings.Fields(text))
		suggestion = name + " " + strings.ReplaceAll(string(words), `","`, `", "`)
	}
	scratch := ""
	if s.scratch {
		scratch = " Here it is worse: this stage starts FROM scratch, which has no /bin/sh, so the container cannot start at all."
	}
	add(c.line, DockerfileRuleExecForm, "%s %s is in shell form, so Docker runs it as `/bin/sh -c \"…\"`: the shell is PID 1 and your service only its child. `docker stop` sends SIGTERM to the shell, which does not pass it on, so the service never gets to shut down cleanly and is killed after 10 s.%s Write the exec form (a JSON array), which runs the program directly: `%s`.", name, dfQuote(text), scratch, dfClip(suggestion, 120))
}

// dfRunShellText returns the shell text a RUN executes ("" when it is exec
// form without a shell) and its argv for exec form.
func dfRunShellText(r *instructions.RunCommand) (string, []string) {
	if r.PrependShell {
		return strings.Join(r.CmdLine, " "), nil
	}
	argv := r.CmdLine
	if len(argv) >= 3 {
		sh := path.Base(argv[0])
		if (sh == "sh" || sh == "bash" || sh == "dash") && (argv[1] == "-c" || argv[1] == "-ec" || argv[1] == "-xc" || argv[1] == "-exc") {
			return argv[2], nil
		}
	}
	return "", argv
}

// dfRunCommands returns the simple commands a RUN executes.
func dfRunCommands(r *instructions.RunCommand) [][]string {
	text, argv := dfRunShellText(r)
	if argv != nil {
		return [][]string{argv}
	}
	return dfShellCommands(text)
}

func dfRuleAptHygiene(c *dfCmd, add dfAddFunc) {
	r, ok := c.cmd.(*instructions.RunCommand)
	if !ok {
		return
	}
	// A cheap test first: most RUNs never mention apt.
	text := strings.ToLower(strings.Join(r.CmdLine, " "))
	if !strings.Contains(text, "apt") {
		return
	}
	updated := false
	lastInstall := -1
	var noUpdate, noYes, recommends []dfPkgCommand
	cmds := dfRunCommands(r)
	for i, words := range cmds {
		pc, ok := dfParsePkgCommand(words)
		if !ok || (pc.tool != "apt-get" && pc.tool != "apt") {
			continue
		}
		switch {
		case pc.sub == "update":
			updated = true
		case pc.isInstall():
			lastInstall = i
			if !updated {
				noUpdate = append(noUpdate, pc)
			}
			if !pc.assumesYes() {
				noYes = append(noYes, pc)
			}
			if !pc.skipsRecommends() {
				recommends = append(recommends, pc)
			}
		}
	}
	// One finding per kind of problem and RUN, however many installs.
	if len(noUpdate) > 0 {
		tool := noUpdate[0].tool
		add(c.line, DockerfileRuleAptHygiene, "This RUN calls `%s install` without `%s update` before it in the same RUN. Docker caches every RUN as a layer: an update in an earlier RUN is reused from cache for months, so this install reads stale package lists and fails with 404s or installs outdated versions. Chain them in one RUN: `apt-get update && apt-get install -y --no-install-recommends …`.", tool, tool)
	}
	if len(noYes) > 0 {
		add(c.line, DockerfileRuleAptHygiene, "`%s install` without `-y` stops to ask \"Do you want to continue? [Y/n]\". A build has no keyboard, so apt reads end-of-input, aborts, and the build fails. Add `-y`.", noYes[0].tool)
	}
	if len(recommends) > 0 {
		var pkgs []string
		for _, pc := range recommends {
			pkgs = append(pkgs, pc.packages()...)
		}
		what := "packages"
		if len(pkgs) > 0 {
			what = dfQuote(strings.Join(pkgs, " "))
		}
		add(c.line, DockerfileRuleAptHygiene, "`%s install` of %s without `--no-install-recommends` also installs every package they merely recommend (on Debian bookworm, golang-go alone is 4 packages; with its recommendations it is 89, gcc, g++ and X11 libraries among them, over 300 MB more). Images grow and gain tools an attacker would enjoy. Add `--no-install-recommends` and name what you really need.", recommends[0].tool, what)
	}
	if lastInstall < 0 {
		return
	}
	for _, words := range cmds[lastInstall+1:] {
		name, args := dfCommandName(words)
		if name != "rm" {
			continue
		}
		for _, a := range args {
			if strings.HasPrefix(path.Clean(a), "/var/lib/apt/lists") {
				return
			}
		}
	}
	add(c.line, DockerfileRuleAptHygiene, "This RUN installs packages but leaves apt's package lists (/var/lib/apt/lists, tens of MB) in the image. End the same RUN with `&& rm -rf /var/lib/apt/lists/*`. Deleting them in a later RUN does not help: the layer of this RUN keeps them forever.")
}

// Flags the legacy builder (Docker API 1.41, opsdojo's builds) rejects.
var dfBuildkitOnlyFlags = map[string]map[string]bool{
	"run":  {"mount": true, "network": true, "security": true, "device": true},
	"copy": {"chmod": true, "link": true, "parents": true, "exclude": true},
	"add":  {"chmod": true, "link": true, "checksum": true, "keep-git-dir": true, "unpack": true, "exclude": true},
}

func dfRuleLegacyBuilder(c *dfCmd, add dfAddFunc) {
	name := strings.ToLower(c.node.Value)
	if len(c.node.Heredocs) > 0 {
		add(c.line, DockerfileRuleLegacyBuilder, "%s uses a heredoc (`<<%s`). Heredocs need BuildKit; opsdojo builds with the classic builder, which reads the heredoc's lines as instructions and fails. Chain commands with `&&` and `\\` line continuations instead, or COPY a script from the build context.", strings.ToUpper(name), dfClip(c.node.Heredocs[0].Name, 20))
	}
	bad := dfBuildkitOnlyFlags[name]
	for _, f := range c.node.Flags {
		flag := strings.ToLower(strings.TrimLeft(f, "-"))
		if i := strings.IndexByte(flag, '='); i >= 0 {
			flag = flag[:i]
		}
		if bad[flag] {
			alt := ""
			switch flag {
			case "chmod":
				alt = " Set modes in the build stage instead (`RUN chmod 0755 /out/server`): COPY --from keeps them."
			case "mount":
				alt = " Drop the mount: a plain RUN works, it just caches less."
			}
			add(c.line, DockerfileRuleLegacyBuilder, "%s --%s needs BuildKit; opsdojo builds with the classic builder (Docker API 1.41), which rejects it and fails the build.%s", strings.ToUpper(name), flag, alt)
		}
	}
}

// dfStageName names a stage in a finding: its name or index, and its line.
func dfStageName(s *dfStage) string {
	if s.name != "" {
		return fmt.Sprintf("%q (line %d)", s.name, s.line)
	}
	return fmt.Sprintf("#%d (line %d)", s.index, s.line)
}

// dfToolchainEvidence is where a stage got a compiler.
type dfToolchainEvidence struct {
	line int
	what string
}

func dfStageToolchain(s *dfStage) []dfToolchainEvidence {
	var out []dfToolchainEvidence
	if !s.broken && s.parent < 0 && dfIsToolchainImage(s.base) {
		out = append(out, dfToolchainEvidence{s.line, "starts FROM " + dfQuote(s.base) + ", a compiler image"})
	}
	for i := range s.cmds {
		r, ok := s.cmds[i].cmd.(*instructions.RunCommand)
		if !ok {
			continue
		}
		var pkgs, builds []string
		for _, words := range dfRunCommands(r) {
			if pc, ok := dfParsePkgCommand(words); ok && pc.isInstall() {
				for _, p := range pc.packages() {
					if dfIsToolchainPackage(p) {
						pkgs = append(pkgs, p)
					}
				}
			}
			if b := dfCompiles(words); b != "" {
				builds = append(builds, b)
			}
		}
		if len(pkgs) > 0 {
			out = append(out, dfToolchainEvidence{s.cmds[i].line, "installs " + dfQuote(strings.Join(pkgs, " "))})
		}
		if len(builds) > 0 {
			out = append(out, dfToolchainEvidence{s.cmds[i].line, "runs " + dfQuote(strings.Join(builds, ", "))})
		}
	}
	return out
}

func dfRuleMultiStage(m *dfModel, final *dfStage, add dfAddFunc) {
	if len(m.stages) < 2 {
		add(final.line, DockerfileRuleMultiStage, "This Dockerfile has a single stage, so everything needed to build ships in the image: compilers and build tools (the Go toolchain alone is hundreds of MB), the source code, caches. Use two stages: `FROM … AS build` installs the compiler and builds the binary; a second FROM starts a clean final stage that gets only the binary with `COPY --from=build /out/server /app/server`.")
	}
	chain := m.chain(final)
	toolchain := false
	for _, s := range chain {
		for _, ev := range dfStageToolchain(s) {
			toolchain = true
			if s == final {
				add(ev.line, DockerfileRuleMultiStage, "The final stage %s. The final stage is what ships: every compiler and build tool in it makes the image bigger and hands an attacker a ready-made toolkit. Build in an earlier stage and bring only the result across with COPY --from.", ev.what)
			} else {
				add(final.line, DockerfileRuleMultiStage, "The final stage builds on stage %s, which %s at line %d, so the toolchain ships too. Start the final stage FROM a clean runtime image (or scratch) and COPY --from the binary instead.", dfStageName(s), ev.what, ev.line)
			}
		}
	}
	if len(m.stages) < 2 || (toolchain && final.parent >= 0) {
		// One stage, or a final stage built on a toolchain stage: said above.
		return
	}
	inChain := map[int]bool{}
	for _, s := range chain {
		inChain[s.index] = true
	}
	for _, s := range chain {
		for i := range s.cmds {
			cp, ok := s.cmds[i].cmd.(*instructions.CopyCommand)
			if !ok || cp.From == "" {
				continue
			}
			if src, ok := m.stageByRef(cp.From, s.index); ok && !inChain[src.index] {
				return
			}
		}
	}
	add(final.line, DockerfileRuleMultiStage, "The final stage never copies anything from an earlier stage, so what the build stage made does not reach the image. Bring the binary across with `COPY --from=<stage name> /path/in/build/stage /app/server`.")
}

// dfUserIsRoot reports whether a USER value (user[:group]) runs as root.
func dfUserIsRoot(v string) bool {
	user, _, _ := strings.Cut(strings.TrimSpace(v), ":")
	if user == "" || strings.EqualFold(user, "root") {
		return true
	}
	n, err := strconv.Atoi(user)
	return err == nil && n == 0
}

// dfLastCmd finds the last instruction of type T in a stage chain (the final
// stage first, then the stages it builds on).
func dfLastCmd[T any](chain []*dfStage) (*dfCmd, *dfStage) {
	for _, s := range chain {
		for i := len(s.cmds) - 1; i >= 0; i-- {
			if _, ok := s.cmds[i].cmd.(T); ok {
				return &s.cmds[i], s
			}
		}
	}
	return nil, nil
}

func dfRuleNonRootUser(m *dfModel, final *dfStage, add dfAddFunc) {
	chain := m.chain(final)
	c, _ := dfLastCmd[*instructions.UserCommand](chain)
	if c == nil {
		add(final.line, DockerfileRuleNonRootUser, "The final stage never sets USER, so the service runs as root (uid 0). Should anyone break into it, they are root in the container, one kernel bug away from root on the host, and can rewrite the app's own files. Add an unprivileged user: in a Debian stage `RUN useradd --system --uid 10001 app` then `USER app`; FROM scratch, which has no /etc/passwd, use a number: `USER 10001:10001`.")
		return
	}
	value := c.expanded[0]
	switch {
	case c.unresolved:
		add(c.line, DockerfileRuleNonRootUser, "USER %s takes its value from a variable with no default, so the user depends on how the image is built and may be empty (root). Give the ARG a default, or write the user directly, e.g. `USER 10001:10001`.", dfQuote(c.cmd.(*instructions.UserCommand).User))
	case dfUserIsRoot(value):
		add(c.line, DockerfileRuleNonRootUser, "USER %s: the last USER of the final stage decides who the service runs as, and this one is root. Switching to root for a step (to install something) is fine, but switch back to an unprivileged user afterwards, e.g. `USER 10001:10001`.", dfQuote(value))
	case final.scratch:
		user, _, _ := strings.Cut(value, ":")
		if _, err := strconv.Atoi(user); err != nil && !dfCopiesPasswd(chain) {
			add(c.line, DockerfileRuleNonRootUser, "USER %s names a user, but this stage starts FROM scratch: there is no /etc/passwd to look the name up in, so the container fails to start (\"unable to find user\"). Use numbers instead, e.g. `USER 10001:10001`.", dfQuote(value))
		}
	}
}

// dfCopiesPasswd reports whether a stage chain copies an /etc/passwd in.
func dfCopiesPasswd(chain []*dfStage) bool {
	for _, s := range chain {
		for i := range s.cmds {
			cp, ok := s.cmds[i].cmd.(*instructions.CopyCommand)
			if !ok {
				continue
			}
			if cp.DestPath == "/etc" || cp.DestPath == "/etc/" || strings.Contains(cp.DestPath, "passwd") {
				return true
			}
			for _, p := range cp.SourcePaths {
				if strings.Contains(p, "passwd") {
					return true
				}
			}
		}
	}
	return false
}

func dfRuleHealthcheck(m *dfModel, final *dfStage, add dfAddFunc) {
	c, _ := dfLastCmd[*instructions.HealthCheckCommand](m.chain(final))
	if c == nil {
		add(final.line, DockerfileRuleHealthcheck, "The final stage has no HEALTHCHECK, so Docker only knows whether the process exists, not whether it answers: a hung service looks \"running\" forever. Add one that asks the service itself, e.g. `HEALTHCHECK --interval=2s --timeout=2s --start-period=1s CMD [\"/app/server\", \"-healthcheck\"]` (exec form: no curl or shell needed).")
		return
	}
	hc := c.cmd.(*instructions.HealthCheckCommand)
	if hc.Health == nil || len(hc.Health.Test) == 0 {
		return
	}
	switch strings.ToUpper(hc.Health.Test[0]) {
	case "NONE":
		add(c.line, DockerfileRuleHealthcheck, "HEALTHCHECK NONE switches health checking off, so Docker cannot tell a hung service from a working one. Replace it with a real check, e.g. `HEALTHCHECK --interval=2s --timeout=2s CMD [\"/app/server\", \"-healthcheck\"]`.")
	case "CMD-SHELL":
		if final.scratch {
			add(c.line, DockerfileRuleHealthcheck, "HEALTHCHECK CMD in shell form runs `/bin/sh -c …`, but this stage starts FROM scratch, which has no shell (nor curl): the check can never succeed and the container stays unhealthy. Use the exec form with a program that is in the image: `HEALTHCHECK CMD [\"/app/server\", \"-healthcheck\"]`.")
		}
	}
}

// dfExposes reports whether an EXPOSE value (8080, 8080/tcp, 8000-8100)
// covers port over TCP.
func dfExposes(value string, port int) bool {
	p, proto, _ := strings.Cut(strings.ToLower(value), "/")
	if proto != "" && proto != "tcp" {
		return false
	}
	lo, hi, isRange := strings.Cut(p, "-")
	a, err := strconv.Atoi(lo)
	if err != nil {
		return false
	}
	b := a
	if isRange {
		if b, err = strconv.Atoi(hi); err != nil {
			return false
		}
	}
	return a <= port && port <= b
}

func dfRuleExpose(m *dfModel, final *dfStage, port int, add dfAddFunc) {
	var seen []string
	unresolved := false
	for _, s := range m.chain(final) {
		for i := range s.cmds {
			c := &s.cmds[i]
			if _, ok := c.cmd.(*instructions.ExposeCommand); !ok {
				continue
			}
			unresolved = unresolved || c.unresolved
			for _, v := range c.expanded {
				if dfExposes(v, port) {
					return
				}
				seen = append(seen, v)
			}
		}
	}
	found := "it exposes nothing"
	if len(seen) > 0 {
		found = "it exposes only " + dfQuote(strings.Join(seen, " "))
	}
	if unresolved {
		found += " (a variable in EXPOSE has no value)"
	}
	add(final.line, DockerfileRuleExpose, "The service listens on port %d, but the final stage does not EXPOSE it: %s. EXPOSE publishes nothing by itself, but it documents the port for whoever runs the image, and `docker run -P` and many tools rely on it. Add `EXPOSE %d`.", port, found, port)
}

// A .dockerignore pattern.
type dfIgnorePattern struct {
	line    int
	negate  bool
	pattern string
}

type dfIgnoreProblem struct {
	line    int
	pattern string
	err     error
}

// dfParseIgnore reads .dockerignore patterns the way Docker does: one per
// line, # comments, ! re-includes, leading slashes dropped, paths cleaned.
// Malformed patterns are returned as problems and left out.
func dfParseIgnore(src []byte) ([]dfIgnorePattern, []dfIgnoreProblem) {
	var patterns []dfIgnorePattern
	var problems []dfIgnoreProblem
	lineNo := 0
	for rest := string(src); rest != "" && len(patterns) < dfMaxIgnorePatterns; {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		lineNo++
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := dfIgnorePattern{line: lineNo}
		if strings.HasPrefix(line, "!") {
			p.negate = true
			line = strings.TrimSpace(line[1:])
		}
		line = path.Clean(strings.TrimLeft(line, "/"))
		if line == "." || line == "" {
			continue
		}
		if err := dfCheckGlob(line); err != nil {
			problems = append(problems, dfIgnoreProblem{line: lineNo, pattern: line, err: err})
			continue
		}
		if strings.Count(line, "/") >= dfMaxIgnoreSegments {
			continue // no real pattern is this deep; matching it would be slow
		}
		p.pattern = line
		patterns = append(patterns, p)
	}
	return patterns, problems
}

// dfCheckDockerignore reports the paths of must_ignore that the .dockerignore
// does not exclude, and patterns docker would reject.
func dfCheckDockerignore(src []byte, o *dockerfileOptions, fs *dfFindingSet) {
	add := func(line int, format string, args ...any) {
		fs.add(opsdojo.Finding{File: o.dockerignore, Line: line, Rule: DockerfileRuleDockerignore, Message: fmt.Sprintf(format, args...)})
	}
	if strings.IndexByte(string(src), 0) >= 0 {
		add(1, "%s holds binary data (NUL bytes): it should be plain text, one pattern per line.", o.dockerignore)
		return
	}
	patterns, problems := dfParseIgnore(src)
	for _, pr := range problems {
		add(pr.line, "The pattern %s is malformed (%v). Docker refuses a .dockerignore with a broken pattern and the whole build fails. Fix or remove the line; patterns use *, ? and [a-z] like the shell, and ** for any number of folders.", dfQuote(pr.pattern), pr.err)
	}
	for _, want := range o.mustIgnore {
		excluded, by := dfIgnoreDecision(patterns, want)
		if excluded {
			continue
		}
		why := "it does not belong in an image"
		switch path.Base(want) {
		case ".git":
			why = "it holds the whole history of the project, including anything ever committed by mistake, and changes on every commit, so `COPY . .` would miss the build cache every time"
		case ".env":
			why = "it holds local configuration and secrets: with `COPY . .` they end up in an image layer, readable by anyone who can pull the image"
		default:
			if strings.HasSuffix(want, ".log") {
				why = "logs are junk in an image, and a log that changes busts the build cache of every `COPY . .`"
			}
		}
		if by != nil {
			add(by.line, "`!%s` on this line brings %s back into the build context: %s. Remove the line, or make the exception narrower.", dfClip(by.pattern, 60), want, why)
			continue
		}
		add(0, "%s does not exclude %s, so it is sent to the builder with the context: %s. Add a line such as `%s`. A good set to start from: %s.", o.dockerignore, want, why, want, dfSuggestIgnores(o.mustIgnore))
	}
}

// dfCheckGlob reports a malformed pattern.
func dfCheckGlob(p string) error {
	for _, seg := range strings.Split(p, "/") {
		if _, err := path.Match(seg, ""); err != nil {
			return err
		}
	}
	return nil
}

// dfIgnoreDecision applies the patterns in order to name and its parent
// folders; the last pattern that matches decides. by is the negating
// pattern when one re-included name.
func dfIgnoreDecision(patterns []dfIgnorePattern, name string) (bool, *dfIgnorePattern) {
	excluded := false
	var by *dfIgnorePattern
	for i := range patterns {
		p := &patterns[i]
		if !dfMatchesOrParent(p.pattern, name) {
			continue
		}
		excluded = !p.negate
		by = nil
		if p.negate {
			by = p
		}
	}
	return excluded, by
}

// dfMatchesOrParent reports whether pattern matches name or one of the
// folders it sits in (excluding a folder excludes what is inside).
func dfMatchesOrParent(pattern, name string) bool {
	for dir := name; ; {
		if dfGlobMatch(pattern, dir) {
			return true
		}
		i := strings.LastIndexByte(dir, '/')
		if i < 0 {
			return false
		}
		dir = dir[:i]
	}
}

// dfGlobMatch matches a slash-separated pattern against a path segment by
// segment: *, ? and [..] within a segment, and a "**" segment for any
// number of segments. Dynamic programming keeps it linear in
// segments(pattern) × segments(name).
func dfGlobMatch(pattern, name string) bool {
	ps := strings.Split(pattern, "/")
	ns := strings.Split(name, "/")
	// next[j] is whether ps[i+1:] matches ns[j:].
	next := make([]bool, len(ns)+1)
	next[len(ns)] = true
	cur := make([]bool, len(ns)+1)
	for i := len(ps) - 1; i >= 0; i-- {
		for j := len(ns); j >= 0; j-- {
			if ps[i] == "**" {
				cur[j] = next[j] || (j < len(ns) && cur[j+1])
				continue
			}
			ok := false
			if j < len(ns) && next[j+1] {
				ok, _ = path.Match(ps[i], ns[j])
			}
			cur[j] = ok
		}
		next, cur = cur, next
	}
	return next[0]
}

// dfSuggestIgnores lists patterns worth having in a .dockerignore.
func dfSuggestIgnores(must []string) string {
	list := append([]string{}, must...)
	for _, extra := range []string{".git", "*.log", "bin/", ".env"} {
		seen := false
		for _, m := range list {
			if strings.TrimSuffix(m, "/") == strings.TrimSuffix(extra, "/") {
				seen = true
			}
		}
		if !seen {
			list = append(list, extra)
		}
	}
	for i, l := range list {
		list[i] = "`" + dfClip(l, 40) + "`"
	}
	return strings.Join(list, ", ")
}
