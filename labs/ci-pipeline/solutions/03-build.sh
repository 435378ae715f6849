#!/usr/bin/env bash
# Solution, step build: a build job that waits for lint and test and keeps
# the binary as an artifact. Assumes steps 1-2 ran; rewrites the file whole.
set -euo pipefail
wf="$HOME/repo/.github/workflows/ci.yml"
grep -q 'go-version:' "$wf" 2>/dev/null || { echo "run the solutions of steps 1 and 2 first" >&2; exit 1; }
cat > "$wf" <<'YAML'
# CI for shorty.
name: ci

on:
  push:
    branches: [main]
  pull_request:

jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-go@v5
        with:
          go-version-file: go.mod
          cache-dependency-path: go.mod
      - name: gofmt and go vet
        run: make lint

  test:
    runs-on: ubuntu-latest
    strategy:
      fail-fast: false
      matrix:
        go-version: ['1.22', '1.23']
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-go@v5
        with:
          go-version: ${{ matrix.go-version }}
          cache-dependency-path: go.mod
      - name: go test
        run: go test -race -count=1 ./...

  build:
    # Starts only when both succeeded; skipped if either failed.
    needs: [lint, test]
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-go@v5
        with:
          go-version-file: go.mod
          cache-dependency-path: go.mod
      - name: build
        run: make build
      # Keep the binary with the run: deploy ships these exact bytes.
      - uses: actions/upload-artifact@v4
        with:
          name: shorty
          path: bin/shorty
          retention-days: 7
YAML
echo "wrote $wf"
