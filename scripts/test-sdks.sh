#!/usr/bin/env bash
# Real OpenTelemetry SDKs against a running otel-worker: Python (protobuf, protobuf+gzip,
# JSON) and Node (JSON, protobuf, protobuf+gzip) export a rich trace, and each checks that
# the API returns every field exactly as its SDK recorded it (tests/sdk/).
#
#   scripts/test-sdks.sh <base-url> <token> [<sqlite-db>]
#
# With a SQLite database path (local server only), one more Python export runs while the
# database is locked, so the exporter's retry after a 503 must deliver every span once.
# Python packages go into virtualenvs under ~/.cache/otel-worker/venvs (pinned in
# tests/sdk/requirements-*.txt); Node packages come from package-lock.json (npm ci).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
base_url="$1" token="$2" lock_db="${3:-}"
proto_python="$(bash "$root/scripts/venv.sh" proto)"
json_python="$(bash "$root/scripts/venv.sh" json)"
if [ ! -d "$root/node_modules/@opentelemetry/sdk-trace-base" ]; then
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
fi

passed=0 failed=0
run() {
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
cd "$root/tests/sdk"
run "$proto_python" roundtrip.py --base-url "$base_url" --token "$token" --exporter proto
run "$proto_python" roundtrip.py --base-url "$base_url" --token "$token" --exporter proto-gzip
run "$json_python" roundtrip.py --base-url "$base_url" --token "$token" --exporter json
run node roundtrip.mjs --base-url "$base_url" --token "$token" --exporter json
run node roundtrip.mjs --base-url "$base_url" --token "$token" --exporter proto
run node roundtrip.mjs --base-url "$base_url" --token "$token" --exporter proto-gzip
if [ -n "$lock_db" ]; then
    run "$proto_python" roundtrip.py --base-url "$base_url" --token "$token" --exporter proto --lock-db "$lock_db"
fi
echo "sdk: $passed passed, $failed failed"
[ "$failed" = 0 ]
