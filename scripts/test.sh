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

step "docs (cargo doc, every intra-doc link resolved), native and the Worker on wasm32"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --exclude otel-worker --quiet
RUSTDOCFLAGS="-D warnings" scripts/worker-env.sh cargo doc -p otel-worker --no-deps --quiet \
    --target wasm32-unknown-unknown

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

# Starts `otel-worker-cli dev` on free ports with a fresh database in $1 and token $2, OTLP/gRPC
# on $3 if given and not empty (else a free port), and the rest as more `dev` arguments; sets
# $server_pid, $server_url and $server_grpc_url (http://127.0.0.1:PORT).
start_local_server() {
    "$target_dir/debug/otel-worker-cli" dev --listen 127.0.0.1:0 --grpc-listen "${3:-127.0.0.1:0}" --auth-token "$2" \
        --db "$1/test.db" "${@:4}" 2>"$1/server.log" &
    server_pid=$!
    server_url="" server_grpc_url=""
    for _ in $(seq 1 100); do
        server_url="$(grep -o 'listening on http://[0-9.:]*' "$1/server.log" | cut -d' ' -f3 || true)"
        server_grpc_url="$(grep -o 'OTLP/gRPC on [0-9.:]*' "$1/server.log" | cut -d' ' -f3 || true)"
        if [ -n "$server_url" ] && [ -n "$server_grpc_url" ]; then
            server_grpc_url="http://$server_grpc_url"
            return 0
        fi
        sleep 0.1
    done
    cat "$1/server.log"; echo "the local server did not start" >&2; exit 1
}
target_dir="${CARGO_TARGET_DIR:-target}"
state="$(mktemp -d)"
server_pid=""
trap 'if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi; rm -rf "$state"' EXIT
new_token() { echo "test-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"; }
# Exits unless port $1 is free on the loopback addresses `localhost` may resolve to (127.0.0.1
# and ::1): a connection that succeeds means something listens there.
require_free_port() {
    local host address
    for host in 127.0.0.1 ::1; do
        if timeout 5 bash -c ": <>/dev/tcp/$host/$1" 2>/dev/null; then
            address="$host:$1"; [[ "$host" == *:* ]] && address="[$host]:$1"
            echo "port $1 is taken: something listens on $address (see: ss -ltnp 'sport = $1')." \
                "The SDK step needs it free, for its server's OTLP/gRPC on the SDKs' default port;" \
                "stop that program and run again." >&2
            exit 1
        fi
    done
}

step "real OpenTelemetry SDKs (Python, Node: traces, logs, gRPC refusals, env-configured defaults, zero configuration on the default port 4317; HTTP and gRPC) against the local server, and a retry through a locked database"
# The zero-configuration check needs the server where the SDK sends by default: 127.0.0.1:4317.
require_free_port 4317
mkdir -p "$state/sdk"; token="$(new_token)"
start_local_server "$state/sdk" "$token" 127.0.0.1:4317
bash scripts/test-sdks.sh "$server_url" "$token" "$state/sdk/test.db" "$server_grpc_url" zero-config
echo "==> the CI gate example: the Python SDK's checkout runs, \`check\` passes the unchanged one and fails the slower one"
bash scripts/check-gate-example.sh "$server_url" "$token" "$target_dir/debug/otel-worker-cli"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

step "the archive: the black-box suite again with every trace archived at once, and the Python SDK's spans and log records read back field by field from the archive"
OTEL_WORKER_TEST_ARCHIVE_AFTER=0s cargo test -p otel-worker-cli --test api --test compare --test hostile \
    --test search --test live --test logs --test metrics --test mcp --test share
mkdir -p "$state/archive"; token="$(new_token)"
start_local_server "$state/archive" "$token" "" --archive-after 0s
proto_python="$(bash scripts/venv.sh proto)"; json_python="$(bash scripts/venv.sh json)"
(cd tests/sdk && "$proto_python" roundtrip.py --base-url "$server_url" --token "$token" --exporter proto --archived \
    && "$json_python" roundtrip.py --base-url "$server_url" --token "$token" --exporter json --archived \
    && "$proto_python" logs.py --base-url "$server_url" --token "$token" --exporter proto --archived \
    && "$json_python" logs.py --base-url "$server_url" --token "$token" --exporter json --archived)
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

step "MCP: the official Python and TypeScript SDKs over stdio and Streamable HTTP against the local server (delete_trace allowed)"
mkdir -p "$state/mcp"; token="$(new_token)"
start_local_server "$state/mcp" "$token" "" --mcp-allow-delete
bash scripts/test-mcp.sh "$server_url" "$token" "$target_dir/debug/otel-worker-cli" --delete
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

step "the web UI in headless Chromium (Debian's chromium, playwright-core) against the local server"
mkdir -p "$state/ui"; token="$(new_token)"
start_local_server "$state/ui" "$token"
bash scripts/test-ui.sh "$server_url" "$token" "$target_dir/screenshots/local"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

step "fuzzing: each cargo-fuzz target for 60 s from the fixtures' seeds"
bash scripts/fuzz.sh 60

step "the Cloudflare Worker: build, local D1, wrangler dev, the same black-box suite"
bash scripts/test-worker.sh

step "storage budgets under sustained load, both homes: nothing lost, every database within its budget"
bash scripts/check-capacity.sh local 30 3000 4
bash scripts/check-capacity.sh worker 90 1000 4 3
