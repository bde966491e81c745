"""The OpenTelemetry Python SDK configured only from environment variables, as a user would,
against otel-worker: traces, logs and metrics through the OTLP exporters built with no
arguments.

The caller sets the standard variables:

    OTEL_EXPORTER_OTLP_ENDPOINT   http://HOST:GRPC_PORT, or http://HOST:HTTP_PORT with
    OTEL_EXPORTER_OTLP_PROTOCOL   http/protobuf (unset or grpc: the gRPC exporters)
    OTEL_EXPORTER_OTLP_HEADERS    authorization=Bearer%20TOKEN (W3C baggage encoding: the
                                  value is percent-decoded, the key lowercased)
    OTEL_SERVICE_NAME             unique per run

The program installs the global TracerProvider (BatchSpanProcessor), LoggerProvider
(BatchLogRecordProcessor, records from the stdlib `logging` module through the SDK's
LoggingHandler) and MeterProvider (PeriodicExportingMetricReader), emits one span, one log
record inside it and one counter increment, then flushes and shuts everything down. It checks:

  - every export call of the three exporters returned SUCCESS, and the flushes completed;
  - the SDK logged nothing at WARNING or above (a 404, an error or a partial success would
    show here); everything it logged is printed;
  - the counter reached the metric exporter and is stored (GET /v1/metrics/orders of the
    service), and the SDK took OTEL_SERVICE_NAME as service.name;
  - the span and the log record the SDK handed its exporters (recorded by a wrapper around
    export(), the exporters otherwise untouched) are stored (GET /v1/traces/{id} and
    /v1/traces/{id}/logs) under OTEL_SERVICE_NAME, and the record carries the span's trace and
    span ids.

    python defaults.py --base-url URL --token T    # reads back over HTTP

The true zero-configuration case, --zero-config: OTEL_EXPORTER_OTLP_HEADERS is the program's
only OpenTelemetry setting (any other OTEL_* variable is refused): no endpoint, no protocol, no
service name. The SDK then uses its defaults, the gRPC exporters and the endpoint
http://localhost:4317, so the server must listen for OTLP/gRPC on the default port, 127.0.0.1:4317
(gRPC's resolver may list ::1 first: its channel tries each address in turn, so a refused [::1]:4317
is passed over); the service name is the SDK's fallback, unknown_service (anything
starting with it is accepted, as the specification allows unknown_service:<executable>). The same
checks apply, the span and the record found by the span's trace id.

    python defaults.py --base-url URL --token T --zero-config
"""

import argparse
import logging
import os
import sys
import urllib.error
import urllib.parse

from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from roundtrip import get, hex_id

REQUIRED = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_SERVICE_NAME")
# The one setting of --zero-config: without the token the server refuses everything.
ZERO_CONFIG = "OTEL_EXPORTER_OTLP_HEADERS"
# The SDK's service.name when none is configured (the specification allows a ":<executable>" suffix).
UNKNOWN_SERVICE = "unknown_service"


def exporter_classes(protocol):
    """The exporters a user picks for OTEL_EXPORTER_OTLP_PROTOCOL (the SDK's default: grpc)."""
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    elif protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    else:
        raise SystemExit(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: this test knows grpc and http/protobuf")
    return OTLPSpanExporter, OTLPLogExporter, OTLPMetricExporter


def recorded(exporter, exports):
    """`exporter`, unchanged, except that each export() call is appended to `exports` as
    (what the SDK handed it, the result it returned)."""
    export = exporter.export

    def recording(batch, *args, **kwargs):
        result = export(batch, *args, **kwargs)
        exports.append((batch, result))
        return result

    exporter.export = recording
    return exporter


class Capture(logging.Handler):
    """Keeps what the SDK logs (its loggers are all under `opentelemetry`)."""

    def __init__(self):
        super().__init__(level=logging.INFO)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def stored_problems(base_url, token, service, span, log):
    """The SDK's span and log record (as handed to the exporters) must be stored under
    OTEL_SERVICE_NAME, the record carrying the span's trace and span ids."""
    problems = []
    trace_id, span_id = hex_id(span.context.trace_id, 32), hex_id(span.context.span_id, 16)
    if span.resource.attributes.get("service.name") != service:
        problems.append(f"the SDK's resource has service.name {span.resource.attributes.get('service.name')!r}")
    spans = get(base_url, token, f"/v1/traces/{trace_id}")["spans"]
    want = [(span_id, span.name, service)]
    got = [(s["spanId"], s["name"], s["resource"]["attributes"].get("service.name")) for s in spans]
    if got != want:
        problems.append(f"trace {trace_id}: expected the span (spanId, name, service.name) {want}, got {got}")
    logs = get(base_url, token, f"/v1/traces/{trace_id}/logs")["logs"]
    record = log.log_record
    want = [(record.body, record.severity_text, hex_id(record.trace_id, 32), hex_id(record.span_id, 16), service)]
    got = [(s["body"], s["severityText"], s["traceId"], s["spanId"], s["serviceName"]) for s in logs]
    if got != want:
        problems.append(
            f"trace {trace_id} logs: expected (body, severityText, traceId, spanId, serviceName) {want}, got {got}"
        )
    if (record.trace_id, record.span_id) != (span.context.trace_id, span.context.span_id):
        problems.append("the SDK did not put the log record in the span")
    orders = get(base_url, token, f"/v1/metrics/orders?service={urllib.parse.quote(service)}")
    values = [p.get("value") for s in orders.get("series", []) for p in s.get("points", [])]
    if not values or values[-1] != 1:
        problems.append(f"the counter orders is not stored with its value 1 (points: {values})")
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True, help="the HTTP API, to read back what was stored")
    parser.add_argument("--token", required=True)
    parser.add_argument(
        "--zero-config",
        action="store_true",
        help=f"{ZERO_CONFIG} is the only OpenTelemetry setting (the server on localhost:4317)",
    )
    args = parser.parse_args()
    if args.zero_config:
        others = sorted(name for name in os.environ if name.startswith("OTEL_") and name != ZERO_CONFIG)
        if others or not os.environ.get(ZERO_CONFIG):
            parser.error(f"--zero-config: set {ZERO_CONFIG} and no other OTEL_* variable (set: {', '.join(others)})")
    else:
        missing = [name for name in REQUIRED if not os.environ.get(name)]
        if missing:
            parser.error(f"set {', '.join(missing)} in the environment")
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    service = None if args.zero_config else os.environ["OTEL_SERVICE_NAME"]
    label = "python-defaults/zero-config" if args.zero_config else f"python-defaults/{protocol}"

    capture = Capture()
    sdk_logger = logging.getLogger("opentelemetry")
    sdk_logger.addHandler(capture)
    sdk_logger.setLevel(logging.INFO)

    span_exporter, log_exporter, metric_exporter = exporter_classes(protocol)
    span_exports, log_exports, metric_exports = [], [], []
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(recorded(span_exporter(), span_exports)))
    trace.set_tracer_provider(tracer_provider)
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(recorded(log_exporter(), log_exports)))
    _logs.set_logger_provider(logger_provider)
    meter_provider = MeterProvider(
        metric_readers=[PeriodicExportingMetricReader(recorded(metric_exporter(), metric_exports))]
    )
    metrics.set_meter_provider(meter_provider)

    app_log = logging.getLogger("otel-worker.sdk-test.defaults")
    app_log.setLevel(logging.INFO)
    app_log.propagate = False
    app_log.addHandler(LoggingHandler())
    orders = metrics.get_meter("otel-worker.sdk-test").create_counter("orders", unit="1")
    with trace.get_tracer("otel-worker.sdk-test").start_as_current_span("place order"):
        app_log.info("order placed")
        orders.add(1, {"order.kind": "test"})

    flushed = {
        "traces": tracer_provider.force_flush(),
        "logs": logger_provider.force_flush(),
        "metrics": meter_provider.force_flush(),
    }
    meter_provider.shutdown()
    logger_provider.shutdown()
    tracer_provider.shutdown()
    sdk_logger.removeHandler(capture)

    problems = []
    for signal, done in flushed.items():
        if not done:
            problems.append(f"{signal}: force_flush did not complete")
    for signal, exports in (("traces", span_exports), ("logs", log_exports), ("metrics", metric_exports)):
        results = [result.name for _, result in exports]
        if not results:
            problems.append(f"{signal}: the exporter was never called")
        elif set(results) != {"SUCCESS"}:
            problems.append(f"{signal}: the exporter reported {results}")
    spans = [span for batch, _ in span_exports for span in batch]
    logs = [log for batch, _ in log_exports for log in batch]
    counted = [
        metric.name
        for batch, _ in metric_exports
        for resource_metrics in batch.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    ]
    if "orders" not in counted:
        problems.append(f"metrics: the counter was never exported (exported: {counted})")
    alarming = [
        record
        for record in capture.records
        if record.levelno >= logging.WARNING
    ]
    if alarming:
        problems.append(f"the SDK logged {len(alarming)} record(s) at WARNING or above (all it logged is below)")

    if len(spans) != 1 or len(logs) != 1:
        problems.append(f"the SDK exported {len(spans)} spans and {len(logs)} log records, expected one of each")
    else:
        if service is None:
            service = spans[0].resource.attributes.get("service.name")
            if not str(service).startswith(UNKNOWN_SERVICE):
                problems.append(f"the SDK took service.name {service!r}, expected its fallback {UNKNOWN_SERVICE}")
        try:
            problems += stored_problems(args.base_url, args.token, service, spans[0], logs[0])
        except urllib.error.HTTPError as error:
            problems.append(f"reading the trace back answered HTTP {error.code}")

    said = [f"{r.levelname} {r.name}: {r.getMessage()}" for r in capture.records]
    if problems:
        print(f"FAIL {label}: service {service}")
        for problem in problems:
            print("   ", problem)
        for line in said:
            print("    the SDK logged:", line)
        return 1
    logged = "the SDK logged: " + " | ".join(said) if said else "the SDK logged nothing"
    configured = f"{ZERO_CONFIG} alone (the SDK's default endpoint)" if args.zero_config else "the environment alone"
    print(
        f"ok {label}: {service} exported through exporters configured by {configured}; "
        f"span and log stored and linked in trace {hex_id(spans[0].context.trace_id, 32)}; exports reported "
        f"success (traces {len(span_exports)}, logs {len(log_exports)}, metrics {len(metric_exports)}); {logged}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
