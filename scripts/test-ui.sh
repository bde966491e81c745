#!/usr/bin/env bash
# The web UI's browser test (tests/ui/browser.mjs) against a running server:
#   bash scripts/test-ui.sh <base-url> <token> [screenshot-dir]
# Installs Debian's chromium with apt if it is missing and the npm packages with npm ci.
# To refresh the README's screenshots: bash scripts/test-ui.sh <url> <token> docs/screenshots
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
    echo "[test-ui] installing Debian's chromium (apt)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund
node tests/ui/browser.mjs "$@"
