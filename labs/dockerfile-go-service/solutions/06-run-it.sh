#!/usr/bin/env bash
# Solution, step run-it: build the image with the docker CLI, run it as web,
# and ask its health endpoint from the terminal. Assumes the earlier
# solutions ran (the Dockerfile of step 5); safe to run twice.
set -euo pipefail
cd "$HOME/app"

docker build -t hello-svc .
docker rm -f web >/dev/null 2>&1 || true
docker run -d --name web hello-svc
docker ps

# The service needs a moment to listen.
for _ in $(seq 1 50); do
  if curl -fsS http://web:8080/healthz; then
    docker logs web
    exit 0
  fi
  sleep 0.2
done
docker logs web
exit 1
