// Exports the OTLP/gRPC server refuses, through the real OpenTelemetry JS SDK's gRPC trace
// exporter: the SDK must report the failure promptly, and nothing of the export may be stored.
//
//   --case no-token    a small trace without the `authorization` metadata: UNAUTHENTICATED.
//   --case oversized   spans with big string attributes, about 12 MB of protobuf, over the
//                      server's default limit of 10 MiB (--max-body-bytes): RESOURCE_EXHAUSTED
//                      without a RetryInfo, which OTLP says a client SHOULD not retry.
//
// Checked: the exporter reports a failure carrying that gRPC status and no
// `google.rpc.retryinfo-bin` trailer, within a few seconds (the JS gRPC exporter retries no
// gRPC status at all, so one attempt), and no span of the trace is stored (GET
// /v1/traces/{id} is 404).
//
//   node grpc_refusals.mjs --base-url URL --token T --grpc-endpoint http://HOST:PORT --case no-token|oversized

import { context, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { Metadata, status } from '@grpc/grpc-js';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith('--')) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
  }, []),
);
const { 'base-url': baseUrl, token, 'grpc-endpoint': grpcEndpoint, case: which } = args;
if (!baseUrl || !token || !grpcEndpoint || !['no-token', 'oversized'].includes(which)) {
  console.error('usage: node grpc_refusals.mjs --base-url URL --token T --grpc-endpoint http://HOST:PORT --case no-token|oversized');
  process.exit(2);
}
const label = `node-grpc-refusals/${which}`;
const LIMIT = 10 * 1024 * 1024; // otel-worker's default --max-body-bytes
const PROMPT_MS = 5000;
// Only what is given here: no token, header or timeout from the environment.
for (const name of Object.keys(process.env)) if (name.startsWith('OTEL_')) delete process.env[name];

// One trace: a root span and, for `oversized`, 12 children of 1 MB of attributes each (the
// SDK's default span limits put no bound on an attribute's length).
function makeSpans() {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': `node-sdk-grpc-${which}` }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('otel-worker.sdk-test');
  const root = tracer.startSpan('upload batch');
  const inRoot = trace.setSpan(context.active(), root);
  for (let i = 0; which === 'oversized' && i < 12; i++) {
    tracer.startSpan(`chunk ${i}`, { attributes: { payload: `${String(i).padStart(7, '0')}|`.repeat(125_000) } }, inRoot).end();
  }
  root.end();
  return memory.getFinishedSpans();
}

const spans = makeSpans();
// The attribute values alone: the export's protobuf is a little larger.
const size = spans.reduce((sum, span) => sum + Buffer.byteLength(span.attributes.payload ?? ''), 0);
const what = `${spans.length} span(s)${size ? ` (${size} bytes of attributes)` : ''} of trace`;
const metadata = new Metadata();
if (which === 'oversized') metadata.set('authorization', `Bearer ${token}`);
const exporter = new OTLPTraceExporter({ url: grpcEndpoint, metadata });
const wantCode = which === 'oversized' ? status.RESOURCE_EXHAUSTED : status.UNAUTHENTICATED;
const started = performance.now();
const result = await new Promise((resolve) => exporter.export(spans, resolve));
const took = performance.now() - started;
await exporter.shutdown();

const problems = [];
if (which === 'oversized' && size <= LIMIT) problems.push(`the export's attributes are ${size} bytes, not over the ${LIMIT}-byte limit`);
const error = result.error;
if (result.code === 0) problems.push('the exporter reported success, expected a failure');
else if (error?.code !== wantCode) problems.push(`the exporter reported ${error}, expected gRPC status ${status[wantCode]}`);
if (error?.metadata?.get('google.rpc.retryinfo-bin')?.length) problems.push('the answer carries a RetryInfo, inviting a retry');
if (took > PROMPT_MS) problems.push(`the exporter took ${(took / 1000).toFixed(1)}s to give up (limit ${PROMPT_MS / 1000}s)`);
const traceId = spans[0].spanContext().traceId;
const response = await fetch(`${baseUrl}/v1/traces/${traceId}`, { headers: { Authorization: `Bearer ${token}` } });
if (response.status !== 404) problems.push(`GET /v1/traces/${traceId} answered HTTP ${response.status}, expected 404`);
if (problems.length) {
  console.log(`FAIL ${label}: ${what} ${traceId}: ${result.error ?? 'no error'} in ${(took / 1000).toFixed(1)}s`);
  for (const problem of problems) console.log(`    ${problem}`);
  process.exit(1);
}
console.log(
  `ok ${label}: ${what} ${traceId} refused with ${status[wantCode]} ` +
    `and no RetryInfo; the exporter reported the failure in ${(took / 1000).toFixed(1)}s; nothing stored`,
);
