#!/usr/bin/env bash
# Ingest by signal and transport, on the local server (release build): traces, log records
# and metric points, each over OTLP/HTTP protobuf and OTLP/gRPC, with `generate`'s defaults
# (8 connections, 100 items per request, 10 attributes). The runs alternate, `runs` times,
# so a noisy machine hits them alike; each starts on a fresh database.
#
#   scripts/perf-signals.sh [seconds per run, default 20] [runs, default 3] [signals...,
#                           default: traces logs metrics]
#
# Prints one line per run and the medians; results in target/perf-signals/ (JSON per run,
# summary.md). Numbers in docs/performance.md ("Logs and OTLP/gRPC").
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-20}" runs="${2:-3}"
signals=("${@:3}")
[ ${#signals[@]} -gt 0 ] || signals=(traces logs metrics)
cd "$root"
cargo build --release -p otel-worker-cli --bins
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target_dir/release/otel-worker-cli"
out="$target_dir/perf-signals"
rm -rf "$out" && mkdir -p "$out"
token="perf-$RANDOM$RANDOM"
http_port=4393 grpc_port=4394
server_pid=""

start_server() { # <db path>
    RUST_LOG=warn "$bin" dev --listen "127.0.0.1:$http_port" --grpc-listen "127.0.0.1:$grpc_port" \
        --auth-token "$token" --db "$1" &
    server_pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http_port/health" >/dev/null && return; sleep 0.1; done
    echo "server did not start" >&2; exit 1
}
stop_server() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    server_pid=""
}
trap stop_server EXIT

run() { # <name> <signal> <protocol>
    local name="$1" signal="$2" protocol="$3" endpoint
    local db="$out/$name.db"
    case "$protocol" in
        grpc) endpoint="http://127.0.0.1:$grpc_port" ;;
        *) endpoint="http://127.0.0.1:$http_port" ;;
    esac
    start_server "$db"
    AUTH_TOKEN="$token" "$bin" generate --signal "$signal" --protocol "$protocol" \
        --endpoint "$endpoint" --duration "${seconds}s" --json > "$out/$name.json"
    sleep 1
    local db_now wal_now
    db_now=$(stat -c %s "$db"); wal_now=$(stat -c %s "$db-wal" 2>/dev/null || echo 0)
    stop_server
    python3 - "$out/$name.json" "$db_now" "$wal_now" <<'PY'
import json, sys
path, db, wal = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = json.load(open(path))
r["diskMbPerMillion"] = (db + wal) / max(r["spansAccepted"], 1)
json.dump(r, open(path, "w"), indent=1)
print(f'{path.split("/")[-1]}: {r["spansPerSecond"]:,.0f}/s, p50 {r["p50Ms"]} ms, p99 {r["p99Ms"]} ms, '
      f'errors {r["errors"]}, {r["diskMbPerMillion"]:.0f} MB per 1M')
PY
    rm -f "$db" "$db-wal" "$db-shm"
}

for i in $(seq "$runs"); do
    for signal in "${signals[@]}"; do
        run "$signal-http-$i" "$signal" http/protobuf
        run "$signal-grpc-$i" "$signal" grpc
    done
done

python3 - "$out" "$runs" "${signals[@]}" <<'PY' | tee "$out/summary.md"
import json, statistics, sys
out, runs, signals = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print("| signal, transport | items/s (median of runs) | runs | p50 ms | p99 ms | disk MB per 1M |")
print("| --- | --- | --- | --- | --- | --- |")
for name in [f"{s}-{t}" for s in signals for t in ("http", "grpc")]:
    rs = [json.load(open(f"{out}/{name}-{i}.json")) for i in range(1, runs + 1)]
    med = lambda k: statistics.median(r[k] for r in rs)
    each = " / ".join(f'{r["spansPerSecond"]:,.0f}' for r in rs)
    print(f'| {name} | {med("spansPerSecond"):,.0f} | {each} | {med("p50Ms")} | {med("p99Ms")} | {med("diskMbPerMillion"):.0f} |')
PY
