#!/usr/bin/env bash
# Sustained load against a small storage budget, on either home: `otel-worker-cli generate`
# at a steady rate into the local server (`dev --max-storage`) or the Worker under
# `wrangler dev` (several local D1 databases in D1_SHARDS, each with MAX_STORAGE_MB, and
# the cron handler run every minute as Cloudflare would). Passes when no export failed,
# every database stayed within its budget, the oldest traces were pruned and the newest
# are still there and found by a search.
#
#   scripts/check-capacity.sh worker|local [seconds, default 600] [spans/s, default 1000]
#                             [MB per database, default 20] [databases (worker), default 3]
#
# The long runs are done by hand (results in docs/performance.md); scripts/test.sh runs
# short ones. A timeline of /v1/stats, read every STATS_EVERY seconds (default 1), goes
# to $CARGO_TARGET_DIR/capacity-<home>/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
home="${1:?worker or local}" seconds="${2:-600}" rate="${3:-1000}" budget_mb="${4:-20}" databases="${5:-3}"
cd "$root"
case "$home" in worker|local) ;; *) echo "the home is worker or local, not $home" >&2; exit 2 ;; esac

cargo build --quiet -p otel-worker-cli
target_dir="${CARGO_TARGET_DIR:-$root/target}"
cli="$target_dir/debug/otel-worker-cli"
out="$target_dir/capacity-$home"
rm -rf "$out" && mkdir -p "$out"
state="$(mktemp -d)"
token="capacity-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
server_pid="" load_pid=""
cleanup() {
    [ -z "$load_pid" ] || kill "$load_pid" 2>/dev/null || true
    # wrangler runs workerd as a child: end the whole process group.
    [ -z "$server_pid" ] || kill -- "-$server_pid" 2>/dev/null || true
    cp "$state"/*.log "$out/" 2>/dev/null || true
    rm -rf "$state"
}
trap cleanup EXIT

if [ "$home" = local ]; then
    databases=1
    setsid "$cli" dev --listen "127.0.0.1:$port" --grpc-listen off --auth-token "$token" --db "$state/store.db" \
        --max-storage "${budget_mb}MB" >"$state/server.log" 2>&1 &
    server_pid=$!
else
    export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_ERROR_REPORTS=false
    bash scripts/build-worker.sh
    # A wrangler configuration of its own, beside its own .dev.vars, so the repository's
    # wrangler.toml and .dev.vars stay untouched: the Worker as built, `databases` D1 bindings.
    bindings=()
    {
        echo "name = \"otel-worker\""
        echo "main = \"$root/otel-worker/build/index.js\""
        grep '^compatibility_date' wrangler.toml
        for i in $(seq 1 "$databases"); do
            binding="DB"; [ "$i" = 1 ] || binding="DB_$i"
            bindings+=("$binding")
            printf '[[d1_databases]]\nbinding = "%s"\ndatabase_name = "otel-worker-db-%s"\n' "$binding" "$i"
            printf 'database_id = "00000000-0000-0000-0000-%012d"\nmigrations_dir = "%s/migrations"\n' "$i" "$root"
        done
        printf '[durable_objects]\nbindings = [{ name = "LIVE", class_name = "LiveFeed" }]\n'
        printf '[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["LiveFeed"]\n'
        printf '[vars]\nRETENTION_DAYS = "7"\nMAX_STORAGE_MB = "%s"\nD1_SHARDS = "%s"\n' \
            "$budget_mb" "$(IFS=,; echo "${bindings[*]}")"
    } > "$state/wrangler.toml"
    printf 'AUTH_TOKEN="%s"\n' "$token" > "$state/.dev.vars"
    for i in $(seq 1 "$databases"); do
        node_modules/.bin/wrangler d1 migrations apply "otel-worker-db-$i" --local --persist-to "$state/d1" \
            -c "$state/wrangler.toml" >>"$state/migrate.log" 2>&1 || { cat "$state/migrate.log"; exit 1; }
    done
    setsid node_modules/.bin/wrangler dev -c "$state/wrangler.toml" --ip 127.0.0.1 --port "$port" \
        --persist-to "$state/d1" --test-scheduled --show-interactive-dev-session=false \
        >"$state/server.log" 2>&1 &
    server_pid=$!
fi
for _ in $(seq 1 120); do
    curl -sf -o /dev/null "$url/health" && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$state/server.log"; exit 1; }
    sleep 1
done

stats() { curl -sf -H "authorization: Bearer $token" "$url/v1/stats"; }
echo "capacity ($home): $databases database(s) of $budget_mb MB, $rate spans/s for $seconds s on $url"
started=$(date +%s)
AUTH_TOKEN="$token" "$cli" generate --endpoint "$url" --json --duration "${seconds}s" --rate "$rate" \
    >"$out/load.json" 2>"$out/load.log" &
load_pid=$!
# The cron trigger fires every minute on Cloudflare; wrangler dev runs it on request.
next_cron=$((started + 60))
while kill -0 "$load_pid" 2>/dev/null; do
    sleep "${STATS_EVERY:-1}"
    now=$(date +%s)
    if [ "$home" = worker ] && [ "$now" -ge "$next_cron" ]; then
        curl -sf -o /dev/null "$url/__scheduled?cron=*+*+*+*+*" || echo "the cron run failed" >&2
        next_cron=$((next_cron + 60))
    fi
    stats | python3 -c 'import json,sys; s=json.load(sys.stdin); s["elapsed"]=int(sys.argv[1]); print(json.dumps(s))' \
        "$((now - started))" >>"$out/timeline.jsonl" || echo "GET /v1/stats failed" >&2
done
load_status=0
wait "$load_pid" || load_status=$?
load_pid=""
[ "$home" = local ] || curl -sf -o /dev/null "$url/__scheduled?cron=*+*+*+*+*"
stats >"$out/final.json"
curl -sf -H "authorization: Bearer $token" "$url/v1/traces?limit=1" >"$out/newest.json"
curl -sf -H "authorization: Bearer $token" "$url/v1/traces?limit=1&status=error" >"$out/newest-error.json"

cp "$state"/*.log "$out/"
python3 - "$out" "$started" "$budget_mb" "$load_status" <<'PY'
import json, sys, time
out, started, budget_mb, load_status = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
load = json.load(open(f"{out}/load.json"))
final = json.load(open(f"{out}/final.json"))
timeline = [json.loads(l) for l in open(f"{out}/timeline.jsonl")]
newest = json.load(open(f"{out}/newest.json"))["traces"]
errors = json.load(open(f"{out}/newest-error.json"))["traces"]
budget = min(s["budgetBytes"] for s in final["shards"])
peak = max((s["bytes"] for t in timeline for s in t["shards"]), default=0)
lines = [
    f"sent {load['spansAccepted']:,} spans in {load['seconds']:.0f} s ({load['spansPerSecond']:.0f} spans/s), "
    f"{load['errors']} failed requests ({load['retries']} tries sent again), p99 {load['p99Ms']:.0f} ms",
    f"stored at the end: {final['spans']:,} spans in {final['traces']:,} traces; pruned {final['prunedTraces']:,} traces "
    f"({final['prunedTraces'] / max(load['seconds'], 1):.0f} traces/s on average)",
    "per database at the end: " + ", ".join(f"{s['bytes'] / 1e6:.1f} MB" for s in final["shards"])
    + f" (budget {budget / 1e6:.1f} MB each); largest seen {peak / 1e6:.1f} MB",
    f"kept: the last {(int(final['newestUnixNano'] or 0) - int(final['oldestUnixNano'] or 0)) / 1e9:.0f} s of traces",
]
# The Worker logs each housekeeping run: how fast pruning deletes, where it had to.
runs = [json.loads(l[l.index("{"):]) for l in open(f"{out}/server.log") if '"event":"housekeeping"' in l]
pruning = [r for r in runs if r.get("budgetDeletedSpans")]
if pruning:
    spans = sum(r["budgetDeletedSpans"] for r in pruning)
    ms = sum(r["durationMs"] for r in pruning)
    lines.append(f"pruning: {spans:,} spans deleted in {len(pruning)} housekeeping runs taking {ms / 1000:.1f} s "
                 f"in all, {spans / max(ms, 1) * 1000:,.0f} spans/s while deleting")
# What D1 bills: rows written per span sent, by exports and by housekeeping.
logged = [json.loads(l[l.index("{"):]) for l in open(f"{out}/server.log") if '"d1RowsWritten"' in l]
if logged:
    by_exports = sum(r["d1RowsWritten"] for r in logged if r.get("path") == "/v1/traces")
    by_housekeeping = sum(r["d1RowsWritten"] for r in logged if r.get("event") == "housekeeping")
    sent = max(load["spansAccepted"], 1)
    lines.append(f"D1 rows written per span sent: {by_exports / sent:.2f} by exports, "
                 f"{by_housekeeping / sent:.2f} by housekeeping (summaries and pruning)")
print("\n".join(lines))
open(f"{out}/summary.txt", "w").write("\n".join(lines) + "\n")
problems = []
if load_status != 0 or load["errors"] or load["spansFailed"]:
    problems.append(f"exports failed: {load['errors']} requests ({load.get('firstError')})")
if any(s["bytes"] > budget for s in final["shards"]):
    problems.append("a database ended over its budget")
if peak > budget:
    problems.append(f"a database went over its budget ({peak} bytes)")
if final["prunedTraces"] == 0:
    problems.append("nothing was pruned: the load did not reach the budget")
if not newest or int(newest[0]["startTimeUnixNano"]) < (time.time() - 120) * 1e9:
    problems.append("the newest traces are missing")
if not errors:
    problems.append("a search for error traces found none")
for p in problems:
    print("FAILED:", p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
