#!/usr/bin/env bash
# Solution, step actionable: summary and description annotations, with
# templating, on both alerts. Assumes the earlier steps: rewrites the file
# with the same rules plus annotations. Safe to run twice.
set -euo pipefail
f="$HOME/rules/http.yml"
grep -q 'alert: TargetDown' "$f" || { echo "run the solutions of the earlier steps first" >&2; exit 1; }
cat > "$f" <<'YAML'
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

      # Users are failing: wake someone up, but not for a two-minute blip.
      - alert: HighErrorRate
        expr: job:http_errors:ratio5m > 0.05
        for: 5m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.job }}: {{ $value | humanizePercentage }} of requests fail"
          description: >-
            More than 5% of requests to {{ $labels.job }} have failed with a 5xx
            for 5 minutes (now {{ $value | humanizePercentage }}). Check the last
            deploy and the service's logs.

      # One instance down behind a load balancer: fix it in working hours.
      - alert: TargetDown
        expr: up == 0
        for: 3m
        labels:
          severity: ticket
        annotations:
          summary: "{{ $labels.instance }} ({{ $labels.job }}) is down"
          description: >-
            Prometheus has failed to scrape {{ $labels.instance }} of job
            {{ $labels.job }} for 3 minutes. The other instances carry its
            traffic; find out why it stopped answering.
YAML
if command -v promtool >/dev/null 2>&1; then
  promtool check rules "$f"
fi
