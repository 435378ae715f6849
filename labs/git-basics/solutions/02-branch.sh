#!/usr/bin/env bash
# Solution, step branch: a feature branch with its own commit.
# Assumes step init's solution ran; safe to run twice.
set -euo pipefail
cd "$HOME/project"
B=feature/healthcheck

# Create the branch from main and switch to it (or just switch if it exists).
if git show-ref --verify -q "refs/heads/$B"; then
  git switch "$B"
else
  git switch -c "$B" main
fi

cat > healthcheck.sh <<'SH'
#!/usr/bin/env bash
# Exit 0 when greeter answers on /healthz, non-zero otherwise.
# Used by deploy scripts: ./healthcheck.sh [URL]
set -euo pipefail
url="${1:-http://localhost:8080/healthz}"
if curl -fsS --max-time 2 "$url" >/dev/null; then
  echo "healthy: $url"
else
  echo "UNHEALTHY: $url" >&2
  exit 1
fi
SH
chmod +x healthcheck.sh    # Git records the executable bit (mode 100755)

git add healthcheck.sh
if ! git diff --cached --quiet; then
  git commit -m "Add healthcheck.sh for deploy probes"
fi
git ls-files -s healthcheck.sh
git log --oneline --graph --all
