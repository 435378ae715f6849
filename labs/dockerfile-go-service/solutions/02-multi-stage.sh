#!/usr/bin/env bash
# Solution, step multi-stage: build in one stage, ship the binary from a
# clean one. Assumes step first-image's solution ran; safe to run twice.
set -euo pipefail
cd "$HOME/app"

cat > Dockerfile <<'DOCKERFILE'
# ---- build: the Go toolchain lives here and nowhere else ----
FROM opsdojo/base:bookworm AS build

# update + install + cleanup in one RUN: fresh lists, -y for a keyboard-less
# build, no recommended extras, and no package lists left in the layer.
RUN apt-get update \
 && apt-get install -y --no-install-recommends golang-go \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY go.mod main.go ./
RUN go build -o /out/server .

# ---- final: a clean base plus one binary ----
FROM opsdojo/base:bookworm
COPY --from=build /out/server /app/server
EXPOSE 8080
CMD ["/app/server"]
DOCKERFILE

cat Dockerfile
