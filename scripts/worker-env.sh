#!/usr/bin/env bash
# Puts every tool the Worker build needs in place, without
# downloading anything but crates and npm packages, and exports where they are.
#   WASM_BINDGEN_BIN  wasm-bindgen-cli, `cargo install`ed at the exact version Cargo.lock pins
#   ESBUILD_BIN       the esbuild that ships with wrangler (npm)
#   WASM_OPT_BIN      wasm-opt from the npm package binaryen
#   worker-build      `cargo install`ed at the version the otel-worker crate pins
# and a standard library for wasm32-unknown-unknown (rustup's target, else Debian's).
# Installs go to $OTEL_WORKER_TOOLS (default ~/.cache/otel-worker/tools) and are reused.
#
# Source it (`source scripts/worker-env.sh`) or run a command inside it
# (`scripts/worker-env.sh cargo clippy --target wasm32-unknown-unknown`). Only wasm32 work
# belongs in it: Debian's route sets RUSTC and build-std for every cargo call.

WORKER_BUILD_VERSION=0.8.7
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${OTEL_WORKER_TOOLS:-$HOME/.cache/otel-worker/tools}"
mkdir -p "$tools/bin"

say() { printf '[worker-env] %s\n' "$*" >&2; }

# wasm-bindgen-cli must match the wasm-bindgen library version exactly.
wasm_bindgen_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$repo_root/Cargo.lock")"
if [ "$("$tools/bin/wasm-bindgen" --version 2>/dev/null)" != "wasm-bindgen $wasm_bindgen_version" ]; then
    say "installing wasm-bindgen-cli $wasm_bindgen_version (crates.io)"
    # No --locked: the registry here lacks one version its lockfile pins.
    cargo install --quiet --root "$tools" --force wasm-bindgen-cli --version "$wasm_bindgen_version"
fi
# (`worker-build --version` prints the bare version.)
if [ "$("$tools/bin/worker-build" --version 2>/dev/null)" != "$WORKER_BUILD_VERSION" ]; then
    say "installing worker-build $WORKER_BUILD_VERSION (crates.io)"
    cargo install --quiet --root "$tools" --force worker-build --version "$WORKER_BUILD_VERSION"
fi
export PATH="$tools/bin:$PATH"
export WASM_BINDGEN_BIN="$tools/bin/wasm-bindgen"

# wrangler (with esbuild and workerd) and binaryen, pinned in package-lock.json.
if [ ! -x "$repo_root/node_modules/.bin/wrangler" ] || [ ! -x "$repo_root/node_modules/.bin/wasm-opt" ]; then
    say "installing npm packages (npm ci)"
    (cd "$repo_root" && npm ci --no-audit --no-fund --loglevel=error)
fi
esbuild_platform="$(node -p 'process.platform + "-" + process.arch')"
export ESBUILD_BIN="$repo_root/node_modules/@esbuild/$esbuild_platform/bin/esbuild"
export WASM_OPT_BIN="$repo_root/node_modules/binaryen/bin/wasm-opt"

# The wasm32 standard library: rustup's target if it is (or can be) installed, otherwise
# Debian's Rust with its std sources, built with -Zbuild-std. OTEL_WORKER_WASM_STD=debian
# forces the second route.
wasm_std_route="${OTEL_WORKER_WASM_STD:-auto}"
if [ "$wasm_std_route" = auto ]; then
    if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
        || rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
        wasm_std_route=rustup
    else
        wasm_std_route=debian
    fi
fi
if [ "$wasm_std_route" = debian ]; then
    if ! [ -x /usr/bin/wasm-ld ] || ! [ -d /usr/lib/rustlib/src/rust/library ]; then
        say "installing Debian's rustc-web cargo-web rust-web-src lld (apt)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rustc-web cargo-web rust-web-src lld >/dev/null
    fi
    # worker-build asks rustc for the target's libdir; with build-std there is none, so a
    # wrapper answers that probe with an empty directory and passes everything else on.
    shim="$tools/debian-rustc"
    mkdir -p "$shim/bin" "$shim/empty-libdir"
    cat > "$shim/bin/rustc" <<SHIM
#!/usr/bin/env bash
for arg in "\$@"; do
    if [ "\$arg" = target-libdir ]; then echo "$shim/empty-libdir"; exit 0; fi
done
exec /usr/bin/rustc "\$@"
SHIM
    chmod +x "$shim/bin/rustc"
    ln -sf /usr/bin/cargo "$shim/bin/cargo"
    export PATH="$shim/bin:$PATH"
    export RUSTC="$shim/bin/rustc"
    export RUSTC_BOOTSTRAP=1
    export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
    export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld
fi
say "wasm32 std from $wasm_std_route; wasm-bindgen $wasm_bindgen_version; worker-build $WORKER_BUILD_VERSION"
export OTEL_WORKER_WASM_STD_ROUTE="$wasm_std_route"

if [ "${BASH_SOURCE[0]}" = "$0" ] && [ "$#" -gt 0 ]; then
    exec "$@"
fi
