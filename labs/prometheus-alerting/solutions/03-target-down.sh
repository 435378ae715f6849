#!/usr/bin/env bash
# Solution, step target-down: one alert per instance that fails its scrapes
# for 3 minutes. Assumes the earlier steps; appends to the http group.
# Safe to run twice.
set -euo pipefail
f="$HOME/rules/http.yml"
grep -q 'alert: HighErrorRate' "$f" || { echo "run the solutions of the earlier steps first" >&2; exit 1; }
if ! grep -q 'alert: TargetDown' "$f"; then
  cat >> "$f" <<'YAML'
      # One instance down behind a load balancer: fix it in working hours.
      - alert: TargetDown
        expr: up == 0
        for: 3m
        labels:
          severity: ticket
YAML
fi
if command -v promtool >/dev/null 2>&1; then
  promtool check rules "$f"
fi
