#!/usr/bin/env bash
# Check (step branch): a branch feature/healthcheck exists and carries at least
# one commit of its own (not on main yet, or made on the branch and merged since).

# The helpers (require_repo, require_main, fail, g, ...) come from lib.sh,
# which the grader runs ahead of this script (check_lib in lab.yaml).

require_repo
require_main
B=feature/healthcheck

if ! branch_exists "$B"; then
  fail "There is no branch named $B (branches found: $(branch_list))." \
    "Create and switch to it in one go with 'git switch -c $B' (or 'git checkout -b $B'). The name must match exactly, slash included: the prefix groups branches by kind (feature/, fix/...)."
fi

ahead="$(g rev-list --count "main..refs/heads/$B" 2>/dev/null)" || grader_error "rev-list main..$B failed"
if [ "$ahead" -gt 0 ]; then
  pass "$B has $ahead commit(s) that main does not have yet"
fi

# Nothing ahead of main. Accept it only when the branch demonstrably got its
# own commit and that commit has since been merged (learner ran ahead to step 3).
tip="$(g rev-parse "refs/heads/$B")"
# The branch's reflog records "commit: ..." for commits made while it was
# checked out; one of them must still be in the branch's history.
while read -r h subj; do
  case "$subj" in
    commit*) if g merge-base --is-ancestor "$h" "$tip" 2>/dev/null; then
               pass "$B got its own commit(s), already merged into main"
             fi ;;
  esac
done < <(g reflog show --format='%H %gs' "refs/heads/$B" 2>/dev/null)
if g rev-list --merges --parents main 2>/dev/null | awk -v t="$tip" '{for (i = 3; i <= NF; i++) if ($i == t) f = 1} END {exit !f}'; then
  pass "$B was merged into main by a merge commit"
fi

short="$(g rev-parse --short "$tip")"
fail "$B has no commits of its own: it points at $short, which is already on main." \
  "Run 'git switch $B' and commit there ('git branch --show-current' tells you where you are). If 'git log --oneline main' shows your healthcheck commit on top, it landed on main by mistake: 'git switch main', 'git branch -f $B main' (the branch takes the commit), then 'git reset --hard HEAD~1' (main steps back one commit)."
