#!/usr/bin/env bash
# Solution, step init: identity, repository, README, first commit.
# Runs as the learner in /home/learner; safe to run twice.
set -euo pipefail
cd "$HOME/project"

# Every commit records an author. Set it once per machine (--global writes
# ~/.gitconfig); keep an identity that is already there.
git config --global user.name >/dev/null || git config --global user.name "Ada Learner"
git config --global user.email >/dev/null || git config --global user.email "ada@example.com"

# Creates .git/ (re-running it on an existing repository is harmless).
git init

if [ ! -s README.md ]; then
  cat > README.md <<'MD'
# greeter

A tiny HTTP service: `GET /` says hello, `GET /healthz` answers `ok` for
load balancers and deploy scripts, `GET /version` prints the build version.

## Build and run

    make build    # compiles to bin/greeter, version taken from `git describe`
    make run      # listens on $GREETER_ADDR (default :8080)

## Configuration

Copy `.env` from a teammate or the secrets store; it is never committed.

## Deploy

`deploy/greeter.service` is the systemd unit used on the servers.
MD
fi

# .gitignore keeps .env (a password), *.log and bin/ out of `git add .`.
git add .
git status --short
if ! git diff --cached --quiet; then
  git commit -m "Add greeter service with README"
fi
git log --oneline
