#!/usr/bin/env bash
# Search latency at 1,000,000 spans / 100,000 traces (the rows of docs/performance.md's
# search table): fills a fresh database with `otel-worker-cli generate --traces 100000`,
# then times every query of otel-worker-cli/examples/search_latency.rs.
#
#   scripts/perf-search.sh [rounds per query, default 20]
#
# Results go to target/perf-search/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${1:-20}"
cd "$root"
cargo build --release -p otel-worker-cli --examples --bins
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target_dir/release/otel-worker-cli"
out="$target_dir/perf-search"
rm -rf "$out" && mkdir -p "$out"
token="perf-$RANDOM$RANDOM"
url="http://127.0.0.1:4392"
RUST_LOG=warn "$bin" dev --listen 127.0.0.1:4392 --auth-token "$token" --db "$out/million.db" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "$url/health" >/dev/null && break; sleep 0.1; done
AUTH_TOKEN="$token" "$bin" generate --endpoint "$url" --json --traces 100000 > "$out/load.json"
"$target_dir/release/examples/search_latency" "$url" "$token" "$rounds" | tee "$out/search.json"
