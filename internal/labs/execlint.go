package labs

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// The exec-check lint. Exec checks read files the learner controls; the
// grader runs them as an unprivileged user of their own with a fixed PATH and
// git told to ignore every repository setting that runs a program. What the
// grader cannot override is left to the check's author, and this lint holds
// them to it: no changing PATH or git's environment, no privilege change, no
// running or sourcing files the learner can write, and only git commands that
// never run hooks, pagers or the diff and filter drivers a learner's
// .gitattributes selects. It reads the script with a real bash parser and
// errs on the side of refusing: what it cannot see (a command name held in a
// variable) is an error, not a pass.

// gitReadOnly lists the git subcommands checks may use: plumbing that reads
// objects and refs and never compares the working tree or prints diffs.
var gitReadOnly = map[string]bool{
	"rev-parse": true, "rev-list": true, "cat-file": true, "ls-tree": true, "ls-files": true,
	"for-each-ref": true, "show-ref": true, "merge-base": true, "reflog": true, "log": true,
	"show": true, "diff-tree": true, "symbolic-ref": true, "name-rev": true, "describe": true,
	"config": true, "check-ignore": true, "check-attr": true, "check-ref-format": true,
	"count-objects": true, "version": true,
}

const gitAllowedList = "rev-parse, rev-list, cat-file, ls-tree, ls-files, for-each-ref, show-ref, merge-base, reflog show, log/show/diff-tree without patches or stats, symbolic-ref, name-rev, describe, config (reading), check-ignore, check-attr"

// gitWhyNot explains the subcommands authors reach for most.
var gitWhyNot = gitReasons()

func gitReasons() map[string]string {
	gitWhyNot := map[string]string{}
	for _, c := range []string{"status", "diff", "diff-files", "diff-index", "add", "commit", "checkout", "switch", "restore", "reset", "stash", "merge", "rebase", "cherry-pick", "revert", "am", "apply", "mv", "rm", "clean", "update-index", "hash-object", "write-tree", "read-tree", "checkout-index"} {
		gitWhyNot[c] = "reads or changes the working tree, which runs the hooks and the filter drivers (clean/smudge/process) the learner's repository and .gitattributes select"
	}
	for _, c := range []string{"blame", "annotate", "grep", "difftool", "range-diff", "format-patch", "whatchanged", "shortlog"} {
		gitWhyNot[c] = "can run the diff drivers (textconv) the learner's .gitattributes selects"
	}
	for _, c := range []string{"fetch", "pull", "push", "clone", "ls-remote", "submodule", "remote", "archive", "bundle", "send-pack", "fetch-pack", "upload-pack"} {
		gitWhyNot[c] = "talks to remotes through transports, ssh and credential helpers the learner can configure"
	}
	for _, c := range []string{"verify-commit", "verify-tag", "tag", "branch"} {
		gitWhyNot[c] = "can run GPG programs or changes refs; use for-each-ref, show-ref or cat-file -t instead"
	}
	for _, c := range []string{"gc", "repack", "prune", "maintenance", "fsck", "update-ref", "notes", "replace", "worktree", "init", "filter-branch", "commit-tree", "mktag", "mktree", "pack-refs"} {
		gitWhyNot[c] = "changes the repository (and may run hooks)"
	}
	return gitWhyNot
}

// Variables a check must leave alone: the grader sets PATH and git's
// environment, and the rest make bash or the loader run other code.
func forbiddenVar(name string) string {
	switch {
	case name == "PATH":
		return "checks run with a fixed PATH of system folders (/usr/sbin:/usr/bin:/sbin:/bin) so that nothing the learner can write is ever run; call programs by name, or by an absolute path under /usr"
	case name == "GIT_DIR" || name == "GIT_WORK_TREE":
		return ""
	case strings.HasPrefix(name, "GIT_"):
		return "the grader sets git's environment for every check (GIT_CONFIG_COUNT overrides every setting that runs a program, and safe.directory); changing it can turn those programs back on"
	case name == "BASH_ENV" || name == "ENV" || name == "SHELLOPTS" || name == "BASHOPTS" || strings.HasPrefix(name, "LD_") || name == "GCONV_PATH":
		return "makes programs load or run other code"
	}
	return ""
}

// Commands that change user or privileges: checks run unprivileged on
// purpose, and none of these could work without giving the learner a way in.
var privCommands = map[string]bool{"sudo": true, "su": true, "doas": true, "runuser": true, "pkexec": true, "setpriv": true,
	"chroot": true, "nsenter": true, "unshare": true, "capsh": true, "setcap": true, "sg": true, "newgrp": true}

// Build and package tools run the project's own scripts (Makefile recipes,
// package.json scripts, go generate, cgo): learner code.
var buildCommands = map[string]bool{"make": true, "go": true, "npm": true, "npx": true, "yarn": true, "pnpm": true, "pip": true,
	"pip3": true, "cargo": true, "mvn": true, "gradle": true, "ansible-playbook": true, "docker": true, "composer": true, "bundle": true, "rake": true}

// Interpreters that run a file given as their first operand.
var interpreters = map[string]string{"bash": "-c", "sh": "-c", "dash": "-c", "zsh": "-c", "ksh": "-c", "python": "-c", "python3": "-c",
	"perl": "-e", "ruby": "-e", "node": "-e", "php": "-r", "lua": "-e", "tclsh": "", "expect": "-c"}

// trustedExe reports whether an absolute program path is in the image's
// root-owned system folders, which the learner cannot write.
func trustedExe(p string) bool {
	if strings.Contains(p, "..") {
		return false
	}
	for _, dir := range []string{"/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/opt/"} {
		if strings.HasPrefix(p, dir) {
			return true
		}
	}
	return false
}

type execLinter struct {
	file string
	// gitWrappers are functions that pass their arguments to git as a
	// subcommand (lib.sh's g); runners run their arguments as a command.
	gitWrappers map[string]bool
	runners     map[string]bool
	problems    Problems
}

// execFuncs is what a check_lib defines for the scripts that follow it.
type execFuncs struct {
	gitWrappers map[string]bool
	runners     map[string]bool
}

func (l *execLinter) errorf(pos syntax.Pos, format string, args ...any) {
	l.problems = append(l.problems, Problem{File: l.file, Line: int(pos.Line()), Message: fmt.Sprintf(format, args...)})
}

// lintExecScript checks one exec script (or the check_lib, with lib nil).
// file names it in problems. It returns the functions the script defines
// that wrap git or run their arguments, for the scripts run after it.
func lintExecScript(file, src string, lib *execFuncs) (Problems, *execFuncs) {
	l := &execLinter{file: file, gitWrappers: map[string]bool{}, runners: map[string]bool{}}
	if lib != nil {
		for k := range lib.gitWrappers {
			l.gitWrappers[k] = true
		}
		for k := range lib.runners {
			l.runners[k] = true
		}
	}
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(src), file)
	if err != nil {
		line := 0
		if pe, ok := err.(syntax.ParseError); ok {
			line = int(pe.Pos.Line())
			err = fmt.Errorf("%s", pe.Text)
		}
		l.problems = append(l.problems, Problem{File: file, Line: line, Message: fmt.Sprintf("bash cannot parse this script: %v", err)})
		return l.problems, &execFuncs{gitWrappers: l.gitWrappers, runners: l.runners}
	}
	// Find wrapper functions first: a script may call one above its
	// definition inside another function.
	syntax.Walk(f, func(n syntax.Node) bool {
		fd, ok := n.(*syntax.FuncDecl)
		if !ok || fd.Name == nil {
			return true
		}
		syntax.Walk(fd.Body, func(n syntax.Node) bool {
			if c, ok := n.(*syntax.CallExpr); ok && len(c.Args) > 0 {
				if allArgs(c.Args[0]) {
					l.runners[fd.Name.Value] = true
				}
				if w, _ := wordLit(c.Args[0]); w == "git" || w == "/usr/bin/git" {
					if i := gitSubIndex(c.Args); i > 0 && i < len(c.Args) && allArgs(c.Args[i]) {
						l.gitWrappers[fd.Name.Value] = true
					}
				}
			}
			return true
		})
		return true
	})
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.FuncDecl:
			if n.Name != nil {
				if why := forbiddenFuncName(n.Name.Value); why != "" {
					l.errorf(n.Pos(), "function %s shadows a command checks rely on: %s", n.Name.Value, why)
				}
			}
		case *syntax.CallExpr:
			for _, a := range n.Assigns {
				l.assign(a)
			}
			if len(n.Args) > 0 {
				l.command(n.Args)
			}
		case *syntax.DeclClause:
			for _, a := range n.Args {
				if a.Name != nil && !a.Naked {
					l.assign(a)
				}
			}
		}
		return true
	})
	sort.SliceStable(l.problems, func(i, j int) bool { return l.problems[i].Line < l.problems[j].Line })
	return l.problems, &execFuncs{gitWrappers: l.gitWrappers, runners: l.runners}
}

func forbiddenFuncName(name string) string {
	if name == "git" || name == "command" || name == "builtin" || name == "exec" {
		return "the lint (and whoever reads the check) would take it for the real one"
	}
	return ""
}

func (l *execLinter) assign(a *syntax.Assign) {
	if why := forbiddenVar(a.Name.Value); why != "" {
		l.errorf(a.Pos(), "sets %s: %s", a.Name.Value, why)
	}
}

// allArgs reports whether w is "$@" or $@ (or "$*"): a wrapper's arguments.
func allArgs(w *syntax.Word) bool {
	if len(w.Parts) != 1 {
		return false
	}
	var pe *syntax.ParamExp
	switch p := w.Parts[0].(type) {
	case *syntax.ParamExp:
		pe = p
	case *syntax.DblQuoted:
		if len(p.Parts) == 1 {
			pe, _ = p.Parts[0].(*syntax.ParamExp)
		}
	}
	return pe != nil && pe.Param != nil && (pe.Param.Value == "@" || pe.Param.Value == "*") && pe.Exp == nil && pe.Index == nil && !pe.Length && !pe.Excl && pe.Repl == nil && pe.Slice == nil
}

// wordLit returns the value of a word that holds no expansion: plain text,
// 'single' or "double" quoted.
func wordLit(w *syntax.Word) (string, bool) {
	var b strings.Builder
	for _, part := range w.Parts {
		switch p := part.(type) {
		case *syntax.Lit:
			b.WriteString(unescape(p.Value))
		case *syntax.SglQuoted:
			if p.Dollar {
				return "", false
			}
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				lit, ok := q.(*syntax.Lit)
				if !ok {
					return "", false
				}
				b.WriteString(lit.Value)
			}
		default:
			return "", false
		}
	}
	return b.String(), true
}

// litPrefix returns the literal text a word starts with ("--exec-path="
// of --exec-path=$H/bin).
func litPrefix(w *syntax.Word) string {
	if len(w.Parts) == 0 {
		return ""
	}
	switch p := w.Parts[0].(type) {
	case *syntax.Lit:
		return unescape(p.Value)
	case *syntax.SglQuoted:
		return p.Value
	case *syntax.DblQuoted:
		if len(p.Parts) > 0 {
			if lit, ok := p.Parts[0].(*syntax.Lit); ok {
				return lit.Value
			}
		}
	}
	return ""
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// command checks one simple command given as its words, also one found
// inside another's arguments (find -exec, xargs, env, timeout).
func (l *execLinter) command(words []*syntax.Word) {
	w0 := words[0]
	name, ok := wordLit(w0)
	if !ok {
		if allArgs(w0) {
			// Only a runner function runs "$@"; its call sites are checked.
			return
		}
		l.errorf(w0.Pos(), "the command name is an expansion, so nobody can tell what this runs; write the command literally (a learner-controlled value here would run their program)")
		return
	}
	args := words[1:]
	if strings.Contains(name, "/") {
		if !trustedExe(name) {
			l.errorf(w0.Pos(), "runs %s, which is not in the image's system folders (/usr, /bin, /sbin, /lib, /opt): the learner may have written it. Checks must never run a file the learner can write", name)
			return
		}
		name = path.Base(name)
	}
	switch {
	case privCommands[name]:
		l.errorf(w0.Pos(), "%s changes user or privileges: checks run as an unprivileged grader user on purpose, and must not act as root or as the learner", name)
		return
	case buildCommands[name]:
		l.errorf(w0.Pos(), "%s runs the project's own scripts (recipes, hooks, generators): that is the learner's code, and a check must never run it", name)
		return
	case l.gitWrappers[name]:
		l.gitSub(args, w0)
		return
	case l.runners[name]:
		if len(args) > 0 {
			l.command(args)
		}
		return
	}
	switch name {
	case "git":
		i := gitSubIndex(words)
		l.gitGlobals(words[1:i])
		if i >= len(words) {
			return
		}
		if allArgs(words[i]) {
			return // a wrapper: its callers are checked
		}
		l.gitSub(words[i:], w0)
	case "eval":
		l.errorf(w0.Pos(), "eval runs text as code; with anything the learner wrote in it, that is their code running. Write the commands out")
	case "source", ".":
		if len(args) == 0 {
			return
		}
		if p, ok := wordLit(args[0]); !ok || !trustedExe(p) {
			l.errorf(w0.Pos(), "%s of a file that is not a fixed path under /usr, /bin, /lib or /opt: a check must never run a file the learner can write", name)
		}
	case "hash":
		for _, a := range args {
			if s, _ := wordLit(a); s == "-p" {
				l.errorf(a.Pos(), "hash -p points a command name at a file of your choice; call the program by name or by an absolute path under /usr")
			}
		}
	case "enable":
		for _, a := range args {
			if s, _ := wordLit(a); strings.HasPrefix(s, "-f") {
				l.errorf(a.Pos(), "enable -f loads a builtin from a shared object")
			}
		}
	case "command", "builtin", "exec", "nohup", "setsid", "time":
		rest := skipOpts(args, nil)
		if name == "command" && len(args) > 0 {
			if s, _ := wordLit(args[0]); s == "-v" || s == "-V" {
				return // a lookup, not a run
			}
		}
		if len(rest) > 0 {
			l.command(rest)
		}
	case "env":
		l.env(args, w0)
	case "timeout":
		rest := skipOpts(args, map[string]bool{"-k": true, "-s": true})
		if len(rest) > 1 {
			l.command(rest[1:])
		}
	case "nice", "stdbuf", "ionice":
		rest := skipOpts(args, map[string]bool{"-n": true, "-i": true, "-o": true, "-e": true, "-c": true, "-p": true})
		if len(rest) > 0 {
			l.command(rest)
		}
	case "xargs":
		rest := skipOpts(args, map[string]bool{"-I": true, "-n": true, "-P": true, "-d": true, "-E": true, "-L": true, "-s": true, "-a": true})
		if len(rest) > 0 {
			l.command(rest)
		}
	case "find":
		for i := 0; i < len(args); i++ {
			s, _ := wordLit(args[i])
			if s == "-exec" || s == "-execdir" || s == "-ok" || s == "-okdir" {
				j := i + 1
				for ; j < len(args); j++ {
					if e, _ := wordLit(args[j]); e == ";" || e == "+" {
						break
					}
				}
				if j > i+1 {
					l.command(args[i+1 : j])
				}
				i = j
			}
		}
	case "awk", "gawk", "mawk", "sed":
		// Programs on the command line are the author's; a program file
		// must not be the learner's.
		for i, a := range args {
			if s, _ := wordLit(a); (s == "-f" || s == "--file") && i+1 < len(args) {
				if p, ok := wordLit(args[i+1]); !ok || !trustedExe(p) {
					l.errorf(args[i+1].Pos(), "%s %s reads its program from %s, which is not a fixed path in the image's system folders", name, s, shownWord(args[i+1]))
				}
			}
		}
	default:
		if flag, isInterp := interpreters[name]; isInterp {
			l.interpreter(name, flag, args, w0)
		}
	}
}

// skipOpts drops leading options (and the values of those in withValue)
// and a "--".
func skipOpts(args []*syntax.Word, withValue map[string]bool) []*syntax.Word {
	for i := 0; i < len(args); i++ {
		s, ok := wordLit(args[i])
		if !ok || !strings.HasPrefix(s, "-") || s == "-" {
			return args[i:]
		}
		if s == "--" {
			return args[i+1:]
		}
		if withValue[s] {
			i++
		}
	}
	return nil
}

func (l *execLinter) env(args []*syntax.Word, w0 *syntax.Word) {
	for i := 0; i < len(args); i++ {
		s, ok := wordLit(args[i])
		switch {
		case !ok:
			l.errorf(args[i].Pos(), "env with an expanded argument: nobody can tell whether it sets a variable or names the command")
			return
		case s == "-S" || strings.HasPrefix(s, "--split-string"):
			l.errorf(args[i].Pos(), "env -S splits a string into a command line; write the command out")
			return
		case s == "-u" || s == "-C" || s == "--chdir" || s == "--unset":
			i++
		case strings.HasPrefix(s, "-"):
		case strings.Contains(s, "="):
			k := s[:strings.IndexByte(s, '=')]
			if why := forbiddenVar(k); why != "" {
				l.errorf(args[i].Pos(), "sets %s: %s", k, why)
			}
		default:
			l.command(args[i:])
			return
		}
	}
}

func (l *execLinter) interpreter(name, codeFlag string, args []*syntax.Word, w0 *syntax.Word) {
	shell := codeFlag == "-c" && (name == "bash" || name == "sh" || name == "dash" || name == "zsh" || name == "ksh")
	for i := 0; i < len(args); i++ {
		s, ok := wordLit(args[i])
		if ok && shell && strings.HasPrefix(s, "-") && !strings.HasPrefix(s, "--") && strings.Contains(s, "n") && !strings.Contains(s, "c") {
			return // bash -n only parses
		}
		if ok && codeFlag != "" && s == codeFlag {
			if i+1 >= len(args) {
				return
			}
			code, ok := wordLit(args[i+1])
			if !ok {
				l.errorf(args[i+1].Pos(), "%s %s with code from an expansion: nobody can tell what runs", name, codeFlag)
				return
			}
			if shell {
				ps, _ := lintExecScript(l.file, code, &execFuncs{gitWrappers: l.gitWrappers, runners: l.runners})
				for _, p := range ps {
					p.Line = int(args[i+1].Pos().Line()) + max(p.Line, 1) - 1
					l.problems = append(l.problems, p)
				}
			}
			return
		}
		if ok && (s == "-s" || s == "-") && shell {
			l.errorf(w0.Pos(), "%s %s runs code from its standard input; pass the code with -c, or check syntax with -n", name, s)
			return
		}
		if ok && strings.HasPrefix(s, "-") {
			continue
		}
		// The first operand is a file the interpreter runs.
		if !ok || !trustedExe(s) {
			l.errorf(args[i].Pos(), "%s runs the file %s, which is not a fixed path in the image's system folders: the learner may have written it", name, shownWord(args[i]))
		}
		return
	}
	// No operand: the program comes from standard input, which may well
	// be a file of the learner's (cat FILE | bash).
	l.errorf(w0.Pos(), "%s without a program file runs code from its standard input; write the code into the check itself", name)
}

func shownWord(w *syntax.Word) string {
	if s, ok := wordLit(w); ok {
		return s
	}
	var b strings.Builder
	_ = syntax.NewPrinter().Print(&b, w)
	return b.String()
}

// gitSubIndex returns the index in a git call's words of the subcommand,
// after git's global options.
func gitSubIndex(words []*syntax.Word) int {
	i := 1
	for ; i < len(words); i++ {
		s := litPrefix(words[i])
		if !strings.HasPrefix(s, "-") {
			return i
		}
		switch s {
		case "-C", "-c", "--git-dir", "--work-tree", "--namespace", "--config-env", "--exec-path", "--super-prefix":
			i++
		}
	}
	return min(i, len(words))
}

func (l *execLinter) gitGlobals(opts []*syntax.Word) {
	for _, w := range opts {
		s := litPrefix(w)
		switch {
		case s == "-c" || s == "--config-env" || strings.HasPrefix(s, "--config-env="):
			l.errorf(w.Pos(), "git %s: the grader sets git's configuration for every check, and -c could turn a setting that runs a program back on", s)
		case strings.HasPrefix(s, "--exec-path"):
			l.errorf(w.Pos(), "git --exec-path changes where git finds the programs it runs")
		case s == "-p" || s == "--paginate":
			l.errorf(w.Pos(), "git %s starts a pager", s)
		}
	}
}

// gitSub checks a git subcommand and its arguments (words[0] is the
// subcommand). at is where to report a subcommand that is an expansion.
func (l *execLinter) gitSub(words []*syntax.Word, at *syntax.Word) {
	if len(words) == 0 || allArgs(words[0]) {
		return // passed through: the enclosing wrapper's callers are checked
	}
	sub, ok := wordLit(words[0])
	if !ok && strings.HasPrefix(litPrefix(words[0]), "-") || strings.HasPrefix(sub, "-") {
		// A wrapper called with global options first: g -c x=y log.
		i := gitSubIndex(append([]*syntax.Word{at}, words...)) - 1
		l.gitGlobals(words[:i])
		l.gitSub(words[i:], at)
		return
	}
	if !ok {
		l.errorf(words[0].Pos(), "the git subcommand is an expansion, so nobody can tell which git command runs; write it literally")
		return
	}
	args := words[1:]
	if !gitReadOnly[sub] {
		why := gitWhyNot[sub]
		if why == "" {
			why = "is not one of the read-only commands exec checks may use"
		}
		l.errorf(words[0].Pos(), "git %s %s. Checks may use: %s", sub, why, gitAllowedList)
		return
	}
	// Options are judged by their literal start: -U"$n" is still -U.
	lits := make([]string, len(args))
	for i, a := range args {
		lits[i] = litPrefix(a)
	}
	bad := func(i int, why string) { l.errorf(args[i].Pos(), "git %s %s %s", sub, lits[i], why) }
	switch sub {
	case "log", "show", "diff-tree", "rev-list", "reflog":
		if sub == "reflog" && len(args) > 0 && lits[0] != "" && !strings.HasPrefix(lits[0], "-") {
			if lits[0] != "show" && lits[0] != "exists" {
				bad(0, "changes the reflog; use reflog show")
				return
			}
		}
		silent := false
		for i, s := range lits {
			if s == "--" {
				break
			}
			switch {
			case s == "-s" || s == "--no-patch":
				silent = true
			case patchOption(s):
				bad(i, "prints a diff, which runs the diff drivers (textconv, external diff) the learner's .gitattributes selects; use --format, --name-only or --raw")
			case s == "--show-signature" || strings.Contains(s, "%G") || strings.Contains(s, "%(signature"):
				bad(i, "verifies signatures, which runs a GPG program; checks cannot trust a learner's keyring anyway")
			case strings.HasPrefix(s, "--output"):
				bad(i, "writes a file")
			}
		}
		if sub == "show" && !silent {
			l.errorf(words[0].Pos(), "git show without -s (--no-patch) prints a diff, which runs the diff drivers the learner's .gitattributes selects; add -s, or use log -1 --format / cat-file")
		}
	case "cat-file":
		for i, s := range lits {
			if s == "--textconv" || s == "--filters" || strings.HasPrefix(s, "--batch") && strings.Contains(s, "filters") {
				bad(i, "runs the textconv or filter driver the learner's .gitattributes selects; cat-file -p or cat-file blob print the stored bytes")
			}
		}
	case "ls-files":
		for i, s := range lits {
			if s == "-m" || s == "--modified" || s == "--debug" || (len(s) > 2 && s[0] == '-' && s[1] != '-' && strings.ContainsRune(s, 'm')) {
				bad(i, "compares the working tree with the index, which can run the clean filter the learner's .gitattributes selects")
			}
		}
	case "describe":
		for i, s := range lits {
			if strings.HasPrefix(s, "--dirty") || strings.HasPrefix(s, "--broken") {
				bad(i, "compares the working tree, which can run the learner's filter drivers")
			}
		}
	case "symbolic-ref":
		positional := 0
		for i, s := range lits {
			if s == "-d" || s == "--delete" || s == "-m" {
				bad(i, "changes a ref")
			}
			if !strings.HasPrefix(s, "-") || s == "" {
				positional++
			}
		}
		if positional > 1 {
			l.errorf(words[0].Pos(), "git symbolic-ref with two operands changes a ref; checks only read")
		}
	case "config":
		reads := false
		for _, s := range lits {
			switch s {
			case "--get", "--get-all", "--get-regexp", "--get-urlmatch", "-l", "--list", "--get-color", "--get-colorbool":
				reads = true
			}
		}
		if !reads {
			l.errorf(words[0].Pos(), "git config without --get, --get-all, --get-regexp or --list may write; say --get to read. (The learner's global config is hidden from checks: read it with git config --file ~/.gitconfig --get KEY)")
		}
	}
}

// patchOption reports whether a log/show/diff-tree option prints or
// computes a content diff.
func patchOption(s string) bool {
	switch s {
	case "-p", "-u", "--patch", "--stat", "--numstat", "--shortstat", "--summary", "--patch-with-stat", "--patch-with-raw",
		"--cc", "-c", "-m", "--dd", "--binary", "--ext-diff", "--textconv", "--word-diff", "--color-words", "--check",
		"--compact-summary", "--full-index", "--remerge-diff", "--diff-merges=on", "--diff-merges=m", "--diff-merges=separate",
		"--diff-merges=c", "--diff-merges=cc", "--diff-merges=combined", "--diff-merges=dense-combined", "--diff-merges=remerge", "--diff-merges=r", "-W", "--function-context":
		return true
	}
	for _, p := range []string{"-U", "--unified", "--stat=", "--stat-", "--dirstat", "--word-diff", "-S", "-G", "--pickaxe", "-L", "--find-copies-harder"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
