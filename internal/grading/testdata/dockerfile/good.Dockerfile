# syntax=docker/dockerfile:1
# A good Dockerfile for the hello service: every rule passes.
ARG BASE=opsdojo/base:bookworm

FROM ${BASE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends golang-go ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod ./
COPY main.go ./
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/server . \
 && chmod 0755 /out/server

FROM scratch
COPY --from=build /out/server /app/server
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=2s --timeout=2s --start-period=1s CMD ["/app/server", "-healthcheck"]
ENTRYPOINT ["/app/server"]
