#!/usr/bin/env bash
# Check (step init): no committed snapshot on any branch or tag contains a .env
# file (it holds a database password), and no branch or tag tip tracks logs or
# build output.

# The helpers (require_repo, require_main, fail, g, ...) come from lib.sh,
# which the grader runs ahead of this script (check_lib in lab.yaml).

require_repo

if [ -z "$(g rev-list -n1 --branches --tags 2>/dev/null)" ]; then
  fail "There are no commits yet, so there is nothing to inspect for secrets." \
    "Make your first commit (step 1). .gitignore already keeps .env out of 'git add .'; this check confirms it stayed out."
fi

leaks="$(g log --branches --tags --format=%h --diff-filter=AMRC -- ':(glob)**/.env' 2>/dev/null | paste -sd' ' -)"
if [ -n "$leaks" ]; then
  fail ".env, which holds GREETER_DB_PASSWORD, is committed (in commit(s): $leaks). Anyone who clones the repository can read it, forever." \
    "If it is only in your latest commit: 'git rm --cached .env && git commit --amend'. If it is deeper in history, this practice repository is easiest to restart: 'rm -rf ~/project/.git' and redo step 1 with 'git add .' (which respects .gitignore). In real life, also change the password."
fi

# Logs and build output are not secrets: only the current snapshot of each
# branch matters, so removing them with a new commit is enough.
junk="$(g for-each-ref --format='%(objectname)' refs/heads refs/tags | while read -r ref; do
          g ls-tree -r --name-only "$ref" 2>/dev/null
        done | grep -E '(^|/)bin/|\.log$' | sort -u | head -n3 | paste -sd' ' -)"
if [ -n "$junk" ]; then
  fail "Generated files are committed: $junk. Logs and build output change on every run and only bloat the repository." \
    "They are listed in .gitignore for a reason: 'git rm --cached FILE' stops tracking a file but keeps it on disk; then commit."
fi
pass "no .env anywhere in history; no logs or build output tracked"
