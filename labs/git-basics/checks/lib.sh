# Shared by every exec check of git-basics: lab.yaml names it as check_lib,
# and the grader pipes it into bash ahead of each check script.

export GIT_CONFIG_COUNT=2 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*' GIT_CONFIG_KEY_1=core.fsmonitor GIT_CONFIG_VALUE_1=false
# Runs as root over the learner's repository: safe.directory silences Git's
# "dubious ownership" refusal; core.fsmonitor=false stops a repository config
# from making root run a program. Only read-only Git commands are used below,
# and GIT_OPTIONAL_LOCKS=0 keeps them from refreshing (rewriting) the index.
export GIT_OPTIONAL_LOCKS=0 GIT_TERMINAL_PROMPT=0 LC_ALL=C
set -u

H="${OPSDOJO_HOME:-/home/learner}"
P="$H/project"
g() { git -C "$P" "$@"; }
pass() { printf 'PASS: %s\n' "$1"; exit 0; }
fail() {
  printf 'FAIL: %s\n' "$1"
  if [ $# -gt 1 ]; then printf 'HINT: %s\n' "$2"; fi
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

# require_repo: ~/project exists and is the top of its own, non-bare repository.
require_repo() {
  [ -d "$P" ] || fail "There is no ~/project directory (expected $P)." \
    "The starter project lives in ~/project. If you renamed or moved it, move it back: the checks look there."
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
