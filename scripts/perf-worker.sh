#!/usr/bin/env bash
# The Worker's own speed under workerd (`wrangler dev`, a fresh local D1), to compare builds
# back to back (e.g. rustc opt-level s against z): OTLP/HTTP protobuf ingest as fast as it
# answers (`generate`, 4 requests in flight, 100 spans each), then the latency of two
# searches (the newest 20 traces, and a service that matches nothing) over 40 requests each.
# Uses otel-worker/build as it is (`bash scripts/build-worker.sh` first); touches no source.
#
#   scripts/perf-worker.sh [seconds of ingest, default 20]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-20}"
cd "$root"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_ERROR_REPORTS=false
cargo build --quiet --release -p otel-worker-cli
cli="${CARGO_TARGET_DIR:-$root/target}/release/otel-worker-cli"
state="$(mktemp -d)"
token="perf-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
backup="" wrangler_pid=""
if [ -f .dev.vars ]; then backup="$state/dev.vars.backup"; cp .dev.vars "$backup"; fi
cleanup() {
    if [ -n "$wrangler_pid" ]; then kill -- "-$wrangler_pid" 2>/dev/null || true; wait "$wrangler_pid" 2>/dev/null || true; fi
    if [ -n "$backup" ]; then cp "$backup" .dev.vars; else rm -f .dev.vars; fi
    rm -rf "$state"
}
trap cleanup EXIT
printf 'AUTH_TOKEN="%s"\n' "$token" > .dev.vars
node_modules/.bin/wrangler d1 migrations apply otel-worker-db --local --persist-to "$state" >"$state/migrate.log" 2>&1 \
    || { cat "$state/migrate.log"; exit 1; }
setsid node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$port" --persist-to "$state" \
    --show-interactive-dev-session=false >"$state/wrangler.log" 2>&1 &
wrangler_pid=$!
for _ in $(seq 1 120); do
    if curl -s -o /dev/null "$url/health"; then break; fi
    sleep 1
done
echo "bundle: $(gzip -9 -c otel-worker/build/index_bg.wasm | wc -c) bytes gzip -9"
"$cli" generate --endpoint "$url" --auth-token "$token" --duration "${seconds}s" --concurrency 4 \
    --spans-per-request 100 2>&1 | tail -n 6
for search in "limit=20" "service=nobody&limit=20"; do
    for _ in $(seq 1 40); do
        curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" "$url/v1/traces?$search"
    done | sort -n | awk -v what="$search" '{ t[NR] = $1 * 1000 } END {
        printf "GET /v1/traces?%s: p50 %.1f ms, p90 %.1f ms (%d requests)\n", what, t[int(NR * 0.5)], t[int(NR * 0.9)], NR }'
done
