#!/usr/bin/env bash
# Check (step merge): main's history contains the tip of feature/healthcheck.

# The helpers (require_repo, require_main, fail, g, ...) come from lib.sh,
# which the grader runs ahead of this script (check_lib in lab.yaml).

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
