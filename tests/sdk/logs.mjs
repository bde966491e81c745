// Emits log records with the real OpenTelemetry JS SDK (@opentelemetry/sdk-logs) and checks that
// otel-worker returns every field exactly as the SDK recorded it. Inside a span: a plain message,
// one with attributes of every type (string, int, double, bool, array, nested map, bytes), a WARN,
// an ERROR with an exception (exception.type/message/stacktrace), and one through a second logger
// (scope version, attributes and schema URL) with a map body holding bytes, an event name and a
// nanosecond timestamp; one more outside any span. The expected JSON is derived from the SDK's own
// ReadableLogRecords (the ones handed to the OTLP exporter, captured by its in-memory exporter),
// never written by hand.
//
// Read back: GET /v1/traces/{traceId}/logs (the span's records, oldest first), and
// GET /v1/logs?service=<this run's service> (every record, newest first) and the same with
// severity=warn. Each run has its own service.name, so runs can share a server.
//
//   node logs.mjs --base-url URL --token T --exporter json|proto|proto-gzip
//   node logs.mjs --base-url URL --token T --exporter grpc|grpc-gzip --grpc-endpoint http://HOST:PORT
//                 (OTLP/gRPC, the token as `authorization` metadata; reads back over HTTP)

import { randomUUID } from 'node:crypto';
import { context, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { OTLPLogExporter as GrpcExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as JsonExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoExporter } from '@opentelemetry/exporter-logs-otlp-proto';
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
    'usage: node logs.mjs --base-url URL --token T --exporter json|proto|proto-gzip|grpc|grpc-gzip' +
      ' [--grpc-endpoint http://HOST:PORT, for grpc and grpc-gzip]',
  );
  process.exit(2);
}
const label = `node-logs/${kind}`;
const service = `node-logs-${kind}-${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const SCHEMA_URL = 'https://opentelemetry.io/schemas/1.30.0';

async function makeRecords() {
  const memory = new InMemoryLogRecordExporter();
  const resource = resourceFromAttributes(
    { 'service.name': service, 'deployment.environment': 'test', 'host.cores': 2, 'feature.flags': ['a', 'b'] },
    { schemaUrl: SCHEMA_URL },
  );
  const provider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: memory })] });
  const tracer = new BasicTracerProvider({ resource }).getTracer('otel-worker.sdk-test', '1.2.3');
  const logger = provider.getLogger('otel-worker.sdk-test.logs');
  const span = tracer.startSpan('GET /checkout');
  const inSpan = trace.setSpan(context.active(), span);
  logger.emit({ context: inSpan, severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: 'checkout started: héllo 🌍 ünïcödé ✓' });
  logger.emit({
    context: inSpan,
    severityNumber: SeverityNumber.INFO,
    severityText: 'INFO',
    body: 'payment authorized',
    attributes: {
      'order.id': 'A-17',
      'order.items': 3,
      'order.max_safe': Number.MAX_SAFE_INTEGER,
      'order.total': 12.5,
      'order.paid': true,
      'order.gift': false,
      'order.tags': ['x', 'ü', ''],
      'order.customer': { id: 7, vip: true, name: 'Zoë' },
      'order.raw': new Uint8Array([0, 1, 254, 255]),
    },
  });
  logger.emit({ context: inSpan, severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: 'inventory low: 2 left' });
  try {
    throw new TypeError('card declined: ünïcödé');
  } catch (error) {
    logger.emit({ context: inSpan, severityNumber: SeverityNumber.ERROR, severityText: 'ERROR', body: 'charge failed', exception: error });
  }
  const api = provider.getLogger('otel-worker.sdk-test.api', '1.2.3', { schemaUrl: SCHEMA_URL, attributes: { 'scope.attr': 's', 'scope.num': 7 } });
  api.emit({
    context: inSpan,
    timestamp: [Math.floor(Date.now() / 1000), 123456789],
    severityNumber: SeverityNumber.INFO2,
    severityText: 'INFO2',
    body: { order: { id: 42, items: ['a', 'ü'], total: 9.5, paid: true }, raw: new Uint8Array([0, 1, 254, 255]), empty: [] },
    attributes: { 'event.kind': 'order', 'event.ratio': 0.25 },
    eventName: 'order.placed',
  });
  span.end();
  logger.emit({ context: context.active(), severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: 'shutting down (no active span)' });
  await provider.forceFlush();
  return { records: [...memory.getFinishedLogRecords()], traceId: span.spanContext().traceId };
}

const nanos = ([seconds, ns]) => (BigInt(seconds) * 1_000_000_000n + BigInt(ns)).toString();

// An OTLP AnyValue as the API's plain JSON: bytes as base64.
function plain(value) {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value ?? null;
}

function expected(log) {
  const scope = log.instrumentationScope;
  return {
    timeUnixNano: nanos(log.hrTime),
    observedTimeUnixNano: nanos(log.hrTimeObserved),
    severityNumber: log.severityNumber ?? 0,
    severityText: log.severityText ?? '',
    body: plain(log.body),
    attributes: plain(log.attributes),
    resource: { attributes: plain(log.resource.attributes), droppedAttributesCount: 0, schemaUrl: log.resource.schemaUrl ?? '' },
    scope: {
      name: scope.name,
      version: scope.version ?? '',
      attributes: plain(scope.attributes ?? {}),
      droppedAttributesCount: scope.droppedAttributesCount ?? 0,
      schemaUrl: scope.schemaUrl ?? '',
    },
    traceId: log.spanContext?.traceId ?? null,
    spanId: log.spanContext?.spanId ?? null,
    flags: log.spanContext?.traceFlags ?? 0,
    eventName: log.eventName ?? '',
    droppedAttributesCount: log.droppedAttributesCount,
    serviceName: log.resource.attributes['service.name'] ?? null,
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

async function get(path) {
  const response = await fetch(`${baseUrl}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

// Every record of a listing, following nextCursor to the end.
async function pages(params) {
  const found = [];
  for (;;) {
    const page = await get(`/v1/logs?${new URLSearchParams(params)}`);
    found.push(...page.logs);
    if (!page.nextCursor) return found;
    params = { ...params, before: page.nextCursor };
  }
}

// Every record of a run has its own body (map keys sorted: a map's order carries no meaning).
const canonical = (value) =>
  Array.isArray(value)
    ? value.map(canonical)
    : value !== null && typeof value === 'object'
      ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical(value[k])]))
      : value;
const key = (log) => JSON.stringify(canonical(log.body));

// `got` (the server's listing) must hold each of `wants` exactly once, field for field, in time
// order (a record without a time sits at its observed time, as OTLP says).
function compare(what, wants, got, newestFirst) {
  const problems = [];
  const times = got.map((log) => BigInt(log.timeUnixNano) || BigInt(log.observedTimeUnixNano));
  const sorted = [...times].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (newestFirst) sorted.reverse();
  if (times.some((t, i) => t !== sorted[i])) {
    problems.push(`${what}: not ${newestFirst ? 'newest' : 'oldest'} first: timeUnixNano ${times.join(', ')}`);
  }
  const stored = new Map();
  for (const log of got) stored.set(key(log), [...(stored.get(key(log)) ?? []), log]);
  for (const want of wants) {
    const matches = stored.get(key(want)) ?? [];
    stored.delete(key(want));
    if (matches.length !== 1) problems.push(`${what}: record ${key(want)} stored ${matches.length} times, expected once`);
    if (matches.length) problems.push(...differences(want, matches[0]).map((d) => `${what}: record ${key(want)}: ${d}`));
  }
  for (const body of stored.keys()) problems.push(`${what}: unexpected record ${body}`);
  return problems;
}

// The SDK's own OTLP log exporter for `kind`, sending to this server with its token (over gRPC
// as `authorization` metadata: gRPC metadata keys are lowercase).
function makeExporter() {
  if (grpc) {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    return new GrpcExporter({ url: grpcEndpoint, metadata, compression: kind === 'grpc-gzip' ? 'gzip' : 'none', timeoutMillis: 30000 });
  }
  const options = { url: `${baseUrl}/v1/logs`, headers: { Authorization: `Bearer ${token}` }, timeoutMillis: 30000 };
  if (kind === 'json') return new JsonExporter(options);
  return new ProtoExporter({ ...options, compression: kind === 'proto-gzip' ? 'gzip' : 'none' });
}

const { records, traceId } = await makeRecords();
const exporter = makeExporter();
const result = await new Promise((resolve) => exporter.export(records, resolve));
await exporter.shutdown();
if (result.code !== 0) {
  console.log(`FAIL ${label}: the exporter reported ${result.error ?? result.code}`);
  process.exit(1);
}

const wants = records.map(expected);
const inSpan = wants.filter((w) => w.traceId === traceId);
const warned = wants.filter((w) => w.severityNumber >= SeverityNumber.WARN);
const problems = [];
if (inSpan.length !== wants.length - 1) problems.push(`the SDK put ${inSpan.length} of ${wants.length} records in the span, expected all but one`);
const traceLogs = await get(`/v1/traces/${traceId}/logs`);
if (traceLogs.nextCursor != null) problems.push(`trace logs: nextCursor ${traceLogs.nextCursor} for ${wants.length} records`);
problems.push(...compare('trace logs', inSpan, traceLogs.logs, false));
problems.push(...compare('service logs', wants, await pages({ service, limit: 1000 }), true));
problems.push(...compare('severity=warn logs', warned, await pages({ service, severity: 'warn', limit: 1000 }), true));
if (problems.length) {
  console.log(`FAIL ${label}: service ${service}, trace ${traceId}`);
  for (const problem of problems) console.log(`    ${problem}`);
  process.exit(1);
}
console.log(
  `ok ${label}: ${wants.length} records of service ${service} round-tripped exactly ` +
    `(${inSpan.length} in trace ${traceId}, ${warned.length} at warn and above)`,
);
