#!/usr/bin/env bash
# Reproduces every measured row of docs/performance.md on this machine: sustained ingest
# (protobuf and OTLP/JSON) with the server's peak memory, WAL and disk use, read latency
# at 1,000,000 spans idle and during ingest, the same load on an in-memory database (the
# ceiling without disk), and the concurrency sweep drawn in docs/perf/throughput.png.
#
#   scripts/perf.sh [seconds per ingest run, default 60] [runs, default 3]
#
# Results go to target/perf/ (one JSON file per measurement plus summary.md). The load is
# `otel-worker-cli generate` with its defaults: 8 connections, 100 spans per request in
# traces of 10 spans, 10 attributes per span, protobuf.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-60}" runs="${2:-3}"
cd "$root"
cargo build --release -p otel-worker-cli --examples --bins
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target_dir/release/otel-worker-cli"
latency="$target_dir/release/examples/query_latency"
out="$target_dir/perf"
rm -rf "$out" && mkdir -p "$out"
token="perf-$RANDOM$RANDOM"
port=4391
url="http://127.0.0.1:$port"
server_pid=""

start_server() { # <db path or "memory">
    local storage=(--db "$1")
    [ "$1" = memory ] && storage=(--in-memory)
    RUST_LOG=warn "$bin" dev --listen "127.0.0.1:$port" --grpc-listen off --auth-token "$token" "${storage[@]}" &
    server_pid=$!
    for _ in $(seq 100); do curl -sf "$url/health" >/dev/null && return; sleep 0.1; done
    echo "server did not start" >&2; exit 1
}
stop_server() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    server_pid=""
}
trap stop_server EXIT

# Samples the server's WAL size every 0.5 s into $1 until the server stops.
watch_wal() {
    local db="$1" file="$2"
    while kill -0 "$server_pid" 2>/dev/null; do
        stat -c %s "$db-wal" 2>/dev/null >> "$file" || true
        sleep 0.5
    done
}

ingest_run() { # <name> <generate flags...>
    local name="$1"; shift
    local db="$out/$name.db"
    start_server "$db"
    watch_wal "$db" "$out/$name.wal" &
    AUTH_TOKEN="$token" "$bin" generate --endpoint "$url" --json "$@" > "$out/$name.json"
    local rss; rss=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
    # Disk after the run: one second after the load stops, with the server still up (an
    # idle server empties its WAL once everything is in the database).
    sleep 1
    local wal_now; wal_now=$(stat -c %s "$db-wal" 2>/dev/null || echo 0)
    local db_now; db_now=$(stat -c %s "$db")
    stop_server
    python3 - "$out/$name.json" "$rss" "$db_now" "$wal_now" "$out/$name.wal" <<'PY'
import json, sys
path, rss, db, wal, wal_file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
r = json.load(open(path))
samples = [int(x) for x in open(wal_file).read().split()] or [0]
spans = max(r["spansAccepted"], 1)
r.update(peakRssMb=rss / 1024, dbBytes=db, walBytesAfter=wal, walPeakBytes=max(samples),
         diskMbPerMillionSpans=(db + wal) / spans * 1e6 / 1e6)
json.dump(r, open(path, "w"), indent=1)
print(f'{path.split("/")[-1]}: {r["spansPerSecond"]:,.0f} spans/s, p99 {r["p99Ms"]} ms, '
      f'errors {r["errors"]}, RSS {r["peakRssMb"]:.0f} MB, WAL peak {max(samples)/1e6:.0f} MB, '
      f'{r["diskMbPerMillionSpans"]:.0f} MB per 1M spans')
PY
    rm -f "$db" "$db-wal" "$db-shm"
}

for run in $(seq "$runs"); do
    ingest_run "protobuf-$run" --duration "${seconds}s"
    ingest_run "json-$run" --duration "${seconds}s" --protocol http/json
done

# The same protobuf load with no disk at all: what the server does when SQLite never
# waits for the file system.
start_server memory
AUTH_TOKEN="$token" "$bin" generate --endpoint "$url" --json --duration 20s > "$out/memory.json"
stop_server

# Reads at 1,000,000 spans / 100,000 traces: idle, then while ingest runs flat out.
db="$out/million.db"
start_server "$db"
AUTH_TOKEN="$token" "$bin" generate --endpoint "$url" --json --traces 100000 > "$out/million-load.json"
"$latency" "$url" "$token" 20 > "$out/reads-idle.json"
AUTH_TOKEN="$token" "$bin" generate --endpoint "$url" --json --duration 25s > "$out/reads-during-ingest-load.json" &
load=$!
sleep 2
"$latency" "$url" "$token" 20 > "$out/reads-during-ingest.json"
wait "$load"
stop_server

# Throughput and p99 against concurrency, for the chart.
for c in 1 2 4 8 16 32; do
    start_server "$out/sweep.db"
    AUTH_TOKEN="$token" "$bin" generate --endpoint "$url" --json --duration 15s --concurrency "$c" > "$out/sweep-$c.json"
    stop_server
    rm -f "$out/sweep.db" "$out/sweep.db-wal" "$out/sweep.db-shm"
done
chart_python="$(bash "$root/scripts/venv.sh" chart "$root/docs/perf/requirements.txt")"
"$chart_python" "$root/scripts/perf_report.py" "$out" "$root/docs/perf/throughput.png" | tee "$out/summary.md"
rm -f "$out"/*.db "$out"/*.db-wal "$out"/*.db-shm
