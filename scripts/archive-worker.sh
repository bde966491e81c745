#!/usr/bin/env bash
# The archive on the Worker under workerd (docs/performance.md, "The archive on the Worker,
# under workerd"): `generate` sends TRACES ten-span traces to `wrangler dev` (local D1 and
# R2) while nothing is archived, then the Worker is started again with ARCHIVE_AFTER=0s and
# its cron handler run until every span is in R2. Prints the D1 rows the exports wrote, what
# each compaction run logged, the archive's bytes per span, and a few reads' times.
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
json_lines "$state/ingest.log" '"path":"/v1/traces"' | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if "\"POST\"" in l]
spans = sum(r.get("spans", 0) for r in rows); written = sum(r["d1RowsWritten"] for r in rows)
print(f"exports: {len(rows)}, spans stored: {spans}, D1 rows written: {written} ({written / max(spans, 1):.2f} a span)")'
stop

start "$state/archive.log" 0s
for _ in $(seq 1 30); do
    curl -s -o /dev/null "$url/__scheduled?cron=*+*+*+*+*"
    left="$(curl -s -H "authorization: Bearer $token" "$url/v1/stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["spans"])')"
    [ "$left" = 0 ] && break
done
json_lines "$state/archive.log" '"archivedBlocks"' > "$state/runs.jsonl"
python3 - "$state/runs.jsonl" <<'PY'
import json, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
for r in runs:
    print("housekeeping run: {archivedBlocks} blocks, {archivedSpans} spans, {archivedBytes} bytes, "
          "D1 rows read {d1RowsRead}, written {d1RowsWritten}, {durationMs} ms".format(**r))
spans = sum(r["archivedSpans"] for r in runs); blocks = sum(r["archivedBlocks"] for r in runs)
written = sum(r["d1RowsWritten"] for r in runs); ms = sum(r["durationMs"] for r in runs)
print(f"compaction: {spans} spans in {blocks} blocks, D1 rows written {written} "
      f"({written / max(spans, 1):.2f} a span), {ms / max(blocks, 1):.0f} ms a block")
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
