"""Checks otel-worker's MCP server with the official MCP Python SDK (`mcp`), over stdio or
Streamable HTTP, against the HTTP API answering the same questions.

The script first sends a known trace (a server root span with three children, one of them an
error with an `exception` event) and two log records of it through the OTLP/HTTP JSON API, under
a service name of its own, then asks every tool about that data and compares the structured
answers with what the API returns for the same question.

    python client.py --base-url URL --token T --transport http
    python client.py --base-url URL --token T --transport stdio --cli PATH/otel-worker-cli
                     [--delete]     # the server allows delete_trace (stdio: --allow-delete
                                    # is passed; HTTP: the server runs with --mcp-allow-delete)
                     [--connect-mode auto|legacy]   # the SDK's handshake policy (default auto:
                                    # a server/discover probe, then initialize)

Prints one line per check and a summary; exits 1 when any check failed.
"""

import argparse
import json
import os
import re
import secrets
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

import anyio
import anyio.to_thread
import httpx2
from jsonschema import Draft202012Validator
from mcp import Client, MCPError, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import Implementation
from mcp_types.version import LATEST_HANDSHAKE_VERSION, LATEST_PROTOCOL_VERSION

PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
READ_ONLY_TOOLS = (
    "list_services",
    "search_traces",
    "get_trace",
    "get_span",
    "get_trace_errors",
    "compare_traces",
    "compare_groups",
    "search_logs",
    "get_trace_logs",
    "get_stats",
    "list_metrics",
    "get_metric",
    "wait_for_traces",
)
TEMPLATE = "otel-worker://traces/{traceId}"


class Checks:
    """Counts and prints checks: `ok  <label>: what` or `FAIL <label>: what` plus details."""

    def __init__(self, label):
        self.label = label
        self.passed = 0
        self.failed = 0

    def check(self, ok, what, details=()):
        if ok:
            self.passed += 1
            print(f"ok   {self.label}: {what}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {self.label}: {what}", flush=True)
            for line in list(details)[:25]:
                print(f"       {line}", flush=True)
        return bool(ok)

    def equal(self, what, want, got, exact=True):
        """`got` must be `want`, with the same JSON types (True is not 1, 2.0 is not 2); with
        exact=False, keys only in `got` are allowed."""
        return self.check(not (found := differences(want, got, exact=exact)), what, found)


def tagged(value):
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", value)
    return (type(value).__name__, value)


def differences(want, got, path="$", exact=True):
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [f"{path}: expected an object, got {short(got)}"]
        found = []
        for key, value in want.items():
            if key not in got:
                found.append(f"{path}.{key}: missing (expected {short(value)})")
            else:
                found.extend(differences(value, got[key], f"{path}.{key}", exact))
        if exact:
            found.extend(f"{path}.{key}: unexpected (got {short(got[key])})" for key in got if key not in want)
        return found
    if isinstance(want, list):
        if not isinstance(got, list):
            return [f"{path}: expected a list, got {short(got)}"]
        if len(got) != len(want):
            return [f"{path}: expected {len(want)} items, got {len(got)}: {short(got)}"]
        return [d for i, (w, g) in enumerate(zip(want, got)) for d in differences(w, g, f"{path}[{i}]", exact)]
    if tagged(want) != tagged(got):
        return [f"{path}: expected {tagged(want)}, got {tagged(got)}"]
    return []


def short(value, limit=300):
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# ---------------------------------------------------------------------------------------------
# The HTTP API, outside MCP


class Api:
    def __init__(self, base_url, token):
        self.base_url = base_url.rstrip("/")
        self.token = token

    def request(self, method, path, body=None, headers=None, token=True):
        """(status, headers, body parsed as JSON when it is JSON, else text)."""
        all_headers = dict(headers or {})
        if token:
            all_headers.setdefault("Authorization", f"Bearer {self.token}")
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, got_headers, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, got_headers, raw = error.code, error.headers, error.read()
        text = raw.decode("utf-8", "replace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return status, got_headers, parsed

    def get(self, path, **query):
        """GET with query parameters (lists repeat the parameter); the JSON body of a 200."""
        pairs = []
        for key, value in query.items():
            for item in value if isinstance(value, list) else [value]:
                pairs.append((key, str(item).lower() if isinstance(item, bool) else str(item)))
        if pairs:
            path += "?" + urllib.parse.urlencode(pairs)
        status, _, body = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {short(body)}")
        return body

    def export(self, signal, body):
        status, _, answer = self.request("POST", f"/v1/{signal}", body)
        if status != 200:
            raise RuntimeError(f"POST /v1/{signal} answered {status}: {short(answer)}")
        partial = (answer or {}).get("partialSuccess") or {}
        if partial.get("rejectedSpans") or partial.get("rejectedLogRecords"):
            raise RuntimeError(f"POST /v1/{signal} rejected data: {short(answer)}")


# ---------------------------------------------------------------------------------------------
# The data this run sends


def otlp_value(value):
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": value}


def otlp_attributes(mapping):
    return [{"key": key, "value": otlp_value(value)} for key, value in mapping.items()]


class Sent:
    """One trace as sent: its ids, its spans (name, id, parent, times, status, attributes,
    events) and, when given, two log records. `body()` / `logs_body()` are the OTLP/JSON."""

    def __init__(self, service, with_children=True):
        self.service = service
        self.trace_id = secrets.token_hex(16)
        t0 = time.time_ns() - 2_000_000_000
        ms = 1_000_000

        def span(name, kind, start, end, parent=None, status=None, attributes=None, events=()):
            return {
                "name": name,
                "spanId": secrets.token_hex(8),
                "parent": parent,
                "kind": kind,
                "start": t0 + start * ms,
                "end": t0 + end * ms,
                "status": status or {},
                "attributes": attributes or {},
                "events": list(events),
            }

        self.root = span(
            "GET /orders/{id}",
            2,
            0,
            120,
            attributes={
                "http.request.method": "GET",
                "http.route": "/orders/{id}",
                "url.path": "/orders/42",
                "http.response.status_code": 502,
            },
        )
        self.spans = [self.root]
        self.error = None
        if not with_children:
            return
        root_id = self.root["spanId"]
        self.spans.append(
            span(
                "SELECT orders",
                3,
                5,
                35,
                parent=root_id,
                status={"code": 1},
                attributes={"db.system.name": "postgresql", "db.query.text": "SELECT * FROM orders WHERE id = $1"},
                events=[{"name": "rows fetched", "time": t0 + 30 * ms, "attributes": {"rows": 1}}],
            )
        )
        self.error = span(
            "POST /payments",
            3,
            40,
            95,
            parent=root_id,
            status={"code": 2, "message": "payment provider answered 503"},
            attributes={
                "http.request.method": "POST",
                "server.address": "payments.internal",
                "http.response.status_code": 503,
                "payment.provider": "acme",
                "retry.ratio": 0.5,
            },
            events=[
                {
                    "name": "exception",
                    "time": t0 + 94 * ms,
                    "attributes": {
                        "exception.type": "PaymentUnavailableError",
                        "exception.message": "payment provider answered 503",
                        "exception.stacktrace": "PaymentUnavailableError: payment provider answered 503\n"
                        "    at charge (payments.js:42:11)\n    at checkout (orders.js:7:3)",
                    },
                }
            ],
        )
        self.spans.append(self.error)
        self.spans.append(
            span("render response", 1, 100, 118, parent=root_id, attributes={"template": "order.html"})
        )
        self.logs = [
            {
                "timeUnixNano": str(t0 + 2 * ms),
                "observedTimeUnixNano": str(t0 + 2 * ms),
                "severityNumber": 9,
                "severityText": "INFO",
                "body": {"stringValue": "looking up order 42"},
                "attributes": otlp_attributes({"order.id": 42}),
                "traceId": self.trace_id,
                "spanId": root_id,
            },
            {
                "timeUnixNano": str(t0 + 94 * ms),
                "observedTimeUnixNano": str(t0 + 94 * ms),
                "severityNumber": 17,
                "severityText": "ERROR",
                "body": {"stringValue": "payment failed: provider answered 503"},
                "attributes": otlp_attributes({"payment.provider": "acme"}),
                "traceId": self.trace_id,
                "spanId": self.error["spanId"],
            },
        ]

    def resource(self):
        return {"attributes": otlp_attributes({"service.name": self.service, "deployment.environment": "test"})}

    def body(self):
        spans = [
            {
                "traceId": self.trace_id,
                "spanId": s["spanId"],
                **({"parentSpanId": s["parent"]} if s["parent"] else {}),
                "name": s["name"],
                "kind": s["kind"],
                "startTimeUnixNano": str(s["start"]),
                "endTimeUnixNano": str(s["end"]),
                "attributes": otlp_attributes(s["attributes"]),
                "events": [
                    {"name": e["name"], "timeUnixNano": str(e["time"]), "attributes": otlp_attributes(e["attributes"])}
                    for e in s["events"]
                ],
                "status": s["status"],
            }
            for s in self.spans
        ]
        scope = {"name": "otel-worker.mcp-test", "version": "1.0.0"}
        return {"resourceSpans": [{"resource": self.resource(), "scopeSpans": [{"scope": scope, "spans": spans}]}]}

    def logs_body(self):
        scope = {"name": "otel-worker.mcp-test.logs"}
        return {"resourceLogs": [{"resource": self.resource(), "scopeLogs": [{"scope": scope, "logRecords": self.logs}]}]}


# ---------------------------------------------------------------------------------------------
# MCP


def make_client(args, errlog):
    info = Implementation(name="otel-worker-mcp-test-python", version="1.0.0")
    if args.transport == "stdio":
        server_args = ["mcp", "--base-url", args.base_url, "--auth-token", args.token]
        if args.delete:
            server_args.append("--allow-delete")
        transport = stdio_client(StdioServerParameters(command=args.cli, args=server_args), errlog=errlog)
    else:
        http = httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {args.token}"}, timeout=httpx2.Timeout(30.0, read=120.0)
        )
        transport = _http(f"{args.base_url.rstrip('/')}/mcp", http)
    return Client(transport, mode=args.connect_mode, cache=None, read_timeout_seconds=90, client_info=info)


class _http:
    """The SDK's Streamable HTTP transport over an httpx2 client carrying the token; closes the
    httpx2 client after it."""

    def __init__(self, url, http):
        self.url = url
        self.http = http
        self.inner = None

    async def __aenter__(self):
        await self.http.__aenter__()
        self.inner = streamable_http_client(self.url, http_client=self.http)
        return await self.inner.__aenter__()

    async def __aexit__(self, *exc):
        try:
            return await self.inner.__aexit__(*exc)
        finally:
            await self.http.__aexit__(None, None, None)


class Session:
    """The checks of one connected client."""

    def __init__(self, client, checks, api, args):
        self.client = client
        self.c = checks
        self.api = api
        self.args = args
        self.schemas = {}

    async def call(self, name, arguments):
        """(CallToolResult, None) or (None, MCPError). Arguments are checked against the tool's
        listed inputSchema first (a failure there is a failed check: the schema rejects what
        the spec allows)."""
        schema = self.schemas.get(name)
        if schema is not None:
            problems = [e.message for e in Draft202012Validator(schema).iter_errors(arguments)]
            if problems:
                self.c.check(False, f"{name}: arguments {short(arguments)} are valid per its inputSchema", problems)
        try:
            return await self.client.call_tool(name, arguments), None
        except MCPError as error:
            return None, error

    async def structured(self, name, arguments):
        """The structuredContent and text of a successful call, after checking its shape."""
        result, error = await self.call(name, arguments)
        what = f"{name} {short(arguments, 120)}"
        if error is not None:
            self.c.check(False, f"{what}: succeeds", [f"JSON-RPC error {error.code}: {error.message}"])
            return None, None
        texts = [block.text for block in result.content if block.type == "text"]
        ok = self.c.check(
            not result.is_error and isinstance(result.structured_content, dict) and len(texts) == 1 and texts[0].strip(),
            f"{what}: not an error, structuredContent is an object, one non-empty text block",
            [f"isError={result.is_error}", f"structuredContent={short(result.structured_content)}", f"texts={short(texts)}"],
        )
        if not ok and (result.is_error or not isinstance(result.structured_content, dict)):
            return None, None
        return result.structured_content, (texts[0] if texts else "")

    async def refused(self, name, arguments, mentions=()):
        """A call that must fail: an isError result with a message (or a JSON-RPC error); the
        message must mention one of `mentions` when given."""
        result, error = await self.call(name, arguments)
        if error is not None:
            message = error.message or ""
            how = f"JSON-RPC error {error.code}"
        else:
            message = " ".join(block.text for block in result.content if block.type == "text")
            how = f"isError={result.is_error}"
            if not result.is_error:
                message = ""
        ok = bool(message.strip()) and (not mentions or any(m.lower() in message.lower() for m in mentions))
        wanted = f", mentioning {' or '.join(mentions)}" if mentions else ""
        self.c.check(ok, f"{name} {short(arguments, 120)}: refused with a message{wanted} ({how}: {message[:160]!r})")

    # --- handshake and listings -------------------------------------------------------------

    async def handshake(self):
        c, client = self.c, self.client
        info = client.server_info
        c.check(info is not None and info.name == "otel-worker", f"serverInfo.name is 'otel-worker' (got {info!r})")
        instructions = client.instructions
        c.check(isinstance(instructions, str) and instructions.strip(), f"instructions are non-empty ({len(instructions or '')} characters)")
        c.check(
            client.protocol_version == LATEST_HANDSHAKE_VERSION,
            f"negotiated protocol version {client.protocol_version} is the SDK's newest handshake version {LATEST_HANDSHAKE_VERSION}",
        )
        caps = client.server_capabilities
        c.check(caps.tools is not None and caps.resources is not None, f"capabilities include tools and resources ({short(caps.model_dump(by_alias=True, exclude_none=True))})")

    async def tools(self):
        c = self.c
        tools, cursor = [], None
        while True:
            page = await self.client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        names = [t.name for t in tools]
        want = set(READ_ONLY_TOOLS) | ({"delete_trace"} if self.args.delete else set())
        c.check(set(names) == want and len(names) == len(want), f"tools/list names the {len(want)} expected tools", [f"got {sorted(names)}", f"expected {sorted(want)}"])
        for tool in tools:
            schema = tool.input_schema
            problems = []
            if not isinstance(schema, dict) or schema.get("type") != "object":
                problems.append(f"inputSchema is not an object schema: {short(schema)}")
            else:
                try:
                    Draft202012Validator.check_schema(schema)
                    self.schemas[tool.name] = schema
                except Exception as error:  # jsonschema.SchemaError
                    problems.append(f"inputSchema is not valid JSON Schema 2020-12: {error}")
            if tool.output_schema is not None:
                try:
                    Draft202012Validator.check_schema(tool.output_schema)
                except Exception as error:
                    problems.append(f"outputSchema is not valid JSON Schema 2020-12: {error}")
            if not (tool.description or "").strip():
                problems.append("no description")
            hints = tool.annotations
            if tool.name == "delete_trace":
                if not (hints and hints.destructive_hint is True):
                    problems.append(f"annotations.destructiveHint is not true: {hints!r}")
                if hints and hints.read_only_hint:
                    problems.append("delete_trace says readOnlyHint")
            elif not (hints and hints.read_only_hint is True):
                problems.append(f"annotations.readOnlyHint is not true: {hints!r}")
            c.check(not problems, f"tool {tool.name}: valid object inputSchema, description, annotations", problems)
        return names

    # --- the tools against the API ----------------------------------------------------------

    async def list_services(self, sent):
        sc, _ = await self.structured("list_services", {})
        if sc is None:
            return
        api = self.api.get("/v1/services")
        ours = [s for s in sc.get("services", []) if s.get("name") == sent.service]
        api_ours = [s for s in api["services"] if s["name"] == sent.service]
        self.c.check(set(sc) == set(api), f"list_services: the keys of GET /v1/services ({sorted(sc)})")
        self.c.equal(f"list_services: the entry of {sent.service} equals GET /v1/services's", api_ours, ours)
        self.c.check(len(api_ours) == 1 and api_ours[0]["spanCount"] == len(sent.spans), f"GET /v1/services counts our {len(sent.spans)} spans")

    async def search(self, what, arguments, query, must_hold=None):
        """search_traces(arguments) against GET /v1/traces?query&limit=10."""
        sc, _ = await self.structured("search_traces", arguments)
        if sc is None:
            return None
        api = self.api.get("/v1/traces", **query, limit=arguments.get("limit", 10))
        got = sc.get("traces")
        if not self.c.check(isinstance(got, list), f"search_traces {what}: traces is a list"):
            return None
        bad_urls = [t for t in got if not (isinstance(t.get("url"), str) and t.get("traceId", "-") in t["url"])]
        self.c.check(not bad_urls, f"search_traces {what}: every trace has a url naming its id" + (f" ({got[0]['url']})" if got and not bad_urls else ""), [short(t) for t in bad_urls])
        stripped = [{k: v for k, v in t.items() if k != "url"} for t in got]
        self.c.equal(f"search_traces {what}: {len(got)} traces equal GET /v1/traces's, in order", api["traces"], stripped)
        self.c.check(
            sc.get("nextCursor", "missing") == api.get("nextCursor") and sc.get("partial") == api.get("partial", False),
            f"search_traces {what}: nextCursor and partial as the API's",
            [f"mcp nextCursor={sc.get('nextCursor', 'missing')!r} partial={sc.get('partial', 'missing')!r}", f"api nextCursor={api.get('nextCursor')!r} partial={api.get('partial')!r}"],
        )
        if must_hold is not None:
            self.c.check(must_hold(stripped), f"search_traces {what}: finds what was sent", [short(stripped)])
        return stripped

    async def searches(self, sent):
        tid = sent.trace_id
        only_ours = lambda traces: [t["traceId"] for t in traces] == [tid]  # noqa: E731
        await self.search("(service)", {"service": sent.service}, {"service": sent.service}, only_ours)
        await self.search(
            "(service, status, min_duration, attributes)",
            {"service": sent.service, "status": "error", "min_duration": "40ms", "attributes": ["payment.provider=acme"]},
            {"service": sent.service, "status": "error", "minDuration": "40ms", "attr": ["payment.provider=acme"]},
            only_ours,
        )
        await self.search(
            "(service, name, max_duration: none match)",
            {"service": sent.service, "name": "render response", "max_duration": "10ms"},
            {"service": sent.service, "name": "render response", "maxDuration": "10ms"},
            lambda traces: traces == [],
        )
        await self.search(
            "(service, root, name, text)",
            {"service": sent.service, "root": True, "name": sent.root["name"], "text": "ORDERS/42"},
            {"service": sent.service, "root": True, "name": sent.root["name"], "q": "ORDERS/42"},
            only_ours,
        )
        sc, _ = await self.structured("search_traces", {"service": sent.service, "since": "15m", "limit": 5})
        if sc is not None:
            ids = [t.get("traceId") for t in sc.get("traces", [])]
            self.c.check(ids == [tid], f"search_traces (service, since=15m, limit=5): finds our trace ({ids})")

    def expected_spans(self, api_trace, sent, attributes):
        """get_trace's spans as the spec derives them from GET /v1/traces/{id}."""
        start = int(api_trace["startTimeUnixNano"])
        depth = {}
        logs = {}
        for record in sent.logs:
            logs[record["spanId"]] = logs.get(record["spanId"], 0) + 1
        spans = []
        for s in api_trace["spans"]:
            parent = s["parentSpanId"]
            depth[s["spanId"]] = depth[parent] + 1 if parent in depth else 0
            want = {
                "spanId": s["spanId"],
                "parentSpanId": parent,
                "depth": depth[s["spanId"]],
                "name": s["name"],
                "service": s["resource"]["attributes"].get("service.name"),
                "kind": s["kind"],
                "offsetNs": int(s["startTimeUnixNano"]) - start,
                "durationNs": s["durationNs"],
                "status": s["status"]["code"],
                "eventCount": len(s["events"]),
            }
            if attributes or s["status"]["code"] == "error":
                want["attributes"] = s["attributes"]
            if s["status"]["message"]:
                want["statusMessage"] = s["status"]["message"]
            spans.append((want, logs.get(s["spanId"], 0)))
        return spans

    def check_spans(self, what, expected, got):
        c = self.c
        if not c.check(isinstance(got, list) and len(got) == len(expected), f"{what}: {len(expected)} spans", [short(got)]):
            return
        c.check([s.get("spanId") for s in got] == [w["spanId"] for w, _ in expected], f"{what}: span ids in start order as GET /v1/traces/{{id}}")
        problems = []
        for (want, log_count), span in zip(expected, got):
            label = f"span {want['name']!r}"
            problems += [f"{label}: {d}" for d in differences(want, span, exact=False)]
            if "attributes" not in want and "attributes" in span:
                problems.append(f"{label}: has attributes though it is not an error and attributes=false")
            if "statusMessage" not in want and span.get("statusMessage"):
                problems.append(f"{label}: statusMessage {span['statusMessage']!r} though the span has none")
            if "logCount" in span and span["logCount"] != log_count:
                problems.append(f"{label}: logCount {span['logCount']!r}, expected {log_count}")
        c.check(not problems, f"{what}: parents, depths, names, services, kinds, offsets, durations, statuses, attributes, event and log counts", problems)

    async def get_trace(self, sent):
        c = self.c
        tid = sent.trace_id
        api = self.api.get(f"/v1/traces/{tid}")
        sc, text = await self.structured("get_trace", {"trace_id": tid})
        if sc is not None:
            summary = {k: api[k] for k in ("traceId", "rootSpanName", "serviceName", "startTimeUnixNano", "durationNs", "spanCount", "errorCount", "services")}
            c.equal("get_trace: the summary equals GET /v1/traces/{id}'s", summary, {k: sc.get(k, "<missing>") for k in summary})
            c.check(isinstance(sc.get("url"), str) and tid in sc["url"], f"get_trace: url names the trace ({sc.get('url')!r})")
            self.check_spans("get_trace", self.expected_spans(api, sent, False), sc.get("spans"))
            c.check("nextCursor" in sc and sc["nextCursor"] is None, f"get_trace: nextCursor is null ({sc.get('nextCursor', '<missing>')!r})")
            c.check(sent.root["name"] in text, f"get_trace: the text mentions the root span {sent.root['name']!r}", [text[:400]])
        sc, _ = await self.structured("get_trace", {"trace_id": tid, "attributes": True})
        if sc is not None:
            self.check_spans("get_trace attributes=true", self.expected_spans(api, sent, True), sc.get("spans"))
        expected = self.expected_spans(api, sent, False)
        first, _ = await self.structured("get_trace", {"trace_id": tid, "max_spans": 2})
        if first is not None:
            self.check_spans("get_trace max_spans=2", expected[:2], first.get("spans"))
            cursor = first.get("nextCursor")
            if c.check(isinstance(cursor, str) and cursor, f"get_trace max_spans=2: nextCursor is set ({cursor!r})"):
                second, _ = await self.structured("get_trace", {"trace_id": tid, "max_spans": 2, "cursor": cursor})
                if second is not None:
                    # A later page nests its spans among themselves: a span whose parent is on an
                    # earlier page starts at depth 0 (its parentSpanId still names the parent).
                    later = self.expected_spans({**api, "spans": api["spans"][2:]}, sent, False)
                    self.check_spans("get_trace max_spans=2 cursor", later, second.get("spans"))
                    c.check(second.get("nextCursor", "missing") is None, f"get_trace max_spans=2 cursor: the last page's nextCursor is null ({second.get('nextCursor', '<missing>')!r})")

    async def get_span(self, sent):
        tid = sent.trace_id
        ids = [sent.error["spanId"], sent.root["spanId"]]
        sc, _ = await self.structured("get_span", {"trace_id": tid, "span_ids": ids})
        if sc is not None:
            want = {"spans": [self.api.get(f"/v1/traces/{tid}/spans/{i}") for i in ids]}
            self.c.equal("get_span: the GET /v1/traces/{id}/spans/{spanId} bodies, in the order asked", want, sc)
        await self.refused("get_span", {"trace_id": tid, "span_ids": ["00000000000000ff"]})

    async def get_trace_errors(self, sent):
        tid = sent.trace_id
        sc, _ = await self.structured("get_trace_errors", {"trace_id": tid})
        if sc is None:
            return
        api = self.api.get(f"/v1/traces/{tid}")
        spans = {s["spanId"]: s for s in api["spans"]}
        err, root = spans[sent.error["spanId"]], spans[sent.root["spanId"]]
        event = sent.error["events"][0]["attributes"]
        service = sent.service
        want = {
            "traceId": tid,
            "errorCount": 1,
            "errors": [
                {
                    "spanId": err["spanId"],
                    "name": err["name"],
                    "service": service,
                    "offsetNs": int(err["startTimeUnixNano"]) - int(api["startTimeUnixNano"]),
                    "durationNs": err["durationNs"],
                    "statusMessage": err["status"]["message"],
                    "attributes": err["attributes"],
                    "exceptions": [
                        {"type": event["exception.type"], "message": event["exception.message"], "stacktrace": event["exception.stacktrace"]}
                    ],
                    "path": [{"spanId": root["spanId"], "name": root["name"], "service": service}],
                }
            ],
        }
        self.c.equal("get_trace_errors: our error span, its attributes, exception and path from the root", want, sc, exact=False)

    async def logs(self, sent):
        tid = sent.trace_id
        for what, arguments, query in (
            ("(service)", {"service": sent.service}, {"service": sent.service}),
            ("(service, severity=error)", {"service": sent.service, "severity": "error"}, {"service": sent.service, "severity": "error"}),
            ("(trace_id, severity=17)", {"trace_id": tid, "severity": 17}, {"traceId": tid, "severity": 17}),
            ("(service, span_id, text)", {"service": sent.service, "span_id": sent.error["spanId"], "text": "PROVIDER"}, {"service": sent.service, "spanId": sent.error["spanId"], "q": "PROVIDER"}),
        ):
            sc, _ = await self.structured("search_logs", arguments)
            if sc is None:
                continue
            api = self.api.get("/v1/logs", **query, limit=20)
            self.c.equal(f"search_logs {what}: the body of GET /v1/logs ({len(api['logs'])} records)", api, sc)
        api = self.api.get(f"/v1/traces/{tid}/logs", limit=100)
        self.c.check(len(api["logs"]) == len(sent.logs), f"GET /v1/traces/{{id}}/logs has our {len(sent.logs)} records")
        sc, _ = await self.structured("get_trace_logs", {"trace_id": tid})
        if sc is not None:
            self.c.equal("get_trace_logs: the body of GET /v1/traces/{id}/logs?limit=100", api, sc)

    async def stats(self):
        sc, _ = await self.structured("get_stats", {})
        if sc is None:
            return
        api = self.api.get("/v1/stats")
        self.c.check(set(sc) == set(api), f"get_stats: the keys of GET /v1/stats", [f"mcp {sorted(sc)}", f"api {sorted(api)}"])
        spans = sc.get("spans")
        self.c.check(isinstance(spans, int) and not isinstance(spans, bool) and spans >= 4, f"get_stats: spans >= 4 ({spans!r})")

    async def metrics(self, sent):
        """A gauge of this run's service: list_metrics equals GET /v1/metrics?service=, and
        get_metric folds its points into steps with the exemplar's trace in the text."""
        c = self.c
        now = time.time_ns()
        name = "mcp.sdk.queue"
        body = {"resourceMetrics": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": sent.service}}]},
            "scopeMetrics": [{"metrics": [{"name": name, "unit": "{item}", "gauge": {"dataPoints": [
                {"timeUnixNano": str(now - 60 * 10**9), "asInt": "3"},
                {"timeUnixNano": str(now - 10**9), "asInt": "7",
                 "exemplars": [{"timeUnixNano": str(now - 10**9), "asInt": "7", "traceId": sent.trace_id,
                                "spanId": sent.root["spanId"]}]}]}}]}]}]}
        self.api.export("metrics", body)
        sc, _ = await self.structured("list_metrics", {"service": sent.service})
        if sc is not None:
            c.equal("list_metrics: the body of GET /v1/metrics?service=", self.api.get("/v1/metrics", service=sent.service), sc)
        sc, text = await self.structured("get_metric", {"name": name, "service": sent.service, "since": "15m"})
        if sc is not None:
            series = sc.get("series") or []
            values = [p.get("value") for s in series for p in s.get("points", [])]
            c.check(len(series) == 1 and values and values[-1] == 7, f"get_metric: one series, the last step's value 7 ({values})")
            c.check(sent.trace_id in text, "get_metric: the text names the exemplar's trace", [text[:400]])

    async def wait_for_traces(self, sent):
        c = self.c
        service = sent.service + "-wait"
        late = Sent(service, with_children=False)
        outcome = {}

        async def send_late():
            await anyio.sleep(2)
            await anyio.to_thread.run_sync(self.api.export, "traces", late.body())
            outcome["sent"] = time.monotonic()

        started = time.monotonic()
        async with anyio.create_task_group() as group:
            group.start_soon(send_late)
            sc, _ = await self.structured("wait_for_traces", {"service": service, "timeout_seconds": 20})
        took = time.monotonic() - started
        if sc is not None:
            ids = [t.get("traceId") for t in sc.get("traces", [])]
            c.check(
                sc.get("timedOut") is False and late.trace_id in ids,
                f"wait_for_traces: returns the trace sent 2 s after it began ({ids}, timedOut={sc.get('timedOut')!r})",
            )
            c.check(1.5 <= took < 15, f"wait_for_traces: answered {took:.1f} s after it began, soon after the trace arrived")
            api = self.api.get("/v1/traces", service=service, limit=10)
            stripped = [{k: v for k, v in t.items() if k != "url"} for t in sc.get("traces", [])]
            c.equal("wait_for_traces: its summaries equal GET /v1/traces's", api["traces"], stripped)
            c.check(all(isinstance(t.get("url"), str) and t.get("traceId", "-") in t["url"] for t in sc.get("traces", [])), "wait_for_traces: every trace has a url")
        started = time.monotonic()
        sc, _ = await self.structured("wait_for_traces", {"service": sent.service + "-nobody", "timeout_seconds": 1})
        took = time.monotonic() - started
        if sc is not None:
            c.check(sc.get("timedOut") is True and sc.get("traces") == [], f"wait_for_traces timeout_seconds=1: timedOut true, no traces ({short(sc)})")
            c.check(0.9 <= took < 10, f"wait_for_traces timeout_seconds=1: answered after {took:.1f} s")

    async def resources(self, sent):
        c = self.c
        uri = f"otel-worker://traces/{sent.trace_id}"
        templates = (await self.client.list_resource_templates()).resource_templates
        c.check(
            [t.uri_template for t in templates] == [TEMPLATE],
            f"resources/templates/list: one template {TEMPLATE} ({[t.uri_template for t in templates]})",
        )
        # The newest traces come first, a page at a time: other tests may have stored newer
        # ones, so follow nextCursor (up to 50 pages) until ours appears.
        page = await self.client.list_resources()
        uris = [str(r.uri) for r in page.resources]
        first_page = list(uris)
        pages = 1
        while uri not in uris and page.next_cursor and pages < 50:
            page = await self.client.list_resources(cursor=page.next_cursor)
            uris += [str(r.uri) for r in page.resources]
            pages += 1
        c.check(uri in uris, f"resources/list: has {uri} (on page {pages} of {len(uris)} resources)")
        bad = [u for u in uris if not re.fullmatch(r"otel-worker://traces/[0-9a-f]{32}", u)]
        c.check(len(first_page) <= 20 and not bad, "resources/list: at most 20 per page, every uri otel-worker://traces/<traceId>", bad)
        result = await self.client.read_resource(uri)
        contents = result.contents
        text = getattr(contents[0], "text", None) if contents else None
        missing = [s["name"] for s in sent.spans if text is None or s["name"] not in text]
        c.check(
            text is not None and not missing and str(contents[0].uri) == uri and contents[0].mime_type == "text/plain",
            "resources/read: text/plain naming every span of the trace",
            [f"missing span names {missing}", f"uri={contents[0].uri if contents else None}", f"mimeType={getattr(contents[0], 'mime_type', None) if contents else None}", (text or "")[:400]],
        )

    async def bad_input(self, sent):
        await self.refused("get_trace", {"trace_id": "nope"})
        await self.refused("get_trace", {"trace_id": secrets.token_hex(16)})
        await self.refused("search_traces", {"min_duration": "fast"}, mentions=("minDuration", "min_duration", "fast"))

    async def delete(self, sent):
        c = self.c
        doomed = Sent(sent.service + "-delete", with_children=False)
        self.api.export("traces", doomed.body())
        tid = doomed.trace_id
        if self.args.delete:
            sc, _ = await self.structured("delete_trace", {"trace_id": tid})
            if sc is not None:
                c.equal("delete_trace: {deleted: true, traceId}", {"deleted": True, "traceId": tid}, sc)
            status, _, _ = self.api.request("GET", f"/v1/traces/{tid}")
            c.check(status == 404, f"delete_trace: GET /v1/traces/{{id}} is then 404 (got {status})")
        else:
            await self.refused("delete_trace", {"trace_id": tid})
            status, _, _ = self.api.request("GET", f"/v1/traces/{tid}")
            c.check(status == 200, f"delete_trace not allowed: the trace is still there (GET answered {status})")


def raw_http_checks(checks, api):
    """The Streamable HTTP rules checked with plain HTTP requests, outside the SDK."""
    c = checks
    accept = {"Accept": "application/json, text/event-stream"}

    def initialize(version):
        return {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
        }

    status, headers, _ = api.request("POST", "/mcp", initialize("2025-06-18"), headers=accept, token=False)
    c.check(status == 401, f"POST /mcp without the token: 401 (got {status})")
    status, _, _ = api.request("POST", "/mcp", initialize("2025-06-18"), headers={**accept, "Authorization": "Bearer wrong-token"}, token=False)
    c.check(status == 401, f"POST /mcp with a wrong token: 401 (got {status})")
    status, _, _ = api.request("POST", "/mcp", initialize("2025-06-18"), headers={**accept, "Origin": "https://evil.example"})
    c.check(status == 403, f"POST /mcp from Origin https://evil.example: 403 (got {status})")
    own = urllib.parse.urlsplit(api.base_url)
    origin = f"{own.scheme}://{own.netloc}"
    status, _, body = api.request("POST", "/mcp", initialize("2025-06-18"), headers={**accept, "Origin": origin})
    c.check(status == 200, f"POST /mcp from the server's own Origin {origin}: 200 (got {status}: {short(body, 200)})")
    for method in ("GET", "DELETE"):
        status, _, _ = api.request(method, "/mcp", headers=accept)
        c.check(status == 405, f"{method} /mcp: 405 (got {status})")
    for version in PROTOCOL_VERSIONS:
        status, headers, body = api.request("POST", "/mcp", initialize(version), headers=accept)
        result = body.get("result", {}) if isinstance(body, dict) else {}
        c.check(
            status == 200
            and (headers.get("Content-Type") or "").startswith("application/json")
            and headers.get("Mcp-Session-Id") is None
            and result.get("protocolVersion") == version
            and result.get("serverInfo", {}).get("name") == "otel-worker",
            f"raw initialize at {version}: 200 application/json, no Mcp-Session-Id, protocolVersion echoed",
            [f"status {status}", f"Content-Type {headers.get('Content-Type')}", f"Mcp-Session-Id {headers.get('Mcp-Session-Id')}", short(body)],
        )
    status, _, body = api.request(
        "POST",
        "/mcp",
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        headers={**accept, "MCP-Protocol-Version": "2025-06-18"},
    )
    c.check(status == 202, f"POST /mcp with a notification: 202 (got {status}: {short(body, 200)})")


async def run(args, checks, errlog):
    api = Api(args.base_url, args.token)
    service = f"mcp-py-{args.transport}-{os.getpid()}-{secrets.token_hex(3)}"
    sent = Sent(service)
    api.export("traces", sent.body())
    api.export("logs", sent.logs_body())
    checks.check(True, f"sent trace {sent.trace_id} ({len(sent.spans)} spans) and {len(sent.logs)} log records as service {service}")
    if args.transport == "http":
        raw_http_checks(checks, api)
    async with make_client(args, errlog) as client:
        session = Session(client, checks, api, args)
        steps = [
            ("initialize", session.handshake),
            ("tools/list", session.tools),
            ("resources", lambda: session.resources(sent)),
            ("list_services", lambda: session.list_services(sent)),
            ("search_traces", lambda: session.searches(sent)),
            ("get_trace", lambda: session.get_trace(sent)),
            ("get_span", lambda: session.get_span(sent)),
            ("get_trace_errors", lambda: session.get_trace_errors(sent)),
            ("logs", lambda: session.logs(sent)),
            ("get_stats", session.stats),
            ("metrics", lambda: session.metrics(sent)),
            ("bad input", lambda: session.bad_input(sent)),
            ("delete_trace", lambda: session.delete(sent)),
            ("wait_for_traces", lambda: session.wait_for_traces(sent)),
        ]
        for name, step in steps:
            try:
                await step()
            except Exception as error:  # one broken step must not hide the others
                checks.check(False, f"{name}: raised {type(error).__name__}: {error}", traceback.format_exc().splitlines()[-12:])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--transport", choices=["stdio", "http"], required=True)
    parser.add_argument("--cli", help="the otel-worker-cli binary (stdio: runs `CLI mcp`)")
    parser.add_argument("--delete", action="store_true", help="the server allows delete_trace")
    parser.add_argument("--connect-mode", choices=["auto", "legacy"], default="auto")
    args = parser.parse_args()
    if args.transport == "stdio" and not args.cli:
        parser.error("--transport stdio needs --cli")
    label = f"python/{args.transport}" + ("+delete" if args.delete else "")
    checks = Checks(label)
    print(f"{label}: mcp SDK, LATEST_PROTOCOL_VERSION {LATEST_PROTOCOL_VERSION}, handshake {LATEST_HANDSHAKE_VERSION}, connect mode {args.connect_mode}", flush=True)
    with tempfile.TemporaryFile("w+") as errlog:
        try:
            anyio.run(run, args, checks, errlog)
        except BaseException as error:  # noqa: BLE001 - reported as a failure, with the server's stderr
            lines = traceback.format_exception(error)
            checks.check(False, f"the run raised {type(error).__name__}: {error}", "".join(lines).splitlines()[-20:])
        if checks.failed and args.transport == "stdio":
            errlog.seek(0)
            tail = errlog.read().splitlines()[-30:]
            if tail:
                print(f"{label}: the stdio server's stderr (last {len(tail)} lines):")
                for line in tail:
                    print(f"       {line}")
    print(f"{label}: {checks.passed} checks passed, {checks.failed} failed", flush=True)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
