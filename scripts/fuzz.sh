#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets) for a bounded time, starting from seeds
# made from the test fixtures, and fails on any crash, panic, timeout or out-of-memory.
#   scripts/fuzz.sh [seconds per target, default 60]
# Needs nightly Rust (rustup's nightly toolchain); installs cargo-fuzz from crates.io.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-60}"
tools="${OTEL_WORKER_TOOLS:-$HOME/.cache/otel-worker/tools}"
if ! "$tools/bin/cargo-fuzz" --version >/dev/null 2>&1; then
    cargo install --quiet --root "$tools" cargo-fuzz
fi
export PATH="$tools/bin:$PATH"

corpus="$(mktemp -d)"
trap 'rm -rf "$corpus"' EXIT
"$(bash "$root/scripts/venv.sh" proto)" "$root/fuzz/make_seeds.py" "$corpus" >/dev/null

cd "$root/fuzz"
target_dir="${CARGO_TARGET_DIR:-$root/target}/fuzz"
for target in $(cargo +nightly fuzz list); do
    echo "fuzzing $target for ${seconds}s"
    cargo +nightly fuzz run --target-dir "$target_dir" "$target" "$corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=1048576 -print_final_stats=1 \
        2>"$corpus/$target.log" || { tail -n 60 "$corpus/$target.log"; echo "fuzz target $target failed" >&2; exit 1; }
    grep -E "^stat::number_of_executed_units|^Done " "$corpus/$target.log" | head -2
done
