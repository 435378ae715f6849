#!/usr/bin/env bash
# Solution, step merge: bring feature/healthcheck into main.
# Assumes steps init and branch ran; safe to run twice ("Already up to date").
set -euo pipefail
cd "$HOME/project"

# A merge always lands on the branch you are on: switch to the receiver first.
git switch main
# --no-ff records a merge commit even though a fast-forward was possible, so
# history shows "this feature came in here" and one commit can revert it.
git merge --no-ff -m "Merge branch 'feature/healthcheck'" feature/healthcheck
git log --oneline --graph --all
ls -l healthcheck.sh
