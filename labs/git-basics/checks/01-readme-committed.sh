#!/usr/bin/env bash
# Check (step init): ~/project is a Git repository and a commit on a branch or
# tag contains a non-empty README.md.

# The helpers (require_repo, require_main, fail, g, ...) come from lib.sh,
# which the grader runs ahead of this script (check_lib in lab.yaml).

require_repo

any_commit="$(g rev-list -n1 --branches --tags 2>/dev/null)"
readme_commit="$(g log --branches --tags --diff-filter=AMRC --format=%H -n1 -- README.md 2>/dev/null)"

if [ -n "$readme_commit" ]; then
  size="$(g cat-file -s "$readme_commit:README.md" 2>/dev/null)" || grader_error "cannot read README.md from $readme_commit"
  short="$(g rev-parse --short "$readme_commit")"
  if [ "$size" -lt 2 ]; then
    fail "README.md is committed (commit $short) but it is empty." \
      "A README is the first thing a teammate (or you at 3am) reads: write what the service does and how to build and run it, then 'git add README.md && git commit'."
  fi
  pass "README.md ($size bytes) is committed in $short"
fi

# No commit holds README.md: say exactly which stage is missing.
if g ls-files --error-unmatch -- README.md >/dev/null 2>&1; then
  fail "README.md is staged (in the index) but not committed yet." \
    "'git add' only prepares the next snapshot; 'git commit -m \"Add README\"' records it in history. Check with 'git status' and 'git log --oneline'."
fi
if [ -e "$P/README.md" ]; then
  fail "README.md exists in ~/project but Git is not tracking it (it is untracked)." \
    "Git only records files you ask for: 'git add README.md' stages it, then 'git commit' records it. 'git status' lists it under \"Untracked files\" until then."
fi
other="$(cd "$P" && ls -1d [Rr][Ee][Aa][Dd][Mm][Ee]* 2>/dev/null | head -n1)"
if [ -n "$other" ]; then
  fail "There is no README.md, but there is '$other'. The file must be named exactly README.md." \
    "Linux and Git are case-sensitive, and README.md is the name GitHub, GitLab and teammates look for. Rename it with 'git mv' if it is tracked, or 'mv' if not."
fi
if [ -z "$any_commit" ]; then
  fail "The repository exists but is empty: no commits yet, and no README.md in ~/project." \
    "Create ~/project/README.md (a few lines: what greeter is, how to run it), then 'git add README.md' and 'git commit -m \"Add README\"'."
fi
fail "The repository has commits, but none of them contains README.md, and there is no README.md in ~/project." \
  "Create ~/project/README.md, then 'git add README.md' and 'git commit'."
