// Records metrics with the real OpenTelemetry JS SDK (@opentelemetry/sdk-metrics) and checks that
// otel-worker returns every point exactly as the SDK recorded it.
//
// One MeterProvider per temporality preference of the OTLP exporter (cumulative, then delta, which
// the exporter maps to delta for counters and histograms and cumulative for up-down counters; each
// run with its own service.name), with a PeriodicExportingMetricReader over the OTLP metric
// exporter chosen by --exporter (driven by forceFlush: the timer never fires) and a second reader
// collected by hand as a witness. Instruments, each with two attribute sets (string, int, bool and
// double attributes): a Counter of ints, an UpDownCounter of ints (one series goes negative), a
// Histogram with explicit bucket boundaries set by a View (values in the first, middle, last and
// overflow buckets and on a boundary), and an ObservableGauge of doubles. Two collections per run,
// and the first export is sent again at once (as an exporter's retry would): the server must store
// its points once. The JS SDK (2.x) attaches no exemplars to its data points, so none must come back.
//
// What the SDK sent is what the reader handed its OTLP exporter (a wrapper around export() turns
// the SDK's own ResourceMetrics into the expected JSON as they pass; the exporter is otherwise
// untouched), never written by hand. The witness reader's collection of the same round must agree
// on every value (its timestamps differ: each reader collects at its own time).
//
// Read back: GET /v1/metrics?service=<run's service> (and with q=), GET /v1/metrics/{name}?service=
// (every series and point, oldest first; also with attr=, start=, end= and limit=),
// GET /v1/metrics/{histogram}?service=&step=60s (aligned steps whose counts and sums add up to what
// was recorded; cumulative: the first point counts from zero or is only a baseline, the spec does
// not say: both are accepted and the line says which), and GET /v1/stats.
//
//   node metrics.mjs --base-url URL --token T --exporter json|proto|proto-gzip
//   node metrics.mjs --base-url URL --token T --exporter grpc|grpc-gzip --grpc-endpoint http://HOST:PORT
//                 (OTLP/gRPC, the token as `authorization` metadata; reads back over HTTP)

import { randomUUID } from 'node:crypto';
import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationType, DataPointType, MeterProvider, MetricReader, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter as GrpcExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { AggregationTemporalityPreference, OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
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
    'usage: node metrics.mjs --base-url URL --token T --exporter json|proto|proto-gzip|grpc|grpc-gzip' +
      ' [--grpc-endpoint http://HOST:PORT, for grpc and grpc-gzip]',
  );
  process.exit(2);
}
const runId = randomUUID().replaceAll('-', '').slice(0, 12);
const SCHEMA_URL = 'https://opentelemetry.io/schemas/1.30.0';
const COUNTER = 'sdk.test.requests';
const UPDOWN = 'sdk.test.queue.depth';
const HISTOGRAM = 'sdk.test.request.duration';
const GAUGE = 'sdk.test.temperature';
const NAMES = [COUNTER, UPDOWN, HISTOGRAM, GAUGE].sort();
const BOUNDS = [0, 10, 25, 50, 100, 250];
// Same keys in the same order, first different in http.route: the API's order (attributes as JSON
// text) is /cart first whatever its key order.
const CHECKOUT = { 'http.route': '/checkout', 'http.status': 200, retry: false, weight: 0.75 };
const CART = { 'http.route': '/cart', 'http.status': 503, retry: true, weight: 2.5 };
const STEP_NS = 60n * 1_000_000_000n;

// The SDK's own OTLP metric exporter for `kind`, sending to this server with its token (over gRPC
// as `authorization` metadata: gRPC metadata keys are lowercase).
function makeExporter(temporalityPreference) {
  if (grpc) {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    return new GrpcExporter({
      url: grpcEndpoint,
      metadata,
      compression: kind === 'grpc-gzip' ? 'gzip' : 'none',
      timeoutMillis: 30000,
      temporalityPreference,
    });
  }
  const options = { url: `${baseUrl}/v1/metrics`, headers: { Authorization: `Bearer ${token}` }, timeoutMillis: 30000, temporalityPreference };
  if (kind === 'json') return new JsonExporter(options);
  return new ProtoExporter({ ...options, compression: kind === 'proto-gzip' ? 'gzip' : 'none' });
}

// The expected JSON is made while the data passes: the SDK may reuse its objects later.
const nanos = ([seconds, ns]) => (BigInt(Math.trunc(seconds)) * 1_000_000_000n + BigInt(Math.trunc(ns))).toString();
const plain = (value) => (Array.isArray(value) ? value.map(plain) : value ?? null);
const attributes = (attrs) => Object.fromEntries(Object.entries(attrs ?? {}).map(([k, v]) => [k, plain(v)]));
const canonical = (value) =>
  Array.isArray(value)
    ? value.map(canonical)
    : value !== null && typeof value === 'object'
      ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical(value[k])]))
      : value;
const seriesKey = (attrs) => JSON.stringify(canonical(attrs));

function describe(metric) {
  const type = { [DataPointType.SUM]: 'sum', [DataPointType.GAUGE]: 'gauge', [DataPointType.HISTOGRAM]: 'histogram' }[metric.dataPointType];
  if (!type) throw new Error(`unexpected data point type ${metric.dataPointType}`);
  return {
    name: metric.descriptor.name,
    type,
    unit: metric.descriptor.unit ?? '',
    description: metric.descriptor.description ?? '',
    // AggregationTemporality: DELTA = 0, CUMULATIVE = 1.
    temporality: type === 'gauge' ? null : metric.aggregationTemporality === 0 ? 'delta' : 'cumulative',
    monotonic: type === 'sum' ? metric.isMonotonic : null,
  };
}

function expectedPoint(metric, point) {
  const out = { timeUnixNano: nanos(point.endTime), startTimeUnixNano: nanos(point.startTime) };
  if (metric.dataPointType === DataPointType.HISTOGRAM) {
    const h = point.value;
    out.count = h.count;
    if (h.sum !== undefined) out.sum = h.sum;
    if (h.min !== undefined) out.min = h.min;
    if (h.max !== undefined) out.max = h.max;
    out.bucketCounts = [...h.buckets.counts];
    out.explicitBounds = [...h.buckets.boundaries];
  } else {
    out.value = point.value;
  }
  if (point.exemplars?.length) throw new Error('this SDK now attaches exemplars: compare them too');
  return out;
}

// One collection as {name: {description..., series: {key: {attributes, resource, serviceName, points}}}}.
function snapshot(resourceMetrics) {
  const metrics = {};
  const resource = attributes(resourceMetrics.resource.attributes);
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      const entry = (metrics[metric.descriptor.name] ??= { ...describe(metric), series: {} });
      for (const point of metric.dataPoints) {
        const attrs = attributes(point.attributes);
        const series = (entry.series[seriesKey(attrs)] ??= { attributes: attrs, resource, serviceName: resource['service.name'], points: [] });
        series.points.push(expectedPoint(metric, point));
      }
    }
  }
  return metrics;
}

// Collections merged in order: each series' points oldest first.
function merge(collections) {
  const metrics = {};
  for (const collection of collections) {
    for (const [name, entry] of Object.entries(collection)) {
      const { series, ...head } = entry;
      const into = (metrics[name] ??= { ...head, series: {} });
      if (JSON.stringify(head) !== JSON.stringify({ ...into, series: undefined })) throw new Error(`${name} changed its description`);
      for (const [key, s] of Object.entries(series)) {
        const target = (into.series[key] ??= { ...s, points: [] });
        target.points.push(...s.points);
      }
    }
  }
  return metrics;
}

// Hands every export to the OTLP exporter unchanged and keeps what it was handed.
class Recording {
  constructor(otlp) {
    this.otlp = otlp;
    this.exports = [];
  }
  export(resourceMetrics, done) {
    const expected = snapshot(resourceMetrics);
    this.otlp.export(resourceMetrics, (result) => {
      this.exports.push({ resourceMetrics, expected, result });
      done(result);
    });
  }
  forceFlush() {
    return this.otlp.forceFlush();
  }
  shutdown() {
    return this.otlp.shutdown();
  }
  selectAggregationTemporality(instrumentType) {
    return this.otlp.selectAggregationTemporality(instrumentType);
  }
  selectAggregation(instrumentType) {
    return this.otlp.selectAggregation(instrumentType);
  }
}

// A reader collected by hand.
class Witness extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

async function record(service, preference) {
  const problems = [];
  const otlp = makeExporter(preference);
  const recording = new Recording(otlp);
  const reader = new PeriodicExportingMetricReader({ exporter: recording, exportIntervalMillis: 2 ** 31 - 1, exportTimeoutMillis: 30000 });
  const witness = new Witness({ aggregationTemporalitySelector: (type) => recording.selectAggregationTemporality(type) });
  const resource = resourceFromAttributes({ 'service.name': service, 'deployment.environment': 'test', 'host.cores': 2 }, { schemaUrl: SCHEMA_URL });
  const provider = new MeterProvider({
    resource,
    readers: [reader, witness],
    views: [{ instrumentName: HISTOGRAM, aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries: BOUNDS } } }],
  });
  const meter = provider.getMeter('otel-worker.sdk-test.metrics', '1.2.3', { schemaUrl: SCHEMA_URL });
  const requests = meter.createCounter(COUNTER, { unit: '{request}', description: 'Requests handled', valueType: ValueType.INT });
  const queue = meter.createUpDownCounter(UPDOWN, { unit: '{item}', description: 'Items waiting in the queue', valueType: ValueType.INT });
  const duration = meter.createHistogram(HISTOGRAM, { unit: 'ms', description: 'Time to answer a request', valueType: ValueType.DOUBLE });
  const gauge = meter.createObservableGauge(GAUGE, { unit: 'Cel', description: 'Room temperature', valueType: ValueType.DOUBLE });
  let temperatures = [];
  gauge.addCallback((result) => {
    for (const [attrs, value] of temperatures) result.observe(value, attrs);
  });

  const exported = [];
  const witnessed = [];
  async function collect(round) {
    const before = recording.exports.length;
    await reader.forceFlush();
    if (recording.exports.length !== before + 1) {
      problems.push(`${round}: the reader made ${recording.exports.length - before} exports, expected 1`);
      return null;
    }
    const last = recording.exports.at(-1);
    if (last.result.code !== 0) problems.push(`${round}: the exporter reported ${last.result.error ?? last.result.code}`);
    exported.push(last.expected);
    const { resourceMetrics, errors } = await witness.collect();
    if (errors.length) problems.push(`${round}: the witness reader's collection failed: ${errors.join('; ')}`);
    witnessed.push(snapshot(resourceMetrics));
    return last.resourceMetrics;
  }

  // Round 1.
  requests.add(3, CHECKOUT);
  requests.add(2 ** 40 + 7, CART);
  requests.add(2, CHECKOUT);
  queue.add(5, CHECKOUT);
  queue.add(-2, CHECKOUT);
  queue.add(-7, CART);
  queue.add(1, CART);
  for (const value of [0, 3.5, 10, 47.25, 900, 12, 12.5, 180]) duration.record(value, CHECKOUT);
  for (const value of [30, 75.5]) duration.record(value, CART);
  temperatures = [[CHECKOUT, 21.5], [CART, 20]];
  const first = await collect('round 1');
  // The exporter's retry of round 1: the same data again, at once.
  if (first) {
    const result = await new Promise((resolve) => otlp.export(first, resolve));
    if (result.code !== 0) problems.push(`resending round 1: the exporter reported ${result.error ?? result.code}`);
  }

  // Round 2.
  requests.add(4, CHECKOUT);
  requests.add(1, CART);
  queue.add(3, CHECKOUT);
  duration.record(260, CHECKOUT);
  for (const value of [0.25, 99, 99.5]) duration.record(value, CART);
  temperatures = [[CHECKOUT, 22.25], [CART, -3.5]];
  await collect('round 2');

  // Only the exporter is shut down: the reader's shutdown would collect and export once more (its
  // timer is unref'd and never fires; the process exits at the end).
  await otlp.shutdown();
  return { exported, witnessed, problems };
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

const withoutTimes = (points) => points.map(({ timeUnixNano, startTimeUnixNano, ...rest }) => rest);

// The witness saw the same values as the exporting reader, round by round.
function witnessProblems(exported, witnessed) {
  const problems = [];
  witnessed.forEach((seen, i) => {
    const sent = exported[i];
    for (const name of new Set([...Object.keys(sent), ...Object.keys(seen)])) {
      if (!sent[name] || !seen[name]) {
        problems.push(`round ${i + 1}: ${name} only in the ${sent[name] ? 'export' : 'witness'}`);
        continue;
      }
      for (const key of new Set([...Object.keys(sent[name].series), ...Object.keys(seen[name].series)])) {
        const a = sent[name].series[key];
        const b = seen[name].series[key];
        if (!a || !b) {
          problems.push(`round ${i + 1}: ${name} ${key} only in the ${a ? 'export' : 'witness'}`);
          continue;
        }
        const diffs = new Set([...differences(withoutTimes(a.points), withoutTimes(b.points)), ...differences(withoutTimes(b.points), withoutTimes(a.points))]);
        for (const d of diffs) problems.push(`round ${i + 1}: witness vs export, ${name} ${key}: ${d}`);
      }
    }
  });
  return problems;
}

class ApiError extends Error {}

async function get(path, params = []) {
  const query = new URLSearchParams(params).toString();
  const full = query ? `${path}?${query}` : path;
  const response = await fetch(`${baseUrl}${full}`, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw new ApiError(`GET ${full}: HTTP ${response.status} ${(await response.text()).slice(0, 500)}`);
  return response.json();
}
const getMetric = (name, params) => get(`/v1/metrics/${encodeURIComponent(name)}`, params);
const head = ({ series, ...rest }) => rest;
const sortedSeries = (entry) => Object.values(entry.series).sort((a, b) => (seriesKey(a.attributes) < seriesKey(b.attributes) ? -1 : 1));

// `got` (an answer of /v1/metrics/{name}) must hold exactly `wantSeries`, in the API's order.
function compareSeries(what, wantSeries, got) {
  if (!Array.isArray(got?.series)) return [`${what}: no series list in ${JSON.stringify(got).slice(0, 300)}`];
  const wantKeys = wantSeries.map((s) => seriesKey(s.attributes));
  const gotKeys = got.series.map((s) => seriesKey(s.attributes));
  if (JSON.stringify(wantKeys) !== JSON.stringify(gotKeys)) return [`${what}: series ${JSON.stringify(gotKeys)}, expected ${JSON.stringify(wantKeys)} (sorted by attributes)`];
  const problems = [];
  wantSeries.forEach((want, i) => {
    const series = got.series[i];
    const label = `${what} ${wantKeys[i]}`;
    const { points, ...rest } = want;
    problems.push(...differences(rest, series).map((d) => `${label}: ${d}`));
    if (!Array.isArray(series.points) || series.points.length !== points.length) {
      problems.push(
        `${label}: ${series.points?.length} points, expected ${points.length} (times ${points.map((p) => p.timeUnixNano)}, ` +
          `got ${series.points?.map((p) => p.timeUnixNano)})`,
      );
      return;
    }
    points.forEach((w, j) => {
      const g = series.points[j];
      problems.push(...differences(w, g).map((d) => `${label} point ${j}: ${d}`));
      if (g && 'flags' in g) problems.push(`${label} point ${j}: flags ${g.flags} present, the SDK sent 0 (omitted when zero)`);
      if (g && 'exemplars' in g) problems.push(`${label} point ${j}: exemplars ${JSON.stringify(g.exemplars)}, the SDK sent none (omitted when empty)`);
    });
  });
  return problems;
}

// What the observations of a histogram series add up to: [count, sum, counted points]. Cumulative:
// the increases between consecutive points (a reset when the start time changes or the count
// drops), the first point counting from zero if `fromZero`.
function fold(points, temporality, fromZero) {
  if (temporality === 'delta') return [points.reduce((n, p) => n + p.count, 0), points.reduce((n, p) => n + p.sum, 0), points];
  let count = 0;
  let sum = 0;
  let previous = null;
  const counted = [];
  for (const p of points) {
    if (previous === null || p.startTimeUnixNano !== previous.startTimeUnixNano || p.count < previous.count) {
      if (previous === null && !fromZero) {
        previous = p;
        continue;
      }
      count += p.count;
      sum += p.sum;
    } else {
      count += p.count - previous.count;
      sum += p.sum - previous.sum;
    }
    counted.push(p);
    previous = p;
  }
  return [count, sum, counted];
}

const close = (a, b) => typeof b === 'number' && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a));

async function checkHistogramSteps(service, entry) {
  const problems = [];
  const modes = new Set();
  const got = await getMetric(HISTOGRAM, { service, step: '60s' });
  const series = sortedSeries(entry);
  const keys = (got.series ?? []).map((s) => seriesKey(s.attributes));
  const wantKeys = series.map((s) => seriesKey(s.attributes));
  if (JSON.stringify(keys) !== JSON.stringify(wantKeys)) return [[`${HISTOGRAM}?step=60s: series ${JSON.stringify(keys)}, expected ${JSON.stringify(wantKeys)}`], null];
  series.forEach((want, i) => {
    const steps = got.series[i];
    const label = `${HISTOGRAM}?step=60s ${wantKeys[i]}`;
    const { points: raw, ...rest } = want;
    problems.push(...differences(rest, steps).map((d) => `${label}: ${d}`));
    const points = steps.points ?? [];
    const rawEnds = new Set(raw.map((p) => ((BigInt(p.timeUnixNano) / STEP_NS + 1n) * STEP_NS).toString()));
    const ends = [];
    for (const point of points) {
      const end = point.timeUnixNano;
      if (typeof end !== 'string' || !rawEnds.has(end)) {
        problems.push(`${label}: step time ${JSON.stringify(end)}, expected one of the ends ${[...rawEnds]} of the steps holding points`);
        continue;
      }
      ends.push(BigInt(end));
      if (!Number.isInteger(point.count)) {
        problems.push(`${label}: step ${end}: count ${JSON.stringify(point.count)}`);
        continue;
      }
      const q = [point.p50, point.p90, point.p99];
      if (point.count > 0 && (!q.every((v) => typeof v === 'number') || !(q[0] <= q[1] && q[1] <= q[2]))) {
        problems.push(`${label}: step ${end}: p50, p90, p99 ${JSON.stringify(q)}, expected numbers in that order`);
      }
      if ('exemplars' in point) problems.push(`${label}: step ${end}: exemplars ${JSON.stringify(point.exemplars)}, the SDK sent none`);
    }
    if (ends.some((e, j) => j > 0 && e <= ends[j - 1])) problems.push(`${label}: step times ${ends}, expected increasing`);
    if (entry.temporality === 'delta' && ends.length !== rawEnds.size) problems.push(`${label}: steps ${ends}, expected one per step holding a point ${[...rawEnds]}`);
    const gotCount = points.reduce((n, p) => n + (Number.isInteger(p.count) ? p.count : 0), 0);
    const gotSum = points.reduce((n, p) => n + (typeof p.sum === 'number' ? p.sum : 0), 0);
    const candidates = entry.temporality === 'delta' ? [true] : [true, false];
    const matched = candidates.find((fromZero) => {
      const [count, sum] = fold(raw, entry.temporality, fromZero);
      return gotCount === count && close(sum, gotSum);
    });
    if (matched === undefined) {
      const options = candidates.map((z) => fold(raw, entry.temporality, z).slice(0, 2));
      problems.push(`${label}: steps add up to count ${gotCount}, sum ${gotSum}; expected [count, sum] in ${JSON.stringify(options)}`);
      return;
    }
    modes.add(matched ? 'from zero' : 'baseline');
  });
  const note = entry.temporality === 'cumulative' && modes.size ? `step=60s: the first cumulative point counted ${[...modes].sort().join('/')}` : null;
  return [problems, note];
}

async function checkRun(service, want) {
  const problems = [];
  const notes = [];
  if (JSON.stringify(Object.keys(want).sort()) !== JSON.stringify(NAMES)) problems.push(`the SDK exported ${Object.keys(want).sort()}, expected ${NAMES}`);
  for (const [name, entry] of Object.entries(want)) {
    if (Object.keys(entry.series).length !== 2) problems.push(`the SDK exported ${Object.keys(entry.series).length} series of ${name}, expected 2`);
  }
  const allPoints = Object.values(want).flatMap((e) => Object.values(e.series).flatMap((s) => s.points));

  const listing = await get('/v1/metrics', { service });
  if (!Array.isArray(listing.metrics)) return [[...problems, `GET /v1/metrics?service=${service}: no metrics list: ${JSON.stringify(listing).slice(0, 300)}`], notes];
  const names = listing.metrics.map((m) => m.name);
  if (JSON.stringify(names) !== JSON.stringify(NAMES)) problems.push(`GET /v1/metrics?service=: names ${JSON.stringify(names)}, expected ${JSON.stringify(NAMES)} (sorted)`);
  const newest = allPoints.reduce((n, p) => (BigInt(p.timeUnixNano) > n ? BigInt(p.timeUnixNano) : n), 0n);
  for (const listed of listing.metrics) {
    const entry = want[listed.name];
    if (!entry) continue;
    const expected = {
      ...head(entry),
      services: [service],
      series: Object.keys(entry.series).length,
    };
    problems.push(...differences(expected, listed).map((d) => `listing ${listed.name}: ${d}`));
    const last = listed.lastSeenUnixNano;
    if (typeof last !== 'string' || !/^\d+$/.test(last)) problems.push(`listing ${listed.name}: lastSeenUnixNano ${JSON.stringify(last)}, expected a decimal string`);
    else if (BigInt(last) < newest || BigInt(last) > BigInt(Date.now() + 60000) * 1_000_000n) {
      problems.push(`listing ${listed.name}: lastSeenUnixNano ${last}, expected >= the newest point ${newest} and not in the future`);
    }
  }
  const queried = await get('/v1/metrics', { service, q: 'Request.DUR' });
  const queriedNames = (queried.metrics ?? []).map((m) => m.name);
  if (JSON.stringify(queriedNames) !== JSON.stringify([HISTOGRAM])) problems.push(`GET /v1/metrics?q=Request.DUR: ${JSON.stringify(queriedNames)}, expected ["${HISTOGRAM}"]`);

  for (const name of NAMES) {
    const entry = want[name];
    if (!entry) continue;
    const got = await getMetric(name, { service });
    problems.push(...differences(head(entry), got).map((d) => `${name}: ${d}`));
    if (got.partial !== false) problems.push(`${name}: partial ${JSON.stringify(got.partial)}, expected false`);
    problems.push(...compareSeries(name, sortedSeries(entry), got));
  }

  // Filters: attr=, start=, end= (start <= t < end) and limit= (the newest, partial).
  if (want[COUNTER]) {
    const series = sortedSeries(want[COUNTER]);
    const cart = series.filter((s) => s.attributes['http.route'] === '/cart');
    problems.push(...compareSeries(`${COUNTER}?attr=http.route=/cart`, cart, await getMetric(COUNTER, [['service', service], ['attr', 'http.route=/cart']])));
    const times = [...new Set(series.flatMap((s) => s.points.map((p) => p.timeUnixNano)))].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    if (times.length === 2) {
      const only = (t) => series.map((s) => ({ ...s, points: s.points.filter((p) => p.timeUnixNano === t) }));
      problems.push(...compareSeries(`${COUNTER}?start=${times[1]}`, only(times[1]), await getMetric(COUNTER, { service, start: times[1] })));
      problems.push(...compareSeries(`${COUNTER}?end=${times[1]}`, only(times[0]), await getMetric(COUNTER, { service, end: times[1] })));
      const end = (BigInt(times[1]) + 1n).toString();
      problems.push(...compareSeries(`${COUNTER}?start=${times[0]}&end=${end}`, series, await getMetric(COUNTER, { service, start: times[0], end })));
      const limited = await getMetric(COUNTER, { service, limit: '1' });
      problems.push(...compareSeries(`${COUNTER}?limit=1`, only(times[1]), limited));
      if (limited.partial !== true) problems.push(`${COUNTER}?limit=1: partial ${JSON.stringify(limited.partial)}, expected true (2 points per series)`);
    } else {
      problems.push(`${COUNTER}: the SDK's points have ${times.length} distinct times, expected 2`);
    }
  }

  if (want[HISTOGRAM]) {
    const [found, note] = await checkHistogramSteps(service, want[HISTOGRAM]);
    problems.push(...found);
    if (note) notes.push(note);
  }
  return [problems, notes];
}

let failed = false;
let storedPoints = 0;
let storedSeries = 0;
for (const [name, preference] of [
  ['cumulative', AggregationTemporalityPreference.CUMULATIVE],
  ['delta', AggregationTemporalityPreference.DELTA],
]) {
  const label = `node-metrics/${kind} ${name}`;
  const service = `node-metrics-${kind}-${name}-${runId}`;
  const { exported, witnessed, problems } = await record(service, preference);
  problems.push(...witnessProblems(exported, witnessed));
  const want = merge(exported);
  const points = Object.values(want).reduce((n, e) => n + Object.values(e.series).reduce((m, s) => m + s.points.length, 0), 0);
  let notes = [];
  try {
    const [found, runNotes] = await checkRun(service, want);
    problems.push(...found);
    notes = runNotes;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    problems.push(error.message);
  }
  storedPoints += points;
  storedSeries += Object.values(want).reduce((n, e) => n + Object.keys(e.series).length, 0);
  if (problems.length) {
    failed = true;
    console.log(`FAIL ${label}: service ${service}`);
    for (const problem of problems) console.log(`    ${problem}`);
  } else {
    console.log(`ok ${label}: ${points} points in ${NAMES.length} metrics of service ${service} round-tripped exactly${notes.length ? `; ${notes.join('; ')}` : ''}`);
  }
}
try {
  const stats = await get('/v1/stats');
  const problems = [
    ['metricPoints', storedPoints],
    ['metricSeries', storedSeries],
  ]
    .filter(([key, least]) => !Number.isInteger(stats[key]) || stats[key] < least)
    .map(([key, least]) => `/v1/stats ${key}: ${JSON.stringify(stats[key])}, expected at least the ${least} this program stored`);
  if (problems.length) {
    failed = true;
    console.log(`FAIL node-metrics/${kind} stats`);
    for (const problem of problems) console.log(`    ${problem}`);
  } else {
    console.log(`ok node-metrics/${kind} stats: metricPoints ${stats.metricPoints} >= ${storedPoints}, metricSeries ${stats.metricSeries} >= ${storedSeries}`);
  }
} catch (error) {
  if (!(error instanceof ApiError)) throw error;
  failed = true;
  console.log(`FAIL node-metrics/${kind} stats: ${error.message}`);
}
process.exit(failed ? 1 : 0);
