#!/usr/bin/env bash
# Makes sure a Docker engine answers on this machine: installs Debian's
# docker.io when none is present and starts dockerd in the background when it
# is not running. Used by `make run`, `make test` and CI. Idempotent.
set -euo pipefail

log() { printf 'ensure-docker: %s\n' "$*" >&2; }

engine_up() { timeout 5 docker version --format '{{.Server.APIVersion}}' >/dev/null 2>&1; }

# debootstrap builds the base image when no registry answers.
if ! command -v debootstrap >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  log "installing debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

if engine_up; then
  exit 0
fi

need_root() {
  if [ "$(id -u)" != 0 ]; then
    log "the Docker engine is not running and installing or starting it needs root; run as root or start dockerd yourself"
    exit 1
  fi
}

if ! command -v dockerd >/dev/null 2>&1; then
  need_root
  log "installing Debian's docker.io (no engine found)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io iptables ca-certificates >/dev/null
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  need_root
  log "starting dockerd in the background (log: /var/log/opsdojo-dockerd.log)"
  # containerd is started by dockerd itself when no system containerd runs.
  nohup dockerd >/var/log/opsdojo-dockerd.log 2>&1 &
fi

for _ in $(seq 1 60); do
  if engine_up; then
    log "engine up: API $(docker version --format '{{.Server.APIVersion}}')"
    exit 0
  fi
  sleep 1
done
log "dockerd did not answer within 60 s; see /var/log/opsdojo-dockerd.log"
tail -n 20 /var/log/opsdojo-dockerd.log >&2 || true
exit 1
