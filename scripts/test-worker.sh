#!/usr/bin/env bash
# Builds the Worker, applies the migrations to a fresh local D1, starts `wrangler dev` on a
# free port, and runs the black-box API suite against it (the same suite the local server
# passes). Fails if the Worker cannot be built or started: this never skips.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_ERROR_REPORTS=false
bash scripts/build-worker.sh

state="$(mktemp -d)"
token="worker-test-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# wrangler reads secrets from .dev.vars next to wrangler.toml; keep the user's file aside.
backup=""
if [ -f .dev.vars ]; then backup="$state/dev.vars.backup"; cp .dev.vars "$backup"; fi
wrangler_pid=""
cleanup() {
    # wrangler runs workerd as a child: end the whole process group.
    if [ -n "$wrangler_pid" ]; then stop_wrangler; fi
    if [ -n "$backup" ]; then cp "$backup" .dev.vars; else rm -f .dev.vars; fi
    rm -rf "$state"
}
trap cleanup EXIT

# Applies the migrations to a fresh local D1 (and R2) in $persist.
persist="$state"
migrate() {
    node_modules/.bin/wrangler d1 migrations apply otel-worker-db --local --persist-to "$persist" >"$state/migrate.log" 2>&1 \
        || { cat "$state/migrate.log"; exit 1; }
}
migrate

# Starts `wrangler dev` on $port in its own process group (extra arguments go to it) and
# waits for /health.
start_wrangler() {
    # --test-scheduled serves /__scheduled, which runs the cron handler (retention) on demand.
    setsid node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$port" --persist-to "$persist" \
        --test-scheduled --show-interactive-dev-session=false "$@" >>"$state/wrangler.log" 2>&1 &
    wrangler_pid=$!
    for _ in $(seq 1 120); do
        # Any HTTP answer means it is up (without AUTH_TOKEN even /health is a 500).
        if curl -s -o /dev/null "http://127.0.0.1:$port/health"; then return 0; fi
        if ! kill -0 "$wrangler_pid" 2>/dev/null; then break; fi
        sleep 1
    done
    cat "$state/wrangler.log"
    echo "wrangler dev did not start" >&2
    exit 1
}
stop_wrangler() {
    kill -- "-$wrangler_pid" 2>/dev/null || true
    wait "$wrangler_pid" 2>/dev/null || true
    wrangler_pid=""
}

# Without the AUTH_TOKEN secret the Worker must refuse clearly, not serve openly or panic.
printf 'UNRELATED="1"\n' > .dev.vars
start_wrangler
missing="$(curl -s -w ' %{http_code}' "http://127.0.0.1:$port/v1/traces")"
stop_wrangler
case "$missing" in
    *AUTH_TOKEN*" 500") echo "without AUTH_TOKEN: $missing" ;;
    *) echo "expected a 500 naming AUTH_TOKEN without the secret, got: $missing" >&2; exit 1 ;;
esac

printf 'AUTH_TOKEN="%s"\n' "$token" > .dev.vars
start_wrangler
url="http://127.0.0.1:$port"
status=0
# First, while the database is fresh: the web UI in headless Chromium.
echo "==> the web UI in headless Chromium against the Worker on $url"
bash scripts/test-ui.sh "$url" "$token" "${CARGO_TARGET_DIR:-target}/screenshots/worker" || status=$?
if [ "$status" = 0 ]; then
    echo "==> black-box API and search suites against the Worker under wrangler dev on $url"
    OTEL_WORKER_TEST_URL="$url" OTEL_WORKER_TEST_TOKEN="$token" \
        cargo test -p otel-worker-cli --test api --test compare --test hostile --test search --test live --test logs --test metrics --test mcp --test share --test import -- --test-threads=4 || status=$?
fi
if [ "$status" = 0 ]; then
    echo "==> real OpenTelemetry SDKs against the Worker"
    bash scripts/test-sdks.sh "$url" "$token" || status=$?
fi
if [ "$status" = 0 ]; then
    echo "==> the CI gate example against the Worker: \`check\` passes the unchanged run and fails the slower one"
    bash scripts/check-gate-example.sh "$url" "$token" "${CARGO_TARGET_DIR:-target}/debug/otel-worker-cli" || status=$?
fi
if [ "$status" = 0 ]; then
    echo "==> MCP: the official Python and TypeScript SDKs, stdio and Streamable HTTP, against the Worker (delete_trace not allowed)"
    bash scripts/test-mcp.sh "$url" "$token" "${CARGO_TARGET_DIR:-target}/debug/otel-worker-cli" || status=$?
fi
if [ "$status" = 0 ]; then
    echo "==> retention: the cron handler deletes traces older than RETENTION_DAYS (30) and nothing newer"
    bash scripts/check-worker-retention.sh "$url" "$token" || status=$?
fi
if [ "$status" = 0 ]; then
    # Every suite above left rows behind, and deleted some: the cron's housekeeping must
    # read them all and end a sweep of unreferenced resources and key sets on real D1.
    echo "==> the sweep of shared rows nothing refers to ends under workerd's D1"
    for _ in $(seq 1 20); do
        grep -q '"sweptResources"' "$state/wrangler.log" && break
        curl -s -o /dev/null "$url/__scheduled?cron=*+*+*+*+*"
        sleep 1
    done
    if grep -q 'sweeping shard' "$state/wrangler.log"; then
        grep 'sweeping shard' "$state/wrangler.log" | head -n 3 >&2; status=1
    elif ! grep -q '"sweptResources"' "$state/wrangler.log"; then
        echo "no housekeeping run ended a sweep after 20 cron runs" >&2; status=1
    else
        grep -o '"event":"housekeeping"[^}]*"sweptResources"[^}]*' "$state/wrangler.log" | head -n 1
    fi
fi
if [ "$status" = 0 ]; then
    # The live feed's object made slow on purpose (a test-only var): exports must not wait.
    # MCP_ALLOW_DELETE turns delete_trace on at /mcp.
    echo "==> exports while the live feed's Durable Object takes 6 s per broadcast; MCP's delete_trace when allowed"
    stop_wrangler
    start_wrangler --var LIVE_FEED_TEST_DELAY_MS:6000 --var MCP_ALLOW_DELETE:true
    OTEL_WORKER_TEST_URL="$url" OTEL_WORKER_TEST_TOKEN="$token" OTEL_WORKER_TEST_SLOW_LIVE_FEED_MS=6000 \
        cargo test -p otel-worker-cli --test live -- exports_are_answered_while_the_live_feed_is_slow \
        --nocapture || status=$?
    OTEL_WORKER_TEST_URL="$url" OTEL_WORKER_TEST_TOKEN="$token" OTEL_WORKER_TEST_MCP_ALLOW_DELETE=1 \
        cargo test -p otel-worker-cli --test mcp -- deleting || status=$?
fi
if [ "$status" != 0 ]; then
    echo "---- wrangler dev log (last 80 lines) ----"; tail -n 80 "$state/wrangler.log"
fi
# One export is one D1 call however many spans it carries: the request log counts every D1
# round trip the request made (`d1Calls`), and the spans it stored.
big_export="$(grep -ho '{[^{}]*"spans":30000[,}][^{}]*}' "$state/wrangler.log" | grep '"path":"/v1/traces"' | tail -n 1 || true)"
echo "the 30,000-span export: $big_export"
if [ "$status" = 0 ] && ! grep -q '"d1Calls":1[,}]' <<<"$big_export"; then
    echo "expected the 30,000-span export to take exactly one D1 call" >&2
    status=1
fi
if [ "$status" = 0 ]; then
    # Housekeeping after a request (every 5 s) rotates the hot table and compacts the
    # previous ones to blocks in workerd's local R2; the same suites must read everything
    # back unchanged, wherever it is.
    echo "==> the archive on local R2: the Python SDK's spans and log records read back field by field from R2, then the black-box suites with the hot tables rotated and compacted at every housekeeping run (ARCHIVE_AFTER=0s)"
    stop_wrangler
    persist="$state/archived"; mkdir -p "$persist"; migrate
    start_wrangler --var ARCHIVE_AFTER:0s
    proto_python="$(bash scripts/venv.sh proto)"; json_python="$(bash scripts/venv.sh json)"
    (cd tests/sdk && "$proto_python" roundtrip.py --base-url "$url" --token "$token" --exporter proto --archived \
        && "$json_python" roundtrip.py --base-url "$url" --token "$token" --exporter json --archived \
        && "$proto_python" logs.py --base-url "$url" --token "$token" --exporter proto --archived \
        && "$json_python" logs.py --base-url "$url" --token "$token" --exporter json --archived) || status=$?
    if [ "$status" = 0 ]; then
        OTEL_WORKER_TEST_URL="$url" OTEL_WORKER_TEST_TOKEN="$token" \
            cargo test -p otel-worker-cli --test api --test compare --test hostile --test search --test mcp --test share -- --test-threads=4 || status=$?
    fi
    archive="$(curl -s -H "authorization: Bearer $token" "$url/v1/stats" | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin).get("archive")))')"
    echo "the archive after the suites: $archive"
    if [ "$status" = 0 ] && ! python3 -c 'import json, sys; a = json.loads(sys.argv[1]); sys.exit(0 if a and a["blocks"] > 0 and a["failedWrites"] == 0 else 1)' "$archive"; then
        echo "expected blocks in the archive and no failed writes" >&2
        status=1
    fi
    grep -o '{[^{}]*"compactedBlocks"[^{}]*}' "$state/wrangler.log" | head -n 3 || true
    if [ "$status" != 0 ]; then
        echo "---- wrangler dev log (last 80 lines) ----"; tail -n 80 "$state/wrangler.log"
    fi
fi
if [ "$status" != 0 ]; then
    # The requests answered 5xx, and workerd's own complaints, from the whole log: a
    # failure far from its end is not in the last lines.
    echo "---- wrangler dev log: 5xx answers and workerd errors ----"
    grep -E '"status":5[0-9][0-9]|[0-9]{3} (Internal Server Error|Service Unavailable)|exceeded|restarted|workerd/' "$state/wrangler.log" | tail -n 40 || true
    # And what took longest: a test that timed out waited for one of these.
    echo "---- wrangler dev log: requests and housekeeping runs over 5 s ----"
    grep -oE '\{[^{}]*"durationMs":[0-9]{4,}[^{}]*\}' "$state/wrangler.log" | grep -E '"durationMs":([5-9][0-9]{3}|[0-9]{5,})' | tail -n 20 || true
fi
exit "$status"
