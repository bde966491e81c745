#!/usr/bin/env bash
# Latency of a group comparison (docs/performance.md, "Comparing two groups of traces"):
# fills a fresh database with `otel-worker-cli generate --traces N` (10 spans each), waits
# until every span is in the search summaries (and, with ARCHIVE_AFTER=0s, in the
# archive), then times `client compare` on groups of every size, ROUNDS times each, back
# to back.
#
#   scripts/perf-compare.sh [rounds, default 3] [traces, default 100000]
#
# Results go to target/perf-compare/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${1:-3}" traces="${2:-100000}"
cd "$root"
cargo build --release -q -p otel-worker-cli
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target_dir/release/otel-worker-cli"
out="$target_dir/perf-compare"
rm -rf "$out" && mkdir -p "$out"
token="perf-$RANDOM$RANDOM"
url="http://127.0.0.1:4393"
RUST_LOG=warn "$bin" dev --listen 127.0.0.1:4393 --grpc-listen off --auth-token "$token" --db "$out/store.db" \
    --archive-after "${ARCHIVE_AFTER:-off}" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "$url/health" >/dev/null && break; sleep 0.1; done
first=$(date +%s%N)
AUTH_TOKEN="$token" "$bin" generate --endpoint "$url" --json --traces "$traces" > "$out/load.json"
last=$(date +%s%N)
settled='import json,sys; s=json.load(sys.stdin); print(s["unindexedSpans"] == 0 and (s["spans"] == 0 or sys.argv[1] == "off"))'
until [ "$(curl -sf -H "Authorization: Bearer $token" "$url/v1/stats" | python3 -c "$settled" "${ARCHIVE_AFTER:-off}")" = True ]; do
    sleep 0.5
done
mid=$(( (first + last) / 2 ))
python3 -c 'import json,sys; print("loaded", json.load(open(sys.argv[1]))["spansAccepted"], "spans")' "$out/load.json" | tee "$out/summary.txt"
# Two halves of the load in time; one service's halves; one method of one service against
# another; groups that match nothing.
for pair in \
    "end=$mid|start=$mid" \
    "service=payments&end=$mid|service=payments&start=$mid" \
    "service=frontend&attr=http.request.method=GET|service=frontend&attr=http.request.method=PUT" \
    "service=nobody|service=nobody-either"; do
    baseline="${pair%%|*}" candidate="${pair#*|}"
    for round in $(seq "$rounds"); do
        start=$(date +%s%N)
        "$bin" client --base-url "$url" --auth-token "$token" --json compare \
            --baseline "$baseline" --candidate "$candidate" > "$out/report.json"
        took=$(( ($(date +%s%N) - start) / 1000000 ))
        python3 - "$out/report.json" "$took" "$baseline" "$candidate" "$round" <<'PY' | tee -a "$out/summary.txt"
import json, sys
r = json.load(open(sys.argv[1]))
b, c = r["baseline"], r["candidate"]
print(f"{sys.argv[3]!r} vs {sys.argv[4]!r} (round {sys.argv[5]}): {sys.argv[2]} ms; "
      f"read {b['traces']} of {b['matched']}{'' if b['matchedAll'] else '+'} and "
      f"{c['traces']} of {c['matched']}{'' if c['matchedAll'] else '+'} traces, "
      f"{b['spans'] + c['spans']} spans, {len(r['operations'])} operations, {r['regressions']} regressions")
PY
    done
done
