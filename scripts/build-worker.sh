#!/usr/bin/env bash
# Builds the Cloudflare Worker into otel-worker/build/ (index.js + wasm). wrangler runs this
# as its [build] command, so `npx wrangler dev` and `npx wrangler deploy` build first.
# A bundle that a completed build stamped after the last source change is reused (wasm-opt
# alone takes minutes); OTEL_WORKER_REBUILD=1 forces a build. Builds never overlap.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
stamp="$root/otel-worker/build/.complete"

exec 9>"${TMPDIR:-/tmp}/otel-worker-build-$(printf '%s' "$root" | cksum | cut -d' ' -f1).lock"
flock 9

if [ "${OTEL_WORKER_REBUILD:-0}" != 1 ] && [ -f "$stamp" ] \
    && [ -z "$(find "$root/otel-worker" "$root/otel-worker-core" "$root/Cargo.toml" "$root/Cargo.lock" \
        "$root/.cargo" -path "$root/otel-worker/build" -prune -o -type f -newer "$stamp" -print -quit)" ]; then
    echo "[build-worker] otel-worker/build is up to date" >&2
    exit 0
fi
rm -f "$stamp"
source "$root/scripts/worker-env.sh"
cd "$root/otel-worker"
# The bundle is downloaded and compiled on every cold start and counts against Workers'
# size limit: optimise this build for size, across crates (the native build keeps speed).
# opt-level z is 41 KB (gzip) smaller than s with the same ingest and search speed under
# workerd (scripts/perf-worker.sh, docs/performance.md).
export CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
worker-build --release
# worker-build keeps the function-name section (it passes wasm-opt --debuginfo): 330 KB raw,
# 84 KB gzip that no request needs. A panic still logs its message and source location
# (console_error_panic_hook); only the wasm frames of a stack trace lose their names.
"$WASM_OPT_BIN" build/index_bg.wasm --strip-debug --strip-producers -o build/index_bg.wasm \
    --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int --enable-bulk-memory \
    --enable-multivalue --enable-reference-types --enable-exception-handling
touch "$stamp"
