"""Emits log records with the real OpenTelemetry Python SDK and checks that otel-worker
returns every field exactly as the SDK recorded it.

The records come from the stdlib `logging` module through the SDK's LoggingHandler, inside
an active span (so they carry its trace and span ids): a plain message, one with `extra=`
attributes of every scalar type, a WARNING with %-formatting, an ERROR with an exception
(logger.exception, so exception.type/message/stacktrace), and one after the span ended
(no trace context). One more goes through the SDK's Logger API: a map body with bytes and
nested values, an event name, a scope with a version, attributes and a schema URL, and no
timestamp (only the observed time). The ReadableLogRecords handed to the OTLP exporter are
the SDK's own (captured by its in-memory exporter); the expected JSON is derived from them,
never written by hand. Any difference fails with a readable diff.

Read back: GET /v1/traces/{traceId}/logs (the span's records, oldest first), and
GET /v1/logs?service=<this run's service> (every record, newest first) and the same with
severity=warn (only WARN and above). Each run has its own service.name, so runs can share a
server.

    python logs.py --base-url URL --token T --exporter proto|proto-gzip|json
    python logs.py --base-url URL --token T --exporter grpc|grpc-gzip --grpc-endpoint http://HOST:PORT
    python logs.py ... --archived   # read back once the records are in the archive's blocks
"""

import argparse
import base64
import json
import logging
import sys
import time
import urllib.parse
import uuid
from collections.abc import Mapping

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from roundtrip import differences, exporter, get, hex_id

SCHEMA_URL = "https://opentelemetry.io/schemas/1.30.0"


def make_records(service):
    """The records the SDK hands to its exporter, and the trace id of the active span."""
    memory = InMemoryLogRecordExporter()
    resource = Resource.create(
        {
            "service.name": service,
            "deployment.environment": "test",
            "host.cores": 2,
            "feature.flags": ["a", "b"],
        },
        schema_url=SCHEMA_URL,
    )
    log_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    log_provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    tracer = TracerProvider(resource=resource).get_tracer("otel-worker.sdk-test", "1.2.3")

    handler = LoggingHandler(level=logging.DEBUG, logger_provider=log_provider)
    std = logging.getLogger("otel-worker.sdk-test.logs")
    std.setLevel(logging.DEBUG)
    std.propagate = False
    std.addHandler(handler)
    try:
        with tracer.start_as_current_span("GET /checkout") as span:
            std.info("checkout started: héllo 🌍 ünïcödé ✓")
            std.info(
                "payment authorized",
                extra={
                    "order.id": "A-17",
                    "order.items": 3,
                    "order.big": 2**62 + 1,
                    "order.total": 12.5,
                    "order.whole": 2.0,
                    "order.paid": True,
                    "order.gift": False,
                },
            )
            std.warning("inventory low: %d left", 2)
            try:
                raise ValueError("card declined: ünïcödé")
            except ValueError:
                std.exception("charge failed")
            api = log_provider.get_logger(
                "otel-worker.sdk-test.api", "1.2.3", schema_url=SCHEMA_URL, attributes={"scope.attr": "s", "scope.num": 7}
            )
            api.emit(
                severity_number=SeverityNumber.INFO2,
                severity_text="INFO2",
                body={
                    "order": {"id": 42, "items": ["a", "ü"], "total": 9.5, "paid": True},
                    "raw": b"\x00\x01\xfe\xff",
                    "empty": [],
                },
                attributes={"event.kind": "order", "event.ratio": 0.25, "event.tags": ["x", "y"]},
                event_name="order.placed",
            )
            trace_id = span.get_span_context().trace_id
        std.info("shutting down (no active span)")
    finally:
        std.removeHandler(handler)
    records = memory.get_finished_logs()
    log_provider.shutdown()
    return records, hex_id(trace_id, 32)


def value(v):
    """An OTLP AnyValue as the API's plain JSON: bytes as base64, tuples as lists."""
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, Mapping):
        return {key: value(item) for key, item in v.items()}
    if isinstance(v, (tuple, list)):
        return [value(item) for item in v]
    return v


def attributes(mapping):
    return {key: value(item) for key, item in (mapping or {}).items()}


def expected(readable):
    record = readable.log_record
    scope = readable.instrumentation_scope
    return {
        "timeUnixNano": str(record.timestamp or 0),
        "observedTimeUnixNano": str(record.observed_timestamp or 0),
        "severityNumber": record.severity_number.value if record.severity_number is not None else 0,
        "severityText": record.severity_text or "",
        "body": value(record.body),
        "attributes": attributes(record.attributes),
        "resource": {
            "attributes": attributes(readable.resource.attributes),
            "droppedAttributesCount": 0,
            "schemaUrl": readable.resource.schema_url or "",
        },
        "scope": {
            "name": scope.name,
            "version": scope.version or "",
            "attributes": attributes(scope.attributes),
            "droppedAttributesCount": 0,
            "schemaUrl": scope.schema_url or "",
        },
        "traceId": hex_id(record.trace_id, 32) if record.trace_id else None,
        "spanId": hex_id(record.span_id, 16) if record.span_id else None,
        "flags": int(record.trace_flags or 0),
        "eventName": record.event_name or "",
        "droppedAttributesCount": readable.dropped_attributes,
        "serviceName": readable.resource.attributes.get("service.name"),
    }


def key(log):
    """Every record of a run has its own body."""
    return json.dumps(log["body"], sort_keys=True, ensure_ascii=False)


def pages(base_url, token, path, params):
    """Every record of a listing, following nextCursor to the end."""
    found = []
    while True:
        page = get(base_url, token, f"{path}?{urllib.parse.urlencode(params)}")
        found.extend(page["logs"])
        if not page.get("nextCursor"):
            return found
        params = {**params, "before": page["nextCursor"]}


def compare(what, wants, got, newest_first):
    """`got` must hold each of `wants` exactly once, field for field, in time order.

    `got` is the server's listing; `wants` only give the set, the order is checked on `got`."""
    problems = []
    # A record without a time is placed at its observed time (OTLP: use it when time is 0).
    times = [int(log["timeUnixNano"]) or int(log["observedTimeUnixNano"]) for log in got]
    if times != sorted(times, reverse=newest_first):
        order = "newest" if newest_first else "oldest"
        problems.append(f"{what}: not {order} first: timeUnixNano (else observedTimeUnixNano) {times}")
    stored = {}
    for log in got:
        stored.setdefault(key(log), []).append(log)
    for want in wants:
        matches = stored.pop(key(want), [])
        if len(matches) != 1:
            problems.append(f"{what}: record {key(want)} stored {len(matches)} times, expected once")
        if matches:
            problems.extend(f"{what}: record {key(want)}: {d}" for d in differences(want, matches[0]))
    for body in stored:
        problems.append(f"{what}: unexpected record {body}")
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--exporter", choices=["proto", "proto-gzip", "json", "grpc", "grpc-gzip"], required=True)
    parser.add_argument("--grpc-endpoint", help="the OTLP/gRPC endpoint (http://HOST:PORT) for grpc exporters")
    parser.add_argument("--archived", action="store_true",
                        help="read the records back once the server has archived them (a server started with --archive-after 0s)")
    args = parser.parse_args()
    if args.exporter.startswith("grpc") and not args.grpc_endpoint:
        parser.error(f"--exporter {args.exporter} needs --grpc-endpoint")
    label = f"python-logs/{args.exporter}" + ("-archived" if args.archived else "")
    service = f"python-logs-{args.exporter}-{uuid.uuid4().hex[:12]}"

    records, trace_id = make_records(service)
    otlp = exporter(args.exporter, args.base_url, args.token, args.grpc_endpoint, signal="logs")
    result = otlp.export(records)
    otlp.shutdown()
    if result is not LogRecordExportResult.SUCCESS:
        print(f"FAIL {label}: the exporter reported {result}")
        return 1
    if args.archived:
        # Every record leaves the database for a block of the archive; they are then read
        # from there.
        deadline = time.monotonic() + 30
        while True:
            stats = get(args.base_url, args.token, "/v1/stats")
            if stats["logs"] == 0 and stats.get("archive", {}).get("records", 0) >= len(records):
                break
            if time.monotonic() > deadline:
                print(f"FAIL {label}: not archived after 30 s: {stats}")
                return 1
            time.sleep(0.1)

    wants = [expected(record) for record in records]
    in_span = [want for want in wants if want["traceId"] == trace_id]
    warned = [want for want in wants if want["severityNumber"] >= SeverityNumber.WARN.value]
    problems = []
    if len(in_span) != len(wants) - 1:
        problems.append(f"the SDK put {len(in_span)} of {len(wants)} records in the span, expected all but one")
    trace_logs = get(args.base_url, args.token, f"/v1/traces/{trace_id}/logs")
    if trace_logs.get("nextCursor") is not None:
        problems.append(f"trace logs: nextCursor {trace_logs['nextCursor']!r} for {len(wants)} records")
    problems += compare("trace logs", in_span, trace_logs["logs"], newest_first=False)
    listed = pages(args.base_url, args.token, "/v1/logs", {"service": service, "limit": 1000})
    problems += compare("service logs", wants, listed, newest_first=True)
    severe = pages(args.base_url, args.token, "/v1/logs", {"service": service, "severity": "warn", "limit": 1000})
    problems += compare("severity=warn logs", warned, severe, newest_first=True)
    if problems:
        print(f"FAIL {label}: service {service}, trace {trace_id}")
        for problem in problems:
            print("   ", problem)
        return 1
    print(
        f"ok {label}: {len(wants)} records of service {service} round-tripped exactly "
        f"({len(in_span)} in trace {trace_id}, {len(warned)} at warn and above)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
