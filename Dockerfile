# opsdojo in a container, for hosts that prefer it to `make run`.
#
#   docker build -t opsdojo .
#   docker run -d --name opsdojo --network host --cap-add NET_ADMIN \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     -v opsdojo-data:/data -e OPSDOJO_ADDR=127.0.0.1:8080 opsdojo
#
# The server (not the learners) needs the Docker socket to run learner
# containers, and NET_ADMIN with host networking to install its firewall
# rule. `docker exec opsdojo opsdojo images build` builds the lab images
# (debootstrap is included for hosts without a registry).
# The build stages pull golang and node images; without a registry, pass
# images you have as --build-arg GO_IMAGE=... NODE_IMAGE=... RUNTIME_IMAGE=...
# (.ci/test-dockerfile.sh, part of `make test`, builds and runs this file
# that way).

ARG GO_IMAGE=golang:1.26-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${NODE_IMAGE} AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN node build.mjs

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=web /src/web/static/gen ./web/static/gen
# The build cache would otherwise stay in the stage's layer (the legacy
# builder keeps stage images).
# `opsdojo version` and opsdojo_build_info name the build, as with `make`:
# docker build --build-arg VERSION=$(git describe --tags --always) --build-arg COMMIT=$(git rev-parse HEAD) .
ARG VERSION=devel
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/opsdojo ./cmd/opsdojo \
 && go clean -cache

FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates debootstrap iptables tar \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/opsdojo /usr/local/bin/opsdojo
COPY labs /srv/opsdojo/labs
WORKDIR /srv/opsdojo
ENV OPSDOJO_DATA_DIR=/data OPSDOJO_LABS_DIR=/srv/opsdojo/labs OPSDOJO_ADDR=0.0.0.0:8080
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD ["opsdojo", "healthcheck"]
ENTRYPOINT ["opsdojo"]
CMD ["serve"]
