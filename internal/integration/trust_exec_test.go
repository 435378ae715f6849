//go:build integration

package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/images"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// trustExecAttack is what a hostile learner sets up in git-basics: a
// program (~/.pwn.sh) that leaves a marker naming the uid that ran it and
// tries to replace bash and git with fakes that print PASS, wired into every
// git setting, hook and driver that runs a program; fake `git` and `bash`
// in folders of the learner's PATH; and a history forged three ways
// (shallow file, grafts, a replace ref) without any of the lab's real work.
const trustExecAttack = `set -eu
cat > ~/.pwn.sh <<'PWN'
#!/bin/sh
u=$(id -u)
echo "$u $0 $*" >> /tmp/pwned-$u
printf '#!/bin/sh\necho PASS: forged\nexit 0\n' > /tmp/fake-$u 2>/dev/null && chmod 755 /tmp/fake-$u
cp /tmp/fake-$u /usr/local/bin/bash 2>/dev/null
cp /tmp/fake-$u /usr/local/bin/git 2>/dev/null
cp /tmp/fake-$u /usr/bin/git 2>/dev/null
exit 0
PWN
chmod 755 ~/.pwn.sh
mkdir -p ~/w ~/hooks ~/bin ~/.local/bin
for d in ~/bin ~/.local/bin; do
  printf '#!/bin/sh\necho "$(id -u) fake $0" >> /tmp/pwned-$(id -u)\necho PASS: forged\nexit 0\n' > "$d/git"
  cp "$d/git" "$d/bash"; cp "$d/git" "$d/timeout"; cp "$d/git" "$d/env"
  chmod 755 "$d"/*
done
printf 'export PATH="$HOME/bin:$HOME/.local/bin:$PATH"\n' >> ~/.bashrc
printf 'export PATH="$HOME/bin:$HOME/.local/bin:$PATH"\n' >> ~/.profile

cd ~/project
git init -q -b main
printf 'notes\n' > NOTES.md
printf '* diff=pwn filter=pwn\n' > .gitattributes
git add NOTES.md .gitattributes
tree=$(git write-tree)
# Commits that carry a signature header: with log.showSignature, any git
# log over them runs the GPG program of the repository's config.
mk() {
  { printf 'tree %s\n' "$tree"
    if [ -n "$1" ]; then printf 'parent %s\n' "$1"; fi
    printf 'author M <m@example.com> 1700000000 +0000\ncommitter M <m@example.com> 1700000000 +0000\n'
    printf 'gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n\n%s\n' "$2"
  } | git hash-object -t commit -w --stdin
}
c1=$(mk "" first)
c2=$(mk "$c1" second)
git update-ref refs/heads/main "$c2"
git update-ref refs/heads/feature/healthcheck "$c1"
# Forged ancestry: main's tip looks parentless, so the branch (c1, which is
# on main) seems to have a commit of its own.
echo "$c2" > .git/shallow
echo "$c2" > .git/info/grafts
# A lightweight v0.1.0 made to look annotated by a replace ref.
c3=$(mk "" release)
git update-ref refs/tags/v0.1.0 "$c3"
tagobj=$(printf 'object %s\ntype commit\ntag v0.1.0\ntagger M <m@example.com> 1700000000 +0000\n\nv0.1.0\n' "$c2" | git mktag)
git replace -f "$c3" "$tagobj"
cp .gitattributes .git/info/attributes

w() { ln -sf ~/.pwn.sh ~/w/"$1"; echo ~/w/"$1"; }
for k in gpg.program gpg.openpgp.program gpg.x509.program gpg.ssh.program gpg.ssh.defaultKeyCommand \
         core.fsmonitor core.pager pager.log pager.show pager.status core.editor sequence.editor \
         core.sshCommand core.askPass core.gitProxy credential.helper diff.external \
         diff.pwn.textconv diff.pwn.command filter.pwn.clean filter.pwn.smudge filter.pwn.process \
         merge.pwn.driver uploadpack.packObjectsHook core.alternateRefsCommand; do
  git config "$k" "$(w "$k")"
done
git config log.showSignature true
git config core.hooksPath ~/hooks
for h in pre-commit post-checkout post-merge post-index-change reference-transaction pre-auto-gc \
         fsmonitor-watchman post-rewrite push-to-checkout; do
  ln -sf ~/.pwn.sh ~/hooks/$h; ln -sf ~/.pwn.sh .git/hooks/$h
done
git config alias.st '!~/.pwn.sh'
git config alias.lg '!~/.pwn.sh'
# The learner's global config and an include try the same.
git config --global gpg.program "$(w global-gpg)"
git config --global log.showSignature true
git config --global core.fsmonitor "$(w global-fsmonitor)"
git config --global include.path ~/evil.inc
printf '[gpg "openpgp"]\n\tprogram = %s\n[core]\n\tpager = %s\n' "$(w inc-gpg)" "$(w inc-pager)" > ~/evil.inc
echo ATTACK-READY
`

// TestTrustExecChecksRunNothingOfTheLearner presses Check on every
// git-basics step of a learner who armed every way we know for a check to
// run their program (the attack of issue 7 made root run it and then every
// step passed), and forged history without doing the work. No step may
// pass, the program must never run, bash and git must stay the image's.
// Then, in the same container, the lab's own solutions still pass.
func TestTrustExecChecksRunNothingOfTheLearner(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	mallory := newLearner(t, srv, "mallory")
	sess := mallory.startLab("git-basics")
	cleanupSession(t, sess.ID)
	id := sandbox.Name(sess.ID)

	sum := func() string {
		_, out := execIn(t, id, "learner", "bash", "-c", "sha256sum /bin/bash /usr/bin/git; ls -A /usr/local/bin")
		return out
	}
	before := sum()

	// Step 1's starter files reach the learner, theirs to read.
	if code, out := execIn(t, id, "learner", "bash", "-c", "cd ~/project && grep -q '^GREETER_DB_PASSWORD=' .env && test -s app.log && test -x bin/greeter && stat -c %u .env app.log bin/greeter | sort -u"); code != 0 || out != "1000\n" {
		t.Fatalf("starter files .env, app.log, bin/greeter in ~/project: exit %d\n%s", code, out)
	}

	if code, out := execIn(t, id, "learner", "bash", "-c", trustExecAttack); code != 0 || !strings.Contains(out, "ATTACK-READY") {
		t.Fatalf("setting up the attack as the learner: exit %d\n%s", code, out)
	}
	// The trap is armed: the learner's own git runs the program (as them).
	if code, out := execIn(t, id, "learner", "bash", "-c", "git -C ~/project log -1 --format=%s >/dev/null 2>&1; cat /tmp/pwned-1000 && rm -f /tmp/pwned-1000"); code != 0 || !strings.Contains(out, "1000 ") {
		t.Fatalf("the attack is not armed: the learner's own git log did not run ~/.pwn.sh (exit %d):\n%s", code, out)
	}
	// And the forged history fools the learner's own git.
	if _, out := execIn(t, id, "learner", "bash", "-c", "cd ~/project && git cat-file -t refs/tags/v0.1.0 && git rev-list --count main..feature/healthcheck"); !strings.Contains(out, "tag\n1") {
		t.Fatalf("the forged history is not in place:\n%s", out)
	}

	steps := []string{"init", "branch", "merge", "tag"}
	for round := 0; round < 2; round++ { // a second round catches a check made to pass by an earlier one
		for _, st := range steps {
			res := mallory.check(sess.ID, st)
			if res.Status == "pass" {
				t.Errorf("round %d: step %s passes without the work: %+v", round, st, res)
			}
			if res.Status == "error" {
				t.Errorf("round %d: step %s is a grader error on a hostile repository (want a plain fail): %+v", round, st, res)
			}
			if res.Progress.Passed != 0 {
				t.Errorf("round %d: after step %s, %d steps count as passed", round, st, res.Progress.Passed)
			}
		}
	}
	// The forgeries are seen through, with the messages a learner needs.
	if res := mallory.check(sess.ID, "tag"); !strings.Contains(strings.Join(res.Messages, " "), "lightweight") {
		t.Errorf("tag check on a replace-ref-forged tag: %+v, want it called lightweight", res)
	}
	if res := mallory.check(sess.ID, "branch"); !strings.Contains(strings.Join(res.Messages, " "), "no commits of its own") {
		t.Errorf("branch check on a grafted/shallow history: %+v, want 'no commits of its own'", res)
	}

	if _, out := execIn(t, id, "root", "bash", "-c", "cat /tmp/pwned-* 2>/dev/null; echo END"); out != "END\n" {
		t.Errorf("a learner program ran during the checks (uid, program):\n%s", out)
	}
	if after := sum(); after != before {
		t.Errorf("system binaries changed during the checks:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// A learner who shuts others out of their project is told so.
	execIn(t, id, "learner", "chmod", "700", "/home/learner/project")
	res := mallory.check(sess.ID, "init")
	// How to fix it is in the message: hints wait until the learner asks.
	if res.Status != "fail" || !strings.Contains(strings.Join(res.Messages, " "), "cannot read ~/project") || !strings.Contains(strings.Join(res.Messages, " "), "chmod a+rX ~/project") {
		t.Errorf("init check on a chmod 700 project: %+v, want a fail that says the checks cannot read it and how to fix it", res)
	}
	execIn(t, id, "learner", "chmod", "755", "/home/learner/project")

	// The lab's own solutions pass in the same container, with the fake
	// git and bash still in the learner's PATH folders.
	if code, out := execIn(t, id, "learner", "bash", "-c", "rm -rf ~/project/.git ~/project/.gitattributes ~/project/NOTES.md ~/.gitconfig ~/evil.inc"); code != 0 {
		t.Fatalf("reset: %s", out)
	}
	lab, problems := labs.Load(filepath.Join(repoRoot, "labs", "git-basics"), nil)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	for i, st := range lab.Steps {
		if code, out := execIn(t, id, "learner", "bash", "-c", st.Solution); code != 0 {
			t.Fatalf("solution of %s: exit %d\n%s", st.ID, code, out)
		}
		res := mallory.check(sess.ID, st.ID)
		if res.Status != "pass" || res.Progress.Passed != i+1 {
			t.Fatalf("step %s after its solution: %+v", st.ID, res)
		}
	}
	if _, out := execIn(t, id, "root", "bash", "-c", "cat /tmp/pwned-* 2>/dev/null; echo END"); out != "END\n" {
		t.Errorf("a learner program ran:\n%s", out)
	}
	// The lesson of step 1: the secret, the log and the build output stay
	// out of history because .gitignore names them.
	_, out := execIn(t, id, "learner", "bash", "-c", "cd ~/project && git ls-files && git status --porcelain --ignored")
	for _, want := range []string{"!! .env\n", "!! app.log\n", "!! bin/\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("git status --ignored after step 1 lacks %q:\n%s", want, out)
		}
	}
}

// graderProbe is an exec check that reports who and where it runs, tries
// to write where a tricked check would want to, and stays alive until the
// learner has tried to reach it.
const graderProbe = `echo "id=$(id -u):$(id -g) groups=$(id -G) pwd=$(pwd)"
env | sort | sed 's/^/env: /'
touch /usr/local/bin/x 2>/dev/null && echo "wrote /usr/local/bin"
touch /usr/bin/x 2>/dev/null && echo "wrote /usr/bin"
touch /home/learner/x 2>/dev/null && echo "wrote the learner's home"
echo $$ > /tmp/grader-pid
i=0
while [ ! -e /tmp/learner-done ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
[ -e /tmp/learner-done ] || { echo "the learner never finished"; exit 3; }
echo alive
`

// TestTrustExecGraderIsolated runs an exec check in a real lab container
// and shows what it is: a uid of its own with a clean environment, unable
// to write the image's binaries, and out of the learner's reach (no kill,
// no /proc/PID/environ or fd).
func TestTrustExecGraderIsolated(t *testing.T) {
	ctx := context.Background()
	lab, problems := labs.Load(filepath.Join(repoRoot, "labs", "git-basics"), nil)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	cfg := sandbox.DefaultConfig()
	cfg.InstanceID = "trustexec-" + hex.EncodeToString(b)
	eng, err := sandbox.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	tag, err := images.New(eng.Client(), slog.New(slog.DiscardHandler)).Tag(ctx, lab)
	if err != nil {
		t.Fatal(err)
	}
	box, err := eng.Create(ctx, sandbox.Spec{SessionID: "trustexec" + hex.EncodeToString(b), UserID: 1, LabID: lab.ID, Image: tag, HomeDir: lab.HomeDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		eng.Remove(context.Background(), box)
		cleanupByLabel(t, sandbox.LabelInstance+"="+cfg.InstanceID)
	})

	done := make(chan opsdojo.CheckResult, 1)
	go func() {
		chk := labs.Check{ID: "probe", Title: "probe", Kind: "exec", Points: 1, Timeout: 60 * time.Second, Script: graderProbe}
		done <- grading.ExecChecker{}.Check(ctx, grading.Input{Lab: lab, Step: labs.Step{ID: "s"}, Check: chk, Container: engineTarget{eng, box.ContainerID}})
	}()
	learnerTries := `for i in $(seq 300); do [ -s /tmp/grader-pid ] && break; sleep 0.1; done
p=$(cat /tmp/grader-pid) || { echo "no grader pid"; exit 1; }
echo "grader pid $p owned by $(stat -c %u /proc/$p)"
kill -STOP "$p" 2>/dev/null && echo "stopped the grader"
kill -9 "$p" 2>/dev/null && echo "killed the grader"
cat /proc/$p/environ >/dev/null 2>&1 && echo "read the grader's environ"
ls /proc/$p/fd >/dev/null 2>&1 && echo "listed the grader's fds"
cat /proc/$p/fd/0 >/dev/null 2>&1 && echo "read the grader's script"
touch /tmp/learner-done
`
	code, out := execIn(t, box.ContainerID, "learner", "bash", "-c", learnerTries)
	res := <-done
	if code != 0 || !strings.Contains(out, "owned by 65533") {
		t.Fatalf("the learner's side: exit %d\n%s", code, out)
	}
	for _, bad := range []string{"stopped", "killed", "read the grader's", "listed the grader's"} {
		if strings.Contains(out, bad) {
			t.Errorf("the learner reached the grader's process: %s", out)
		}
	}
	if res.Status != opsdojo.StatusPass || !strings.Contains(res.Log, "alive") {
		t.Fatalf("probe check: %+v", res)
	}
	if !strings.Contains(res.Log, "id=65533:65533 groups=65533 pwd=/\n") {
		t.Errorf("the check did not run as 65533:65533 from /:\n%s", res.Log)
	}
	for _, bad := range []string{"wrote ", "env: DEBIAN_FRONTEND=", "env: EDITOR=", "env: LESS=", "env: HOSTNAME=", "env: LANG=C.UTF-8"} {
		if strings.Contains(res.Log, bad) {
			t.Errorf("log has %q: the check could write system files or kept the image's environment:\n%s", bad, res.Log)
		}
	}
	if !strings.Contains(res.Log, "env: PATH=/usr/sbin:/usr/bin:/sbin:/bin\n") || !strings.Contains(res.Log, "env: GIT_CONFIG_GLOBAL=/dev/null\n") {
		t.Errorf("the check's environment lacks the fixed PATH or git's hardening:\n%s", res.Log)
	}
}
