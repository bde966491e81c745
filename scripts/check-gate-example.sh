#!/usr/bin/env bash
# The CI gate example of docs/compare.md, run for real: examples/ci-gate/checkout.py (the
# OpenTelemetry Python SDK, configured by environment variables only) runs three times
# against a server, as version run-1 (the baseline), run-2 (the same code) and run-3 (every
# query 10 ms slower); `otel-worker-cli check` must pass run-2 and fail run-3 with exit 1.
#   bash scripts/check-gate-example.sh <base url> <token> <otel-worker-cli>
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
url="$1"; token="$2"; cli="$3"
python="$(bash "$root/scripts/venv.sh" proto)"
service="checkout-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
run() { # <version> <slow query ms>
    OTEL_SERVICE_NAME="$service" OTEL_RESOURCE_ATTRIBUTES="service.version=$1" \
        OTEL_EXPORTER_OTLP_ENDPOINT="$url" OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer%20$token" \
        SLOW_QUERY_MS="$2" "$python" "$root/examples/ci-gate/checkout.py"
}
gate() { # <candidate version>
    "$cli" check --base-url "$url" --auth-token "$token" \
        --baseline "service=$service&attr=service.version=run-1" \
        --candidate "service=$service&attr=service.version=$1" \
        --max-p99-increase 20% --max-error-rate-increase 1pp
}
run run-1 0
run run-2 0
run run-3 10
echo "==> the same code again: the gate passes"
gate run-2 || { echo "the gate failed an unchanged run (exit $?)" >&2; exit 1; }
echo "==> every query 10 ms slower: the gate fails with exit 1"
status=0; gate run-3 || status=$?
if [ "$status" != 1 ]; then echo "expected exit 1 for the slower run, got $status" >&2; exit 1; fi
echo "==> a candidate that matched nothing: exit 2"
status=0; gate run-9 >/dev/null 2>&1 || status=$?
if [ "$status" != 2 ]; then echo "expected exit 2 for an empty candidate, got $status" >&2; exit 1; fi
echo "the CI gate example: passed the unchanged run, failed the slower one"
