#!/usr/bin/env bash
# Solution, step high-error-rate: page when more than 5% of requests fail
# for 5 minutes. Assumes step ratio's recording rule; appends the alert to
# the http group (the last rule list in the file). Safe to run twice.
set -euo pipefail
f="$HOME/rules/http.yml"
grep -q 'job:http_errors:ratio5m' "$f" || { echo "run the solution of step ratio first" >&2; exit 1; }
if ! grep -q 'alert: HighErrorRate' "$f"; then
  cat >> "$f" <<'YAML'
      # Users are failing: wake someone up, but not for a two-minute blip.
      - alert: HighErrorRate
        expr: job:http_errors:ratio5m > 0.05
        for: 5m
        labels:
          severity: page
YAML
fi
if command -v promtool >/dev/null 2>&1; then
  promtool check rules "$f"
fi
