#!/usr/bin/env bash
# Check (step branch): the tip of feature/healthcheck has an executable
# healthcheck.sh at the top of the project, with a shebang and valid bash syntax.

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
B=feature/healthcheck
F=healthcheck.sh

if ! branch_exists "$B"; then
  fail "There is no branch named $B yet, so there is no healthcheck.sh on it (branches found: $(branch_list))." \
    "'git switch -c $B' first, then create $F and commit it there."
fi

entry="$(g ls-tree "refs/heads/$B" -- "$F" 2>/dev/null)"
if [ -z "$entry" ]; then
  if g ls-files --error-unmatch -- "$F" >/dev/null 2>&1; then
    fail "$F is staged but not committed on $B." \
      "Staging is not saving: run 'git commit -m \"Add healthcheck script\"' while on $B."
  fi
  if [ -e "$P/$F" ]; then
    fail "$F exists in ~/project but is untracked: the latest commit on $B does not contain it." \
      "'git add $F' then 'git commit' while $B is checked out ('git branch --show-current' tells you which branch you are on)."
  fi
  fail "The latest commit on $B has no $F at the top of ~/project." \
    "Create ~/project/$F (the step shows one), make it executable, then 'git add $F' and 'git commit' on $B."
fi

mode="${entry%% *}"
blob="$(printf '%s' "$entry" | awk '{print $3}')"
case "$mode" in
  100755) ;;
  100644)
    fail "$F is committed without the executable bit (mode 100644), so './$F' in a deploy fails with 'Permission denied'." \
      "Git records the x bit (100755) along with the content. 'chmod +x $F && git add $F && git commit -m \"Make healthcheck executable\"' fixes it; 'git ls-files -s $F' shows the recorded mode." ;;
  120000)
    fail "$F is committed as a symbolic link, not as a script." \
      "Replace the link with a real file, then add and commit it." ;;
  *)
    fail "$F is committed with unexpected mode $mode." \
      "It should be a regular executable file: mode 100755." ;;
esac

content="$(g cat-file blob "$blob" 2>/dev/null)" || grader_error "cannot read blob $blob"
first="$(printf '%s\n' "$content" | head -n1)"
case "$first" in
  '#!'*) ;;
  *) fail "The committed $F does not start with a shebang; its first line is: ${first:-<empty>}" \
       "Without a first line like '#!/usr/bin/env bash' the kernel does not know which interpreter runs the script, and tools that exec it directly fail with 'Exec format error'." ;;
esac
if ! err="$(printf '%s\n' "$content" | bash -n 2>&1)"; then
  fail "The committed $F has a bash syntax error: $(printf '%s' "$err" | head -n1 | sed 's/^bash: //')" \
    "Run 'bash -n $F' to find it, fix it, then 'git add $F' and commit again."
fi
pass "$F is committed on $B as an executable bash script ($mode)"
