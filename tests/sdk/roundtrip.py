"""Exports a rich trace with the real OpenTelemetry Python SDK and checks that otel-worker
returns every field exactly as the SDK recorded it.

The spans handed to the OTLP exporter are the SDK's own ReadableSpan objects; the expected
JSON is derived from them, never written by hand. Any difference fails with a readable diff.

    python roundtrip.py --base-url URL --token T --exporter proto|proto-gzip|json
                        [--lock-db PATH]   # hold the SQLite write lock so the first try gets 503
    python roundtrip.py --base-url URL --token T --exporter grpc|grpc-gzip
                        --grpc-endpoint http://127.0.0.1:PORT   # OTLP/gRPC; reads back over HTTP
"""

import argparse
import importlib
import json
import sqlite3
import sys
import threading
import time
import urllib.request

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, set_span_in_context

# Every attribute type the Python SDK accepts, with the awkward values SDKs really send.
ATTRIBUTES = {
    "str.unicode": "héllo 🌍 ünïcödé ✓",
    "str.nul": "before\x00after",
    "str.empty": "",
    "bool.true": True,
    "bool.false": False,
    "int.big": 2**62 + 1,
    "int.negative": -42,
    "int.zero": 0,
    "double.pi": 3.141592653589793,
    "double.whole": 2.0,
    "double.negative": -0.5,
    "array.str": ["a", "ü", ""],
    "array.int": [1, -2, 2**40],
    "array.bool": [True, False],
    "array.double": [1.5, 2.0],
    "array.empty": [],
}


# Where each SDK exporter class lives, per signal: (gRPC, HTTP protobuf, HTTP JSON).
EXPORTERS = {
    "traces": (
        "opentelemetry.exporter.otlp.proto.grpc.trace_exporter:OTLPSpanExporter",
        "opentelemetry.exporter.otlp.proto.http.trace_exporter:OTLPSpanExporter",
        "opentelemetry.exporter.otlp.json.http.trace_exporter:OTLPSpanExporter",
    ),
    "logs": (
        "opentelemetry.exporter.otlp.proto.grpc._log_exporter:OTLPLogExporter",
        "opentelemetry.exporter.otlp.proto.http._log_exporter:OTLPLogExporter",
        "opentelemetry.exporter.otlp.json.http._log_exporter:OTLPLogExporter",
    ),
}


def exporter_class(path):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def exporter(kind, base_url, token, grpc_endpoint=None, signal="traces"):
    """The SDK's own OTLP exporter of `signal` for `kind` (proto, proto-gzip, json, grpc,
    grpc-gzip), sending to this server with its token."""
    grpc_path, proto_path, json_path = EXPORTERS[signal]
    if kind in ("grpc", "grpc-gzip"):
        import grpc

        compression = grpc.Compression.Gzip if kind == "grpc-gzip" else grpc.Compression.NoCompression
        return exporter_class(grpc_path)(
            endpoint=grpc_endpoint,
            insecure=True,
            headers={"authorization": f"Bearer {token}"},  # gRPC metadata keys are lowercase
            compression=compression,
            timeout=30,
        )
    headers = {"Authorization": f"Bearer {token}"}
    endpoint = f"{base_url}/v1/{signal}"
    if kind == "json":
        return exporter_class(json_path)(endpoint=endpoint, headers=headers, timeout=30)
    from opentelemetry.exporter.otlp.proto.http import Compression

    compression = Compression.Gzip if kind == "proto-gzip" else Compression.NoCompression
    return exporter_class(proto_path)(endpoint=endpoint, headers=headers, compression=compression, timeout=30)


def make_spans(label):
    """Three levels of nesting, every span kind, events, an exception, links, statuses."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create(
            {
                "service.name": f"python-sdk-{label}",
                "deployment.environment": "test",
                "host.cores": 2,
                "feature.flags": ["a", "b"],
            }
        )
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer(
        "otel-worker.sdk-test", "1.2.3", attributes={"scope.attr": "s", "scope.num": 7}
    )
    root = tracer.start_span("GET /checkout", kind=SpanKind.SERVER, attributes=ATTRIBUTES)
    root_ctx = set_span_in_context(root)
    client = tracer.start_span("POST payments", kind=SpanKind.CLIENT, context=root_ctx)
    client.add_event("request sent", {"bytes": 512, "retry": False, "ratio": 0.25})
    inner = tracer.start_span("serialize", kind=SpanKind.INTERNAL, context=set_span_in_context(client))
    try:
        raise ValueError("card declined: ünïcödé")
    except ValueError as error:
        inner.record_exception(error, attributes={"extra.int": 3})
        inner.set_status(Status(StatusCode.ERROR, "card declined"))
    inner.end()
    client.end()
    producer = tracer.start_span("publish order", kind=SpanKind.PRODUCER, context=root_ctx)
    producer.end()
    consumer = tracer.start_span(
        "consume order",
        kind=SpanKind.CONSUMER,
        context=root_ctx,
        links=[Link(producer.get_span_context(), {"link.kind": "follows", "link.n": 1, "link.ok": True})],
    )
    consumer.end()
    root.set_status(Status(StatusCode.OK))
    root.end()
    spans = memory.get_finished_spans()
    provider.shutdown()
    return spans


def hex_id(value, width):
    return format(value, f"0{width}x")


def plain(value):
    """The SDK's attribute values as JSON values (tuples become lists)."""
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return value


def attributes(mapping):
    return {key: plain(value) for key, value in (mapping or {}).items()}


def expected(span):
    parent = span.parent
    return {
        "traceId": hex_id(span.context.trace_id, 32),
        "spanId": hex_id(span.context.span_id, 16),
        "parentSpanId": hex_id(parent.span_id, 16) if parent else None,
        "name": span.name,
        "kind": span.kind.name.lower(),
        "startTimeUnixNano": str(span.start_time),
        "endTimeUnixNano": str(span.end_time),
        "durationNs": span.end_time - span.start_time,
        "status": {
            "code": span.status.status_code.name.lower(),
            "message": span.status.description or "",
        },
        "attributes": attributes(span.attributes),
        "resource": {"attributes": attributes(span.resource.attributes)},
        "scope": {
            "name": span.instrumentation_scope.name,
            "version": span.instrumentation_scope.version or "",
            "attributes": attributes(span.instrumentation_scope.attributes),
        },
        "events": [
            {"name": e.name, "timeUnixNano": str(e.timestamp), "attributes": attributes(e.attributes)}
            for e in span.events
        ],
        "links": [
            {
                "traceId": hex_id(link.context.trace_id, 32),
                "spanId": hex_id(link.context.span_id, 16),
                "attributes": attributes(link.attributes),
            }
            for link in span.links
        ],
        "droppedAttributesCount": 0,
        "droppedEventsCount": 0,
        "droppedLinksCount": 0,
    }


def tagged(value):
    """A value with its JSON type, so True never equals 1 and 2.0 never equals 2."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", value)
    return (type(value).__name__, value)


def differences(want, got, path="$"):
    """Every place where `got` differs from `want`; keys only in `got` are ignored."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [f"{path}: expected an object, got {got!r}"]
        found = []
        for key, value in want.items():
            if key not in got:
                found.append(f"{path}.{key}: missing (expected {value!r})")
            else:
                found.extend(differences(value, got[key], f"{path}.{key}"))
        return found
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [f"{path}: expected {want!r}, got {got!r}"]
        return [d for i, (w, g) in enumerate(zip(want, got)) for d in differences(w, g, f"{path}[{i}]")]
    if tagged(want) != tagged(got):
        return [f"{path}: expected {tagged(want)}, got {tagged(got)}"]
    return []


def get(base_url, token, path):
    request = urllib.request.Request(base_url + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def hold_write_lock(path, seconds, locked):
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    locked.set()
    time.sleep(seconds)
    connection.execute("ROLLBACK")
    connection.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--exporter", choices=["proto", "proto-gzip", "json", "grpc", "grpc-gzip"], required=True)
    parser.add_argument("--grpc-endpoint", help="the OTLP/gRPC endpoint (http://HOST:PORT) for grpc exporters")
    parser.add_argument("--lock-db", help="hold this SQLite database's write lock during the first try")
    parser.add_argument("--archived", action="store_true",
                        help="read the trace back once the server has archived it (a server started with --archive-after 0s)")
    args = parser.parse_args()
    if args.exporter.startswith("grpc") and not args.grpc_endpoint:
        parser.error(f"--exporter {args.exporter} needs --grpc-endpoint")
    label = args.exporter + ("-retry" if args.lock_db else "") + ("-archived" if args.archived else "")

    spans = make_spans(label)
    otlp = exporter(args.exporter, args.base_url, args.token, args.grpc_endpoint)
    if args.lock_db:
        locked = threading.Event()
        holder = threading.Thread(target=hold_write_lock, args=(args.lock_db, 3.0, locked))
        holder.start()
        locked.wait()
    started = time.monotonic()
    result = otlp.export(spans)
    took = time.monotonic() - started
    if args.lock_db:
        holder.join()
    otlp.shutdown()
    if args.lock_db and took < 2.0:
        print(f"FAIL python/{label}: the export was not held up by the lock, so no retry happened")
        return 1
    if result is not SpanExportResult.SUCCESS:
        print(f"FAIL python/{label}: the exporter reported {result}")
        return 1

    trace_id = hex_id(spans[0].context.trace_id, 32)
    if args.archived:
        # Every span leaves the database for the archive; the trace is then read from there.
        deadline = time.monotonic() + 30
        while True:
            stats = get(args.base_url, args.token, "/v1/stats")
            if stats["spans"] == 0 and stats.get("archive", {}).get("spans", 0) > 0:
                break
            if time.monotonic() > deadline:
                print(f"FAIL python/{label}: not archived after 30 s: {stats}")
                return 1
            time.sleep(0.1)
    trace = get(args.base_url, args.token, f"/v1/traces/{trace_id}")
    stored = {s["spanId"]: s for s in trace["spans"]}
    problems = []
    if trace["spanCount"] != len(spans) or len(trace["spans"]) != len(spans):
        problems.append(f"expected {len(spans)} spans exactly once, got spanCount={trace['spanCount']}")
    for span in spans:
        want = expected(span)
        got = stored.get(want["spanId"])
        if got is None:
            problems.append(f"span {want['name']!r} ({want['spanId']}) was not stored")
            continue
        problems.extend(f"span {want['name']!r}: {d}" for d in differences(want, got))
    if problems:
        print(f"FAIL python/{label}: trace {trace_id}")
        for problem in problems:
            print("   ", problem)
        return 1
    retried = f", retried through a locked database in {took:.1f}s" if args.lock_db else ""
    print(f"ok python/{label}: {len(spans)} spans of trace {trace_id} round-tripped exactly{retried}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
