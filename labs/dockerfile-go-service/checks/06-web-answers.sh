#!/usr/bin/env bash
# Check (step run-it): a container named web, started by the learner with
# their docker CLI, answers GET /healthz on port 8080 on the lab's network.
# The check cannot use the learner's Docker socket (it is the learner's
# alone); it asks the service itself, by the container's name, the way the
# learner does from their terminal.
body="$(curl -fsS --max-time 5 http://web:8080/healthz 2>/dev/null)"
status=$?
if [ "$status" -eq 0 ] && [ "$body" = "ok" ]; then
  echo "PASS: http://web:8080/healthz answered ok"
  exit 0
fi
if ! getent hosts web >/dev/null 2>&1; then
  echo "FAIL: no container called web runs on your lab's network."
  echo "HINT: Build the image (docker build -t hello-svc ~/app), then start it in the background with a name: docker run -d --name web hello-svc. docker ps lists what runs."
  exit 1
fi
echo "FAIL: a container called web runs, but http://web:8080/healthz did not answer ok (curl exit $status)."
echo "HINT: docker logs web shows what the service printed; docker ps shows whether it is still up. It must listen on :8080."
exit 1
