#!/usr/bin/env bash
# The official MCP SDKs against a running otel-worker's MCP server (tests/mcp/): the Python SDK
# (`mcp`, client.py) and the TypeScript SDK (@modelcontextprotocol/sdk, client.mjs), each over
#   - stdio: the client starts `<cli-binary> mcp --base-url URL --auth-token TOKEN`, which talks
#     to the server over its HTTP API;
#   - Streamable HTTP: POST <base-url>/mcp, plus plain HTTP checks of the endpoint (401 without
#     the token, 403 for a foreign Origin, 405 for GET and DELETE, 202 for a notification).
# Each run sends its own trace and logs through the OTLP/HTTP API first, then calls every tool
# and compares the structured answers with the API's answers to the same questions.
#
#   scripts/test-mcp.sh <base-url> <token> <cli-binary> [--delete]
#
# With --delete the server must have been started with `dev --mcp-allow-delete` (the Worker:
# MCP_ALLOW_DELETE=true); the stdio server gets --allow-delete, and delete_trace must be listed
# and work. Without it, delete_trace must be absent and refused.
# Python packages go into a virtualenv under ~/.cache/otel-worker/venvs (pinned in
# tests/sdk/requirements-mcp.txt); Node packages come from package-lock.json (npm ci).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ $# -lt 3 ] || [ $# -gt 4 ] || { [ $# = 4 ] && [ "$4" != --delete ]; }; then
    echo "usage: scripts/test-mcp.sh <base-url> <token> <cli-binary> [--delete]" >&2; exit 2
fi
base_url="$1" token="$2" cli="$3" delete=()
[ $# = 4 ] && delete=(--delete)
case "$cli" in /*) ;; *) cli="$(pwd)/$cli" ;; esac
if [ ! -x "$cli" ]; then
    echo "test-mcp.sh: $cli is not an executable otel-worker-cli" >&2; exit 2
fi
mcp_python="$(bash "$root/scripts/venv.sh" mcp)"
if [ ! -d "$root/node_modules/@modelcontextprotocol/sdk" ] || [ ! -d "$root/node_modules/ajv" ]; then
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
fi

passed=0 failed=0
run() {
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
cd "$root/tests/mcp"
for transport in stdio http; do
    run "$mcp_python" client.py --base-url "$base_url" --token "$token" --transport "$transport" --cli "$cli" "${delete[@]}"
    run node client.mjs --base-url "$base_url" --token "$token" --transport "$transport" --cli "$cli" "${delete[@]}"
done
echo "mcp: $passed passed, $failed failed"
[ "$failed" = 0 ]
