#!/usr/bin/env bash
# Solution, step permissions: the token every job gets may read the code and
# nothing else. Assumes steps 1-4 ran; adds the block after the on: section.
set -euo pipefail
wf="$HOME/repo/.github/workflows/ci.yml"
grep -q '^  deploy:' "$wf" 2>/dev/null || { echo "run the solutions of steps 1 to 4 first" >&2; exit 1; }
if ! grep -q '^permissions:' "$wf"; then
  tmp="$wf.tmp"
  # Insert the block right before the top-level jobs: key.
  awk '/^jobs:/ && !done {
         print "# The GITHUB_TOKEN of every job: read the code, nothing else."
         print "permissions:"
         print "  contents: read"
         print ""
         done = 1
       }
       { print }' "$wf" > "$tmp"
  mv "$tmp" "$wf"
fi
echo "wrote $wf"
