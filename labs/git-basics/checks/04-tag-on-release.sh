#!/usr/bin/env bash
# Check (step tag): v0.1.0 names a commit on main that includes the merged
# healthcheck work.

# The helpers (require_repo, require_main, fail, g, ...) come from lib.sh,
# which the grader runs ahead of this script (check_lib in lab.yaml).

require_repo
require_main
T=v0.1.0
B=feature/healthcheck

if ! g show-ref --verify -q "refs/tags/$T"; then
  fail "There is no tag named $T yet." \
    "Tag the tip of main: 'git switch main && git tag -a $T -m \"greeter $T\"'."
fi
c="$(g rev-parse -q --verify "refs/tags/$T^{commit}" 2>/dev/null)" || \
  fail "$T does not point at a commit." "Delete it ('git tag -d $T') and tag a commit on main."
short="$(g rev-parse --short "$c")"
subject="$(g log -1 --format=%s "$c")"

if [ -z "$(g ls-tree "$c" -- healthcheck.sh 2>/dev/null)" ] || \
   { branch_exists "$B" && ! g merge-base --is-ancestor "refs/heads/$B" "$c"; }; then
  fail "$T points at $short (\"$subject\"), which does not include the merged healthcheck work." \
    "A tag stays where you put it: tagging before merging freezes the old code. Since $T is not published, move it: 'git tag -d $T', then on main after the merge 'git tag -a $T -m \"greeter $T\"'. (Once a tag is pushed, never move it: release a new version such as v0.1.1 instead.)"
fi
if ! g merge-base --is-ancestor "$c" refs/heads/main; then
  fail "$T points at $short (\"$subject\"), which is not on main." \
    "Releases are cut from main, the branch everyone deploys from. 'git tag -d $T', 'git switch main', then 'git tag -a $T -m \"greeter $T\"'."
fi
pass "$T points at $short on main, including the healthcheck merge"
