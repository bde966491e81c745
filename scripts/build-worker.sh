#!/usr/bin/env bash
# Builds the Cloudflare Worker into otel-worker/build/ (index.js + wasm). wrangler runs this
# as its [build] command, so `npx wrangler dev` and `npx wrangler deploy` build first.
# A bundle newer than every source it is built from is reused (wasm-opt alone takes
# minutes); OTEL_WORKER_REBUILD=1 forces a build.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bundle="$root/otel-worker/build/index.js"
if [ "${OTEL_WORKER_REBUILD:-0}" != 1 ] && [ -f "$bundle" ] && [ -f "$root/otel-worker/build/index_bg.wasm" ] \
    && [ -z "$(find "$root/otel-worker" "$root/otel-worker-core" "$root/Cargo.toml" "$root/Cargo.lock" \
        "$root/.cargo" -path "$root/otel-worker/build" -prune -o -type f -newer "$bundle" -print -quit)" ]; then
    echo "[build-worker] otel-worker/build is up to date" >&2
    exit 0
fi
source "$root/scripts/worker-env.sh"
cd "$root/otel-worker"
worker-build --release
