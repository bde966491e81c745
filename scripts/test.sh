#!/usr/bin/env bash
# Every check and test of otel-worker, from a fresh machine: installs what it needs first.
# This is the README's test command; CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "formatting (cargo fmt --check)"
cargo fmt --all --check

step "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets -- -D warnings

step "otel-worker-core compiles to wasm32 (the Worker's target)"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi
cargo check -p otel-worker-core --target wasm32-unknown-unknown

step "tests: unit, in-process handlers, CLI and the black-box API suite"
cargo test --workspace
