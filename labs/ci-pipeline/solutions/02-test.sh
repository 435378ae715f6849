#!/usr/bin/env bash
# Solution, step test: a test job over two Go versions; both jobs set up Go
# with actions/setup-go, which caches modules and build output.
# Assumes step 1's workflow exists; rewrites it whole.
set -euo pipefail
wf="$HOME/repo/.github/workflows/ci.yml"
[ -f "$wf" ] || { echo "run step 1's solution first: $wf is missing" >&2; exit 1; }
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
      # The Go version go.mod names. The cache (on by default) is keyed on
      # go.sum; this module has no dependencies and no go.sum, so key it on
      # go.mod instead.
      - uses: actions/setup-go@v5
        with:
          go-version-file: go.mod
          cache-dependency-path: go.mod
      - name: gofmt and go vet
        run: make lint

  test:
    runs-on: ubuntu-latest
    strategy:
      # Let every version finish, so one failure shows whether it is
      # version-specific.
      fail-fast: false
      matrix:
        # Quoted: unquoted, 1.20 would be the number 1.2.
        go-version: ['1.22', '1.23']
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-go@v5
        with:
          go-version: ${{ matrix.go-version }}
          cache-dependency-path: go.mod
      - name: go test
        run: go test -race -count=1 ./...
YAML
echo "wrote $wf"
