// Checks otel-worker's MCP server with the official MCP TypeScript SDK
// (@modelcontextprotocol/sdk), over stdio or Streamable HTTP, against the HTTP API answering the
// same questions.
//
// The script first sends a known trace (a server root span with three children, one of them an
// error with an `exception` event) and two log records of it through the OTLP/HTTP JSON API,
// under a service name of its own, then asks every tool about that data and compares the
// structured answers with what the API returns for the same question.
//
//   node client.mjs --base-url URL --token T --transport http
//   node client.mjs --base-url URL --token T --transport stdio --cli PATH/otel-worker-cli
//                   [--delete]   # the server allows delete_trace (stdio: --allow-delete is
//                                # passed; HTTP: the server runs with --mcp-allow-delete)
//
// Prints one line per check and a summary; exits 1 when any check failed.

import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION, McpError } from '@modelcontextprotocol/sdk/types.js';
import Ajv2020Module from 'ajv/dist/2020.js';

const Ajv2020 = Ajv2020Module.default ?? Ajv2020Module;

const PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26'];
const READ_ONLY_TOOLS = [
  'list_services',
  'search_traces',
  'get_trace',
  'get_span',
  'get_trace_errors',
  'compare_traces',
  'compare_groups',
  'search_logs',
  'get_trace_logs',
  'get_stats',
  'list_metrics',
  'get_metric',
  'wait_for_traces',
];
const TEMPLATE = 'otel-worker://traces/{traceId}';

let options;
try {
  ({ values: options } = parseArgs({
    options: {
      'base-url': { type: 'string' },
      token: { type: 'string' },
      transport: { type: 'string' },
      cli: { type: 'string' },
      delete: { type: 'boolean', default: false },
    },
  }));
} catch (error) {
  options = { error: error.message };
}
if (options.error || !options['base-url'] || !options.token || !['stdio', 'http'].includes(options.transport) || (options.transport === 'stdio' && !options.cli)) {
  console.error(
    (options.error ? `${options.error}\n` : '') +
      'usage: node client.mjs --base-url URL --token T --transport stdio|http [--cli PATH (stdio)] [--delete]',
  );
  process.exit(2);
}
const baseUrl = options['base-url'].replace(/\/+$/, '');
const token = options.token;
const transportKind = options.transport;
const allowDelete = options.delete;
const label = `node/${transportKind}${allowDelete ? '+delete' : ''}`;

// ---------------------------------------------------------------------------------------------
// Checks

let passed = 0;
let failed = 0;
function check(ok, what, details = []) {
  if (ok) {
    passed += 1;
    console.log(`ok   ${label}: ${what}`);
  } else {
    failed += 1;
    console.log(`FAIL ${label}: ${what}`);
    for (const line of details.slice(0, 25)) console.log(`       ${line}`);
  }
  return Boolean(ok);
}

const short = (value, limit = 300) => {
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return text.length <= limit ? text : `${text.slice(0, limit)}...`;
};

// Every place where `got` differs from `want`; with exact=false keys only in `got` are allowed.
function differences(want, got, path = '$', exact = true) {
  if (Array.isArray(want)) {
    if (!Array.isArray(got)) return [`${path}: expected a list, got ${short(got)}`];
    if (got.length !== want.length) return [`${path}: expected ${want.length} items, got ${got.length}: ${short(got)}`];
    return want.flatMap((w, i) => differences(w, got[i], `${path}[${i}]`, exact));
  }
  if (want !== null && typeof want === 'object') {
    if (got === null || typeof got !== 'object' || Array.isArray(got)) return [`${path}: expected an object, got ${short(got)}`];
    const found = Object.entries(want).flatMap(([key, value]) =>
      key in got ? differences(value, got[key], `${path}.${key}`, exact) : [`${path}.${key}: missing (expected ${short(value)})`],
    );
    if (exact) for (const key of Object.keys(got)) if (!(key in want)) found.push(`${path}.${key}: unexpected (got ${short(got[key])})`);
    return found;
  }
  if (typeof want !== typeof got || want !== got) return [`${path}: expected ${typeof want} ${short(want)}, got ${typeof got} ${short(got)}`];
  return [];
}

function equal(what, want, got, exact = true) {
  const found = differences(want, got, '$', exact);
  return check(found.length === 0, what, found);
}

// ---------------------------------------------------------------------------------------------
// The HTTP API, outside MCP

async function request(method, path, { body, headers = {}, withToken = true } = {}) {
  const all = { ...headers };
  if (withToken && !('Authorization' in all)) all.Authorization = `Bearer ${token}`;
  if (body !== undefined) all['Content-Type'] = 'application/json';
  const response = await fetch(baseUrl + path, {
    method,
    headers: all,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60000),
  });
  const text = await response.text();
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: kept as text
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

async function apiGet(path, query = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    for (const item of Array.isArray(value) ? value : [value]) params.append(key, String(item));
  }
  const full = params.size ? `${path}?${params}` : path;
  const { status, body } = await request('GET', full);
  if (status !== 200) throw new Error(`GET ${full} answered ${status}: ${short(body)}`);
  return body;
}

async function exportOtlp(signal, body) {
  const { status, body: answer } = await request('POST', `/v1/${signal}`, { body });
  if (status !== 200) throw new Error(`POST /v1/${signal} answered ${status}: ${short(answer)}`);
  const partial = answer?.partialSuccess ?? {};
  if (Number(partial.rejectedSpans ?? 0) || Number(partial.rejectedLogRecords ?? 0)) {
    throw new Error(`POST /v1/${signal} rejected data: ${short(answer)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The data this run sends

const hex = (bytes) => randomBytes(bytes).toString('hex');

function otlpValue(value) {
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  return { stringValue: value };
}
const otlpAttributes = (mapping) => Object.entries(mapping).map(([key, value]) => ({ key, value: otlpValue(value) }));

// One trace as sent: its ids, spans and (with children) two log records; body() and
// logsBody() are the OTLP/JSON exports.
function makeTrace(service, withChildren = true) {
  const traceId = hex(16);
  const t0 = BigInt(Date.now()) * 1_000_000n - 2_000_000_000n;
  const ms = 1_000_000n;
  const span = (name, kind, start, end, { parent = null, status = {}, attributes = {}, events = [] } = {}) => ({
    name,
    spanId: hex(8),
    parent,
    kind,
    start: t0 + BigInt(start) * ms,
    end: t0 + BigInt(end) * ms,
    status,
    attributes,
    events,
  });
  const root = span('GET /orders/{id}', 2, 0, 120, {
    attributes: { 'http.request.method': 'GET', 'http.route': '/orders/{id}', 'url.path': '/orders/42', 'http.response.status_code': 502 },
  });
  const trace = { service, traceId, root, spans: [root], error: null, logs: [] };
  if (withChildren) {
    trace.spans.push(
      span('SELECT orders', 3, 5, 35, {
        parent: root.spanId,
        status: { code: 1 },
        attributes: { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM orders WHERE id = $1' },
        events: [{ name: 'rows fetched', time: t0 + 30n * ms, attributes: { rows: 1 } }],
      }),
    );
    trace.error = span('POST /payments', 3, 40, 95, {
      parent: root.spanId,
      status: { code: 2, message: 'payment provider answered 503' },
      attributes: {
        'http.request.method': 'POST',
        'server.address': 'payments.internal',
        'http.response.status_code': 503,
        'payment.provider': 'acme',
        'retry.ratio': 0.5,
      },
      events: [
        {
          name: 'exception',
          time: t0 + 94n * ms,
          attributes: {
            'exception.type': 'PaymentUnavailableError',
            'exception.message': 'payment provider answered 503',
            'exception.stacktrace':
              'PaymentUnavailableError: payment provider answered 503\n    at charge (payments.js:42:11)\n    at checkout (orders.js:7:3)',
          },
        },
      ],
    });
    trace.spans.push(trace.error);
    trace.spans.push(span('render response', 1, 100, 118, { parent: root.spanId, attributes: { template: 'order.html' } }));
    trace.logs = [
      {
        timeUnixNano: String(t0 + 2n * ms),
        observedTimeUnixNano: String(t0 + 2n * ms),
        severityNumber: 9,
        severityText: 'INFO',
        body: { stringValue: 'looking up order 42' },
        attributes: otlpAttributes({ 'order.id': 42 }),
        traceId,
        spanId: root.spanId,
      },
      {
        timeUnixNano: String(t0 + 94n * ms),
        observedTimeUnixNano: String(t0 + 94n * ms),
        severityNumber: 17,
        severityText: 'ERROR',
        body: { stringValue: 'payment failed: provider answered 503' },
        attributes: otlpAttributes({ 'payment.provider': 'acme' }),
        traceId,
        spanId: trace.error.spanId,
      },
    ];
  }
  const resource = { attributes: otlpAttributes({ 'service.name': service, 'deployment.environment': 'test' }) };
  trace.body = () => ({
    resourceSpans: [
      {
        resource,
        scopeSpans: [
          {
            scope: { name: 'otel-worker.mcp-test', version: '1.0.0' },
            spans: trace.spans.map((s) => ({
              traceId,
              spanId: s.spanId,
              ...(s.parent ? { parentSpanId: s.parent } : {}),
              name: s.name,
              kind: s.kind,
              startTimeUnixNano: String(s.start),
              endTimeUnixNano: String(s.end),
              attributes: otlpAttributes(s.attributes),
              events: s.events.map((e) => ({ name: e.name, timeUnixNano: String(e.time), attributes: otlpAttributes(e.attributes) })),
              status: s.status,
            })),
          },
        ],
      },
    ],
  });
  trace.logsBody = () => ({
    resourceLogs: [{ resource, scopeLogs: [{ scope: { name: 'otel-worker.mcp-test.logs' }, logRecords: trace.logs }] }],
  });
  return trace;
}

// ---------------------------------------------------------------------------------------------
// MCP

const ajv = new Ajv2020({ strict: false, allErrors: true });
const argumentValidators = new Map();
let client;
let negotiatedVersion;
let serverStderr = '';

async function connect() {
  let transport;
  if (transportKind === 'stdio') {
    const args = ['mcp', '--base-url', baseUrl, '--auth-token', token];
    if (allowDelete) args.push('--allow-delete');
    transport = new StdioClientTransport({ command: options.cli, args, stderr: 'pipe' });
    transport.stderr?.on('data', (chunk) => {
      serverStderr = (serverStderr + chunk).slice(-20000);
    });
    // The SDK hands the negotiated version to transports that take it (HTTP does; stdio has
    // no such method, so this one only records it).
    transport.setProtocolVersion = (version) => {
      negotiatedVersion = version;
    };
  } else {
    transport = new StreamableHTTPClientTransport(new URL(`${baseUrl}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
    const set = transport.setProtocolVersion.bind(transport);
    transport.setProtocolVersion = (version) => {
      negotiatedVersion = version;
      set(version);
    };
  }
  client = new Client({ name: 'otel-worker-mcp-test-node', version: '1.0.0' }, { capabilities: {} });
  client.onerror = (error) => console.log(`       (client error: ${error?.message ?? error})`);
  await client.connect(transport);
}

// {result} or {error: McpError}. Arguments are checked against the tool's listed inputSchema
// first: a schema that rejects what the spec allows is a failed check.
async function call(name, args) {
  const validate = argumentValidators.get(name);
  if (validate && !validate(args)) {
    check(false, `${name}: arguments ${short(args)} are valid per its inputSchema`, validate.errors.map((e) => `${e.instancePath} ${e.message}`));
  }
  try {
    return { result: await client.callTool({ name, arguments: args }, undefined, { timeout: 90000 }) };
  } catch (error) {
    if (error instanceof McpError) return { error };
    throw error;
  }
}

const textsOf = (result) => (result.content ?? []).filter((block) => block.type === 'text').map((block) => block.text);

// The structuredContent and text of a successful call, after checking its shape.
async function structured(name, args) {
  const { result, error } = await call(name, args);
  const what = `${name} ${short(args, 120)}`;
  if (error) {
    check(false, `${what}: succeeds`, [`JSON-RPC error ${error.code}: ${error.message}`]);
    return {};
  }
  const texts = textsOf(result);
  const sc = result.structuredContent;
  const isObject = sc !== null && typeof sc === 'object' && !Array.isArray(sc);
  check(
    !result.isError && isObject && texts.length === 1 && texts[0].trim() !== '',
    `${what}: not an error, structuredContent is an object, one non-empty text block`,
    [`isError=${result.isError}`, `structuredContent=${short(sc)}`, `texts=${short(texts)}`],
  );
  if (result.isError || !isObject) return {};
  return { sc, text: texts[0] ?? '' };
}

// A call that must fail: an isError result with a message, or a JSON-RPC error; the message
// must mention one of `mentions` when given.
async function refused(name, args, mentions = []) {
  const { result, error } = await call(name, args);
  let message;
  let how;
  if (error) {
    message = error.message ?? '';
    how = `JSON-RPC error ${error.code}`;
  } else {
    message = result.isError ? textsOf(result).join(' ') : '';
    how = `isError=${result.isError ?? false}`;
  }
  const ok = message.trim() !== '' && (mentions.length === 0 || mentions.some((m) => message.toLowerCase().includes(m.toLowerCase())));
  const wanted = mentions.length ? `, mentioning ${mentions.join(' or ')}` : '';
  check(ok, `${name} ${short(args, 120)}: refused with a message${wanted} (${how}: ${JSON.stringify(message.slice(0, 160))})`);
}

async function handshake() {
  const info = client.getServerVersion();
  check(info?.name === 'otel-worker', `serverInfo.name is 'otel-worker' (got ${short(info)})`);
  const instructions = client.getInstructions();
  check(typeof instructions === 'string' && instructions.trim() !== '', `instructions are non-empty (${(instructions ?? '').length} characters)`);
  check(negotiatedVersion === LATEST_PROTOCOL_VERSION, `negotiated protocol version ${negotiatedVersion} is the SDK's latest ${LATEST_PROTOCOL_VERSION}`);
  const caps = client.getServerCapabilities() ?? {};
  check(caps.tools && caps.resources, `capabilities include tools and resources (${short(caps)})`);
}

async function listTools() {
  const tools = [];
  let cursor;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  const names = tools.map((t) => t.name);
  const want = [...READ_ONLY_TOOLS, ...(allowDelete ? ['delete_trace'] : [])];
  check(
    names.length === want.length && want.every((n) => names.includes(n)),
    `tools/list names the ${want.length} expected tools`,
    [`got ${[...names].sort().join(', ')}`, `expected ${[...want].sort().join(', ')}`],
  );
  for (const tool of tools) {
    const problems = [];
    const schema = tool.inputSchema;
    if (schema === null || typeof schema !== 'object' || schema.type !== 'object') {
      problems.push(`inputSchema is not an object schema: ${short(schema)}`);
    } else if (!ajv.validateSchema(schema)) {
      problems.push(`inputSchema is not valid JSON Schema 2020-12: ${ajv.errorsText(ajv.errors)}`);
    } else {
      try {
        argumentValidators.set(tool.name, ajv.compile(schema));
      } catch (error) {
        problems.push(`inputSchema does not compile: ${error.message}`);
      }
    }
    if (tool.outputSchema && !ajv.validateSchema(tool.outputSchema)) {
      problems.push(`outputSchema is not valid JSON Schema 2020-12: ${ajv.errorsText(ajv.errors)}`);
    }
    if (!(tool.description ?? '').trim()) problems.push('no description');
    const hints = tool.annotations ?? {};
    if (tool.name === 'delete_trace') {
      if (hints.destructiveHint !== true) problems.push(`annotations.destructiveHint is not true: ${short(hints)}`);
      if (hints.readOnlyHint) problems.push('delete_trace says readOnlyHint');
    } else if (hints.readOnlyHint !== true) {
      problems.push(`annotations.readOnlyHint is not true: ${short(hints)}`);
    }
    check(problems.length === 0, `tool ${tool.name}: valid object inputSchema, description, annotations`, problems);
  }
}

async function resources(sent) {
  const uri = `otel-worker://traces/${sent.traceId}`;
  const templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
  check(templates.length === 1 && templates[0] === TEMPLATE, `resources/templates/list: one template ${TEMPLATE} (${short(templates)})`);
  // The newest traces come first, a page at a time: other tests may have stored newer ones,
  // so follow nextCursor (up to 50 pages) until ours appears.
  let page = await client.listResources();
  const firstPage = page.resources.map((r) => r.uri);
  const uris = [...firstPage];
  let pages = 1;
  while (!uris.includes(uri) && page.nextCursor && pages < 50) {
    page = await client.listResources({ cursor: page.nextCursor });
    uris.push(...page.resources.map((r) => r.uri));
    pages += 1;
  }
  check(uris.includes(uri), `resources/list: has ${uri} (on page ${pages} of ${uris.length} resources)`);
  const bad = uris.filter((u) => !/^otel-worker:\/\/traces\/[0-9a-f]{32}$/.test(u));
  check(firstPage.length <= 20 && bad.length === 0, 'resources/list: at most 20 per page, every uri otel-worker://traces/<traceId>', bad);
  const { contents } = await client.readResource({ uri });
  const first = contents?.[0] ?? {};
  const text = typeof first.text === 'string' ? first.text : null;
  const missing = sent.spans.map((s) => s.name).filter((name) => text === null || !text.includes(name));
  check(
    text !== null && missing.length === 0 && first.uri === uri && first.mimeType === 'text/plain',
    'resources/read: text/plain naming every span of the trace',
    [`missing span names ${short(missing)}`, `uri=${first.uri}`, `mimeType=${first.mimeType}`, (text ?? '').slice(0, 400)],
  );
}

async function listServices(sent) {
  const { sc } = await structured('list_services', {});
  if (!sc) return;
  const api = await apiGet('/v1/services');
  const ours = (sc.services ?? []).filter((s) => s.name === sent.service);
  const apiOurs = api.services.filter((s) => s.name === sent.service);
  check(Object.keys(sc).sort().join() === Object.keys(api).sort().join(), `list_services: the keys of GET /v1/services (${Object.keys(sc)})`);
  equal(`list_services: the entry of ${sent.service} equals GET /v1/services's`, apiOurs, ours);
  check(apiOurs.length === 1 && apiOurs[0].spanCount === sent.spans.length, `GET /v1/services counts our ${sent.spans.length} spans`);
}

const withoutUrl = (traces) => traces.map(({ url, ...rest }) => rest);
const urlsOk = (traces) => traces.every((t) => typeof t.url === 'string' && t.url.includes(t.traceId ?? '-'));

// search_traces(args) against GET /v1/traces?query&limit=10.
async function search(what, args, query, mustHold) {
  const { sc } = await structured('search_traces', args);
  if (!sc) return;
  const api = await apiGet('/v1/traces', { ...query, limit: args.limit ?? 10 });
  const got = sc.traces;
  if (!check(Array.isArray(got), `search_traces ${what}: traces is a list`)) return;
  check(urlsOk(got), `search_traces ${what}: every trace has a url naming its id${got.length && urlsOk(got) ? ` (${got[0].url})` : ''}`, got.map((t) => short(t)));
  const stripped = withoutUrl(got);
  equal(`search_traces ${what}: ${got.length} traces equal GET /v1/traces's, in order`, api.traces, stripped);
  check(
    sc.nextCursor === (api.nextCursor ?? null) && sc.partial === (api.partial ?? false),
    `search_traces ${what}: nextCursor and partial as the API's`,
    [`mcp nextCursor=${short(sc.nextCursor)} partial=${short(sc.partial)}`, `api nextCursor=${short(api.nextCursor)} partial=${short(api.partial)}`],
  );
  if (mustHold) check(mustHold(stripped), `search_traces ${what}: finds what was sent`, [short(stripped)]);
}

async function searches(sent) {
  const onlyOurs = (traces) => traces.length === 1 && traces[0].traceId === sent.traceId;
  await search('(service)', { service: sent.service }, { service: sent.service }, onlyOurs);
  await search(
    '(service, status, min_duration, attributes)',
    { service: sent.service, status: 'error', min_duration: '40ms', attributes: ['payment.provider=acme'] },
    { service: sent.service, status: 'error', minDuration: '40ms', attr: ['payment.provider=acme'] },
    onlyOurs,
  );
  await search(
    '(service, name, max_duration: none match)',
    { service: sent.service, name: 'render response', max_duration: '10ms' },
    { service: sent.service, name: 'render response', maxDuration: '10ms' },
    (traces) => traces.length === 0,
  );
  await search(
    '(service, root, name, text)',
    { service: sent.service, root: true, name: sent.root.name, text: 'ORDERS/42' },
    { service: sent.service, root: 'true', name: sent.root.name, q: 'ORDERS/42' },
    onlyOurs,
  );
  const { sc } = await structured('search_traces', { service: sent.service, since: '15m', limit: 5 });
  if (sc) {
    const ids = (sc.traces ?? []).map((t) => t.traceId);
    check(ids.length === 1 && ids[0] === sent.traceId, `search_traces (service, since=15m, limit=5): finds our trace (${short(ids)})`);
  }
}

// get_trace's spans as the spec derives them from GET /v1/traces/{id}: [want, logCount].
function expectedSpans(apiTrace, sent, attributes) {
  const start = BigInt(apiTrace.startTimeUnixNano);
  const depth = new Map();
  const logs = new Map();
  for (const record of sent.logs) logs.set(record.spanId, (logs.get(record.spanId) ?? 0) + 1);
  return apiTrace.spans.map((s) => {
    const parent = s.parentSpanId;
    depth.set(s.spanId, depth.has(parent) ? depth.get(parent) + 1 : 0);
    const want = {
      spanId: s.spanId,
      parentSpanId: parent,
      depth: depth.get(s.spanId),
      name: s.name,
      service: s.resource.attributes['service.name'],
      kind: s.kind,
      offsetNs: Number(BigInt(s.startTimeUnixNano) - start),
      durationNs: s.durationNs,
      status: s.status.code,
      eventCount: s.events.length,
    };
    if (attributes || s.status.code === 'error') want.attributes = s.attributes;
    if (s.status.message) want.statusMessage = s.status.message;
    return [want, logs.get(s.spanId) ?? 0];
  });
}

function checkSpans(what, expected, got) {
  if (!check(Array.isArray(got) && got.length === expected.length, `${what}: ${expected.length} spans`, [short(got)])) return;
  check(
    got.map((s) => s.spanId).join() === expected.map(([w]) => w.spanId).join(),
    `${what}: span ids in start order as GET /v1/traces/{id}`,
  );
  const problems = [];
  expected.forEach(([want, logCount], i) => {
    const span = got[i];
    const name = `span ${JSON.stringify(want.name)}`;
    problems.push(...differences(want, span, '$', false).map((d) => `${name}: ${d}`));
    if (!('attributes' in want) && 'attributes' in span) problems.push(`${name}: has attributes though it is not an error and attributes=false`);
    if (!('statusMessage' in want) && span.statusMessage) problems.push(`${name}: statusMessage ${short(span.statusMessage)} though the span has none`);
    if ('logCount' in span && span.logCount !== logCount) problems.push(`${name}: logCount ${short(span.logCount)}, expected ${logCount}`);
  });
  check(problems.length === 0, `${what}: parents, depths, names, services, kinds, offsets, durations, statuses, attributes, event and log counts`, problems);
}

async function getTrace(sent) {
  const tid = sent.traceId;
  const api = await apiGet(`/v1/traces/${tid}`);
  const expected = expectedSpans(api, sent, false);
  let { sc, text } = await structured('get_trace', { trace_id: tid });
  if (sc) {
    const keys = ['traceId', 'rootSpanName', 'serviceName', 'startTimeUnixNano', 'durationNs', 'spanCount', 'errorCount', 'services'];
    equal(
      "get_trace: the summary equals GET /v1/traces/{id}'s",
      Object.fromEntries(keys.map((k) => [k, api[k]])),
      Object.fromEntries(keys.map((k) => [k, k in sc ? sc[k] : '<missing>'])),
    );
    check(typeof sc.url === 'string' && sc.url.includes(tid), `get_trace: url names the trace (${short(sc.url)})`);
    checkSpans('get_trace', expected, sc.spans);
    check('nextCursor' in sc && sc.nextCursor === null, `get_trace: nextCursor is null (${short(sc.nextCursor)})`);
    check(text.includes(sent.root.name), `get_trace: the text mentions the root span ${JSON.stringify(sent.root.name)}`, [text.slice(0, 400)]);
  }
  ({ sc } = await structured('get_trace', { trace_id: tid, attributes: true }));
  if (sc) checkSpans('get_trace attributes=true', expectedSpans(api, sent, true), sc.spans);
  const { sc: first } = await structured('get_trace', { trace_id: tid, max_spans: 2 });
  if (first) {
    checkSpans('get_trace max_spans=2', expected.slice(0, 2), first.spans);
    const cursor = first.nextCursor;
    if (check(typeof cursor === 'string' && cursor !== '', `get_trace max_spans=2: nextCursor is set (${short(cursor)})`)) {
      const { sc: second } = await structured('get_trace', { trace_id: tid, max_spans: 2, cursor });
      if (second) {
        // A later page nests its spans among themselves: a span whose parent is on an earlier
        // page starts at depth 0 (its parentSpanId still names the parent).
        const later = expectedSpans({ ...api, spans: api.spans.slice(2) }, sent, false);
        checkSpans('get_trace max_spans=2 cursor', later, second.spans);
        check(second.nextCursor === null, `get_trace max_spans=2 cursor: the last page's nextCursor is null (${short(second.nextCursor)})`);
      }
    }
  }
}

async function getSpan(sent) {
  const tid = sent.traceId;
  const ids = [sent.error.spanId, sent.root.spanId];
  const { sc } = await structured('get_span', { trace_id: tid, span_ids: ids });
  if (sc) {
    const want = { spans: await Promise.all(ids.map((id) => apiGet(`/v1/traces/${tid}/spans/${id}`))) };
    equal('get_span: the GET /v1/traces/{id}/spans/{spanId} bodies, in the order asked', want, sc);
  }
  await refused('get_span', { trace_id: tid, span_ids: ['00000000000000ff'] });
}

async function getTraceErrors(sent) {
  const tid = sent.traceId;
  const { sc } = await structured('get_trace_errors', { trace_id: tid });
  if (!sc) return;
  const api = await apiGet(`/v1/traces/${tid}`);
  const err = api.spans.find((s) => s.spanId === sent.error.spanId);
  const root = api.spans.find((s) => s.spanId === sent.root.spanId);
  const event = sent.error.events[0].attributes;
  const want = {
    traceId: tid,
    errorCount: 1,
    errors: [
      {
        spanId: err.spanId,
        name: err.name,
        service: sent.service,
        offsetNs: Number(BigInt(err.startTimeUnixNano) - BigInt(api.startTimeUnixNano)),
        durationNs: err.durationNs,
        statusMessage: err.status.message,
        attributes: err.attributes,
        exceptions: [{ type: event['exception.type'], message: event['exception.message'], stacktrace: event['exception.stacktrace'] }],
        path: [{ spanId: root.spanId, name: root.name, service: sent.service }],
      },
    ],
  };
  equal('get_trace_errors: our error span, its attributes, exception and path from the root', want, sc, false);
}

async function logs(sent) {
  const tid = sent.traceId;
  const cases = [
    ['(service)', { service: sent.service }, { service: sent.service }],
    ['(service, severity=error)', { service: sent.service, severity: 'error' }, { service: sent.service, severity: 'error' }],
    ['(trace_id, severity=17)', { trace_id: tid, severity: 17 }, { traceId: tid, severity: 17 }],
    [
      '(service, span_id, text)',
      { service: sent.service, span_id: sent.error.spanId, text: 'PROVIDER' },
      { service: sent.service, spanId: sent.error.spanId, q: 'PROVIDER' },
    ],
  ];
  for (const [what, args, query] of cases) {
    const { sc } = await structured('search_logs', args);
    if (!sc) continue;
    const api = await apiGet('/v1/logs', { ...query, limit: 20 });
    equal(`search_logs ${what}: the body of GET /v1/logs (${api.logs.length} records)`, api, sc);
  }
  const api = await apiGet(`/v1/traces/${tid}/logs`, { limit: 100 });
  check(api.logs.length === sent.logs.length, `GET /v1/traces/{id}/logs has our ${sent.logs.length} records`);
  const { sc } = await structured('get_trace_logs', { trace_id: tid });
  if (sc) equal('get_trace_logs: the body of GET /v1/traces/{id}/logs?limit=100', api, sc);
}

// A gauge of this run's service: list_metrics equals GET /v1/metrics?service=, and
// get_metric folds its points into steps with the exemplar's trace in the text.
async function metrics(sent) {
  const now = BigInt(Date.now()) * 1000000n;
  const name = 'mcp.sdk.queue';
  await exportOtlp('metrics', { resourceMetrics: [{
    resource: { attributes: [{ key: 'service.name', value: { stringValue: sent.service } }] },
    scopeMetrics: [{ metrics: [{ name, unit: '{item}', gauge: { dataPoints: [
      { timeUnixNano: String(now - 60000000000n), asInt: '3' },
      { timeUnixNano: String(now - 1000000000n), asInt: '7',
        exemplars: [{ timeUnixNano: String(now - 1000000000n), asInt: '7', traceId: sent.traceId, spanId: sent.root.spanId }] },
    ] } }] }] }] });
  let { sc } = await structured('list_metrics', { service: sent.service });
  if (sc) equal('list_metrics: the body of GET /v1/metrics?service=', await apiGet('/v1/metrics', { service: sent.service }), sc);
  let text;
  ({ sc, text } = await structured('get_metric', { name, service: sent.service, since: '15m' }));
  if (sc) {
    const values = (sc.series ?? []).flatMap((s) => (s.points ?? []).map((p) => p.value));
    check((sc.series ?? []).length === 1 && values.at(-1) === 7, `get_metric: one series, the last step's value 7 (${short(values)})`);
    check(typeof text === 'string' && text.includes(sent.traceId), "get_metric: the text names the exemplar's trace", [String(text).slice(0, 400)]);
  }
}

async function stats() {
  const { sc } = await structured('get_stats', {});
  if (!sc) return;
  const api = await apiGet('/v1/stats');
  check(
    Object.keys(sc).sort().join() === Object.keys(api).sort().join(),
    'get_stats: the keys of GET /v1/stats',
    [`mcp ${Object.keys(sc).sort()}`, `api ${Object.keys(api).sort()}`],
  );
  check(Number.isInteger(sc.spans) && sc.spans >= 4, `get_stats: spans >= 4 (${short(sc.spans)})`);
}

async function badInput() {
  await refused('get_trace', { trace_id: 'nope' });
  await refused('get_trace', { trace_id: hex(16) });
  await refused('search_traces', { min_duration: 'fast' }, ['minDuration', 'min_duration', 'fast']);
}

async function deleteTrace(sent) {
  const doomed = makeTrace(`${sent.service}-delete`, false);
  await exportOtlp('traces', doomed.body());
  const tid = doomed.traceId;
  if (allowDelete) {
    const { sc } = await structured('delete_trace', { trace_id: tid });
    if (sc) equal('delete_trace: {deleted: true, traceId}', { deleted: true, traceId: tid }, sc);
    const { status } = await request('GET', `/v1/traces/${tid}`);
    check(status === 404, `delete_trace: GET /v1/traces/{id} is then 404 (got ${status})`);
  } else {
    await refused('delete_trace', { trace_id: tid });
    const { status } = await request('GET', `/v1/traces/${tid}`);
    check(status === 200, `delete_trace not allowed: the trace is still there (GET answered ${status})`);
  }
}

async function waitForTraces(sent) {
  const service = `${sent.service}-wait`;
  const late = makeTrace(service, false);
  let started = Date.now();
  const sender = sleep(2000).then(() => exportOtlp('traces', late.body()));
  const [{ sc }] = await Promise.all([structured('wait_for_traces', { service, timeout_seconds: 20 }), sender]);
  let took = (Date.now() - started) / 1000;
  if (sc) {
    const traces = sc.traces ?? [];
    const ids = traces.map((t) => t.traceId);
    check(
      sc.timedOut === false && ids.includes(late.traceId),
      `wait_for_traces: returns the trace sent 2 s after it began (${short(ids)}, timedOut=${short(sc.timedOut)})`,
    );
    check(took >= 1.5 && took < 15, `wait_for_traces: answered ${took.toFixed(1)} s after it began, soon after the trace arrived`);
    const api = await apiGet('/v1/traces', { service, limit: 10 });
    equal("wait_for_traces: its summaries equal GET /v1/traces's", api.traces, withoutUrl(traces));
    check(urlsOk(traces), 'wait_for_traces: every trace has a url');
  }
  started = Date.now();
  const { sc: none } = await structured('wait_for_traces', { service: `${sent.service}-nobody`, timeout_seconds: 1 });
  took = (Date.now() - started) / 1000;
  if (none) {
    check(none.timedOut === true && Array.isArray(none.traces) && none.traces.length === 0, `wait_for_traces timeout_seconds=1: timedOut true, no traces (${short(none)})`);
    check(took >= 0.9 && took < 10, `wait_for_traces timeout_seconds=1: answered after ${took.toFixed(1)} s`);
  }
}

// The Streamable HTTP rules checked with plain fetch, outside the SDK.
async function rawHttpChecks() {
  const accept = { Accept: 'application/json, text/event-stream' };
  const initialize = (version) => ({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
  });
  let r = await request('POST', '/mcp', { body: initialize('2025-06-18'), headers: accept, withToken: false });
  check(r.status === 401, `POST /mcp without the token: 401 (got ${r.status})`);
  r = await request('POST', '/mcp', { body: initialize('2025-06-18'), headers: { ...accept, Authorization: 'Bearer wrong-token' } });
  check(r.status === 401, `POST /mcp with a wrong token: 401 (got ${r.status})`);
  r = await request('POST', '/mcp', { body: initialize('2025-06-18'), headers: { ...accept, Origin: 'https://evil.example' } });
  check(r.status === 403, `POST /mcp from Origin https://evil.example: 403 (got ${r.status})`);
  const origin = new URL(baseUrl).origin;
  r = await request('POST', '/mcp', { body: initialize('2025-06-18'), headers: { ...accept, Origin: origin } });
  check(r.status === 200, `POST /mcp from the server's own Origin ${origin}: 200 (got ${r.status}: ${short(r.body, 200)})`);
  for (const method of ['GET', 'DELETE']) {
    r = await request(method, '/mcp', { headers: accept });
    check(r.status === 405, `${method} /mcp: 405 (got ${r.status})`);
  }
  for (const version of PROTOCOL_VERSIONS) {
    r = await request('POST', '/mcp', { body: initialize(version), headers: accept });
    const result = r.body?.result ?? {};
    check(
      r.status === 200 &&
        (r.headers.get('content-type') ?? '').startsWith('application/json') &&
        r.headers.get('mcp-session-id') === null &&
        result.protocolVersion === version &&
        result.serverInfo?.name === 'otel-worker',
      `raw initialize at ${version}: 200 application/json, no Mcp-Session-Id, protocolVersion echoed`,
      [`status ${r.status}`, `Content-Type ${r.headers.get('content-type')}`, `Mcp-Session-Id ${r.headers.get('mcp-session-id')}`, short(r.body)],
    );
  }
  r = await request('POST', '/mcp', {
    body: { jsonrpc: '2.0', method: 'notifications/initialized' },
    headers: { ...accept, 'MCP-Protocol-Version': '2025-06-18' },
  });
  check(r.status === 202, `POST /mcp with a notification: 202 (got ${r.status}: ${short(r.body, 200)})`);
}

async function main() {
  console.log(`${label}: @modelcontextprotocol/sdk, LATEST_PROTOCOL_VERSION ${LATEST_PROTOCOL_VERSION}`);
  const service = `mcp-js-${transportKind}-${process.pid}-${hex(3)}`;
  const sent = makeTrace(service);
  await exportOtlp('traces', sent.body());
  await exportOtlp('logs', sent.logsBody());
  check(true, `sent trace ${sent.traceId} (${sent.spans.length} spans) and ${sent.logs.length} log records as service ${service}`);
  if (transportKind === 'http') await rawHttpChecks();
  await connect();
  try {
    const steps = [
      ['initialize', handshake],
      ['tools/list', listTools],
      ['resources', () => resources(sent)],
      ['list_services', () => listServices(sent)],
      ['search_traces', () => searches(sent)],
      ['get_trace', () => getTrace(sent)],
      ['get_span', () => getSpan(sent)],
      ['get_trace_errors', () => getTraceErrors(sent)],
      ['logs', () => logs(sent)],
      ['get_stats', stats],
      ['metrics', () => metrics(sent)],
      ['bad input', badInput],
      ['delete_trace', () => deleteTrace(sent)],
      ['wait_for_traces', () => waitForTraces(sent)],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        // one broken step must not hide the others
        check(false, `${name}: threw ${error?.name}: ${error?.message}`, String(error?.stack ?? '').split('\n').slice(1, 8));
      }
    }
  } finally {
    await client.close();
  }
}

try {
  await main();
} catch (error) {
  check(false, `the run threw ${error?.name}: ${error?.message}`, String(error?.stack ?? '').split('\n').slice(1, 10));
}
if (failed && transportKind === 'stdio' && serverStderr) {
  const tail = serverStderr.trimEnd().split('\n').slice(-30);
  console.log(`${label}: the stdio server's stderr (last ${tail.length} lines):`);
  for (const line of tail) console.log(`       ${line}`);
}
console.log(`${label}: ${passed} checks passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
