#!/usr/bin/env bash
# Runs the Worker's cron handler through wrangler dev's /__scheduled (needs
# `wrangler dev --test-scheduled`) and checks what retention deleted:
#   bash scripts/check-worker-retention.sh <base-url> <token>
# A trace that started 31 days ago must go, one from 29 days ago must stay (RETENTION_DAYS=30).
set -euo pipefail
url="$1"; token="$2"
now_ns="$(date +%s)000000000"
day_ns=86400000000000
post_trace() { # <trace id> <start ns>
    local end=$(($2 + 1000000))
    curl -sf -o /dev/null -X POST "$url/v1/traces" -H "authorization: Bearer $token" \
        -H 'content-type: application/json' --data-binary @- <<JSON
{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"retention-check"}}]},
 "scopeSpans":[{"spans":[{"traceId":"$1","spanId":"00000000000000a1","name":"old enough?",
 "startTimeUnixNano":"$2","endTimeUnixNano":"$end"}]}]}]}
JSON
}
status_of() { curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $token" "$url/v1/traces/$1"; }
old="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
recent="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
post_trace "$old" $((now_ns - 31 * day_ns))
post_trace "$recent" $((now_ns - 29 * day_ns))
[ "$(status_of "$old")" = 200 ] && [ "$(status_of "$recent")" = 200 ] || { echo "the traces were not stored" >&2; exit 1; }
curl -sf -o /dev/null "$url/__scheduled?cron=17+*+*+*+*"
old_status="$(status_of "$old")"; recent_status="$(status_of "$recent")"
echo "after the cron run: 31-day-old trace -> $old_status, 29-day-old trace -> $recent_status"
[ "$old_status" = 404 ] && [ "$recent_status" = 200 ]
