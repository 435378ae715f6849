#!/usr/bin/env bash
# Solution, step dockerignore: keep history, secrets and junk out of the
# build context, then COPY the whole context safely. Assumes the earlier
# solutions ran; safe to run twice.
set -euo pipefail
cd "$HOME/app"

cat > .dockerignore <<'IGNORE'
# Never send history, secrets or junk to the builder.
.git
.env
*.log
notes.txt
IGNORE

# With the ignore file in place, COPY . . only brings go.mod and *.go.
sed -i 's|^COPY go.mod main.go ./$|COPY . .|' Dockerfile

cat .dockerignore
grep -n '^COPY' Dockerfile
