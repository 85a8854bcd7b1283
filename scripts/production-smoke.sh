#!/usr/bin/env bash
# Production smoke test: runs the compiled code the way the Docker image does,
# with production dependencies only, and pays through it.
#
#   bash scripts/production-smoke.sh            # builds dist/ first
#   bash scripts/production-smoke.sh --no-build # uses the dist/ already built
#
# It copies dist/, bin/, package.json and package-lock.json into a fresh
# temporary directory, runs `npm ci --omit=dev` there (no tsx, no devDependencies),
# then starts, from there, the deployment docker-compose.yml describes:
#   - a private redis-server on a free loopback port (never a shared one),
#   - the simulator      node dist/src/simulator/main.js
#   - the API            node dist/src/main.js  (WORKERS=0)
#   - a worker           node dist/workers/main.js
# waits for /readyz, creates a card payment with the development key and
# polls it until it is authorised. Everything it started, and the directory,
# are removed on exit. Needs redis-server on the PATH and the npm registry
# (or npm's cache).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

if [ "${1:-}" != "--no-build" ]; then
  npm run build
fi
[ -f dist/src/main.js ] || {
  echo "smoke: dist/src/main.js missing: run npm run build" >&2
  exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/sogenactif-smoke.XXXXXX")
pids=()
# Stops what it started, last started first (Redis last), then removes the directory.
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "smoke: FAILED: $*" >&2
  local log
  for log in "$work"/logs/*.log; do
    [ -f "$log" ] || continue
    echo "----- last lines of $(basename "$log")" >&2
    tail -n 30 "$log" >&2
  done
  exit 1
}

free_port() {
  node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# The image's runtime stage: compiled code and production dependencies only.
cp -R dist bin package.json package-lock.json "$work/"
mkdir -p "$work/logs" "$work/data"
(cd "$work" && npm ci --omit=dev --prefer-offline --no-audit --no-fund --loglevel=error) ||
  fail "npm ci --omit=dev"
[ ! -e "$work/node_modules/tsx" ] || fail "tsx is installed with --omit=dev"
(cd "$work" && node bin/sogenactif.js --help >/dev/null) || fail "the CLI (bin/sogenactif.js) from dist/"

redis_port=$(free_port)
simulator_port=$(free_port)
api_port=$(free_port)
api="http://127.0.0.1:$api_port"

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --daemonize no --dir "$work/data" >"$work/logs/redis.log" 2>&1 &
pids+=($!)

# Only what the services are given below: nothing of the caller's
# environment (REDIS_URL, API_KEYS, ...) reaches them.
names=(redis)
run() {
  local name=$1
  shift
  (cd "$work" && exec env -i PATH="$PATH" HOME="$work" NODE_ENV=production LOG_LEVEL=warn "$@") \
    >"$work/logs/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
}
run simulator SIMULATOR_HOST=127.0.0.1 SIMULATOR_PORT="$simulator_port" \
  node dist/src/simulator/main.js
common=(
  REDIS_URL="redis://127.0.0.1:$redis_port"
  SIPS_ENV=simulator
  SIPS_BASE_URL="http://127.0.0.1:$simulator_port"
  PUBLIC_URL="$api"
  DATA_DIR="$work/data"
)
run api "${common[@]}" WORKERS=0 HOST=127.0.0.1 PORT="$api_port" node dist/src/main.js
run worker "${common[@]}" node dist/workers/main.js

# HTTP from node (fetch), so the check needs nothing more than the image has.
SMOKE_API=$api SMOKE_PIDS="${pids[*]}" SMOKE_NAMES="${names[*]}" node --input-type=module -e '
const api = process.env.SMOKE_API;
const pids = process.env.SMOKE_PIDS.split(" ").map(Number);
const names = process.env.SMOKE_NAMES.split(" ");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const headers = { authorization: "Bearer dev-key", "content-type": "application/json" };
const running = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const exited = () => names.filter((_, i) => !running(pids[i])).join(", ");
const give_up = (message) => { console.error(`smoke: ${message}`); process.exit(1); };

let deadline = Date.now() + 60_000;
for (;;) {
  const ready = await fetch(`${api}/readyz`).then((r) => r.ok, () => false);
  if (ready) break;
  if (exited()) give_up(`exited before the API was ready: ${exited()}`);
  if (Date.now() > deadline) give_up("/readyz did not answer 200 within 60 s");
  await sleep(250);
}
console.log("smoke: /readyz 200");

const created = await fetch(`${api}/v1/payments`, {
  method: "POST",
  headers: { ...headers, "idempotency-key": `smoke-${Date.now()}` },
  body: JSON.stringify({
    amount: 2500,
    currency: "978",
    card: { number: "4000000000000002", expiry: "203012", csc: "123" },
  }),
});
const body = await created.json();
if (created.status >= 300 || typeof body.id !== "string") {
  give_up(`POST /v1/payments answered ${created.status}: ${JSON.stringify(body)}`);
}
console.log(`smoke: payment ${body.id} created (${created.status}, ${body.status})`);

const done = new Set(["authorized", "captured"]);
let status = body.status;
deadline = Date.now() + 30_000;
while (!done.has(status)) {
  if (Date.now() > deadline) give_up(`payment still ${status} after 30 s`);
  if (exited()) give_up(`exited while the payment was processed: ${exited()}`);
  await sleep(200);
  const read = await fetch(`${api}/v1/payments/${body.id}`, { headers });
  const payment = await read.json();
  if (!read.ok) give_up(`GET /v1/payments/${body.id} answered ${read.status}: ${JSON.stringify(payment)}`);
  status = payment.status;
  if (["refused", "failed", "expired", "cancelled", "in_review", "outcome_unknown", "awaiting_authentication"].includes(status)) {
    give_up(`payment ended ${status}: ${JSON.stringify(payment)}`);
  }
}
console.log(`smoke: payment ${body.id} ${status}`);
' || fail "the API check above"

echo "smoke: OK in $((SECONDS - started)) s (compiled code, production dependencies only)"
