#!/usr/bin/env bash
# Log lists over 200,000 records, kept in the database and then archived: the latency of
# `GET /v1/logs` for a plain page, a search that matches nothing, a rare text, a service,
# a severity and one trace's records, and the bytes a record takes in each tier. Release
# build, local server; results in docs/performance.md ("Log records in the archive").
#
#   scripts/perf-logs.sh [requests per list, default 20] [traces, default 20000]
#
# `generate --signal logs` sends one record per span position of each synthetic trace:
# 20,000 traces make 200,000 records.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
requests="${1:-20}" traces="${2:-20000}"
cd "$root"
cargo build --quiet --release -p otel-worker-cli
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target_dir/release/otel-worker-cli"
state="$(mktemp -d)"
token="perf-$RANDOM$RANDOM"
port=4393
url="http://127.0.0.1:$port"
server_pid=""
stop_server() {
    [ -z "$server_pid" ] || { kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; }
    server_pid=""
}
trap 'stop_server; rm -rf "$state"' EXIT
start_server() { # <archive-after>
    RUST_LOG=warn "$bin" dev --listen "127.0.0.1:$port" --grpc-listen off --auth-token "$token" \
        --db "$state/store.db" --archive-after "$1" &
    server_pid=$!
    for _ in $(seq 100); do curl -sf "$url/health" >/dev/null && return; sleep 0.1; done
    echo "server did not start" >&2; exit 1
}
stats() { curl -sf -H "authorization: Bearer $token" "$url/v1/stats"; }

start_server off
AUTH_TOKEN="$token" "$bin" generate --endpoint "$url" --signal logs --traces "$traces" --json > "$state/load.json"
# A trace id and a service that the records carry, for the lists below.
sample="$(curl -sf -H "authorization: Bearer $token" "$url/v1/logs?limit=1")"
trace_id="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["logs"][0]["traceId"])' "$sample")"
service="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["logs"][0]["serviceName"])' "$sample")"

lists=(
    "plain page|limit=100"
    "no match (q)|q=no-such-text-anywhere&limit=100"
    "service|service=$service&limit=100"
    "severity >= error|severity=17&limit=100"
    "one trace|traceId=$trace_id&limit=100"
)
measure() { # <tier>
    for entry in "${lists[@]}"; do
        local name="${entry%%|*}" query="${entry#*|}"
        for _ in $(seq "$requests"); do
            curl -s -o /dev/null -w '%{time_total}\n' -H "authorization: Bearer $token" "$url/v1/logs?$query"
        done | python3 -c '
import sys, statistics
times = sorted(float(l) * 1000 for l in sys.stdin)
p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
print(f"| {sys.argv[1]} | {sys.argv[2]} | {statistics.median(times):.1f} ms | {p99:.1f} ms |")' "$1" "$name"
    done
}

echo "| tier | list | median | p99 |"
echo "| --- | --- | --- | --- |"
measure database
db_bytes="$(stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes"])')"
records="$(stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["logs"])')"
stop_server

# Archive everything: records older than 0 s go to blocks at the housekeeper's next runs.
start_server 0s
for _ in $(seq 600); do
    left="$(stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["logs"])')"
    [ "$left" = 0 ] && break
    sleep 1
done
measure archive
archive="$(stats | python3 -c 'import json,sys; a=json.load(sys.stdin)["archive"]; print(a["records"], a["bytes"], a["blocks"])')"
read -r archived archive_bytes blocks <<<"$archive"
echo
echo "records: $records; database with them: $db_bytes bytes ($((db_bytes / records)) bytes a record, WAL included)"
echo "archived: $archived records in $blocks blocks, $archive_bytes bytes ($((archive_bytes / archived)) bytes a record)"
