#!/usr/bin/env bash
# The Worker's cold start under workerd (docs/performance.md, "The Worker's cold start under
# workerd"): starts `workerd serve` on the build in otel-worker/build (or the directory given)
# with no D1, and times process start to the first answer on /health (the Worker's own 500
# naming the missing binding: the module was compiled and instantiated), RUNS times.
#
#   scripts/coldstart-worker.sh [build dir, default otel-worker/build] [runs, default 15]
#
# Build first with scripts/build-worker.sh; to compare two commits, build each (a git
# worktree) and run this on both build directories, alternately.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/otel-worker/build}" && pwd)" runs="${2:-15}"
workerd="$root/node_modules/@cloudflare/workerd-linux-64/bin/workerd"
[ -x "$workerd" ] || (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
dir="$(mktemp -d)"; trap 'rm -rf "$dir"' EXIT
# workerd resolves module names as given: the shim's "./index_bg.wasm" becomes "index_bg.wasm".
sed 's|"./index_bg.wasm"|"index_bg.wasm"|' "$build/index.js" > "$dir/index.js"
cp "$build/index_bg.wasm" "$dir/index_bg.wasm"
port=8791
cat > "$dir/config.capnp" <<CAPNP
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .w)],
  sockets = [(name = "http", address = "127.0.0.1:$port", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [(name = "index.js", esModule = embed "index.js"), (name = "index_bg.wasm", wasm = embed "index_bg.wasm")],
  compatibilityDate = "2026-05-03",
  compatibilityFlags = ["nodejs_compat"],
  bindings = [(name = "AUTH_TOKEN", text = "coldstart")],
);
CAPNP
echo "$(gzip -9 -c "$dir/index_bg.wasm" | wc -c) bytes gzip; ms from start to the first answer:"
for _ in $(seq "$runs"); do
    start=$(date +%s%N)
    "$workerd" serve "$dir/config.capnp" >/dev/null 2>&1 & pid=$!
    for _ in $(seq 1000); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health" || true)" != 000 ] && break
        sleep 0.005
    done
    echo $(( ($(date +%s%N) - start) / 1000000 ))
    kill "$pid"; wait "$pid" 2>/dev/null || true
done
