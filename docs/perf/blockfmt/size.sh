#!/usr/bin/env bash
# usage: size.sh NAME FEATURES   (run from this directory)
set -e
name=$1; feats=$2
here="$(cd "$(dirname "$0")" && pwd)"; repo="$(cd "$here/../../.." && pwd)"
cd "$here"; mkdir -p wasm
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"
"$repo"/scripts/worker-env.sh cargo build --release --lib --target wasm32-unknown-unknown ${feats:+--features $feats} 2> wasm/$name.log || { echo "$name BUILD FAILED"; tail -30 wasm/$name.log; exit 1; }
cp "$CARGO_TARGET_DIR"/wasm32-unknown-unknown/release/blockfmt.wasm wasm/$name.raw.wasm
"$repo"/node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals wasm/$name.raw.wasm -o wasm/$name.wasm
gzip -9 -c wasm/$name.wasm > wasm/$name.wasm.gz
printf '%-14s %-40s raw=%8d opt=%8d gz=%8d\n' $name "${feats:-(none)}" $(stat -c%s wasm/$name.raw.wasm) $(stat -c%s wasm/$name.wasm) $(stat -c%s wasm/$name.wasm.gz) | tee -a wasm/sizes.txt
