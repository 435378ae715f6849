package grading

import (
	"path"
	"regexp"
	"strings"
)

// A rough reading of the shell text of a RUN, enough to see which commands
// it runs with which words: quotes are removed, &&, ||, ;, |, &, newlines
// and parentheses separate commands, redirections are dropped, comments
// skipped. It is not a shell: it never expands anything, and it runs in one
// pass over the text.

// dfShellCommands splits shell text into simple commands, each a list of
// words.
func dfShellCommands(s string) [][]string {
	var (
		cmds     [][]string
		cur      []string
		word     strings.Builder
		inWord   bool
		redirect bool // the next word is a redirection target: drop it
	)
	flushWord := func() {
		if inWord {
			if redirect {
				redirect = false
			} else {
				cur = append(cur, word.String())
			}
		}
		word.Reset()
		inWord = false
	}
	flushCmd := func() {
		flushWord()
		redirect = false
		if len(cur) > 0 {
			cmds = append(cmds, cur)
		}
		cur = nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				word.WriteString(s[i+1:])
				i = len(s)
				break
			}
			word.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case '"':
			inWord = true
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
					if s[i] == '\n' {
						continue
					}
				}
				word.WriteByte(s[i])
			}
		case '\\':
			if i+1 < len(s) {
				i++
				if s[i] == '\n' {
					continue // line continuation
				}
				word.WriteByte(s[i])
				inWord = true
			}
		case ' ', '\t', '\r':
			flushWord()
		case '\n', ';', '&', '|', '(', ')', '`':
			flushCmd()
		case '>', '<':
			// "2>" and "2>&1": a number right before the operator is a
			// file descriptor, not a word.
			if inWord && dfIsDigits(word.String()) {
				word.Reset()
				inWord = false
			}
			flushWord()
			for i+1 < len(s) && strings.IndexByte("<>&|", s[i+1]) >= 0 {
				i++
			}
			redirect = true
			// "2>&1": the target is a descriptor, glued to the operator.
			if s[i] == '&' && i+1 < len(s) && (s[i+1] >= '0' && s[i+1] <= '9' || s[i+1] == '-') {
				for i+1 < len(s) && (s[i+1] >= '0' && s[i+1] <= '9' || s[i+1] == '-') {
					i++
				}
				redirect = false
			}
		case '#':
			if inWord {
				word.WriteByte(c)
				break
			}
			for i+1 < len(s) && s[i+1] != '\n' {
				i++
			}
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	flushCmd()
	return cmds
}

func dfIsDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

var dfAssignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// Words that may precede the command proper.
var dfCommandPrefixes = map[string]bool{
	"sudo": true, "env": true, "command": true, "exec": true, "nohup": true, "time": true,
	"nice": true, "then": true, "do": true, "else": true, "elif": true, "if": true,
	"while": true, "until": true, "{": true, "}": true, "!": true,
}

// dfCommandName strips variable assignments and prefixes such as sudo from a
// simple command and returns the program's base name and its arguments.
func dfCommandName(words []string) (string, []string) {
	for len(words) > 0 {
		w := words[0]
		switch {
		case dfAssignment.MatchString(w):
			words = words[1:]
		case dfCommandPrefixes[w]:
			words = words[1:]
			// sudo -E, env -i, nice -n 10 ...: skip their options.
			for len(words) > 0 && strings.HasPrefix(words[0], "-") {
				words = words[1:]
			}
		default:
			return strings.ToLower(path.Base(w)), words[1:]
		}
	}
	return "", nil
}

// dfPkgCommand is a package manager call: apt-get install -y foo.
type dfPkgCommand struct {
	tool string   // apt-get, apt, apk, yum, dnf, microdnf
	sub  string   // install, update, add, ...
	opts []string // options, lower case
	args []string // words after the subcommand that are not options
}

// Options of package managers that take the next word as their value.
var dfPkgOptionsWithValue = map[string]map[string]bool{
	"apt-get":  {"-o": true, "-c": true, "-t": true, "--option": true, "--config-file": true, "--target-release": true, "--default-release": true},
	"apt":      {"-o": true, "-c": true, "-t": true, "--option": true, "--config-file": true, "--target-release": true, "--default-release": true},
	"apk":      {"-x": true, "--repository": true, "-p": true, "--root": true, "-t": true, "--virtual": true, "--cache-dir": true, "--keys-dir": true},
	"yum":      {"-c": true, "--config": true, "--installroot": true, "--releasever": true},
	"dnf":      {"-c": true, "--config": true, "--installroot": true, "--releasever": true},
	"microdnf": {"--config": true, "--installroot": true, "--releasever": true},
}

// dfParsePkgCommand reads a simple command as a package manager call.
func dfParsePkgCommand(words []string) (dfPkgCommand, bool) {
	name, args := dfCommandName(words)
	withValue, ok := dfPkgOptionsWithValue[name]
	if !ok {
		return dfPkgCommand{}, false
	}
	pc := dfPkgCommand{tool: name}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			lower := strings.ToLower(a)
			if withValue[lower] && i+1 < len(args) {
				lower += " " + strings.ToLower(args[i+1])
				i++
			}
			pc.opts = append(pc.opts, lower)
			continue
		}
		if pc.sub == "" {
			pc.sub = strings.ToLower(a)
			continue
		}
		pc.args = append(pc.args, a)
	}
	return pc, true
}

// isInstall reports whether the call installs packages.
func (p dfPkgCommand) isInstall() bool {
	switch p.tool {
	case "apk":
		return p.sub == "add"
	default:
		return p.sub == "install"
	}
}

// assumesYes reports whether an apt call answers its prompt itself.
func (p dfPkgCommand) assumesYes() bool {
	for _, o := range p.opts {
		switch {
		case o == "-y" || o == "--yes" || o == "--assume-yes" || o == "--force-yes":
			return true
		case len(o) > 1 && o[0] == '-' && o[1] != '-' && !strings.Contains(o, " ") && strings.Contains(o[1:], "y"):
			return true // -qy, -yq
		case strings.Contains(o, "apt::get::assume-yes=true") || strings.Contains(o, "apt::get::assume-yes=1"):
			return true
		}
	}
	return false
}

// skipsRecommends reports whether an apt install leaves out recommended
// packages.
func (p dfPkgCommand) skipsRecommends() bool {
	for _, o := range p.opts {
		if o == "--no-install-recommends" {
			return true
		}
		if strings.Contains(o, "apt::install-recommends=false") || strings.Contains(o, "apt::install-recommends=0") ||
			strings.Contains(o, "apt::install-recommends=\"false\"") {
			return true
		}
	}
	return false
}

// packages returns the package names an install names, without versions
// and architectures.
func (p dfPkgCommand) packages() []string {
	var out []string
	for _, a := range p.args {
		name := strings.ToLower(a)
		if i := strings.IndexAny(name, "=~<>"); i >= 0 {
			name = name[:i]
		}
		if i := strings.IndexByte(name, ':'); i >= 0 {
			name = name[:i]
		}
		if name != "" {
			out = append(out, name)
		}
	}
	return out
}

// dfIsToolchainPackage reports whether a Debian, Alpine or Red Hat package
// is a compiler or build tool rather than something a service runs with.
func dfIsToolchainPackage(name string) bool {
	switch name {
	case "golang", "go", "gcc", "g++", "gcc-c++", "clang", "build-essential", "build-base", "npm",
		"cargo", "rustc", "rust", "maven", "gradle", "default-jdk", "default-jdk-headless", "musl-dev", "libc6-dev":
		return true
	}
	for _, prefix := range []string{"golang-", "gcc-", "g++-", "clang-"} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return strings.HasPrefix(name, "openjdk-") && (strings.HasSuffix(name, "-jdk") || strings.HasSuffix(name, "-jdk-headless"))
}

// dfCompiles reports what a simple command dfCompiles with, "" when it does
// not: `go build`, `cargo build`, `npm ci`, `mvn package`, `gcc ...`.
func dfCompiles(words []string) string {
	name, args := dfCommandName(words)
	sub := ""
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			sub = strings.ToLower(a)
			break
		}
	}
	switch name {
	case "go":
		if sub == "build" || sub == "install" {
			return "go " + sub
		}
	case "cargo":
		if sub == "build" || sub == "install" {
			return "cargo " + sub
		}
	case "npm":
		if sub == "ci" || sub == "install" || sub == "i" {
			return "npm " + sub
		}
	case "gcc", "g++", "cc", "clang", "mvn", "gradle":
		return name
	}
	return ""
}

// dfIsToolchainImage reports whether an image reference names a compiler
// image (golang:1.22, docker.io/library/rust, node:20 is a runtime and
// passes).
func dfIsToolchainImage(ref string) bool {
	name := strings.ToLower(ref)
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name = name[:i]
	}
	name = name[strings.LastIndexByte(name, '/')+1:]
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	switch name {
	case "golang", "rust", "gcc", "maven", "gradle", "buildpack-deps", "tinygo":
		return true
	}
	return false
}
