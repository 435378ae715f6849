# syntax=docker/dockerfile:1
#
# hello: a small Go HTTP service, built in one stage and shipped in another.
# Build:   docker build -t hello:dev app
# Run:     docker run --rm -p 8080:8080 hello:dev
#
# Everything here works with the classic builder (Docker API 1.41):
# no heredocs, no RUN --mount, no COPY --chmod.

ARG BASE=opsdojo/base:bookworm
ARG APP_UID=10001

# ---- build stage: the Go toolchain lives here and nowhere else ----------
FROM ${BASE} AS build

ENV DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8

# Debian's Go. Lists are removed in the same layer that downloaded them.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      golang-go \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Module files first: this layer stays cached while only code changes.
COPY go.mod ./
RUN go mod download || true

COPY main.go ./

# A static binary (no libc needed), without debug info.
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
RUN go vet ./... \
 && go build -ldflags="-s -w" -o /out/server . \
 && chmod 0755 /out/server \
 && /out/server -h 2>&1 | head -n 3 || true

# ---- final stage: just the binary ---------------------------------------
FROM scratch AS final

ARG APP_UID
LABEL org.opencontainers.image.title="hello" \
      org.opencontainers.image.description="A small Go HTTP service" \
      org.opencontainers.image.source="https://example.com/hello"

COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build --chown=${APP_UID}:${APP_UID} /out/server /app/server

ENV ADDR=:8080
EXPOSE 8080/tcp

# Numeric: scratch has no /etc/passwd to look a name up in.
USER ${APP_UID}:${APP_UID}

HEALTHCHECK --interval=2s --timeout=2s --start-period=1s --retries=3 \
  CMD ["/app/server", "-healthcheck"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/server"]
