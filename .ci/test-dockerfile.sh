#!/usr/bin/env bash
# Builds the top-level Dockerfile and runs the image against the local
# engine: health and readiness, then a learner's round trip through the API
# (sign up, start git-basics, a Check that fails on the starter files, end).
#
# The build stages take Go and Node from images built here out of the
# host's own toolchains (and the host's CA bundle, for networks that
# inspect TLS) on top of the project's base image, so the test needs no
# registry; the runtime stage is the project's base image too. Only where
# Go and Node come from differs from a default `docker build .`.
set -euo pipefail
cd "$(dirname "$0")/.."

tag=opsdojo-dockerfile-test/server
name=opsdojo-dockerfile-test-$$
work=$(mktemp -d)
# Everything this run made goes: the server container with its volume, a
# learner container left by a failed run, and the images the build created
# (newest first; not its bases, not cache hits), so that repeated runs do
# not fill the disk. The three download layers (npm ci, go mod download,
# the runtime stage's apt-get) stay, tagged, so that the next run needs no
# network unless what they install changed (a tag that moves frees the old
# layer).
cleanup() {
	docker rm -f -v "$name" >/dev/null 2>&1 || true
	if [ -s "$work/sid" ]; then
		docker rm -f -v "opsdojo-$(cat "$work/sid")" >/dev/null 2>&1 || true
		docker network rm "opsdojo-$(cat "$work/sid")" >/dev/null 2>&1 || true
	fi
	if [ -f "$work/build.log" ]; then
		awk '/^Step [0-9]+\/[0-9]+ : /{step=$0; skip=(step ~ / : FROM /); next}
			/^ ---> Using cache$/{skip=1; next}
			/^ ---> [0-9a-f]+$/{
				if (step ~ /npm ci/) print "keep npm-ci", $2
				else if (step ~ /go mod download/) print "keep go-mod", $2
				else if (step ~ /apt-get install/) print "keep apt", $2
				else if (!skip) print "new", $2
				skip=0
			}' "$work/build.log" >"$work/images"
		while read -r _ what id; do
			old=$(docker image inspect -f '{{.Id}}' "opsdojo-dockerfile-test/cache:$what" 2>/dev/null || true)
			docker tag "$id" "opsdojo-dockerfile-test/cache:$what" >/dev/null 2>&1 || continue
			new=$(docker image inspect -f '{{.Id}}' "$id" 2>/dev/null || true)
			if [ -n "$old" ] && [ "$old" != "$new" ]; then
				docker rmi "$old" >/dev/null 2>&1 || true
			fi
		done < <(grep '^keep ' "$work/images")
		# After the tags: removing the image prunes its untagged parents.
		docker rmi "$tag" >/dev/null 2>&1 || true
		grep '^new ' "$work/images" | awk '{print $2}' | tac | xargs -r docker rmi >/dev/null 2>&1 || true
	fi
	docker rmi "$tag" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

say() { echo "test-dockerfile: $*"; }

docker image inspect opsdojo/base:bookworm >/dev/null 2>&1 || {
	say "opsdojo/base:bookworm is missing: run make images first" >&2
	exit 1
}
ca=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca" ] || { say "no CA bundle at $ca (install ca-certificates)" >&2; exit 1; }

# Go: the host's GOROOT.
mkdir -p "$work/go" "$work/node/lib"
cp -a "$(go env GOROOT)" "$work/go/go"
cp "$ca" "$work/go/ca.crt"
cat >"$work/go/Dockerfile" <<'EOF'
FROM opsdojo/base:bookworm
COPY ca.crt /etc/ssl/certs/ca-certificates.crt
COPY go /usr/local/go
ENV PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    GOTOOLCHAIN=local SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
EOF

# Node: the host's node binary and npm.
node_bin=$(readlink -f "$(command -v node)")
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
cp "$node_bin" "$work/node/node"
cp -a "$npm_dir" "$work/node/lib/npm"
cp "$ca" "$work/node/ca.crt"
cat >"$work/node/Dockerfile" <<'EOF'
FROM opsdojo/base:bookworm
COPY ca.crt /etc/ssl/certs/ca-certificates.crt
COPY node /usr/local/bin/node
COPY lib/npm /usr/local/lib/node_modules/npm
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
EOF

start=$(date +%s)
say "toolchain images from the host's Go $(go env GOVERSION) and Node $(node --version)"
# (The docker CLI's notice that the legacy builder is deprecated goes to
# the log: the engine here has no BuildKit.)
docker build -q -t opsdojo-dockerfile-test/go "$work/go" >/dev/null 2>>"$work/tools.log" || { cat "$work/tools.log" >&2; exit 1; }
docker build -q -t opsdojo-dockerfile-test/node "$work/node" >/dev/null 2>>"$work/tools.log" || { cat "$work/tools.log" >&2; exit 1; }
version=$(git describe --tags --always --dirty 2>/dev/null || echo devel)
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
say "docker build . (log: $work/build.log while it runs)"
if ! docker build -t "$tag" \
	--build-arg GO_IMAGE=opsdojo-dockerfile-test/go \
	--build-arg NODE_IMAGE=opsdojo-dockerfile-test/node \
	--build-arg RUNTIME_IMAGE=opsdojo/base:bookworm \
	--build-arg VERSION="$version" --build-arg COMMIT="$commit" \
	. >"$work/build.log" 2>&1; then
	tail -40 "$work/build.log" >&2
	say "the image did not build" >&2
	exit 1
fi
say "built in $(($(date +%s) - start)) s"

# As the Dockerfile's header says, minus host networking and NET_ADMIN:
# the firewall rule is the host's business in this test.
docker run -d --name "$name" \
	-v /var/run/docker.sock:/var/run/docker.sock \
	-p 127.0.0.1::8080 -e OPSDOJO_SKIP_FIREWALL=1 "$tag" >/dev/null
port=$(docker port "$name" 8080/tcp | head -1 | sed 's/.*://')

docker exec "$name" opsdojo labs validate /srv/opsdojo/labs
# The image names the build it came from.
got=$(docker exec "$name" opsdojo version)
case "$got" in
*"$commit"*) ;;
*) say "opsdojo version in the image says \"$got\", not commit $commit" >&2; exit 1 ;;
esac

# The learner's round trip, with Node's fetch (no curl on a bare machine).
if ! SID_FILE="$work/sid" OPSDOJO_URL="http://127.0.0.1:$port" node --input-type=module -e '
const base = process.env.OPSDOJO_URL;
const fail = (msg) => { console.error(`test-dockerfile: ${msg}`); process.exit(1); };
const deadline = Date.now() + 60_000;
for (;;) {
  try {
    const r = await fetch(`${base}/readyz`);
    if (r.ok) break;
  } catch {}
  if (Date.now() > deadline) fail("the server did not get ready within 60 s");
  await new Promise((ok) => setTimeout(ok, 250));
}
const headers = { "Content-Type": "application/json", Origin: base };
let r = await fetch(`${base}/api/v1/auth/register`, { method: "POST", headers, body: JSON.stringify({ username: "dockerfile-test", password: "correct-horse-battery" }) });
if (r.status !== 201) fail(`register: ${r.status} ${await r.text()}`);
const { csrf_token } = await r.json();
headers.Cookie = r.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
headers["X-CSRF-Token"] = csrf_token;
r = await fetch(`${base}/api/v1/labs/git-basics/session`, { method: "POST", headers, body: "{}" });
if (r.status !== 200) fail(`start git-basics: ${r.status} ${await r.text()}`);
const session = await r.json();
(await import("node:fs")).writeFileSync(process.env.SID_FILE, session.id || "");
if (session.state !== "running") fail(`session: ${JSON.stringify(session)}`);
r = await fetch(`${base}/api/v1/sessions/${session.id}/steps/init/check`, { method: "POST", headers });
const check = await r.json();
if (r.status !== 200 || check.status !== "fail" || !check.messages.some((m) => m.includes("not a Git repository"))) fail(`check: ${r.status} ${JSON.stringify(check)}`);
r = await fetch(`${base}/api/v1/sessions/${session.id}`, { method: "DELETE", headers });
if (r.status !== 200 || (await r.json()).state !== "ended") fail(`end: ${r.status}`);
console.log(`test-dockerfile: session ${session.id}: started, checked (fail on the starter files, as it should), ended`);
'; then
	docker logs "$name" 2>&1 | tail -30 >&2
	exit 1
fi
say "ok ($(($(date +%s) - start)) s in all)"
