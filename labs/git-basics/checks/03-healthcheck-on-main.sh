#!/usr/bin/env bash
# Check (step merge): the latest commit on main has an executable healthcheck.sh.

# The helpers (require_repo, require_main, fail, g, ...) come from lib.sh,
# which the grader runs ahead of this script (check_lib in lab.yaml).

require_repo
require_main
F=healthcheck.sh

entry="$(g ls-tree refs/heads/main -- "$F" 2>/dev/null)"
if [ -z "$entry" ]; then
  fail "The latest commit on main has no $F." \
    "Merge the branch that carries it: 'git switch main && git merge feature/healthcheck'. Then 'git ls-tree main' lists $F."
fi
mode="${entry%% *}"
if [ "$mode" != 100755 ]; then
  fail "$F is on main but not executable (mode $mode); a deploy running './$F' gets 'Permission denied'." \
    "'chmod +x $F && git add $F && git commit', on the branch or on main."
fi
pass "main has $F (mode $mode)"
