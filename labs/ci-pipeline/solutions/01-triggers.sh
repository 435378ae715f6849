#!/usr/bin/env bash
# Solution, step triggers: a first workflow that runs on pull requests and on
# pushes to main, with a lint job. Runs as the learner in /home/learner.
set -euo pipefail
mkdir -p "$HOME/repo/.github/workflows"
cat > "$HOME/repo/.github/workflows/ci.yml" <<'YAML'
# CI for shorty.
name: ci

# When it runs: for every pull request (before merging), and for every push
# to main (after merging).
on:
  push:
    branches: [main]
  pull_request:

jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      # A runner starts empty: fetch the commit being tested.
      - uses: actions/checkout@v4
      # GitHub's Ubuntu runners come with a Go toolchain; step 2 pins one.
      - name: gofmt and go vet
        run: make lint
YAML
echo "wrote ~/repo/.github/workflows/ci.yml"
