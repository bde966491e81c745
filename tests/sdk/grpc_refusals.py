"""Exports the OTLP/gRPC server refuses, through the real OpenTelemetry Python SDK's gRPC trace
exporter: the SDK must report the failure promptly, and nothing of the export may be stored.

  --case no-token    the rich trace of roundtrip.py without the `authorization` metadata: the
                     server answers UNAUTHENTICATED, which is not retryable, so the exporter
                     makes exactly one attempt and returns FAILURE at once.
  --case oversized   a batch of spans with big string attributes, about 12 MB of protobuf,
                     over the server's default limit of 10 MiB (--max-body-bytes): the server
                     answers RESOURCE_EXHAUSTED without a RetryInfo, which OTLP says a client
                     SHOULD treat as not retryable.

Each attempt the exporter makes is recorded (a wrapper around its gRPC stub's Export call, the
exporter otherwise untouched) with the status it got and whether the answer carried a
`google.rpc.retryinfo-bin` trailer. Checked: the exporter returned FAILURE; every attempt got
the expected status and no RetryInfo; no span of the trace is stored (GET /v1/traces/{id} is
404); for no-token, one attempt only and well within a few seconds.

The Python SDK (1.45.2) treats RESOURCE_EXHAUSTED as retryable whatever the server says (its
_RETRYABLE_ERROR_CODES), against OTLP: for the oversized case it retries with backoff until its
timeout (the default, 10 s, as a user would have it) runs out. That is the SDK's policy, not
the server's, so the oversized case checks that the server never invited a retry and that the
exporter gives up within its timeout, and prints how many attempts it made; with --strict it
also requires a single attempt, as OTLP asks of clients (fails with this SDK version).

    python grpc_refusals.py --base-url URL --token T --grpc-endpoint http://HOST:PORT
                            --case no-token|oversized [--strict]
"""

import argparse
import logging
import os
import sys
import time
import urllib.error

import grpc
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from roundtrip import get, hex_id, make_spans

# otel-worker's default --max-body-bytes: 10 MiB.
DEFAULT_LIMIT = 10 * 1024 * 1024
RETRY_INFO = "google.rpc.retryinfo-bin"


def big_spans(label, total_bytes):
    """Spans of one trace whose string attributes add up to `total_bytes` (no limit on an
    attribute's length, the SDK's default too)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"python-sdk-{label}"}),
        span_limits=SpanLimits(max_attribute_length=None),
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("otel-worker.sdk-test")
    chunk = 1_000_000
    with tracer.start_as_current_span("upload batch"):
        for i in range(total_bytes // chunk):
            with tracer.start_as_current_span(f"chunk {i}") as span:
                span.set_attribute("payload", f"{i:07d}|" * (chunk // 8))
    spans = memory.get_finished_spans()
    provider.shutdown()
    return spans


class Said(logging.Handler):
    """What the SDK logs, as lines."""

    def __init__(self):
        super().__init__(level=logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")


def record_attempts(otlp):
    """Each Export call the exporter makes, as (status code, RetryInfo trailer present). The
    exporter offers no hook for this: its stub (_client) is wrapped."""
    attempts = []
    client = getattr(otlp, "_client", None)
    if client is None or not hasattr(client, "Export"):
        raise SystemExit("this SDK version's gRPC exporter has no _client.Export to observe")
    export = client.Export

    def recording(*args, **kwargs):
        try:
            response = export(*args, **kwargs)
        except grpc.RpcError as error:
            trailers = dict(error.trailing_metadata() or ())
            attempts.append((error.code(), RETRY_INFO in trailers))
            raise
        attempts.append((grpc.StatusCode.OK, False))
        return response

    client.Export = recording
    return attempts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True, help="the HTTP API, to check nothing was stored")
    parser.add_argument("--token", required=True)
    parser.add_argument("--grpc-endpoint", required=True, help="the OTLP/gRPC endpoint (http://HOST:PORT)")
    parser.add_argument("--case", choices=["no-token", "oversized"], required=True)
    parser.add_argument("--strict", action="store_true", help="oversized: require a single attempt (OTLP)")
    args = parser.parse_args()
    label = f"python-grpc-refusals/{args.case}"
    # The exporter logs the refusal it is expected to get: kept, and shown only on a failure.
    said = Said()
    sdk_logger = logging.getLogger("opentelemetry")
    sdk_logger.propagate = False
    sdk_logger.addHandler(said)

    # Only what is given here: neither a token nor a timeout from the environment.
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            del os.environ[name]
    if args.case == "no-token":
        spans = make_spans("grpc-no-token")
        otlp = OTLPSpanExporter(endpoint=args.grpc_endpoint, insecure=True)
        want_code, limit = grpc.StatusCode.UNAUTHENTICATED, 5.0
    else:
        spans = big_spans("grpc-oversized", 12_000_000)
        otlp = OTLPSpanExporter(
            endpoint=args.grpc_endpoint, insecure=True, headers={"authorization": f"Bearer {args.token}"}
        )
        # The exporter's default timeout (10 s) bounds its retries; a margin for the last attempt.
        want_code, limit = grpc.StatusCode.RESOURCE_EXHAUSTED, 10.0 + 5.0
    size = len(encode_spans(spans).SerializeToString())
    attempts = record_attempts(otlp)
    started = time.monotonic()
    result = otlp.export(spans)
    took = time.monotonic() - started
    otlp.shutdown()

    problems = []
    if args.case == "oversized" and size <= DEFAULT_LIMIT:
        problems.append(f"the export is {size} bytes, not over the {DEFAULT_LIMIT}-byte limit")
    if result is not SpanExportResult.FAILURE:
        problems.append(f"the exporter reported {result}, expected FAILURE")
    if not attempts:
        problems.append("the exporter never called the server")
    for n, (code, retry_info) in enumerate(attempts, 1):
        if code != want_code:
            problems.append(f"attempt {n}: the server answered {code.name}, expected {want_code.name}")
        if retry_info:
            problems.append(f"attempt {n}: the answer carries a RetryInfo, inviting a retry")
    if took > limit:
        problems.append(f"the exporter took {took:.1f}s to give up (limit {limit:.0f}s)")
    if (args.case == "no-token" or args.strict) and len(attempts) > 1:
        problems.append(f"the exporter made {len(attempts)} attempts, expected one (the answer is not retryable)")
    trace_id = hex_id(spans[0].context.trace_id, 32)
    try:
        stored = get(args.base_url, args.token, f"/v1/traces/{trace_id}")
        problems.append(f"trace {trace_id} is stored ({stored.get('spanCount')} spans), expected 404")
    except urllib.error.HTTPError as error:
        if error.code != 404:
            problems.append(f"GET /v1/traces/{trace_id} answered HTTP {error.code}, expected 404")

    codes = ", ".join(code.name for code, _ in attempts)
    if problems:
        print(f"FAIL {label}: trace {trace_id}, {size} bytes, attempts: {codes or 'none'} in {took:.1f}s")
        for problem in problems:
            print("   ", problem)
        for line in said.lines:
            print("    the SDK logged:", line)
        return 1
    note = ""
    if len(attempts) > 1:
        note = f" (the SDK retried a non-retryable {want_code.name} {len(attempts) - 1} times: its own policy)"
    print(
        f"ok {label}: {len(spans)} spans ({size} bytes) of trace {trace_id} refused with {want_code.name} "
        f"and no RetryInfo; the exporter reported FAILURE after {len(attempts)} attempt(s) in {took:.1f}s"
        f"{note}; nothing stored"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
