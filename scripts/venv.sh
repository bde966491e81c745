#!/usr/bin/env bash
# Prints the python of a virtualenv built from tests/sdk/requirements-<name>.txt, creating
# or refreshing it under ~/.cache/otel-worker/venvs when the requirements changed.
#   scripts/venv.sh proto|json|mcp   (tests/sdk/requirements-<name>.txt; mcp: the MCP SDK of tests/mcp/)
#   scripts/venv.sh <name> <requirements file>
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
name="$1"
requirements="${2:-$root/tests/sdk/requirements-$name.txt}"
venvs="${OTEL_WORKER_VENVS:-$HOME/.cache/otel-worker/venvs}"
if ! cmp -s "$requirements" "$venvs/$name/requirements.txt" 2>/dev/null; then
    rm -rf "${venvs:?}/$name"
    python3 -m venv "$venvs/$name"
    "$venvs/$name/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
    cp "$requirements" "$venvs/$name/requirements.txt"
fi
echo "$venvs/$name/bin/python"
