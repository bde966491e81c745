// Exports a rich trace with the real OpenTelemetry JS SDK and checks that otel-worker returns
// every field exactly as the SDK recorded it. The expected JSON is derived from the SDK's own
// ReadableSpan objects (the same ones handed to the OTLP exporter), never written by hand.
//
//   node roundtrip.mjs --base-url URL --token T --exporter json|proto|proto-gzip
//   node roundtrip.mjs --base-url URL --token T --exporter grpc|grpc-gzip --grpc-endpoint http://HOST:PORT
//                     (OTLP/gRPC, the token as `authorization` metadata; reads back over HTTP)

import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { Metadata } from '@grpc/grpc-js';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith('--')) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
  }, []),
);
const { 'base-url': baseUrl, token, exporter: kind, 'grpc-endpoint': grpcEndpoint } = args;
const grpc = kind === 'grpc' || kind === 'grpc-gzip';
if (!baseUrl || !token || !['json', 'proto', 'proto-gzip', 'grpc', 'grpc-gzip'].includes(kind) || (grpc && !grpcEndpoint)) {
  console.error(
    'usage: node roundtrip.mjs --base-url URL --token T --exporter json|proto|proto-gzip|grpc|grpc-gzip' +
      ' [--grpc-endpoint http://HOST:PORT, for grpc and grpc-gzip]',
  );
  process.exit(2);
}

// Every attribute type the JS SDK accepts (JavaScript numbers are doubles: whole numbers
// travel as intValue, and integers beyond 2^53 cannot be expressed at all).
const ATTRIBUTES = {
  'str.unicode': 'héllo 🌍 ünïcödé ✓',
  'str.nul': 'before\u0000after',
  'str.empty': '',
  'bool.true': true,
  'bool.false': false,
  'int.max_safe': Number.MAX_SAFE_INTEGER,
  'int.negative': -42,
  'int.zero': 0,
  'double.pi': Math.PI,
  'double.negative': -0.5,
  'array.str': ['a', 'ü', ''],
  'array.int': [1, -2, 2 ** 40],
  'array.bool': [true, false],
  'array.double': [1.5, 2.25],
  'array.empty': [],
};

function makeSpans() {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': `node-sdk-${kind}`,
      'deployment.environment': 'test',
      'host.cores': 2,
      'feature.flags': ['a', 'b'],
    }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('otel-worker.sdk-test', '1.2.3');
  const root = tracer.startSpan('GET /checkout', { kind: SpanKind.SERVER, attributes: ATTRIBUTES });
  const rootCtx = trace.setSpan(context.active(), root);
  const client = tracer.startSpan('POST payments', { kind: SpanKind.CLIENT }, rootCtx);
  client.addEvent('request sent', { bytes: 512, retry: false, ratio: 0.25 });
  const inner = tracer.startSpan('serialize', { kind: SpanKind.INTERNAL }, trace.setSpan(rootCtx, client));
  inner.recordException(new TypeError('card declined: ünïcödé'));
  inner.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
  inner.end();
  client.end();
  const producer = tracer.startSpan('publish order', { kind: SpanKind.PRODUCER }, rootCtx);
  producer.end();
  const consumer = tracer.startSpan(
    'consume order',
    {
      kind: SpanKind.CONSUMER,
      links: [{ context: producer.spanContext(), attributes: { 'link.kind': 'follows', 'link.n': 1, 'link.ok': true } }],
    },
    rootCtx,
  );
  consumer.end();
  root.setStatus({ code: SpanStatusCode.OK });
  root.end();
  return memory.getFinishedSpans();
}

const KINDS = ['internal', 'server', 'client', 'producer', 'consumer'];
const STATUS = ['unset', 'ok', 'error'];
const nanos = ([seconds, ns]) => (BigInt(seconds) * 1_000_000_000n + BigInt(ns)).toString();

function expected(span) {
  const start = nanos(span.startTime);
  const end = nanos(span.endTime);
  return {
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    parentSpanId: span.parentSpanContext?.spanId ?? null,
    name: span.name,
    kind: KINDS[span.kind],
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    durationNs: Number(BigInt(end) - BigInt(start)),
    status: { code: STATUS[span.status.code], message: span.status.message ?? '' },
    attributes: { ...span.attributes },
    resource: { attributes: { ...span.resource.attributes } },
    scope: { name: span.instrumentationScope.name, version: span.instrumentationScope.version ?? '' },
    events: span.events.map((e) => ({ name: e.name, timeUnixNano: nanos(e.time), attributes: { ...(e.attributes ?? {}) } })),
    links: span.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId, attributes: { ...(l.attributes ?? {}) } })),
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

// Every place where `got` differs from `want`; keys only in `got` are ignored.
function differences(want, got, path = '$') {
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) return [`${path}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`];
    return want.flatMap((w, i) => differences(w, got[i], `${path}[${i}]`));
  }
  if (want !== null && typeof want === 'object') {
    if (got === null || typeof got !== 'object') return [`${path}: expected an object, got ${JSON.stringify(got)}`];
    return Object.entries(want).flatMap(([key, value]) =>
      key in got ? differences(value, got[key], `${path}.${key}`) : [`${path}.${key}: missing (expected ${JSON.stringify(value)})`],
    );
  }
  if (typeof want !== typeof got || want !== got) return [`${path}: expected ${typeof want} ${JSON.stringify(want)}, got ${typeof got} ${JSON.stringify(got)}`];
  return [];
}

// The SDK's own OTLP trace exporter for `kind`, sending to this server with its token (over gRPC
// as `authorization` metadata: gRPC metadata keys are lowercase).
function makeExporter() {
  if (grpc) {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    return new GrpcExporter({ url: grpcEndpoint, metadata, compression: kind === 'grpc-gzip' ? 'gzip' : 'none', timeoutMillis: 30000 });
  }
  const options = { url: `${baseUrl}/v1/traces`, headers: { Authorization: `Bearer ${token}` }, timeoutMillis: 30000 };
  if (kind === 'json') return new JsonExporter(options);
  return new ProtoExporter({ ...options, compression: kind === 'proto-gzip' ? 'gzip' : 'none' });
}

const spans = makeSpans();
const exporter = makeExporter();
const result = await new Promise((resolve) => exporter.export(spans, resolve));
await exporter.shutdown();
if (result.code !== 0) {
  console.log(`FAIL node/${kind}: the exporter reported ${result.error ?? result.code}`);
  process.exit(1);
}

const traceId = spans[0].spanContext().traceId;
const response = await fetch(`${baseUrl}/v1/traces/${traceId}`, { headers: { Authorization: `Bearer ${token}` } });
const stored = await response.json();
const byId = new Map((stored.spans ?? []).map((s) => [s.spanId, s]));
const problems = [];
if (stored.spanCount !== spans.length || byId.size !== spans.length) {
  problems.push(`expected ${spans.length} spans exactly once, got spanCount=${stored.spanCount}`);
}
for (const span of spans) {
  const want = expected(span);
  const got = byId.get(want.spanId);
  if (!got) problems.push(`span ${want.name} (${want.spanId}) was not stored`);
  else problems.push(...differences(want, got).map((d) => `span ${JSON.stringify(want.name)}: ${d}`));
}
if (problems.length) {
  console.log(`FAIL node/${kind}: trace ${traceId}`);
  for (const problem of problems) console.log(`    ${problem}`);
  process.exit(1);
}
console.log(`ok node/${kind}: ${spans.length} spans of trace ${traceId} round-tripped exactly`);
