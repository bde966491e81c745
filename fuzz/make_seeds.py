"""Writes the fuzz corpus seeds from the test fixtures examples/send-trace/trace.json,
logs.json and metrics.json: the JSON as it is, and the same exports as protobuf (via the opentelemetry-proto
package), and the trace export gzipped for the decompress target.

    python fuzz/make_seeds.py <output-dir>
"""

import base64
import gzip
import json
import pathlib
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

root = pathlib.Path(__file__).resolve().parent.parent
out = pathlib.Path(sys.argv[1])
example = (root / "examples/send-trace/trace.json").read_text()


def ids_to_base64(node):
    """OTLP/JSON writes ids as hex; protobuf's JSON mapping expects base64."""
    if isinstance(node, dict):
        return {
            key: base64.b64encode(bytes.fromhex(value)).decode()
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str)
            else ids_to_base64(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [ids_to_base64(item) for item in node]
    return node


request = json_format.ParseDict(ids_to_base64(json.loads(example)), ExportTraceServiceRequest())
for target in ("decode_json", "to_rows"):
    (out / target).mkdir(parents=True, exist_ok=True)
    (out / target / "example.json").write_text(example)
for target in ("decode_protobuf", "to_rows"):
    (out / target).mkdir(parents=True, exist_ok=True)
    (out / target / "example.pb").write_bytes(request.SerializeToString())
logs = (root / "examples/send-trace/logs.json").read_text()
logs_request = json_format.ParseDict(ids_to_base64(json.loads(logs)), ExportLogsServiceRequest())
(out / "logs").mkdir(parents=True, exist_ok=True)
(out / "logs" / "example.json").write_text(logs)
(out / "logs" / "example.pb").write_bytes(logs_request.SerializeToString())
metrics = (root / "examples/send-trace/metrics.json").read_text()
metrics_request = json_format.ParseDict(ids_to_base64(json.loads(metrics)), ExportMetricsServiceRequest())
(out / "metrics").mkdir(parents=True, exist_ok=True)
(out / "metrics" / "example.json").write_text(metrics)
(out / "metrics" / "example.pb").write_bytes(metrics_request.SerializeToString())
(out / "decompress").mkdir(parents=True, exist_ok=True)
(out / "decompress" / "example.pb.gz").write_bytes(gzip.compress(request.SerializeToString()))
print(f"seeds written to {out}")
