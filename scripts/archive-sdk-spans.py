"""Sends spans made by the real OpenTelemetry Python SDK, with its defaults (its default
resource, BatchSpanProcessor, the OTLP/HTTP protobuf exporter), shaped like a web
service's requests: a server span with HTTP semantic-convention attributes, a database
query, an outgoing HTTP call and an internal step, one request in twenty failing. What
`otel-worker-cli/examples/archive_bytes.rs` measures the archive's bytes per span on,
besides `generate`'s spans (docs/architecture.md, "Block format: the measurements").

    python archive-sdk-spans.py --base-url URL --token T --requests N
"""

import argparse
import random

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

ROUTES = ["/api/orders/{id}", "/api/users/{id}", "/api/cart", "/api/search", "/health"]


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--base-url", required=True)
    args.add_argument("--token", required=True)
    args.add_argument("--requests", type=int, default=5000)
    opts = args.parse_args()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "shop-api", "service.version": "1.4.2",
                                  "deployment.environment.name": "production"})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
        endpoint=f"{opts.base_url}/v1/traces",
        headers={"Authorization": f"Bearer {opts.token}"},
    )))
    tracer = provider.get_tracer("shop.http", "2.1.0")
    rng = random.Random(7)
    for i in range(opts.requests):
        # The processor's queue holds 2,048 spans and drops beyond: let it export.
        if i % 100 == 99:
            provider.force_flush()
        route = rng.choice(ROUTES)
        path = route.replace("{id}", str(rng.randrange(1, 100_000)))
        failing = rng.random() < 0.05
        with tracer.start_as_current_span(f"GET {route}", kind=SpanKind.SERVER) as server:
            server.set_attributes({
                "http.request.method": "GET", "http.route": route, "url.path": path,
                "url.scheme": "https", "server.address": "shop.example.com",
                "client.address": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
                "user_agent.original": rng.choice(["Mozilla/5.0 (X11; Linux x86_64)",
                                                   "okhttp/4.12.0", "curl/8.5.0"]),
                "http.response.status_code": 500 if failing else 200,
            })
            with tracer.start_as_current_span("SELECT shop.orders", kind=SpanKind.CLIENT) as db:
                db.set_attributes({
                    "db.system.name": "postgresql", "db.namespace": "shop",
                    "db.operation.name": "SELECT", "db.collection.name": "orders",
                    "db.query.text": "SELECT id, total, status FROM orders WHERE user_id = $1 LIMIT 50",
                    "server.address": "db-1.internal", "server.port": 5432,
                })
            with tracer.start_as_current_span("POST", kind=SpanKind.CLIENT) as call:
                call.set_attributes({
                    "http.request.method": "POST", "server.address": "payments.internal",
                    "url.full": f"https://payments.internal/v2/charges/{rng.randrange(10**9)}",
                    "http.response.status_code": 502 if failing else 201,
                })
                if failing:
                    call.set_status(Status(StatusCode.ERROR, "upstream returned 502"))
            with tracer.start_as_current_span("render response") as render:
                render.set_attribute("app.items", rng.randrange(0, 50))
            if failing:
                server.set_status(Status(StatusCode.ERROR))
                server.record_exception(RuntimeError(f"payment failed for request {i}"))
    provider.shutdown()


if __name__ == "__main__":
    main()
