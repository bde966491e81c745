"""Records metrics with the real OpenTelemetry Python SDK and checks that otel-worker returns
every point exactly as the SDK recorded it.

One MeterProvider per temporality (cumulative, then delta; each run with its own
service.name), with a PeriodicExportingMetricReader over the OTLP metric exporter chosen by
--exporter (driven by force_flush: no background timer), and an InMemoryMetricReader beside it
as a second witness. Instruments, each with two attribute sets (string, int, bool and double
attributes):
  - sdk.test.requests: a Counter of ints (one series reaches 2**53 + 1: an int64 that a double
    would round);
  - sdk.test.queue.depth: an UpDownCounter of ints (one series goes negative);
  - sdk.test.request.duration: a Histogram with explicit bucket boundaries set by a View
    (values in the first, middle, last and overflow buckets and on a boundary; the View keeps
    four attribute keys, so the dropped `request.id` shows up in the exemplars'
    filteredAttributes);
  - sdk.test.temperature: an ObservableGauge of doubles (one of them a whole number).
Some measurements are made inside a sampled span (AlwaysOn sampler, trace_based exemplar
filter), so the exemplars carry that span's trace and span ids. Two collections per run (two
exports), then the first export is sent again, as an exporter's retry would: the server must
store its points once.

What the SDK sent is what the reader handed its OTLP exporter (a wrapper around export()
keeps the SDK's own MetricsData; the exporter is otherwise untouched); the expected JSON is
derived from it, never written by hand. The InMemoryMetricReader's collection of the same
round must agree with it on every value (its timestamps differ: each reader collects at its
own time).

Read back:
  - GET /v1/metrics?service=<run's service>: the four metrics, sorted by name, with their
    type, unit, description, temporality, monotonic, services, series and point counts;
    also with q= (a case-insensitive substring);
  - GET /v1/metrics/{name}?service=...: every series (attributes, resource, serviceName) and
    every point (times, value / count, sum, min, max, bucketCounts, explicitBounds,
    exemplars), oldest first; also with attr=, start=, end= and limit=;
  - GET /v1/metrics/{histogram}?service=...&step=60s: aligned steps whose counts and sums add
    up to what was recorded (cumulative: the increases; the first point of a series counts from
    zero or is only a baseline: the spec does not say, both are accepted and the line says
    which), with p50 <= p90 <= p99;
  - GET /v1/stats: metricPoints and metricSeries at least what this program stored.

    python metrics.py --base-url URL --token T --exporter proto|proto-gzip|json
    python metrics.py --base-url URL --token T --exporter grpc|grpc-gzip --grpc-endpoint http://HOST:PORT
"""

import argparse
import importlib
import json
import math
import sys
import time
import urllib.error
import urllib.parse
import uuid

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableGauge,
    TraceBasedExemplarFilter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    PeriodicExportingMetricReader,
    Sum,
)
from opentelemetry.sdk.metrics.export import Histogram as HistogramData
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from roundtrip import differences, get, hex_id

SCHEMA_URL = "https://opentelemetry.io/schemas/1.30.0"
COUNTER = "sdk.test.requests"
UPDOWN = "sdk.test.queue.depth"
HISTOGRAM = "sdk.test.request.duration"
GAUGE = "sdk.test.temperature"
NAMES = sorted([COUNTER, UPDOWN, HISTOGRAM, GAUGE])
BOUNDS = [0.0, 10.0, 25.0, 50.0, 100.0, 250.0]
# Both sets have the same keys in the same order and differ first in http.route, so the
# API's order (attributes as JSON text) is the same whatever its key order: /cart first.
CHECKOUT = {"http.route": "/checkout", "http.status": 200, "retry": False, "weight": 0.75}
CART = {"http.route": "/cart", "http.status": 503, "retry": True, "weight": 2.0}
BIG = 2**53 + 1
STEP_NS = 60 * 10**9

# Where each SDK metric exporter class lives: (gRPC, HTTP protobuf, HTTP JSON).
EXPORTERS = (
    "opentelemetry.exporter.otlp.proto.grpc.metric_exporter:OTLPMetricExporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter:OTLPMetricExporter",
    "opentelemetry.exporter.otlp.json.http.metric_exporter:OTLPMetricExporter",
)


def exporter_class(path):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def otlp_exporter(kind, base_url, token, grpc_endpoint, temporality):
    """The SDK's own OTLP metric exporter for `kind`, asking for `temporality` everywhere."""
    preferred = {
        Counter: temporality,
        UpDownCounter: temporality,
        Histogram: temporality,
        ObservableGauge: temporality,
    }
    if kind in ("grpc", "grpc-gzip"):
        import grpc

        compression = grpc.Compression.Gzip if kind == "grpc-gzip" else grpc.Compression.NoCompression
        return exporter_class(EXPORTERS[0])(
            endpoint=grpc_endpoint,
            insecure=True,
            headers={"authorization": f"Bearer {token}"},  # gRPC metadata keys are lowercase
            compression=compression,
            timeout=30,
            preferred_temporality=preferred,
        )
    headers = {"Authorization": f"Bearer {token}"}
    endpoint = f"{base_url}/v1/metrics"
    if kind == "json":
        return exporter_class(EXPORTERS[2])(
            endpoint=endpoint, headers=headers, timeout=30, preferred_temporality=preferred
        )
    from opentelemetry.exporter.otlp.proto.http import Compression

    compression = Compression.Gzip if kind == "proto-gzip" else Compression.NoCompression
    return exporter_class(EXPORTERS[1])(
        endpoint=endpoint,
        headers=headers,
        compression=compression,
        timeout=30,
        preferred_temporality=preferred,
    )


class Recording(MetricExporter):
    """Hands every export to the OTLP exporter unchanged and keeps what it was handed."""

    def __init__(self, otlp):
        super().__init__(
            preferred_temporality=otlp._preferred_temporality,
            preferred_aggregation=otlp._preferred_aggregation,
        )
        self.otlp = otlp
        self.exports = []  # (MetricsData, MetricExportResult), in export order

    def export(self, metrics_data, timeout_millis=10_000, **kwargs):
        result = self.otlp.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        self.exports.append((metrics_data, result))
        return result

    def force_flush(self, timeout_millis=10_000):
        return self.otlp.force_flush(timeout_millis=timeout_millis)

    def shutdown(self, timeout_millis=30_000, **kwargs):
        self.otlp.shutdown(timeout_millis=timeout_millis, **kwargs)


def record(service, kind, base_url, token, grpc_endpoint, temporality):
    """Two rounds of measurements, each collected and exported once, then the first export
    sent again. Returns (exported MetricsData list, witness MetricsData list, span ids, problems)."""
    problems = []
    otlp = otlp_exporter(kind, base_url, token, grpc_endpoint, temporality)
    recording = Recording(otlp)
    reader = PeriodicExportingMetricReader(recording, export_interval_millis=math.inf)
    witness = InMemoryMetricReader(preferred_temporality=dict(recording._preferred_temporality))
    resource = Resource.create(
        {"service.name": service, "deployment.environment": "test", "host.cores": 2},
        schema_url=SCHEMA_URL,
    )
    provider = MeterProvider(
        metric_readers=[reader, witness],
        resource=resource,
        exemplar_filter=TraceBasedExemplarFilter(),
        shutdown_on_exit=False,
        views=[
            View(
                instrument_name=HISTOGRAM,
                aggregation=ExplicitBucketHistogramAggregation(boundaries=BOUNDS),
                attribute_keys=set(CHECKOUT),
            )
        ],
    )
    tracer = TracerProvider(resource=resource, sampler=ALWAYS_ON).get_tracer("otel-worker.sdk-test", "1.2.3")
    meter = provider.get_meter("otel-worker.sdk-test.metrics", "1.2.3", schema_url=SCHEMA_URL)

    temperatures = {}

    def observe(options: CallbackOptions):
        return [Observation(value, attrs) for attrs, value in temperatures.values()]

    requests = meter.create_counter(COUNTER, unit="{request}", description="Requests handled")
    queue = meter.create_up_down_counter(UPDOWN, unit="{item}", description="Items waiting in the queue")
    duration = meter.create_histogram(HISTOGRAM, unit="ms", description="Time to answer a request")
    meter.create_observable_gauge(GAUGE, callbacks=[observe], unit="Cel", description="Room temperature")

    def timed(value, attrs, request_id):
        duration.record(value, {**attrs, "request.id": request_id})

    spans = []
    exported, witnessed = [], []

    def collect(round_name):
        count = len(recording.exports)
        reader.force_flush()
        if len(recording.exports) != count + 1:
            problems.append(f"{round_name}: the reader made {len(recording.exports) - count} exports, expected 1")
            return
        data, result = recording.exports[-1]
        if result is not MetricExportResult.SUCCESS:
            problems.append(f"{round_name}: the exporter reported {result}")
        exported.append(data)
        witnessed.append(witness.get_metrics_data())

    # Round 1.
    requests.add(3, CHECKOUT)
    requests.add(BIG, CART)
    queue.add(5, CHECKOUT)
    queue.add(-2, CHECKOUT)
    queue.add(-7, CART)
    for i, value in enumerate([0.0, 3.5, 10.0, 47.25, 900.0, 12.0]):
        timed(value, CHECKOUT, f"r-{i}")
    timed(30.0, CART, "r-10")
    with tracer.start_as_current_span("GET /checkout") as span:
        requests.add(2, CHECKOUT)
        queue.add(1, CART)
        timed(12.5, CHECKOUT, "r-20")
        timed(180.0, CHECKOUT, "r-21")
        timed(75.5, CART, "r-22")
        spans.append(span.get_span_context())
    temperatures = {"checkout": (CHECKOUT, 21.5), "cart": (CART, 20.0)}
    collect("round 1")

    # Round 2: more of everything, in a second span (another trace).
    requests.add(4, CHECKOUT)
    queue.add(3, CHECKOUT)
    timed(260.0, CHECKOUT, "r-30")
    timed(0.25, CART, "r-31")
    with tracer.start_as_current_span("GET /cart") as span:
        requests.add(1, CART)
        timed(99.0, CART, "r-40")
        timed(99.5, CART, "r-41")
        spans.append(span.get_span_context())
    temperatures = {"checkout": (CHECKOUT, 22.25), "cart": (CART, -3.5)}
    collect("round 2")

    # The exporter's retry of round 1: the same request again.
    if exported:
        result = otlp.export(exported[0])
        if result is not MetricExportResult.SUCCESS:
            problems.append(f"resending round 1: the exporter reported {result}")
    provider.shutdown()
    return exported, witnessed, spans, problems


def plain(value):
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return value


def attributes(mapping):
    return {key: plain(value) for key, value in (mapping or {}).items()}


def series_key(attrs):
    """The API orders series by their attributes as JSON text."""
    return json.dumps(attrs, sort_keys=True, ensure_ascii=False)


def exemplars(point):
    return [
        {
            "timeUnixNano": str(e.time_unix_nano),
            "value": e.value,
            "traceId": hex_id(e.trace_id, 32) if e.trace_id else None,
            "spanId": hex_id(e.span_id, 16) if e.span_id else None,
            "filteredAttributes": attributes(e.filtered_attributes),
        }
        for e in point.exemplars or ()
    ]


def expected_point(data, point):
    """A data point as the API returns it (raw, without step)."""
    out = {
        "timeUnixNano": str(point.time_unix_nano),
        # OTLP has no "unset": the SDK's None (gauges) goes on the wire as 0.
        "startTimeUnixNano": str(point.start_time_unix_nano or 0),
    }
    if isinstance(data, HistogramData):
        out.update(
            count=point.count,
            sum=float(point.sum),
            min=float(point.min),
            max=float(point.max),
            bucketCounts=list(point.bucket_counts),
            explicitBounds=[float(b) for b in point.explicit_bounds],
        )
    else:
        out["value"] = point.value
    found = exemplars(point)
    if found:
        out["exemplars"] = found
    return out


def describe(metric):
    data = metric.data
    if isinstance(data, Sum):
        kind, temporality, monotonic = "sum", data.aggregation_temporality, data.is_monotonic
    elif isinstance(data, HistogramData):
        kind, temporality, monotonic = "histogram", data.aggregation_temporality, None
    elif isinstance(data, Gauge):
        kind, temporality, monotonic = "gauge", None, None
    else:
        raise AssertionError(f"unexpected metric data {type(data).__name__}")
    return {
        "name": metric.name,
        "type": kind,
        "unit": metric.unit or "",
        "description": metric.description or "",
        "temporality": temporality.name.lower() if temporality is not None else None,
        "monotonic": monotonic,
    }


def expectations(collections):
    """{name: metric description + "series": {key: series}} from the SDK's MetricsData, in
    collection order (so each series' points are oldest first)."""
    metrics = {}
    for data in collections:
        for resource_metrics in data.resource_metrics:
            resource = resource_metrics.resource
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    entry = metrics.setdefault(metric.name, {**describe(metric), "series": {}})
                    if describe(metric) != {k: v for k, v in entry.items() if k != "series"}:
                        raise AssertionError(f"{metric.name} changed its description between collections")
                    for point in metric.data.data_points:
                        attrs = attributes(point.attributes)
                        series = entry["series"].setdefault(
                            series_key(attrs),
                            {
                                "attributes": attrs,
                                "resource": attributes(resource.attributes),
                                "serviceName": resource.attributes.get("service.name"),
                                "points": [],
                            },
                        )
                        series["points"].append(expected_point(metric.data, point))
    return metrics


def without_times(points):
    """Points without their collection's timestamps (exemplars keep theirs: the measurements')."""
    return [{k: v for k, v in p.items() if k not in ("timeUnixNano", "startTimeUnixNano")} for p in points]


def witness_problems(exported, witnessed):
    """The InMemoryMetricReader saw the same values as the exporting reader, round by round
    (exemplar times are the measurements' own, so those must agree too)."""
    problems = []
    for i, (sent, seen) in enumerate(zip(exported, witnessed), start=1):
        if seen is None:
            problems.append(f"round {i}: the InMemoryMetricReader collected nothing")
            continue
        want, got = expectations([sent]), expectations([seen])
        for name in sorted(set(want) | set(got)):
            if name not in want or name not in got:
                problems.append(f"round {i}: {name} only in the {'witness' if name in got else 'export'}")
                continue
            for key in sorted(set(want[name]["series"]) | set(got[name]["series"])):
                a, b = want[name]["series"].get(key), got[name]["series"].get(key)
                if a is None or b is None:
                    problems.append(f"round {i}: {name} {key} only in the {'witness' if a is None else 'export'}")
                    continue
                diffs = differences(without_times(a["points"]), without_times(b["points"]))
                diffs += differences(without_times(b["points"]), without_times(a["points"]))
                problems += [f"round {i}: witness vs export, {name} {key}: {d}" for d in sorted(set(diffs))]
    return problems


class Api:
    def __init__(self, base_url, token):
        self.base_url, self.token = base_url, token

    def get(self, path, params=()):
        """The decoded answer, or raises ApiError with the request and the server's answer."""
        query = urllib.parse.urlencode(list(params.items()) if isinstance(params, dict) else list(params))
        full = f"{path}?{query}" if query else path
        try:
            return get(self.base_url, self.token, full)
        except urllib.error.HTTPError as error:
            raise ApiError(f"GET {full}: HTTP {error.code} {error.read()[:500]!r}") from None

    def metric(self, name, params):
        return self.get(f"/v1/metrics/{urllib.parse.quote(name, safe='')}", params)


class ApiError(Exception):
    pass


def exemplar_value(got):
    """The spec says only "value: number" for exemplars: an integer exemplar may come back as
    1 or 1.0, so they are compared as numbers (points keep their exact JSON type)."""
    if isinstance(got, dict):
        return {k: (float(v) if k == "value" and isinstance(v, (int, float)) and not isinstance(v, bool) else v) for k, v in got.items()}
    return got


def normalised_exemplars(point):
    point = dict(point)
    if isinstance(point.get("exemplars"), list):
        point["exemplars"] = [exemplar_value(e) for e in point["exemplars"]]
    return point


def compare_series(what, want_series, got, absent_checks=True):
    """`got` (an answer of /v1/metrics/{name}) must hold exactly `want_series`, in the API's
    order, field for field."""
    problems = []
    got_series = got.get("series")
    if not isinstance(got_series, list):
        return [f"{what}: no series list in {json.dumps(got)[:300]}"]
    want_keys = [series_key(s["attributes"]) for s in want_series]
    got_keys = [series_key(s.get("attributes")) for s in got_series]
    if got_keys != want_keys:
        return [f"{what}: series {got_keys}, expected {want_keys} (sorted by attributes)"]
    for key, want, series in zip(want_keys, want_series, got_series):
        label = f"{what} {key}"
        head = {k: v for k, v in want.items() if k != "points"}
        problems += [f"{label}: {d}" for d in differences(head, series)]
        points = series.get("points")
        if not isinstance(points, list) or len(points) != len(want["points"]):
            problems.append(
                f"{label}: {len(points) if isinstance(points, list) else points!r} points, "
                f"expected {len(want['points'])} (times {[p['timeUnixNano'] for p in want['points']]}, "
                f"got {[p.get('timeUnixNano') for p in points] if isinstance(points, list) else None})"
            )
            continue
        for i, (w, g) in enumerate(zip(want["points"], points)):
            w = normalised_exemplars(w)
            g = normalised_exemplars(g) if isinstance(g, dict) else g
            problems += [f"{label} point {i}: {d}" for d in differences(w, g)]
            if absent_checks and isinstance(g, dict):
                if "flags" in g:
                    problems.append(f"{label} point {i}: flags {g['flags']!r} present, the SDK sent 0 (omitted when zero)")
                if "exemplars" not in w and "exemplars" in g:
                    problems.append(f"{label} point {i}: exemplars {g['exemplars']!r}, the SDK sent none (omitted when empty)")
    return problems


def metric_head(entry):
    return {k: v for k, v in entry.items() if k != "series"}


def check_run(api, service, exported, spans):
    """Everything readable about one run's service. Returns (problems, notes, points stored)."""
    problems, notes = [], []
    want = expectations(exported)
    if sorted(want) != NAMES:
        problems.append(f"the SDK exported {sorted(want)}, expected {NAMES}")
    for name, entry in want.items():
        if len(entry["series"]) != 2:
            problems.append(f"the SDK exported {len(entry['series'])} series of {name}, expected 2")
    total_points = sum(len(s["points"]) for e in want.values() for s in e["series"].values())

    # Exemplars: the in-span measurements carry the spans' ids (and only those).
    span_ids = {(hex_id(s.trace_id, 32), hex_id(s.span_id, 16)) for s in spans}
    exemplar_ids = {
        (e["traceId"], e["spanId"])
        for e_ in want.values()
        for s in e_["series"].values()
        for p in s["points"]
        for e in p.get("exemplars", [])
    }
    if exemplar_ids != span_ids:
        problems.append(f"the SDK's exemplars carry {sorted(exemplar_ids)}, expected the spans {sorted(span_ids)}")

    # The listing.
    listing = api.get("/v1/metrics", {"service": service})
    metrics = listing.get("metrics")
    if not isinstance(metrics, list):
        return problems + [f"GET /v1/metrics?service={service}: no metrics list: {json.dumps(listing)[:300]}"], notes, total_points
    names = [m.get("name") for m in metrics]
    if names != NAMES:
        problems.append(f"GET /v1/metrics?service=: names {names}, expected {NAMES} (sorted)")
    newest = max(int(p["timeUnixNano"]) for e in want.values() for s in e["series"].values() for p in s["points"])
    for listed in metrics:
        entry = want.get(listed.get("name"))
        if entry is None:
            continue
        expected_listing = {
            **metric_head(entry),
            "services": [service],
            "series": len(entry["series"]),
        }
        problems += [f"listing {entry['name']}: {d}" for d in differences(expected_listing, listed)]
        last = listed.get("lastSeenUnixNano")
        if not isinstance(last, str) or not last.isdigit():
            problems.append(f"listing {entry['name']}: lastSeenUnixNano {last!r}, expected a decimal string")
        elif int(last) < newest or int(last) > time.time_ns() + 60 * 10**9:
            problems.append(f"listing {entry['name']}: lastSeenUnixNano {last}, expected >= the newest point {newest} and not in the future")
    queried = api.get("/v1/metrics", {"service": service, "q": "Request.DUR"})
    if [m.get("name") for m in queried.get("metrics", [])] != [HISTOGRAM]:
        problems.append(f"GET /v1/metrics?q=Request.DUR: {[m.get('name') for m in queried.get('metrics', [])]}, expected [{HISTOGRAM!r}]")

    # Every series and point of every metric.
    for name in NAMES:
        entry = want.get(name)
        if entry is None:
            continue
        series = sorted(entry["series"].values(), key=lambda s: series_key(s["attributes"]))
        got = api.metric(name, {"service": service})
        what = f"{name}"
        problems += [f"{what}: {d}" for d in differences(metric_head(entry), got)]
        if got.get("partial") is not False:
            problems.append(f"{what}: partial {got.get('partial')!r}, expected false")
        problems += compare_series(what, series, got)

    # Filters: attr=, start=, end= (start <= t < end) and limit= (the newest, partial).
    entry = want.get(COUNTER)
    if entry:
        series = sorted(entry["series"].values(), key=lambda s: series_key(s["attributes"]))
        cart = [s for s in series if s["attributes"]["http.route"] == "/cart"]
        got = api.metric(COUNTER, [("service", service), ("attr", "http.route=/cart")])
        problems += compare_series(f"{COUNTER}?attr=http.route=/cart", cart, got)
        times = sorted({p["timeUnixNano"] for s in series for p in s["points"]})
        if len(times) == 2:
            late = [{**s, "points": [p for p in s["points"] if p["timeUnixNano"] == times[1]]} for s in series]
            early = [{**s, "points": [p for p in s["points"] if p["timeUnixNano"] == times[0]]} for s in series]
            got = api.metric(COUNTER, {"service": service, "start": times[1]})
            problems += compare_series(f"{COUNTER}?start={times[1]}", late, got)
            got = api.metric(COUNTER, {"service": service, "end": times[1]})
            problems += compare_series(f"{COUNTER}?end={times[1]}", early, got)
            got = api.metric(COUNTER, {"service": service, "start": times[0], "end": str(int(times[1]) + 1)})
            problems += compare_series(f"{COUNTER}?start={times[0]}&end={int(times[1]) + 1}", series, got)
            got = api.metric(COUNTER, {"service": service, "limit": 1})
            problems += compare_series(f"{COUNTER}?limit=1", late, got)
            if got.get("partial") is not True:
                problems.append(f"{COUNTER}?limit=1: partial {got.get('partial')!r}, expected true (2 points per series)")
        else:
            problems.append(f"{COUNTER}: the SDK's points have {len(times)} distinct times, expected 2")

    # The histogram in steps.
    entry = want.get(HISTOGRAM)
    if entry:
        found, note = check_histogram_steps(api, service, entry)
        problems += found
        if note:
            notes.append(note)
    return problems, notes, total_points


def fold(points, temporality, from_zero):
    """What the observations of a histogram series add up to: (count, sum, counted points).
    Cumulative: the increases between consecutive points (a reset when the start time changes
    or the count drops), the first point counting from zero if `from_zero`."""
    if temporality == "delta":
        return sum(p["count"] for p in points), sum(p["sum"] for p in points), list(points)
    count, total, counted, previous = 0, 0.0, [], None
    for p in points:
        if previous is None or p["startTimeUnixNano"] != previous["startTimeUnixNano"] or p["count"] < previous["count"]:
            if previous is None and not from_zero:
                previous = p
                continue
            count, total = count + p["count"], total + p["sum"]
        else:
            count, total = count + p["count"] - previous["count"], total + p["sum"] - previous["sum"]
        counted.append(p)
        previous = p
    return count, total, counted


def close(a, b):
    return isinstance(b, (int, float)) and not isinstance(b, bool) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def check_histogram_steps(api, service, entry):
    """GET /v1/metrics/{histogram}?step=60s against the recorded points."""
    problems, modes = [], []
    got = api.metric(HISTOGRAM, {"service": service, "step": "60s"})
    series = sorted(entry["series"].values(), key=lambda s: series_key(s["attributes"]))
    got_series = got.get("series") or []
    keys = [series_key(s.get("attributes")) for s in got_series]
    if keys != [series_key(s["attributes"]) for s in series]:
        return [f"{HISTOGRAM}?step=60s: series {keys}, expected {[series_key(s['attributes']) for s in series]}"], None
    for want, steps in zip(series, got_series):
        label = f"{HISTOGRAM}?step=60s {series_key(want['attributes'])}"
        problems += [f"{label}: {d}" for d in differences({k: v for k, v in want.items() if k != "points"}, steps)]
        points = steps.get("points") or []
        raw_ends = {(int(p["timeUnixNano"]) // STEP_NS + 1) * STEP_NS for p in want["points"]}
        ends = []
        for point in points:
            end = point.get("timeUnixNano")
            if not isinstance(end, str) or not end.isdigit() or int(end) not in raw_ends:
                problems.append(f"{label}: step time {end!r}, expected one of the ends {sorted(raw_ends)} of the steps holding points")
                continue
            ends.append(int(end))
            count = point.get("count")
            if not isinstance(count, (int, float)) or isinstance(count, bool):
                problems.append(f"{label}: step {end}: count {count!r}, expected a number")
                continue
            if not isinstance(count, int):
                # A number of observations, as the raw points' "count": n (a JSON integer).
                problems.append(f"{label}: step {end}: count {count!r} is not a JSON integer like the raw points' counts")
            quantiles = [point.get(q) for q in ("p50", "p90", "p99")]
            if count > 0 and (
                not all(isinstance(q, (int, float)) and not isinstance(q, bool) for q in quantiles)
                or not quantiles[0] <= quantiles[1] <= quantiles[2]
            ):
                problems.append(f"{label}: step {end}: p50, p90, p99 {quantiles}, expected numbers in that order")
        if ends != sorted(set(ends)):
            problems.append(f"{label}: step times {ends}, expected increasing")
        if entry["temporality"] == "delta" and set(ends) != raw_ends:
            problems.append(f"{label}: steps {sorted(ends)}, expected one per step holding a point {sorted(raw_ends)}")
        got_count = sum(p["count"] for p in points if isinstance(p.get("count"), (int, float)) and not isinstance(p["count"], bool))
        got_sum = sum(p.get("sum", 0) for p in points if isinstance(p.get("sum"), (int, float)))
        candidates = [True] if entry["temporality"] == "delta" else [True, False]
        matched = None
        for from_zero in candidates:
            count, total, counted = fold(want["points"], entry["temporality"], from_zero)
            if got_count == count and close(total, got_sum):
                matched = (from_zero, counted)
                break
        if matched is None:
            options = [fold(want["points"], entry["temporality"], z)[:2] for z in candidates]
            problems.append(f"{label}: steps add up to count {got_count}, sum {got_sum}; expected (count, sum) in {options}")
            continue
        modes.append("from zero" if matched[0] else "baseline")
        # Exemplars: each step's are among the raw points'; every counted point's are there.
        raw = [json.dumps(exemplar_value(e), sort_keys=True) for p in want["points"] for e in p.get("exemplars", [])]
        needed = [json.dumps(exemplar_value(e), sort_keys=True) for p in matched[1] for e in p.get("exemplars", [])]
        stepped = [json.dumps(exemplar_value(e), sort_keys=True) for p in points for e in p.get("exemplars", [])]
        for e in stepped:
            if e not in raw:
                problems.append(f"{label}: step exemplar {e} is none of the raw points'")
        for e in needed:
            if e not in stepped:
                problems.append(f"{label}: exemplar {e} of a counted point missing from the steps")
    note = None
    if entry["temporality"] == "cumulative" and modes:
        note = f"step=60s: the first cumulative point counted {'/'.join(sorted(set(modes)))}"
    return problems, note


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--exporter", choices=["proto", "proto-gzip", "json", "grpc", "grpc-gzip"], required=True)
    parser.add_argument("--grpc-endpoint", help="the OTLP/gRPC endpoint (http://HOST:PORT) for grpc exporters")
    args = parser.parse_args()
    if args.exporter.startswith("grpc") and not args.grpc_endpoint:
        parser.error(f"--exporter {args.exporter} needs --grpc-endpoint")
    api = Api(args.base_url, args.token)
    run_id = uuid.uuid4().hex[:12]
    failed = False
    stored = {"points": 0, "series": 0}
    for temporality in (AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA):
        name = temporality.name.lower()
        label = f"python-metrics/{args.exporter} {name}"
        service = f"python-metrics-{args.exporter}-{name}-{run_id}"
        exported, witnessed, spans, problems = record(
            service, args.exporter, args.base_url, args.token, args.grpc_endpoint, temporality
        )
        problems += witness_problems(exported, witnessed)
        notes, points = [], 0
        try:
            found, notes, points = check_run(api, service, exported, spans)
            problems += found
        except ApiError as error:
            problems.append(str(error))
        stored["points"] += points
        stored["series"] += sum(len(e["series"]) for e in expectations(exported).values())
        if problems:
            failed = True
            print(f"FAIL {label}: service {service}")
            for problem in problems:
                print("   ", problem)
        else:
            extra = f"; {'; '.join(notes)}" if notes else ""
            print(
                f"ok {label}: {points} points in {len(NAMES)} metrics of service {service} round-tripped "
                f"exactly, exemplars in traces {', '.join(hex_id(s.trace_id, 32) for s in spans)}{extra}"
            )
    try:
        stats = api.get("/v1/stats")
        problems = [
            f"/v1/stats {key}: {stats.get(key)!r}, expected at least the {stored[what]} this program stored"
            for key, what in (("metricPoints", "points"), ("metricSeries", "series"))
            if not isinstance(stats.get(key), int) or stats[key] < stored[what]
        ]
    except ApiError as error:
        problems = [str(error)]
    if problems:
        failed = True
        print(f"FAIL python-metrics/{args.exporter} stats")
        for problem in problems:
            print("   ", problem)
    else:
        print(
            f"ok python-metrics/{args.exporter} stats: metricPoints {stats['metricPoints']} >= {stored['points']}, "
            f"metricSeries {stats['metricSeries']} >= {stored['series']}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
