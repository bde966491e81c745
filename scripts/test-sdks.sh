#!/usr/bin/env bash
# Real OpenTelemetry SDKs against a running otel-worker (tests/sdk/), each checking that the API
# returns every field exactly as its SDK recorded it:
#   - traces: Python (protobuf, protobuf+gzip, JSON) and Node (JSON, protobuf, protobuf+gzip)
#     export a rich trace (roundtrip.py, roundtrip.mjs);
#   - logs: Python (stdlib logging through the SDK's handler; protobuf, protobuf+gzip, JSON) and
#     Node (sdk-logs; JSON, protobuf, protobuf+gzip) export log records in and outside a span,
#     read back by trace and by service (logs.py, logs.mjs);
#   - metrics: Python (counter, up-down counter, histogram with a View's buckets, observable
#     gauge; cumulative and delta; exemplars from sampled spans) and Node (sdk-metrics) export
#     through every OTLP transport, and every stored series and point equals what the SDK
#     exported, value by value, with steps (rates, histogram totals) checked too (metrics.py,
#     metrics.mjs);
#   - defaults: the Python SDK configured only from OTEL_* environment variables, with the OTLP
#     span, log and metric exporters built with no arguments, over http/protobuf (defaults.py):
#     every export succeeds (metrics get a partial success), the SDK logs no warning or error,
#     and the span and its log are stored and linked.
#
#   scripts/test-sdks.sh <base-url> <token> [<sqlite-db> [<grpc-url> [zero-config]]]
#
# With a SQLite database path (local server only; '' for none), one more Python export runs
# while the database is locked, so the exporter's retry after a 503 must deliver every span once.
# With an OTLP/gRPC URL (local server only, e.g. http://127.0.0.1:4317; the Cloudflare Worker has
# no gRPC):
#   - the Python and Node trace and log tests also run over gRPC (plain and gzip, the token as
#     `authorization` metadata);
#   - exports the server refuses (grpc_refusals.py, grpc_refusals.mjs): without the token
#     (UNAUTHENTICATED) and over the default 10 MiB limit (about 12 MB of spans:
#     RESOURCE_EXHAUSTED without a RetryInfo), the Python and Node gRPC trace exporters report a
#     failure and nothing is stored; Python's makes one attempt for UNAUTHENTICATED (the Python
#     SDK retries RESOURCE_EXHAUSTED regardless, until its 10 s timeout: checked to end there);
#   - defaults.py runs with the SDK's default protocol (grpc);
#   - with a database, the locked-database retry runs over gRPC too (UNAVAILABLE with a RetryInfo).
# With `zero-config` as well (the gRPC URL must then be the SDK's default port, 4317, on
# 127.0.0.1 or localhost), defaults.py --zero-config runs with OTEL_EXPORTER_OTLP_HEADERS as the
# only OTEL_* variable: the SDK sends to its default endpoint, localhost:4317.
# Python packages go into virtualenvs under ~/.cache/otel-worker/venvs (pinned in
# tests/sdk/requirements-*.txt); Node packages come from package-lock.json (npm ci).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
base_url="$1" token="$2" lock_db="${3:-}" grpc_url="${4:-}" zero_config="${5:-}"
if [ -n "$zero_config" ]; then
    if [ "$zero_config" != zero-config ]; then
        echo "test-sdks.sh: the 5th argument can only be zero-config, not '$zero_config'" >&2; exit 2
    fi
    case "$grpc_url" in
        http://127.0.0.1:4317 | http://localhost:4317) ;;
        *) echo "test-sdks.sh: zero-config needs the server's OTLP/gRPC on the SDK's default port" \
            "(http://127.0.0.1:4317), not '$grpc_url'" >&2; exit 2 ;;
    esac
fi
proto_python="$(bash "$root/scripts/venv.sh" proto)"
json_python="$(bash "$root/scripts/venv.sh" json)"
if [ ! -d "$root/node_modules/@opentelemetry/exporter-metrics-otlp-grpc" ]; then
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
fi

passed=0 failed=0
run() {
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
# The token as OTEL_EXPORTER_OTLP_HEADERS wants it: the value percent-encoded (W3C baggage format).
otlp_header() {
    echo "authorization=$("$proto_python" -c 'import sys, urllib.parse; print(urllib.parse.quote("Bearer " + sys.argv[1], safe=""))' "$token")"
}
# defaults <protocol> <endpoint>: defaults.py configured by the environment alone (protocol ''
# leaves OTEL_EXPORTER_OTLP_PROTOCOL unset: the SDK's default, grpc).
defaults() {
    local protocol="$1" endpoint="$2" protocol_env=(-u OTEL_EXPORTER_OTLP_PROTOCOL)
    [ -n "$protocol" ] && protocol_env=(OTEL_EXPORTER_OTLP_PROTOCOL="$protocol")
    run env "${protocol_env[@]}" OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint" OTEL_EXPORTER_OTLP_HEADERS="$(otlp_header)" \
        OTEL_SERVICE_NAME="python-defaults-$(echo "${protocol:-default}" | tr / -)-$$-$RANDOM" \
        "$proto_python" defaults.py --base-url "$base_url" --token "$token"
}
cd "$root/tests/sdk"
run "$proto_python" roundtrip.py --base-url "$base_url" --token "$token" --exporter proto
run "$proto_python" roundtrip.py --base-url "$base_url" --token "$token" --exporter proto-gzip
run "$json_python" roundtrip.py --base-url "$base_url" --token "$token" --exporter json
run node roundtrip.mjs --base-url "$base_url" --token "$token" --exporter json
run node roundtrip.mjs --base-url "$base_url" --token "$token" --exporter proto
run node roundtrip.mjs --base-url "$base_url" --token "$token" --exporter proto-gzip
run "$proto_python" logs.py --base-url "$base_url" --token "$token" --exporter proto
run "$proto_python" logs.py --base-url "$base_url" --token "$token" --exporter proto-gzip
run "$json_python" logs.py --base-url "$base_url" --token "$token" --exporter json
run node logs.mjs --base-url "$base_url" --token "$token" --exporter json
run node logs.mjs --base-url "$base_url" --token "$token" --exporter proto
run node logs.mjs --base-url "$base_url" --token "$token" --exporter proto-gzip
run "$proto_python" metrics.py --base-url "$base_url" --token "$token" --exporter proto
run "$proto_python" metrics.py --base-url "$base_url" --token "$token" --exporter proto-gzip
run "$json_python" metrics.py --base-url "$base_url" --token "$token" --exporter json
run node metrics.mjs --base-url "$base_url" --token "$token" --exporter json
run node metrics.mjs --base-url "$base_url" --token "$token" --exporter proto
run node metrics.mjs --base-url "$base_url" --token "$token" --exporter proto-gzip
defaults http/protobuf "$base_url"
if [ -n "$grpc_url" ]; then
    for exporter in grpc grpc-gzip; do
        run "$proto_python" roundtrip.py --base-url "$base_url" --token "$token" --exporter "$exporter" --grpc-endpoint "$grpc_url"
        run "$proto_python" logs.py --base-url "$base_url" --token "$token" --exporter "$exporter" --grpc-endpoint "$grpc_url"
        run node roundtrip.mjs --base-url "$base_url" --token "$token" --exporter "$exporter" --grpc-endpoint "$grpc_url"
        run node logs.mjs --base-url "$base_url" --token "$token" --exporter "$exporter" --grpc-endpoint "$grpc_url"
        run "$proto_python" metrics.py --base-url "$base_url" --token "$token" --exporter "$exporter" --grpc-endpoint "$grpc_url"
        run node metrics.mjs --base-url "$base_url" --token "$token" --exporter "$exporter" --grpc-endpoint "$grpc_url"
    done
    for case in no-token oversized; do
        run "$proto_python" grpc_refusals.py --base-url "$base_url" --token "$token" --grpc-endpoint "$grpc_url" --case "$case"
        run node grpc_refusals.mjs --base-url "$base_url" --token "$token" --grpc-endpoint "$grpc_url" --case "$case"
    done
    defaults "" "$grpc_url"
fi
if [ -n "$zero_config" ]; then
    # Every OTEL_* variable of this environment is removed: the header is the only setting.
    unset_otel=()
    for name in $(compgen -e | grep '^OTEL_' || true); do unset_otel+=(-u "$name"); done
    run env "${unset_otel[@]}" OTEL_EXPORTER_OTLP_HEADERS="$(otlp_header)" \
        "$proto_python" defaults.py --base-url "$base_url" --token "$token" --zero-config
fi
if [ -n "$lock_db" ]; then
    run "$proto_python" roundtrip.py --base-url "$base_url" --token "$token" --exporter proto --lock-db "$lock_db"
    if [ -n "$grpc_url" ]; then
        run "$proto_python" roundtrip.py --base-url "$base_url" --token "$token" --exporter grpc \
            --grpc-endpoint "$grpc_url" --lock-db "$lock_db"
    fi
fi
echo "sdk: $passed passed, $failed failed"
[ "$failed" = 0 ]
