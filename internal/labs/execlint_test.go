package labs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The check_lib most tests run under: lib.sh's git wrapper and a runner.
const lintLib = `H="${OPSDOJO_HOME:-/home/learner}"
P="$H/project"
g() { git -C "$P" "$@"; }
quiet() { "$@" >/dev/null 2>&1; }
`

func TestExecLint(t *testing.T) {
	cases := []struct {
		name   string
		script string
		want   []string // "LINE: substring" of each problem, in order; none for a clean script
	}{
		// What checks do every day passes.
		{"read-only plumbing", `g rev-parse --show-toplevel
g rev-list -n1 --branches --tags
g log --branches --tags --format=%h --diff-filter=AMRC -- ':(glob)**/.env'
g ls-tree -r --name-only "$ref"
g cat-file -s "$c:README.md"; g cat-file blob "$b"; g cat-file -t refs/tags/v1
g show-ref --verify -q refs/heads/main && g merge-base --is-ancestor a b
g reflog show --format='%H %gs' refs/heads/x
g symbolic-ref -q --short HEAD
g for-each-ref --format='%(refname:short)' refs/heads | paste -sd, -
g show -s --format=%s HEAD; g show --no-patch HEAD
g ls-files --error-unmatch -- README.md
g config --get user.name; git config --file "$H/.gitconfig" --get user.email
git -C "$P" describe --tags --always
quiet g rev-parse HEAD
x="$(cd "$P" && ls -1d README* | head -n1)"
printf '%s\n' "$content" | bash -n
printf '%s' "$a" | awk '{print $3}' | sed 's/x/y/'
/usr/bin/git -C "$P" rev-list --count a..b
command -v git >/dev/null || exit 2
find "$P" -name '*.log' -exec /usr/bin/stat -c %s {} \;
timeout 5 git -C "$P" rev-parse HEAD
env LC_ALL=C git -C "$P" log -1 --format=%s
GIT_DIR="$P/.git" git rev-parse HEAD
bash -c 'git -C /x rev-parse HEAD'
python3 -c 'print(1)'
exec 3>&1
`, nil},

		// PATH and git's environment belong to the grader.
		{"PATH set", "PATH=$H/bin:$PATH\n", []string{"1: sets PATH: checks run with a fixed PATH"}},
		{"PATH exported", "x=1\nexport PATH=/usr/local/bin:$PATH\n", []string{"2: sets PATH"}},
		{"PATH appended", "PATH+=:/opt/x\n", []string{"1: sets PATH"}},
		{"PATH for one command", "PATH=/tmp git log\n", []string{"1: sets PATH"}},
		{"PATH through env", "env PATH=/tmp git rev-parse HEAD\n", []string{"1: sets PATH"}},
		{"old lib.sh git env", "export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*'\n",
			[]string{"1: sets GIT_CONFIG_COUNT: the grader sets git's environment", "1: sets GIT_CONFIG_KEY_0", "1: sets GIT_CONFIG_VALUE_0"}},
		{"local GIT var", "f() { local GIT_CONFIG_NOSYSTEM=0; }\n", []string{"1: sets GIT_CONFIG_NOSYSTEM"}},
		{"BASH_ENV", "BASH_ENV=$H/.bashrc bash -n x.sh\n", []string{"1: sets BASH_ENV"}},
		{"LD_PRELOAD", "export LD_PRELOAD=$H/x.so\n", []string{"1: sets LD_PRELOAD"}},
		{"git -c", "git -c core.fsmonitor=$H/x -C \"$P\" status\n", []string{"1: git -c: the grader sets git's configuration", "1: git status reads or changes the working tree"}},
		{"git -c through the wrapper", "g -c gpg.program=x log -1\n", []string{"1: git -c"}},
		{"git --exec-path", "git --exec-path=$H/bin rev-parse HEAD\n", []string{"1: git --exec-path"}},
		{"git --paginate", "git -p log\n", []string{"1: git -p starts a pager"}},

		// Privileges.
		{"sudo", "sudo -u learner git log\n", []string{"1: sudo changes user"}},
		{"su", "x=$(su learner -c 'id')\n", []string{"1: su changes user"}},
		{"runuser in a pipeline", "true | runuser -u learner id\n", []string{"1: runuser changes user"}},

		// Learner files run or sourced.
		{"source from home", "source \"$H/.bashrc\"\n", []string{"1: source of a file that is not a fixed path"}},
		{"dot from home", ". ~/helpers.sh\n", []string{"1: . of a file"}},
		{"source of a system file", ". /usr/lib/git-core/git-sh-prompt\n", nil},
		{"script in home", "\"$P/healthcheck.sh\" --check\n", []string{"1: the command name is an expansion"}},
		{"relative script", "cd \"$P\" && ./healthcheck.sh\n", []string{"1: runs ./healthcheck.sh, which is not in the image's system folders"}},
		{"absolute home path", "/home/learner/bin/git log\n", []string{"1: runs /home/learner/bin/git"}},
		{"tmp path", "/tmp/x\n", []string{"1: runs /tmp/x"}},
		{"dotdot escape", "/usr/../home/learner/x\n", []string{"1: runs /usr/../home/learner/x"}},
		{"bash on a learner file", "bash \"$P/healthcheck.sh\"\n", []string{`1: bash runs the file "$P/healthcheck.sh"`}},
		{"sh on stdin", "cat \"$P/x\" | sh\n", []string{"1: sh without a program file runs code from its standard input"}},
		{"bash -s", "bash -s < \"$P/x\"\n", []string{"1: bash -s runs code from its standard input"}},
		{"python on a learner file", "python3 \"$P/app.py\"\n", []string{"1: python3 runs the file"}},
		{"awk -f learner file", "awk -f \"$P/x.awk\" y\n", []string{"1: awk -f reads its program from"}},
		{"eval", "eval \"$(g config --get x)\"\n", []string{"1: eval runs text as code"}},
		{"variable command", "cmd=git\n$cmd log\n", []string{"2: the command name is an expansion"}},
		{"hash -p", "hash -p \"$H/bin/git\" git\n", []string{"1: hash -p points"}},
		{"enable -f", "enable -f ./x.so x\n", []string{"1: enable -f loads"}},
		{"make", "cd \"$P\" && make -n build\n", []string{"1: make runs the project's own scripts"}},
		{"go test", "go test ./...\n", []string{"1: go runs the project's own scripts"}},
		{"find -exec learner file", "find \"$P\" -name x -exec \"$P/x\" {} +\n", []string{"1: the command name is an expansion"}},
		{"xargs git status", "echo x | xargs -n1 git -C \"$P\" status\n", []string{"1: git status reads or changes"}},
		{"timeout wraps sudo", "timeout 5 sudo id\n", []string{"1: sudo changes user"}},
		{"env -S", "env -S 'git log'\n", []string{"1: env -S splits"}},
		{"bash -c with a bad git", "bash -c 'x=1\ngit -C /p diff'\n", []string{"2: git diff reads or changes the working tree"}},
		{"function named git", "git() { /usr/bin/git \"$@\"; }\n", []string{"1: function git shadows"}},

		// git porcelain and options that run drivers, hooks, pagers, gpg.
		{"status", "g status --short\n", []string{"1: git status reads or changes the working tree"}},
		{"diff", "g diff --quiet\n", []string{"1: git diff reads or changes the working tree"}},
		{"blame", "g blame README.md\n", []string{"1: git blame can run the diff drivers"}},
		{"grep", "g grep -q TODO\n", []string{"1: git grep can run the diff drivers"}},
		{"commit", "g commit -m x\n", []string{"1: git commit reads or changes"}},
		{"fetch", "g fetch origin\n", []string{"1: git fetch talks to remotes"}},
		{"verify-tag", "g verify-tag v1\n", []string{"1: git verify-tag can run GPG programs"}},
		{"tag -l", "g tag -l\n", []string{"1: git tag can run GPG programs or changes refs"}},
		{"gc", "g gc\n", []string{"1: git gc changes the repository"}},
		{"unknown", "g frobnicate\n", []string{"1: git frobnicate is not one of the read-only commands"}},
		{"dynamic subcommand", "g \"$sub\" HEAD\n", []string{"1: the git subcommand is an expansion"}},
		{"log -p", "g log -p -1\n", []string{"1: git log -p prints a diff"}},
		{"log --stat", "g log --stat\n", []string{"1: git log --stat prints a diff"}},
		{"log -U3", "g log -U3 main\n", []string{"1: git log -U3 prints a diff"}},
		{"log pickaxe", "g log -S secret\n", []string{"1: git log -S prints a diff"}},
		{"log %G", "g log --format=%G? -1\n", []string{"1: git log --format=%G? verifies signatures"}},
		{"log --show-signature", "g log --show-signature\n", []string{"1: git log --show-signature verifies signatures"}},
		{"log --output", "g log --output=/tmp/x\n", []string{"1: git log --output=/tmp/x writes a file"}},
		{"show without -s", "g show HEAD\n", []string{"1: git show without -s"}},
		{"show --stat", "g show -s --stat HEAD\n", []string{"1: git show --stat prints a diff"}},
		{"pathspec after -- is not an option", "g log --format=%h -- -p\n", nil},
		{"diff-tree -p", "g diff-tree -p a b\n", []string{"1: git diff-tree -p prints a diff"}},
		{"cat-file --textconv", "g cat-file --textconv HEAD:x\n", []string{"1: git cat-file --textconv runs the textconv"}},
		{"cat-file --filters", "g cat-file --filters HEAD:x\n", []string{"1: git cat-file --filters runs"}},
		{"ls-files -m", "g ls-files -m\n", []string{"1: git ls-files -m compares the working tree"}},
		{"describe --dirty", "g describe --dirty\n", []string{"1: git describe --dirty compares the working tree"}},
		{"reflog expire", "g reflog expire --all\n", []string{"1: git reflog expire changes the reflog"}},
		{"symbolic-ref write", "g symbolic-ref HEAD refs/heads/x\n", []string{"1: git symbolic-ref with two operands"}},
		{"config write", "g config user.name x\n", []string{"1: git config without --get"}},
		{"inside command substitution", "x=\"$(g status --porcelain)\"\n", []string{"1: git status"}},
		{"inside process substitution", "while read -r l; do :; done < <(g diff --name-only)\n", []string{"1: git diff"}},
		{"inside a function", "f() {\n  g stash list\n}\n", []string{"2: git stash reads or changes"}},
		{"runner runs porcelain", "quiet g status\n", []string{"1: git status"}},
		{"syntax error", "if true; then\n  echo x\n", []string{"bash cannot parse this script"}},
	}
	_, lib := lintExecScript("lib.sh", lintLib, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps, _ := lintExecScript("checks/x.sh", c.script, lib)
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %d problems, want %d:\n%s\nwant:\n%s", len(got), len(c.want), strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			for i, w := range c.want {
				if !strings.HasPrefix(got[i], "checks/x.sh:") || !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want checks/x.sh:%s...", i, got[i], w)
				}
			}
		})
	}
}

// TestExecLintWrappersNeedTheLib: without the check_lib, g is an unknown
// command (fine), but the lib's own definitions are linted too.
func TestExecLintLibItself(t *testing.T) {
	ps, funcs := lintExecScript("checks/lib.sh", lintLib+"export GIT_CONFIG_COUNT=2\nr() { git -C \"$P\" diff \"$@\"; }\n", nil)
	if len(ps) != 2 || !strings.Contains(ps[0].String(), "checks/lib.sh:5: sets GIT_CONFIG_COUNT") || !strings.Contains(ps[1].String(), "checks/lib.sh:6: git diff") {
		t.Fatalf("problems = %v", ps)
	}
	if !funcs.gitWrappers["g"] || !funcs.runners["quiet"] || funcs.gitWrappers["quiet"] {
		t.Fatalf("wrappers %v runners %v", funcs.gitWrappers, funcs.runners)
	}
}

// TestLoadLintsExecScripts: labs validate reports lint problems at the
// script's file:line, for check scripts and the check_lib.
func TestLoadLintsExecScripts(t *testing.T) {
	dir := writeLab(t, t.TempDir(), "demo", copyLines(), validFiles)
	if _, problems := Load(dir, nil); len(problems) > 0 {
		t.Fatalf("valid lab: %v", problems)
	}
	if err := os.WriteFile(filepath.Join(dir, "checks", "c1.sh"), []byte("#!/bin/bash\ncd ~/project\ngit status --short | grep -q . && exit 1\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, problems := Load(dir, nil)
	if len(problems) != 1 || !strings.HasPrefix(problems[0].String(), filepath.Join(dir, "checks", "c1.sh")+":3: git status") {
		t.Fatalf("problems = %v", problems)
	}
}

// TestRealLabsPassTheExecLint: the shipped labs follow their own rule.
func TestRealLabsPassTheExecLint(t *testing.T) {
	_, problems := LoadAll(filepath.Join("..", "..", "labs"), looseKinds{})
	for _, p := range problems {
		if strings.HasSuffix(p.File, ".sh") {
			t.Errorf("%s", p)
		}
	}
}

// FuzzExecLint: any text, however broken, gets problems or none, never a
// panic.
func FuzzExecLint(f *testing.F) {
	for _, s := range []string{lintLib, "g log -p\n", "bash -c 'bash -c \"g diff\"'\n", "f() { \"$@\"; }\nf f g status\n", "${x[@]}=1\n", "declare -x PATH\n", "export -n GIT_X\n", "find -exec\n", "env -u\n", "git -C\n", "g -c\n"} {
		f.Add(s)
	}
	_, lib := lintExecScript("lib.sh", lintLib, nil)
	f.Fuzz(func(t *testing.T, src string) {
		ps, _ := lintExecScript("x.sh", src, lib)
		for _, p := range ps {
			if p.File != "x.sh" || p.Message == "" {
				t.Fatalf("problem %+v", p)
			}
		}
	})
}
