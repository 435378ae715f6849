#!/usr/bin/env bash
# Solution, step slim: a static binary on scratch, under 30 MB. Assumes the
# earlier solutions ran (the .dockerignore stays); safe to run twice.
set -euo pipefail
cd "$HOME/app"

cat > Dockerfile <<'DOCKERFILE'
# ---- build ----
FROM opsdojo/base:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends golang-go \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Static (no libc), without debug info or local paths.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/server .

# ---- final: nothing but the binary ----
FROM scratch
COPY --from=build /out/server /app/server

# scratch has no /etc/passwd: a numeric, unprivileged uid and gid.
USER 10001:10001
EXPOSE 8080

# No shell in scratch: exec form everywhere.
HEALTHCHECK --interval=2s --timeout=2s --start-period=1s --retries=3 \
  CMD ["/app/server", "-healthcheck"]
ENTRYPOINT ["/app/server"]
DOCKERFILE

cat Dockerfile
