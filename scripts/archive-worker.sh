#!/usr/bin/env bash
# The archive on the Worker under workerd (docs/performance.md, "The archive on the Worker,
# under workerd"): `generate` sends TRACES ten-span traces to `wrangler dev` (local D1 and
# R2), each export stored as a segment of the hot tier and compacted to R2 by housekeeping
# as tables fill; then the Worker is started again with ARCHIVE_AFTER=0s and its cron
# handler run until D1 holds no span. Prints the D1 rows the exports and housekeeping wrote
# (all in, per span), what each compaction run logged, the archive's bytes per span, and a
# few reads' times.
#
#   bash scripts/archive-worker.sh [traces, default 10000]
#
# Builds the Worker and the CLI first; uses port 8799 and a temporary state directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
traces="${1:-10000}"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_ERROR_REPORTS=false
bash scripts/build-worker.sh >/dev/null
cargo build --release -q -p otel-worker-cli
cli="${CARGO_TARGET_DIR:-target}/release/otel-worker-cli"

state="$(mktemp -d)"; port=8799; url="http://127.0.0.1:$port"; token="archive-$$"
backup=""
if [ -f .dev.vars ]; then backup="$state/dev.vars.backup"; cp .dev.vars "$backup"; fi
pid=""
stop() { if [ -n "$pid" ]; then kill -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi; }
cleanup() { stop; if [ -n "$backup" ]; then cp "$backup" .dev.vars; else rm -f .dev.vars; fi; rm -rf "$state"; }
trap cleanup EXIT
printf 'AUTH_TOKEN="%s"\n' "$token" > .dev.vars
node_modules/.bin/wrangler d1 migrations apply otel-worker-db --local --persist-to "$state" >"$state/migrate.log" 2>&1
start() { # <log> <archive after>
    setsid node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$port" --persist-to "$state" \
        --test-scheduled --show-interactive-dev-session=false --var "ARCHIVE_AFTER:$2" >"$1" 2>&1 &
    pid=$!
    for _ in $(seq 1 120); do curl -s -o /dev/null "$url/health" && return 0; sleep 1; done
    cat "$1"; exit 1
}
json_lines() { grep -o '{[^{}]*}' "$1" | grep "$2" || true; }

start "$state/ingest.log" 1h
"$cli" generate --endpoint "$url" --auth-token "$token" --traces "$traces" | tail -n 3
stop

# Everything left in the hot tier is compacted: the cron handler, run until D1 holds no span.
start "$state/archive.log" 0s
for _ in $(seq 1 60); do
    curl -s -o /dev/null "$url/__scheduled?cron=*+*+*+*+*"
    left="$(curl -s -H "authorization: Bearer $token" "$url/v1/stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["spans"])')"
    [ "$left" = 0 ] && break
    sleep 5
done
json_lines "$state/ingest.log" '"path":"/v1/traces"' > "$state/exports.jsonl"
cat "$state/ingest.log" "$state/archive.log" > "$state/all.log"
json_lines "$state/all.log" '"event":"housekeeping"' > "$state/runs.jsonl"
python3 - "$state/exports.jsonl" "$state/runs.jsonl" <<'PY'
import json, sys
exports = [json.loads(l) for l in open(sys.argv[1]) if "\"POST\"" in l]
spans = sum(r.get("spans", 0) for r in exports); export_rows = sum(r["d1RowsWritten"] for r in exports)
print(f"exports: {len(exports)}, spans stored: {spans}, D1 rows written: {export_rows} "
      f"({export_rows / max(spans, 1):.4f} a span)")
runs = [json.loads(line) for line in open(sys.argv[2])]
for r in runs:
    if r.get("compactedBlocks") or r.get("rotatedHotTable"):
        print("housekeeping run: rotated {}, {} segments into {} blocks, {} spans, {} bytes, "
              "D1 rows read {}, written {}, {} ms".format(
                  r.get("rotatedHotTable", False), r.get("compactedSegments", 0),
                  r.get("compactedBlocks", 0), r.get("compactedSpans", 0),
                  r.get("compactedBytes", 0), r["d1RowsRead"], r["d1RowsWritten"], r["durationMs"]))
compacted = sum(r.get("compactedSpans", 0) for r in runs)
blocks = sum(r.get("compactedBlocks", 0) for r in runs)
housekeeping_rows = sum(r["d1RowsWritten"] for r in runs)
ms = sum(r["durationMs"] for r in runs if r.get("compactedBlocks"))
print(f"housekeeping: {len(runs)} runs, {compacted} spans compacted into {blocks} blocks, "
      f"D1 rows written {housekeeping_rows} ({housekeeping_rows / max(spans, 1):.4f} a span), "
      f"{ms / max(blocks, 1):.0f} ms a block in the runs that compacted")
total = export_rows + housekeeping_rows
print(f"all in: {total} D1 rows written for {spans} spans: {total / max(spans, 1):.4f} a span")
PY
curl -s -H "authorization: Bearer $token" "$url/v1/stats" > "$state/stats.json"
python3 - "$state/stats.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); a = s["archive"]
print(f"stats: {s['spans']} spans in D1 ({s['bytes']} bytes), archive {a['spans']} spans in "
      f"{a['blocks']} blocks, {a['bytes']} bytes ({a['bytes'] / max(a['spans'], 1):.1f} a span), "
      f"failed writes {a['failedWrites']}")
PY
id="$(curl -s -H "authorization: Bearer $token" "$url/v1/traces?limit=1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["traces"][0]["traceId"])')"
for query in "traces?limit=20" "traces?service=payments&limit=20" "traces?status=error&limit=20" \
    "traces?attr=enduser.id%3Duser-80&limit=20" "traces?attr=enduser.id%3Dnobody&limit=20" "traces/$id"; do
    for run in 1 2; do
        curl -s -o /dev/null -w "GET /v1/$query (run $run): %{http_code} in %{time_total} s\n" \
            -H "authorization: Bearer $token" "$url/v1/$query"
    done
done
