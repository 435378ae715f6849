#!/usr/bin/env bash
# Check (step merge): main's history contains the tip of feature/healthcheck.

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

require_repo
require_main
B=feature/healthcheck

if g rev-parse -q --verify MERGE_HEAD >/dev/null 2>&1; then
  fail "A merge is in progress but not finished." \
    "'git status' lists the files to resolve. Fix them, 'git add' them, then 'git commit' to conclude the merge, or 'git merge --abort' to go back."
fi

if ! branch_exists "$B"; then
  # Deleting a merged branch is normal hygiene ('git branch -d' refuses an
  # unmerged one): accept when main carries the work.
  if [ -n "$(g ls-tree refs/heads/main -- healthcheck.sh 2>/dev/null)" ]; then
    pass "$B is gone (deleted after merging) and main contains healthcheck.sh"
  fi
  fail "There is no branch $B (not created yet, or deleted), and main does not contain healthcheck.sh." \
    "Do step 2 first. If you deleted the branch with -D before merging, 'git reflog' lists the commit hash: 'git branch $B HASH' brings it back, then merge it."
fi

tip="$(g rev-parse "refs/heads/$B")"
short="$(g rev-parse --short "$tip")"
if g merge-base --is-ancestor "$tip" refs/heads/main; then
  pass "main contains $B ($short)"
fi
if g merge-base --is-ancestor refs/heads/main "$tip"; then
  if [ "$(g rev-list --count "refs/heads/main..$tip")" -gt 0 ] && [ "$(g symbolic-ref -q --short HEAD 2>/dev/null)" = "$B" ]; then
    fail "main has not moved yet: $B is ahead of it and you are on $B." \
      "'git merge X' brings X into the branch you are on. Run 'git switch main' first, then 'git merge $B'."
  fi
fi
fail "main does not contain $B yet: its latest commit $short is not in main's history." \
  "Switch to the branch that should receive the work, then merge: 'git switch main && git merge $B'. 'git log --oneline --graph --all' shows both lines of history."
