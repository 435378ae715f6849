#!/usr/bin/env bash
# Solution, step first-image: a single-stage Dockerfile that builds and runs
# hello. Runs as the learner in /home/learner; safe to run twice.
set -euo pipefail
cd "$HOME/app"

cat > Dockerfile <<'DOCKERFILE'
# A pinned base: opsdojo/base:bookworm is Debian 12, already on the host.
FROM opsdojo/base:bookworm

# Debian's Go toolchain (1.19).
RUN apt-get update \
 && apt-get install -y --no-install-recommends golang-go \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY go.mod main.go ./
RUN go build -o /usr/local/bin/server .

EXPOSE 8080
# Exec form: the server is PID 1 and receives docker stop's SIGTERM.
CMD ["/usr/local/bin/server"]
DOCKERFILE

cat Dockerfile
