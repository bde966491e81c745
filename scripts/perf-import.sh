#!/usr/bin/env bash
# A large OTLP file imported into a fresh local server (docs/performance.md, "Importing a
# large file"): writes a JSON Lines file of SIZE_MB megabytes (the Collector file
# exporter's form: one ExportTraceServiceRequest of 100 spans a line, 10-span traces of
# `generate`'s shape, every id unique), then times `otel-worker-cli import` on it with
# GNU time for its peak memory, and reads back what the server stored.
#
#   scripts/perf-import.sh [size in MB, default 1024]
#
# Results go to target/perf-import/ (the file is deleted at the end).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
size_mb="${1:-1024}"
cd "$root"
cargo build --release -q -p otel-worker-cli
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target_dir/release/otel-worker-cli"
out="$target_dir/perf-import"
rm -rf "$out" && mkdir -p "$out"
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
python3 - "$out/big.jsonl" "$size_mb" <<'PY'
import json, os, random, sys, time
path, size = sys.argv[1], int(sys.argv[2]) * 1024 * 1024
services = ["frontend", "checkout", "payments", "inventory", "users", "search"]
# An hour ago, so the server takes every span (it refuses items dated a day ahead).
start = int(time.time() * 1e9) - 3_600_000_000_000
with open(path, "w") as f:
    written, line_no = 0, 0
    while written < size:
        spans = []
        for t in range(10):
            trace = os.urandom(16).hex()
            ids = [os.urandom(8).hex() for _ in range(10)]
            for i in range(10):
                begin = start + line_no * 1_000_000 + i * 1000
                spans.append({
                    "traceId": trace, "spanId": ids[i], "parentSpanId": "" if i == 0 else ids[0],
                    "name": f"GET /api/items/{random.randint(1, 500)}" if i == 0 else f"SELECT items {i}",
                    "kind": 2 if i == 0 else 3,
                    "startTimeUnixNano": str(begin), "endTimeUnixNano": str(begin + random.randint(10_000, 90_000_000)),
                    "attributes": [
                        {"key": "http.request.method", "value": {"stringValue": "GET"}},
                        {"key": "http.route", "value": {"stringValue": "/api/items/:id"}},
                        {"key": "app.items", "value": {"intValue": str(random.randint(1, 50))}},
                        {"key": "db.system.name", "value": {"stringValue": "postgresql"}},
                    ],
                    "status": {"code": 2 if random.random() < 0.02 else 0},
                })
        request = {"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": services[line_no % 6]}}]},
            "scopeSpans": [{"scope": {"name": "perf-import"}, "spans": spans}]}]}
        line = json.dumps(request, separators=(",", ":")) + "\n"
        f.write(line)
        written += len(line)
        line_no += 1
print(f"wrote {written / 1048576:.0f} MiB, {line_no} lines, {line_no * 100} spans", file=sys.stderr)
PY
token="perf-$RANDOM$RANDOM"
url="http://127.0.0.1:4394"
RUST_LOG=warn "$bin" dev --listen 127.0.0.1:4394 --grpc-listen off --auth-token "$token" --db "$out/store.db" \
    --archive-after off &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; rm -f "$out/big.jsonl"' EXIT
for _ in $(seq 100); do curl -sf "$url/health" >/dev/null && break; sleep 0.1; done
ls -l "$out/big.jsonl" | tee "$out/summary.txt"
/usr/bin/time -v "$bin" import "$out/big.jsonl" --base-url "$url" --auth-token "$token" \
    2> "$out/time.txt" | tee -a "$out/summary.txt"
grep -E "Elapsed|Maximum resident" "$out/time.txt" | tee -a "$out/summary.txt"
curl -sf -H "Authorization: Bearer $token" "$url/v1/stats" \
    | python3 -c 'import json,sys; s=json.load(sys.stdin); print("server holds", s["spans"], "spans,", s["traces"], "traces")' \
    | tee -a "$out/summary.txt"
