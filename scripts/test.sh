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

step "tests: unit, in-process handlers, CLI and the black-box API suite on the local server"
cargo test --workspace

step "the Cloudflare Worker: build, local D1, wrangler dev, the same black-box suite"
bash scripts/test-worker.sh
