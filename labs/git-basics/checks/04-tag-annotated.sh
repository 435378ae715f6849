#!/usr/bin/env bash
# Check (step tag): v0.1.0 exists and is an annotated tag (a tag object).

# The helpers (require_repo, require_main, fail, g, ...) come from lib.sh,
# which the grader runs ahead of this script (check_lib in lab.yaml).

require_repo
T=v0.1.0

if ! g show-ref --verify -q "refs/tags/$T"; then
  if branch_exists "$T"; then
    fail "$T is a branch, not a tag." \
      "Branches move forward with every commit; a release name must not. Delete the branch ('git branch -d $T') and run 'git tag -a $T -m \"greeter $T\"' on main."
  fi
  tags="$(g for-each-ref --format='%(refname:short)' refs/tags 2>/dev/null | paste -sd, - | sed 's/,/, /g')"
  if [ -n "$tags" ]; then
    fail "There is no tag named $T (tags found: $tags)." \
      "The name must be exactly $T: lowercase v, then MAJOR.MINOR.PATCH. Delete a wrong one with 'git tag -d NAME'."
  fi
  fail "There is no tag named $T yet." \
    "On main, run 'git tag -a $T -m \"greeter $T: first tagged release\"'. 'git tag' lists tags."
fi

type="$(g cat-file -t "refs/tags/$T" 2>/dev/null)" || grader_error "cannot read refs/tags/$T"
case "$type" in
  tag) pass "$T is an annotated tag" ;;
  commit)
    fail "$T is a lightweight tag: just a name pointing at a commit, with no tagger, date or message." \
      "An annotated tag is a real Git object that records who tagged, when and why (and can be signed); 'git describe' and most release tooling only look at annotated tags. Replace it: 'git tag -d $T' then 'git tag -a $T -m \"greeter $T\"'." ;;
  *)
    fail "$T points at a $type object, not at a commit." \
      "Delete it ('git tag -d $T') and tag a commit on main: 'git tag -a $T -m \"greeter $T\"'." ;;
esac
