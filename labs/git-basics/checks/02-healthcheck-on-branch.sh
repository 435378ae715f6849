#!/usr/bin/env bash
# Check (step branch): the tip of feature/healthcheck has an executable
# healthcheck.sh at the top of the project, with a shebang and valid bash syntax.

# The helpers (require_repo, require_main, fail, g, ...) come from lib.sh,
# which the grader runs ahead of this script (check_lib in lab.yaml).

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
