"""Sends two traces of N spans (a tree of fan-out 4; in the second, every thousandth span
takes 200 us longer) as OTLP/JSON and prints their ids, for timing
`GET /v1/compare/traces` on large traces (docs/performance.md, "Comparing two traces").

    python3 scripts/compare-big-traces.py <base-url> <token> <spans per trace>
"""
import json, os, sys, time, urllib.request
base, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
now = time.time_ns() - 60_000_000_000
def trace(slow):
    tid = os.urandom(16).hex()
    spans = []
    root = os.urandom(8).hex()
    spans.append({"traceId": tid, "spanId": root, "name": "GET /batch", "kind": 2,
                  "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + 10_000_000_000)})
    parents = [root]
    for i in range(1, n):
        sid = os.urandom(8).hex()
        parent = parents[(i - 1) // 4]  # a tree of fan-out 4
        start = now + i * 100_000
        dur = 50_000 + (i % 7) * 1000 + (200_000 if slow and i % 1000 == 0 else 0)
        spans.append({"traceId": tid, "spanId": sid, "parentSpanId": parent, "name": f"step {i % 50}", "kind": 1,
                      "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + dur)})
        parents.append(sid)
    for k in range(0, n, 2000):
        body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "batch"}}]},
                                   "scopeSpans": [{"spans": spans[k:k + 2000]}]}]}
        req = urllib.request.Request(base + "/v1/traces", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        urllib.request.urlopen(req).read()
    return tid
a, b = trace(False), trace(True)
print(a, b)
