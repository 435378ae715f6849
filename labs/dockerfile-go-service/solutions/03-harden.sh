#!/usr/bin/env bash
# Solution, step harden: an unprivileged user, a HEALTHCHECK and EXPOSE in
# the final stage. Assumes the earlier solutions ran; safe to run twice.
set -euo pipefail
cd "$HOME/app"

cat > Dockerfile <<'DOCKERFILE'
# ---- build ----
FROM opsdojo/base:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends golang-go \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod main.go ./
RUN go build -o /out/server .

# ---- final ----
FROM opsdojo/base:bookworm

# A system user with no home and no login shell, created while still root.
RUN useradd --system --uid 10001 --user-group --no-create-home \
      --shell /usr/sbin/nologin app

COPY --from=build /out/server /app/server

# Everything below runs, and the container starts, as app (uid 10001).
USER app
EXPOSE 8080

# The binary probes itself: no curl, no shell needed.
HEALTHCHECK --interval=2s --timeout=2s --start-period=1s --retries=3 \
  CMD ["/app/server", "-healthcheck"]

ENTRYPOINT ["/app/server"]
DOCKERFILE

cat Dockerfile
