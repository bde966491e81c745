#!/usr/bin/env bash
# Every check and test of otel-worker, from a fresh machine: installs what it needs first
# (crates with cargo, npm packages with npm ci, Debian packages with apt when rustup has no
# wasm32 target). This is the README's test command; CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "formatting (cargo fmt --check)"
cargo fmt --all --check

step "lints (cargo clippy -D warnings), native and wasm32"
cargo clippy --workspace --all-targets -- -D warnings
scripts/worker-env.sh cargo clippy -p otel-worker-core -p otel-worker --target wasm32-unknown-unknown -- -D warnings

step "dependency policy (cargo deny: licenses, bans, sources; deny.toml)"
# `advisories` is left out: the RustSec database is fetched from GitHub, which this
# project's machines cannot reach.
tools="${OTEL_WORKER_TOOLS:-$HOME/.cache/otel-worker/tools}"
if ! "$tools/bin/cargo-deny" --version >/dev/null 2>&1; then
    cargo install --quiet --locked --root "$tools" cargo-deny
fi
"$tools/bin/cargo-deny" --color never check licenses bans sources

step "tests: unit, in-process handlers, CLI and the black-box API suite on the local server"
cargo test --workspace

step "real OpenTelemetry SDKs (Python, Node) against the local server, and a retry through a locked database"
target_dir="${CARGO_TARGET_DIR:-target}"
sdk_state="$(mktemp -d)"
sdk_token="sdk-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
"$target_dir/debug/otel-worker-cli" dev --listen 127.0.0.1:0 --auth-token "$sdk_token" \
    --db "$sdk_state/sdk.db" 2>"$sdk_state/server.log" &
sdk_server=$!
trap 'kill "$sdk_server" 2>/dev/null || true; rm -rf "$sdk_state"' EXIT
sdk_url=""
for _ in $(seq 1 100); do
    sdk_url="$(grep -o 'listening on http://[0-9.:]*' "$sdk_state/server.log" | cut -d' ' -f3 || true)"
    [ -n "$sdk_url" ] && break
    sleep 0.1
done
[ -n "$sdk_url" ] || { cat "$sdk_state/server.log"; echo "the local server did not start" >&2; exit 1; }
bash scripts/test-sdks.sh "$sdk_url" "$sdk_token" "$sdk_state/sdk.db"
kill "$sdk_server"; wait "$sdk_server" 2>/dev/null || true

step "fuzzing: each cargo-fuzz target for 60 s from the fixtures' seeds"
bash scripts/fuzz.sh 60

step "the Cloudflare Worker: build, local D1, wrangler dev, the same black-box suite"
bash scripts/test-worker.sh
