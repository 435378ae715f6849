#!/usr/bin/env bash
# Solution, step ratio: the recording rule for the 5-minute error ratio.
# Runs as the learner in /home/learner; safe to run twice.
set -euo pipefail
mkdir -p "$HOME/rules"
cat > "$HOME/rules/http.yml" <<'YAML'
# Recording and alerting rules for the checkout and catalog HTTP services.
groups:
  - name: http
    rules:
      # Share of requests that failed with a 5xx over the last 5 minutes, per job.
      - record: job:http_errors:ratio5m
        expr: |
          sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))
            /
          sum by (job) (rate(http_requests_total[5m]))
YAML
if command -v promtool >/dev/null 2>&1; then
  promtool check rules "$HOME/rules/http.yml"
  promtool test rules "$HOME/tests/example_test.yml"
fi
