#!/usr/bin/env bash
# Compares server builds under the default protobuf load (`generate` with its defaults:
# 8 connections, 100 spans per request), alternating between them so a noisy machine hits
# them alike. Besides spans/s and latency it prints what varies less between runs than
# throughput: the server's CPU time per span (during the load and while it finishes its
# background work in the 3 s after), its peak resident memory, and the bytes it wrote
# per span (WAL, database and temporary files).
#
#   scripts/perf-ab.sh <seconds per run> <rounds> <otel-worker-cli binary>...
#
# GENERATE_ARGS adds arguments to `generate` (GENERATE_ARGS='--signal logs' compares log
# ingest; records and points are then counted as spans).
#
# Copy each build aside first (cp target/release/otel-worker-cli /tmp/before). Numbers in
# docs/performance.md ("What moved ingest to 100,000 spans/s").
set -euo pipefail
[ $# -ge 3 ] || { sed -n 2,12p "$0"; exit 2; }
seconds="$1" rounds="$2"
shift 2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
port=4395

one() { # <binary>
    local bin="$1" db="$work/ab.db" pid
    rm -f "$db" "$db-wal" "$db-shm"
    RUST_LOG=warn "$bin" dev --listen "127.0.0.1:$port" --grpc-listen off --auth-token ab \
        --db "$db" > "$work/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
    local cpu0 written0 cpu1 cpu2 written2 peak
    cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    written0=$(awk '/^wchar/ {print $2}' "/proc/$pid/io")
    AUTH_TOKEN=ab "$bin" generate --endpoint "http://127.0.0.1:$port" --duration "${seconds}s" \
        ${GENERATE_ARGS:-} --json > "$work/load.json"
    cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    sleep 3
    cpu2=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    written2=$(awk '/^wchar/ {print $2}' "/proc/$pid/io")
    peak=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    python3 - "$bin" "$work/load.json" "$cpu0" "$cpu1" "$cpu2" "$written0" "$written2" "$peak" \
        "$(getconf CLK_TCK)" <<'PY'
import json, sys
name, load = sys.argv[1], json.load(open(sys.argv[2]))
cpu0, cpu1, cpu2, w0, w2, peak_kb, tick = map(int, sys.argv[3:])
spans = max(load["spansAccepted"], 1)
print(f'{name}: {load["spansPerSecond"]:,.0f} spans/s, p50 {load["p50Ms"]:.1f} ms, '
      f'p99 {load["p99Ms"]:.1f} ms, failed requests {load["errors"]}, '
      f'CPU {(cpu2 - cpu0) / tick / spans * 1e6:.2f} us/span '
      f'({(cpu2 - cpu1) / tick:.1f} s after the load), '
      f'peak RSS {peak_kb // 1024} MB, written {(w2 - w0) / spans:,.0f} bytes/span')
PY
}

for _ in $(seq "$rounds"); do
    for bin in "$@"; do
        one "$bin"
    done
done
