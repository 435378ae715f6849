#!/usr/bin/env bash
# Solution, step deploy: a deploy job that needs build, runs only for main
# and goes through the production environment. Assumes steps 1-3 ran;
# rewrites the file whole.
set -euo pipefail
wf="$HOME/repo/.github/workflows/ci.yml"
grep -q '^  build:' "$wf" 2>/dev/null || { echo "run the solutions of steps 1 to 3 first" >&2; exit 1; }
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
      - uses: actions/upload-artifact@v4
        with:
          name: shorty
          path: bin/shorty
          retention-days: 7

  deploy:
    needs: build
    # Pull requests run this workflow too (github.ref is refs/pull/N/merge
    # there): only a push to main deploys.
    if: github.event_name == 'push' && github.ref == 'refs/heads/main'
    runs-on: ubuntu-latest
    # Reviewers, allowed branches and the production secrets are configured
    # on the environment in the repository settings.
    environment: production
    # One deploy at a time; a newer one waits instead of racing.
    concurrency: production
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: shorty
      - name: deploy
        run: |
          chmod +x shorty
          echo "deploying shorty $GITHUB_SHA to production"
          # A real pipeline calls its deploy tool here, with credentials
          # from the production environment's secrets.
YAML
echo "wrote $wf"
