#!/usr/bin/env bash
# Solution, step tag: an annotated release tag on the tip of main.
# Assumes steps init, branch and merge ran; safe to run twice.
set -euo pipefail
cd "$HOME/project"

git switch main
if ! git rev-parse -q --verify refs/tags/v0.1.0 >/dev/null; then
  # -a makes an annotated tag: a Git object with tagger, date and message.
  git tag -a v0.1.0 -m "greeter v0.1.0: first tagged release, adds healthcheck.sh"
fi
git cat-file -t v0.1.0     # "tag" (a lightweight tag would say "commit")
git show --no-patch v0.1.0
git describe --tags
