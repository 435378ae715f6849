# Shared by every exec check of git-basics: lab.yaml names it as check_lib,
# and the grader pipes it into bash ahead of each check script.
#
# The grader runs checks as an unprivileged user of its own with a fixed PATH
# and sets git's environment itself (safe.directory, and every setting that
# would run a program overridden): do not set PATH or GIT_* here. Only
# read-only plumbing is used below (`opsdojo labs validate` enforces it):
# commands that compare the working tree or print diffs could run filter and
# diff drivers named by the learner's .gitattributes.
set -u

H="${OPSDOJO_HOME:-/home/learner}"
P="$H/project"
g() { git -C "$P" "$@"; }
# oneline TEXT: messages may quote what the learner wrote (a commit subject,
# a file name); a newline in it must not start a line of the grader's output
# contract (FAIL:, HINT:, SCORE:).
oneline() { local s="${1//$'\r'/ }"; printf '%s' "${s//$'\n'/ }"; }
pass() { printf 'PASS: %s\n' "$(oneline "$1")"; exit 0; }
fail() {
  printf 'FAIL: %s\n' "$(oneline "$1")"
  if [ $# -gt 1 ]; then printf 'HINT: %s\n' "$(oneline "$2")"; fi
  exit 1
}
# pretty PATH: show paths under the learner's home with ~, as they see them.
pretty() {
  case "$1" in
    "$H") printf '~' ;;
    "$H"/*) printf '~%s' "${1#"$H"}" ;;
    *) printf '%s' "$1" ;;
  esac
}
grader_error() { printf 'grader error: %s\n' "$*"; exit 2; }
command -v git >/dev/null 2>&1 || grader_error "git is not installed in the lab image"

# readable DIR: the checks (a separate user) may list and enter DIR; else fail
# with what to change. Checks never read more than the learner lets others read.
# The fix is in the message, not a hint: it is about the grader, not the
# lesson, and hints wait until the learner asks for them.
readable() {
  [ -r "$1" ] && [ -x "$1" ] && return 0
  fail "The checks cannot read $(pretty "$1"): its permissions ($(stat -c %A "$1" 2>/dev/null || echo unknown)) shut out other users, and checks run as a separate user, not as you or root. Give read access back with 'chmod a+rX $(pretty "$1")' (add -R to fix everything inside it, e.g. 'chmod -R a+rX ~/project')."
}

# require_repo: ~/project exists and is the top of its own, non-bare repository.
require_repo() {
  readable "$H"
  [ -d "$P" ] || fail "There is no ~/project directory (expected $P)." \
    "The starter project lives in ~/project. If you renamed or moved it, move it back: the checks look there."
  readable "$P"
  if [ -d "$P/.git" ]; then
    readable "$P/.git"
    readable "$P/.git/objects"
    readable "$P/.git/refs"
  fi
  if [ "$(g rev-parse --is-bare-repository 2>/dev/null)" = true ]; then
    fail "~/project is a bare repository (no working tree), made with 'git init --bare'." \
      "Bare repositories are for servers you push to. Delete what it created in ~/project (HEAD, config, description, hooks/, info/, objects/, refs/), then run plain 'git init' there."
  fi
  local top real
  top="$(g rev-parse --show-toplevel 2>/dev/null)" || fail "~/project is not a Git repository yet: there is no ~/project/.git." \
    "Run 'cd ~/project && git init'. That creates the .git directory where Git keeps the whole history."
  real="$(cd "$P" && pwd -P)" || grader_error "cannot resolve $P"
  if [ "$top" != "$real" ]; then
    fail "~/project has no repository of its own: it sits inside the repository rooted at $(pretty "$top")." \
      "You probably ran 'git init' in the wrong folder. Remove that stray repository (rm -rf $(pretty "$top")/.git, it only holds history you just made) and run 'git init' inside ~/project."
  fi
}

# branch_exists NAME
branch_exists() { g show-ref --verify -q "refs/heads/$1"; }

# branch_list: local branches, comma separated, for messages.
branch_list() {
  local l
  l="$(g for-each-ref --format='%(refname:short)' refs/heads 2>/dev/null | paste -sd, - | sed 's/,/, /g')"
  printf '%s' "${l:-none}"
}

# require_main: a local branch called main exists.
require_main() {
  branch_exists main && return 0
  if branch_exists master; then
    fail "There is no branch called main; your first branch is called master." \
      "This lab (like GitHub and GitLab today) uses main. Rename it: 'git branch -m master main'."
  fi
  fail "There is no branch called main (branches found: $(branch_list))." \
    "The first commit in a new repository lands on the default branch, main in this sandbox. Rename yours with 'git branch -m OLD main'."
}
