"""A stand-in for an instrumented test suite: 80 checkout requests through the OpenTelemetry
Python SDK, configured only by the standard environment variables (OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES with service.version, OTEL_EXPORTER_OTLP_ENDPOINT and
OTEL_EXPORTER_OTLP_HEADERS), exported with the SDK's defaults (BatchSpanProcessor, OTLP/HTTP
protobuf).

Each request is a server span `POST /checkout` that calls `SELECT cart` (3-4 ms) and then
`charge card` (1-2 ms). SLOW_QUERY_MS adds that many milliseconds to every query: the
regression a change could bring, for the CI gate to catch.
"""

import os
import random
import sys
import time

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

REQUESTS = 80


def main() -> int:
    slow = float(os.environ.get("SLOW_QUERY_MS", "0")) / 1000
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("checkout")
    for order in range(REQUESTS):
        with tracer.start_as_current_span("POST /checkout", kind=trace.SpanKind.SERVER) as span:
            span.set_attribute("http.route", "/checkout")
            with tracer.start_as_current_span("SELECT cart", kind=trace.SpanKind.CLIENT) as query:
                query.set_attribute("db.system", "postgresql")
                time.sleep(0.003 + random.random() * 0.001 + slow)
            with tracer.start_as_current_span("charge card", kind=trace.SpanKind.CLIENT) as charge:
                charge.set_attribute("order.id", order)
                time.sleep(0.001 + random.random() * 0.001)
    flushed = provider.force_flush(30_000)
    provider.shutdown()
    if not flushed:
        print("FAIL: the spans were not all exported", file=sys.stderr)
        return 1
    print(f"{REQUESTS} requests traced (slow query: +{slow * 1000:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
