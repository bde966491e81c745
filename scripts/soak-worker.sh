#!/usr/bin/env bash
# The Worker's whole life cycle under steady load (issue 24's soak; results in
# docs/performance.md, "A soak of the Worker's archive"): `wrangler dev` with local D1 and
# R2, exports compacted to R2 within a minute (ARCHIVE_AFTER=1m) and kept RETENTION
# (RETENTION_DAYS as a duration), `generate` at RATE spans/s for SECONDS, the cron handler
# every minute as Cloudflare runs it. Every 10 s a probe trace of a known id is sent and
# looked up at once, and /v1/stats sampled (spans and bytes in D1 and in R2). At the end:
# failed exports, every probe looked up again (each must be found while younger than the
# retention, and gone once retention and a compaction have passed it), the D1 rows written
# a span, all in (the request log and every housekeeping run), and R2 bytes a span.
# LOG_RATE=N also sends N log records a second (their blocks are counted apart), and the
# report gives the largest WebAssembly memory an isolate reached (housekeeping lines).
#
#   [LOG_RATE=0] bash scripts/soak-worker.sh [seconds, default 600] [spans/s, default 1000] [retention, default 5m]
#
# Builds the Worker and the CLI; a temporary state directory; output in
# $CARGO_TARGET_DIR/soak-worker/. Passes (exit 0) when nothing failed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-600}" rate="${2:-1000}" retention="${3:-5m}" log_rate="${LOG_RATE:-0}"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_ERROR_REPORTS=false
bash scripts/build-worker.sh >/dev/null
cargo build --release -q -p otel-worker-cli
cli="${CARGO_TARGET_DIR:-target}/release/otel-worker-cli"
out="${CARGO_TARGET_DIR:-target}/soak-worker"
rm -rf "$out" && mkdir -p "$out"

state="$(mktemp -d)"; port=8797; url="http://127.0.0.1:$port"; token="soak-$$"
backup=""
if [ -f .dev.vars ]; then backup="$state/dev.vars.backup"; cp .dev.vars "$backup"; fi
pid="" load_pid="" logs_pid=""
cleanup() {
    [ -z "$load_pid" ] || kill "$load_pid" 2>/dev/null || true
    [ -z "$logs_pid" ] || kill "$logs_pid" 2>/dev/null || true
    [ -z "$pid" ] || { kill -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
    if [ -n "$backup" ]; then cp "$backup" .dev.vars; else rm -f .dev.vars; fi
    cp "$state"/*.log "$out/" 2>/dev/null || true
    rm -rf "$state"
}
trap cleanup EXIT
printf 'AUTH_TOKEN="%s"\n' "$token" > .dev.vars
node_modules/.bin/wrangler d1 migrations apply otel-worker-db --local --persist-to "$state" >"$state/migrate.log" 2>&1
setsid node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$port" --persist-to "$state" \
    --test-scheduled --show-interactive-dev-session=false \
    --var "ARCHIVE_AFTER:1m" --var "RETENTION_DAYS:$retention" >"$state/wrangler.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do curl -s -o /dev/null "$url/health" && break; sleep 1; done

auth=(-H "authorization: Bearer $token")
# A one-span trace of id $1 that starts now.
probe() {
    local start end
    start="$(date +%s%N)"; end=$((start + 1000000))
    curl -s -o /dev/null -w '%{http_code}' -X POST "$url/v1/traces" "${auth[@]}" -H 'content-type: application/json' \
        --data-binary "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"soak-probe\"}}]},\"scopeSpans\":[{\"spans\":[{\"traceId\":\"$1\",\"spanId\":\"00000000000000a1\",\"name\":\"probe\",\"startTimeUnixNano\":\"$start\",\"endTimeUnixNano\":\"$end\"}]}]}]}"
}
lookup() { curl -s -o /dev/null -w '%{http_code} %{time_total}' "${auth[@]}" "$url/v1/traces/$1"; }

echo "soak: $rate spans/s for $seconds s, archived after 1m, kept $retention, on $url"
started=$(date +%s)
AUTH_TOKEN="$token" "$cli" generate --endpoint "$url" --json --duration "${seconds}s" --rate "$rate" \
    >"$out/load.json" 2>"$out/load.log" &
load_pid=$!
if [ "$log_rate" != 0 ]; then
    AUTH_TOKEN="$token" "$cli" generate --endpoint "$url" --json --signal logs --duration "${seconds}s" \
        --rate "$log_rate" >"$out/logs.json" 2>"$out/logs.log" &
    logs_pid=$!
fi
next_cron=$((started + 60))
while kill -0 "$load_pid" 2>/dev/null; do
    sleep 10
    now=$(date +%s)
    if [ "$now" -ge "$next_cron" ]; then
        curl -sf -o /dev/null "$url/__scheduled?cron=*+*+*+*+*" || echo "the cron run failed" >&2
        next_cron=$((next_cron + 60))
    fi
    id="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    sent="$(probe "$id")"
    found="$(lookup "$id")"
    echo "{\"elapsed\": $((now - started)), \"probe\": \"$id\", \"sentAt\": $now, \"sent\": $sent, \"foundAtOnce\": \"$found\"}" >>"$out/probes.jsonl"
    curl -sf "${auth[@]}" "$url/v1/stats" | python3 -c 'import json,sys; s=json.load(sys.stdin); s["elapsed"]=int(sys.argv[1]); print(json.dumps(s))' \
        "$((now - started))" >>"$out/timeline.jsonl" || echo "GET /v1/stats failed" >&2
done
load_status=0
wait "$load_pid" || load_status=$?
load_pid=""
if [ -n "$logs_pid" ]; then wait "$logs_pid" || load_status=$?; logs_pid=""; fi
# Two more cron runs: the last tables compacted, retention applied.
for _ in 1 2; do sleep 20; curl -sf -o /dev/null "$url/__scheduled?cron=*+*+*+*+*" || true; done
ended=$(date +%s)
while read -r line; do
    id="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["probe"])' "$line")"
    echo "$id $(lookup "$id")"
done <"$out/probes.jsonl" >"$out/probes-at-end.txt"
curl -sf "${auth[@]}" "$url/v1/stats" >"$out/final.json"
cp "$state/wrangler.log" "$out/"

python3 - "$out" "$ended" "$retention" "$load_status" <<'PY'
import json, re, sys
out, ended, retention, load_status = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}
kept = int(retention[:-1]) * unit[retention[-1]] if retention[-1] in unit else int(retention) * 86400
load = json.load(open(f"{out}/load.json"))
final = json.load(open(f"{out}/final.json"))
probes = [json.loads(l) for l in open(f"{out}/probes.jsonl")]
at_end = dict(l.split(" ", 1) for l in open(f"{out}/probes-at-end.txt").read().splitlines())
timeline = [json.loads(l) for l in open(f"{out}/timeline.jsonl")]
lines = [json.loads(m) for m in re.findall(r'\{[^{}]*"d1RowsWritten"[^{}]*\}', open(f"{out}/wrangler.log").read())]
requests = [l for l in lines if "path" in l]
housekeeping = [l for l in lines if l.get("event") == "housekeeping"]
spans = sum(l.get("spans", 0) for l in requests if l.get("path") == "/v1/traces" and l.get("method") == "POST")
written_requests = sum(l["d1RowsWritten"] for l in requests)
written_housekeeping = sum(l["d1RowsWritten"] for l in housekeeping)
problems = []
print(f"load: {load['spansAccepted']:,} spans in {load['seconds']:.0f} s ({load['spansPerSecond']:.0f} spans/s), "
      f"{load['errors']} failed requests ({load['retries']} tries sent again), p99 {load['p99Ms']:.0f} ms")
if load["errors"] or load_status:
    problems.append(f"exports failed: {load['errors']} ({load.get('firstError')})")
try:
    logs = json.load(open(f"{out}/logs.json"))
except FileNotFoundError:
    logs = None
if logs:
    print(f"log load: {logs['spansAccepted']:,} records ({logs['spansPerSecond']:.0f}/s), {logs['errors']} failed requests, p99 {logs['p99Ms']:.0f} ms")
    if logs["errors"]:
        problems.append(f"log exports failed: {logs['errors']} ({logs.get('firstError')})")
not_at_once = [p for p in probes if p["sent"] != 200 or not p["foundAtOnce"].startswith("200")]
times = sorted(float(p["foundAtOnce"].split()[1]) for p in probes if p["foundAtOnce"].startswith("200"))
print(f"probes: {len(probes)} sent, {len(probes) - len(not_at_once)} found at once "
      f"(lookup p50 {times[len(times) // 2] * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms)" if times else "probes: none")
if not_at_once:
    problems.append(f"{len(not_at_once)} probes not found at once: {not_at_once[:3]}")
young = [p for p in probes if ended - p["sentAt"] < kept - 60]
old = [p for p in probes if ended - p["sentAt"] > kept + 180]
lost = [p["probe"] for p in young if not at_end.get(p["probe"], "").startswith("200")]
kept_too_long = [p["probe"] for p in old if not at_end.get(p["probe"], "").startswith("404")]
print(f"at the end: {len(young)} probes younger than the retention, {len(young) - len(lost)} found; "
      f"{len(old)} older than it by 3 minutes, {len(old) - len(kept_too_long)} gone")
if lost:
    problems.append(f"probes lost before their retention: {lost[:3]}")
if kept_too_long:
    problems.append(f"probes kept past their retention: {kept_too_long[:3]}")
memory = [l["wasmMemoryBytes"] for l in housekeeping if "wasmMemoryBytes" in l]
if memory:
    print(f"WebAssembly memory of an isolate: at most {max(memory) / 2**20:.1f} MiB")
print(f"D1 rows written: {written_requests:,} by requests, {written_housekeeping:,} by {len(housekeeping)} housekeeping runs: "
      f"{(written_requests + written_housekeeping) / max(spans, 1):.4f} a span, all in ({spans:,} spans stored)")
peak_d1 = max((t["bytes"] for t in timeline), default=0)
peak_hot = max((t["spans"] for t in timeline), default=0)
a = final.get("archive") or {}
print(f"D1: at most {peak_d1:,} bytes and {peak_hot:,} spans in the hot tier; at the end {final['bytes']:,} bytes, {final['spans']:,} spans")
print(f"R2 at the end: {a.get('spans', 0):,} spans in {a.get('blocks', 0)} blocks, {a.get('bytes', 0):,} bytes "
      f"({a.get('bytes', 0) / max(a.get('spans', 1), 1):.1f} a span), failed writes {a.get('failedWrites')}")
if logs:
    records = [l for l in requests if l.get("path") == "/v1/logs" and l.get("method") == "POST"]
    print(f"log records: {final.get('logs', 0):,} in D1 at the end, {a.get('records', 0):,} archived; "
          f"{sum(l.get('archivedLogBlocks', 0) for l in housekeeping)} log blocks written, "
          f"{sum(l['d1RowsWritten'] for l in records):,} D1 rows written by {len(records):,} log exports")
if a.get("failedWrites"):
    problems.append(f"{a['failedWrites']} failed R2 writes")
for problem in problems:
    print("FAIL:", problem)
sys.exit(1 if problems else 0)
PY
