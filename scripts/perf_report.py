"""Summarises the measurements of scripts/perf.sh as a markdown table (medians of the
runs) and draws ingest throughput and p99 latency against concurrency.

    perf_report.py <results dir> <chart.png>
"""
import glob
import json
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results, chart = sys.argv[1], sys.argv[2]


def load(name):
    with open(os.path.join(results, name + ".json")) as f:
        return json.load(f)


def runs(prefix):
    return [json.load(open(p)) for p in sorted(glob.glob(os.path.join(results, prefix + "-[0-9]*.json")))]


def median(items, key):
    return statistics.median(r[key] for r in items)


print("| what | measured (median of runs) |")
print("| --- | --- |")
for label, prefix in (("protobuf", "protobuf"), ("OTLP/JSON", "json")):
    rs = runs(prefix)
    print(
        f"| ingest, {label}, {len(rs)} runs of {median(rs, 'seconds'):.0f} s | "
        f"{median(rs, 'spansPerSecond'):,.0f} spans/s, p50 {median(rs, 'p50Ms'):.1f} ms, "
        f"p99 {median(rs, 'p99Ms'):.1f} ms, failed requests {sum(r['errors'] for r in rs)}, "
        f"rejected spans {sum(r['spansRejected'] for r in rs)} |"
    )
    print(
        f"| {label}: server peak RSS / WAL peak / disk per 1M spans | "
        f"{median(rs, 'peakRssMb'):.0f} MB / {median(rs, 'walPeakBytes') / 1e6:.0f} MB / "
        f"{median(rs, 'diskMbPerMillionSpans'):.0f} MB |"
    )
memory = load("memory")
print(f"| same protobuf load, in-memory database | {memory['spansPerSecond']:,.0f} spans/s, p99 {memory['p99Ms']:.1f} ms |")
idle, busy = load("reads-idle"), load("reads-during-ingest")
stored = load("million-load")["spansAccepted"]
print(
    f"| `GET /v1/traces` (20) at {stored:,} spans | p50 {idle['listP50Ms']:.2f} ms, "
    f"p99 {idle['listP99Ms']:.2f} ms ({idle['listRequests']} requests) |"
)
print(
    f"| `GET /v1/traces/{{id}}` (10 spans) at {stored:,} spans | p50 {idle['traceP50Ms']:.2f} ms, "
    f"p99 {idle['traceP99Ms']:.2f} ms |"
)
during = load("reads-during-ingest-load")
print(
    f"| `GET /v1/traces` during ingest ({during['spansPerSecond']:,.0f} spans/s) | "
    f"p50 {busy['listP50Ms']:.1f} ms, p99 {busy['listP99Ms']:.1f} ms |"
)

sweep = sorted(
    (int(os.path.basename(p)[6:-5]), json.load(open(p)))
    for p in glob.glob(os.path.join(results, "sweep-*.json"))
)
levels = [c for c, _ in sweep]
fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
ax.plot(levels, [r["spansPerSecond"] / 1000 for _, r in sweep], "o-", color="tab:blue")
ax.set_xscale("log", base=2)
ax.set_xticks(levels, [str(c) for c in levels])
ax.set_xlabel("concurrent connections")
ax.set_ylabel("ingest, thousand spans/s", color="tab:blue")
ax2 = ax.twinx()
ax2.plot(levels, [r["p99Ms"] for _, r in sweep], "s--", color="tab:red")
ax2.set_ylabel("p99 request latency, ms", color="tab:red")
ax.set_title("otel-worker-cli dev (SQLite), OTLP/protobuf, 100 spans/request")
fig.tight_layout()
fig.savefig(chart)
print()
print("| connections | spans/s | p99 ms |")
print("| --- | --- | --- |")
for c, r in sweep:
    print(f"| {c} | {r['spansPerSecond']:,.0f} | {r['p99Ms']:.1f} |")
