//! The tools and resources. Each asks the HTTP API through the [`Backend`] and shapes the
//! answer for a model: the API's JSON as `structuredContent` (so a program can check it
//! against the API) and a compact text that says what was cut and how to get the rest.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::render::{self, count, number, text};
use super::{ApiFailure, Backend, RpcError};
use crate::query;

/// Names, descriptions, input schemas and annotations of every tool, as `tools/list` shows them.
const CATALOGUE: &str = include_str!("tools.json");

/// The tool that changes data, listed only when the server allows it.
const DELETE_TOOL: &str = "delete_trace";

/// The resource of one trace.
const TRACE_URI_PREFIX: &str = "otel-worker://traces/";

/// The newest traces `resources/list` names per page.
const RESOURCE_PAGE: u32 = 20;

/// Traces `search_traces` lists unless told otherwise.
const DEFAULT_TRACE_LIMIT: u32 = 10;
/// Records `search_logs` lists unless told otherwise.
const DEFAULT_LOG_LIMIT: u32 = 20;
/// A trace's records `get_trace_logs` lists unless told otherwise.
const DEFAULT_TRACE_LOG_LIMIT: u32 = 100;
/// Spans `get_trace` shows unless told otherwise.
const DEFAULT_TREE_SPANS: u32 = 200;
/// The most traces or log records one search returns: more would flood a model's context.
const MAX_LIST_LIMIT: u32 = 100;
/// The most spans of a tree, or log records of a trace, one call returns.
const MAX_PAGE: u32 = 1_000;
/// Spans `get_trace_errors` reads at most (in pages of [`ERROR_SCAN_PAGE`]).
const MAX_ERROR_SCAN_SPANS: u32 = 10_000;
const ERROR_SCAN_PAGE: u32 = 1_000;
/// Error spans `get_trace_errors` shows at most.
const MAX_ERRORS_SHOWN: usize = 20;
/// Characters of a stack trace shown before it is cut.
const MAX_STACKTRACE_CHARS: usize = 4_000;
/// Log records read to count each span's records in `get_trace`.
const LOG_COUNT_LIMIT: u32 = 1_000;

/// `wait_for_traces`: default and longest wait (below the 60 s request timeout of common
/// MCP clients), and the longest pause between two looks.
const DEFAULT_WAIT_SECONDS: u32 = 30;
const MAX_WAIT_SECONDS: u32 = 50;
const WAIT_POLL: Duration = Duration::from_secs(1);
/// Newest matching traces remembered when the wait begins; a trace not among them is new.
const WAIT_SNAPSHOT: u32 = 100;

/// `tools/list`: the catalogue, without `delete_trace` unless allowed.
pub(super) fn catalogue(allow_delete: bool) -> Vec<Value> {
    let tools: Vec<Value> = serde_json::from_str(CATALOGUE).unwrap_or_default();
    tools
        .into_iter()
        .filter(|tool| allow_delete || tool["name"] != DELETE_TOOL)
        .collect()
}

/// The template of `resources/templates/list`.
pub(super) fn trace_template() -> Value {
    json!({
        "uriTemplate": format!("{TRACE_URI_PREFIX}{{traceId}}"),
        "name": "trace",
        "title": "A trace as a tree",
        "description": "One trace: its spans as a compact tree, as get_trace shows it.",
        "mimeType": "text/plain",
    })
}

/// What a tool found: text for the model, the same as JSON for programs.
struct Answer {
    text: String,
    structured: Value,
}

/// A tool's failure, told to the model so it can correct its call.
type ToolResult = Result<Answer, String>;

impl From<ApiFailure> for String {
    fn from(failure: ApiFailure) -> Self {
        failure.message
    }
}

/// `tools/call`: an unknown tool is a protocol error; everything else that goes wrong is
/// a result with `isError`, which the model reads.
pub(super) async fn call<B: Backend>(
    backend: &B,
    allow_delete: bool,
    name: &str,
    arguments: Value,
) -> Result<Value, RpcError> {
    let tools = catalogue(allow_delete);
    let Some(tool) = tools.iter().find(|tool| tool["name"] == name) else {
        return Err(RpcError::invalid_params(format!(
            "there is no tool {name:?}"
        )));
    };
    let outcome = match check_arguments(tool, arguments) {
        Err(message) => Err(message),
        Ok(arguments) => run(backend, name, &Args::new(arguments)).await,
    };
    Ok(match outcome {
        Ok(answer) => json!({
            "content": [{"type": "text", "text": answer.text}],
            "structuredContent": answer.structured,
            "isError": false,
        }),
        Err(message) => json!({
            "content": [{"type": "text", "text": message}],
            "isError": true,
        }),
    })
}

/// Arguments as an object whose every key is one of the tool's properties: a misspelt
/// filter must not silently widen a search.
fn check_arguments(tool: &Value, arguments: Value) -> Result<Map<String, Value>, String> {
    let arguments = match arguments {
        Value::Null => Map::new(),
        Value::Object(map) => map,
        _ => return Err("the arguments must be a JSON object".into()),
    };
    let properties = &tool["inputSchema"]["properties"];
    for key in arguments.keys() {
        if properties.get(key).is_none() {
            let known: Vec<&String> = properties
                .as_object()
                .into_iter()
                .flat_map(Map::keys)
                .collect();
            return Err(format!(
                "{} has no argument {key:?}; it takes {known:?}",
                tool["name"]
            ));
        }
    }
    Ok(arguments)
}

async fn run<B: Backend>(backend: &B, name: &str, args: &Args) -> ToolResult {
    match name {
        "list_services" => list_services(backend).await,
        "search_traces" => search_traces(backend, args).await,
        "get_trace" => get_trace(backend, args).await,
        "get_span" => get_span(backend, args).await,
        "get_trace_errors" => get_trace_errors(backend, args).await,
        "compare_traces" => compare_traces(backend, args).await,
        "compare_groups" => compare_groups(backend, args).await,
        "search_logs" => search_logs(backend, args).await,
        "get_trace_logs" => get_trace_logs(backend, args).await,
        "get_stats" => get_stats(backend).await,
        "list_metrics" => list_metrics(backend, args).await,
        "get_metric" => get_metric(backend, args).await,
        "wait_for_traces" => wait_for_traces(backend, args).await,
        DELETE_TOOL => delete_trace(backend, args).await,
        other => Err(format!("there is no tool {other:?}")),
    }
}

/// A tool's arguments, read by name with their types checked. Remembers which names were
/// asked for, so a test can prove every schema property is read.
struct Args {
    values: Map<String, Value>,
    asked: Mutex<BTreeSet<&'static str>>,
}

impl Args {
    fn new(values: Map<String, Value>) -> Self {
        Self {
            values,
            asked: Mutex::default(),
        }
    }

    fn get(&self, name: &'static str) -> Option<&Value> {
        if let Ok(mut asked) = self.asked.lock() {
            asked.insert(name);
        }
        self.values.get(name).filter(|v| !v.is_null())
    }

    fn text(&self, name: &'static str) -> Result<Option<String>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("{name} must be a string, not {other}")),
        }
    }

    /// A string or a number, as text (a severity).
    fn text_or_number(&self, name: &'static str) -> Result<Option<String>, String> {
        match self.get(name) {
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            _ => self.text(name),
        }
    }

    fn required(&self, name: &'static str) -> Result<String, String> {
        self.text(name)?
            .ok_or_else(|| format!("{name} is required"))
    }

    fn flag(&self, name: &'static str) -> Result<Option<bool>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(format!("{name} must be true or false, not {other}")),
        }
    }

    /// A whole number from 1 to `max`, or `default`.
    fn bounded(&self, name: &'static str, default: u32, max: u32) -> Result<u32, String> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => value
                .as_u64()
                .filter(|n| (1..=u64::from(max)).contains(n))
                .map(|n| n as u32)
                .ok_or_else(|| format!("{name} {value} must be a whole number from 1 to {max}")),
        }
    }

    fn texts(&self, name: &'static str) -> Result<Vec<String>, String> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("{name} must hold strings, not {item}"))
                })
                .collect(),
            Some(other) => Err(format!("{name} must be a list of strings, not {other}")),
        }
    }

    fn trace_id(&self) -> Result<String, String> {
        query::trace_id(&self.required("trace_id")?).map_err(|e| e.to_string())
    }
}

/// A query string built from `(name, value)` pairs, skipping values not given.
struct Query(Vec<(&'static str, String)>);

impl Query {
    fn new() -> Self {
        Self(Vec::new())
    }

    fn add(&mut self, name: &'static str, value: Option<impl ToString>) -> &mut Self {
        if let Some(value) = value {
            self.0.push((name, value.to_string()));
        }
        self
    }

    fn path(&self, path: &str) -> String {
        if self.0.is_empty() {
            return path.to_owned();
        }
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.0)
            .finish();
        format!("{path}?{query}")
    }
}

/// The filters `search_traces` and `wait_for_traces` share, as the API names them.
fn trace_filters(args: &Args) -> Result<Query, String> {
    let mut query = Query::new();
    query
        .add("service", args.text("service")?)
        .add("name", args.text("name")?)
        .add("root", args.flag("root")?)
        .add("status", args.text("status")?)
        .add("minDuration", args.text("min_duration")?)
        .add("maxDuration", args.text("max_duration")?)
        .add("q", args.text("text")?);
    for attribute in args.texts("attributes")? {
        query.add("attr", Some(attribute));
    }
    Ok(query)
}

/// Adds `start` (from `since`, a duration back from now, or `start` itself) and `end`.
fn time_range<B: Backend>(backend: &B, args: &Args, query: &mut Query) -> Result<(), String> {
    let start = match (args.text("since")?, args.text("start")?) {
        (Some(_), Some(_)) => return Err("give since or start, not both".into()),
        (Some(since), None) => {
            let back = crate::duration::parse(&since).map_err(|e| format!("since: {e}"))?;
            let back = u64::try_from(back.as_nanos()).unwrap_or(u64::MAX);
            Some(backend.now_ns().saturating_sub(back).to_string())
        }
        (None, start) => start,
    };
    query.add("start", start).add("end", args.text("end")?);
    Ok(())
}

fn trace_url<B: Backend>(backend: &B, trace_id: &str) -> String {
    format!("{}/#trace={trace_id}", backend.ui_base())
}

/// A trace summary as the API writes it, with the web UI's link.
fn with_url<B: Backend>(backend: &B, trace: &Value) -> Value {
    let mut trace = trace.clone();
    trace["url"] = trace_url(backend, text(&trace, "traceId")).into();
    trace
}

fn items<'a>(body: &'a Value, key: &str) -> &'a [Value] {
    body[key].as_array().map_or(&[], Vec::as_slice)
}

async fn list_services<B: Backend>(backend: &B) -> ToolResult {
    let body = backend.get("/v1/services").await?;
    let services = items(&body, "services");
    let mut out = match services.len() {
        0 => "No service has sent spans yet.".to_owned(),
        n => format!("{}:", count(n, "service")),
    };
    for service in services {
        out.push_str(&format!(
            "\n{}  {} spans  last seen {}",
            text(service, "name"),
            number(service, "spanCount"),
            render::instant(number(service, "lastSeenUnixNano"))
        ));
    }
    Ok(Answer {
        text: out,
        structured: body,
    })
}

async fn search_traces<B: Backend>(backend: &B, args: &Args) -> ToolResult {
    let mut query = trace_filters(args)?;
    time_range(backend, args, &mut query)?;
    query
        .add(
            "limit",
            Some(args.bounded("limit", DEFAULT_TRACE_LIMIT, MAX_LIST_LIMIT)?),
        )
        .add("before", args.text("cursor")?);
    let body = backend.get(&query.path("/v1/traces")).await?;
    let traces = items(&body, "traces");
    let mut out = match traces.len() {
        0 => "No trace matches.".to_owned(),
        n => format!("{}, newest first:", count(n, "trace")),
    };
    for trace in traces {
        out.push('\n');
        out.push_str(&render::trace_line(trace));
    }
    let next = body["nextCursor"].as_str();
    let partial = body["partial"] == true;
    out.push_str(&continuation(next, partial, "traces"));
    if traces.is_empty() && next.is_none() {
        out.push_str(" Widen the filters (an older `since`, fewer attributes), or check the service names with list_services.");
    }
    Ok(Answer {
        text: out,
        structured: json!({
            "traces": traces.iter().map(|t| with_url(backend, t)).collect::<Vec<_>>(),
            "nextCursor": next,
            "partial": partial,
        }),
    })
}

/// What to say when a list continues.
fn continuation(cursor: Option<&str>, partial: bool, what: &str) -> String {
    match (cursor, partial) {
        (Some(cursor), true) => format!(
            "\nThe server stopped looking before the page was full (it bounds each request); older {what} may still match: call again with cursor={cursor:?}."
        ),
        (Some(cursor), false) => {
            format!(
                "\nMore {what} match: call again with cursor={cursor:?}, or narrow the filters."
            )
        }
        (None, _) => String::new(),
    }
}

/// One page of a trace (`GET /v1/traces/{id}`): its summary and spans in start order,
/// with `nextSpansCursor` when more follow.
async fn trace_page<B: Backend>(
    backend: &B,
    trace_id: &str,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Value, String> {
    let mut query = Query::new();
    query
        .add("spansLimit", Some(limit))
        .add("spansCursor", cursor);
    Ok(backend
        .get(&query.path(&format!("/v1/traces/{trace_id}")))
        .await?)
}

async fn get_trace<B: Backend>(backend: &B, args: &Args) -> ToolResult {
    let trace_id = args.trace_id()?;
    let all_attributes = args.flag("attributes")?.unwrap_or(false);
    let limit = args.bounded("max_spans", DEFAULT_TREE_SPANS, MAX_PAGE)?;
    let cursor = args.text("cursor")?;
    trace_tree(backend, &trace_id, all_attributes, limit, cursor.as_deref()).await
}

/// `get_trace` and the trace resource: the tree as text and as JSON.
async fn trace_tree<B: Backend>(
    backend: &B,
    trace_id: &str,
    all_attributes: bool,
    limit: u32,
    cursor: Option<&str>,
) -> ToolResult {
    let mut page = trace_page(backend, trace_id, limit, cursor).await?;
    let spans = match page["spans"].take() {
        Value::Array(spans) => spans,
        _ => Vec::new(),
    };
    // Log records per span, so the tree says where get_trace_logs has something.
    let logs = backend
        .get(&format!(
            "/v1/traces/{trace_id}/logs?limit={LOG_COUNT_LIMIT}"
        ))
        .await?;
    let mut log_counts: HashMap<&str, u64> = HashMap::new();
    for log in items(&logs, "logs") {
        if let Some(span) = log["spanId"].as_str() {
            *log_counts.entry(span).or_default() += 1;
        }
    }
    let trace_start = number(&page, "startTimeUnixNano");
    let mut out = format!(
        "trace {trace_id} {}: {}  {}  {}",
        page["serviceName"].as_str().unwrap_or("?"),
        page["rootSpanName"]
            .as_str()
            .unwrap_or("(root not received)"),
        render::duration(number(&page, "durationNs")),
        count(number(&page, "spanCount") as usize, "span"),
    );
    let errors = number(&page, "errorCount");
    if errors > 0 {
        out.push_str(&format!(", {errors} with status error"));
    }
    let log_total = items(&logs, "logs").len();
    if log_total > 0 {
        let more = if logs["nextCursor"].is_string() {
            "+"
        } else {
            ""
        };
        out.push_str(&format!(", {log_total}{more} log records"));
    }
    out.push_str(&format!(
        "\nstarted {}  {}\n+offset duration service name [kind] spanId, then status, events, logs, attributes\n",
        render::instant(trace_start),
        trace_url(backend, trace_id)
    ));
    let mut tree = Vec::with_capacity(spans.len());
    for (span, depth) in tree_order(&spans) {
        let failed = render::failed(span);
        let show_attributes = all_attributes || failed;
        let span_id = text(span, "spanId");
        let offset = number(span, "startTimeUnixNano").saturating_sub(trace_start);
        let duration = number(span, "durationNs");
        let logs = log_counts.get(span_id).copied().unwrap_or(0);
        let events = span["events"].as_array().map_or(0, Vec::len);
        let message = text(&span["status"], "message");
        out.push_str(&format!(
            "{}+{} {} {} {} [{}] {span_id}",
            "  ".repeat(depth),
            render::duration(offset),
            render::duration(duration),
            render::service(span),
            text(span, "name"),
            text(span, "kind"),
        ));
        if failed {
            out.push_str(" ERROR");
            if !message.is_empty() {
                out.push_str(&format!(
                    ": {}",
                    render::cut(message, render::MAX_VALUE_CHARS)
                ));
            }
        }
        if events > 0 {
            out.push_str(&format!(" events={events}"));
        }
        if logs > 0 {
            out.push_str(&format!(" logs={logs}"));
        }
        let attributes = render::map(span, "attributes");
        if show_attributes && !attributes.is_empty() {
            out.push_str(&format!(" {}", render::attributes(attributes)));
        }
        out.push('\n');
        let mut item = json!({
            "spanId": span_id,
            "parentSpanId": span["parentSpanId"],
            "depth": depth,
            "name": span["name"],
            "service": render::service(span),
            "kind": span["kind"],
            "offsetNs": offset,
            "durationNs": duration,
            "status": span["status"]["code"],
            "eventCount": events,
            "logCount": logs,
        });
        if !message.is_empty() {
            item["statusMessage"] = message.into();
        }
        if show_attributes {
            item["attributes"] = Value::Object(attributes.clone());
        }
        tree.push(item);
    }
    let next = page["nextSpansCursor"].as_str().map(str::to_owned);
    match &next {
        Some(cursor) => out.push_str(&format!(
            "{} shown of {}; the rest: get_trace with cursor={cursor:?} (max_spans up to {MAX_PAGE}), or get_trace_errors for the failing ones.",
            count(spans.len(), "span"),
            number(&page, "spanCount"),
        )),
        None if !all_attributes => out.push_str(
            "Attributes are shown for error spans only: get_span for one span's details, or attributes=true.",
        ),
        None => {}
    }
    if cursor.is_some() {
        out.push_str("\nThis page continues a tree: a span whose parent is on an earlier page starts at the left margin.");
    }
    let mut structured = page;
    structured["url"] = trace_url(backend, trace_id).into();
    structured["spans"] = Value::Array(tree);
    structured["nextCursor"] = next.into();
    if let Some(fields) = structured.as_object_mut() {
        fields.remove("nextSpansCursor");
    }
    Ok(Answer {
        text: out,
        structured,
    })
}

/// Spans depth first, children in start order, with their depth. A span whose parent is
/// not among `spans` (not received, or on an earlier page) is shown as a root.
fn tree_order(spans: &[Value]) -> Vec<(&Value, usize)> {
    let ids: BTreeSet<&str> = spans.iter().map(|s| text(s, "spanId")).collect();
    let mut children: HashMap<&str, Vec<&Value>> = HashMap::new();
    let mut roots = Vec::new();
    for span in spans {
        match span["parentSpanId"].as_str() {
            Some(parent) if ids.contains(parent) && parent != text(span, "spanId") => {
                children.entry(parent).or_default().push(span)
            }
            _ => roots.push(span),
        }
    }
    let mut ordered = Vec::with_capacity(spans.len());
    // Spans come in start order, so each child list is already in start order.
    let mut stack: Vec<(&Value, usize)> = roots.into_iter().rev().map(|s| (s, 0)).collect();
    let mut seen = BTreeSet::new();
    while let Some((span, depth)) = stack.pop() {
        let id = text(span, "spanId");
        if !seen.insert(id) {
            continue;
        }
        ordered.push((span, depth));
        if let Some(kids) = children.get(id) {
            stack.extend(kids.iter().rev().map(|kid| (*kid, depth + 1)));
        }
    }
    // Spans in a parent cycle are never reached from a root: show them anyway.
    for span in spans {
        if !seen.contains(text(span, "spanId")) {
            ordered.push((span, 0));
        }
    }
    ordered
}

/// Spans `get_span` reads at once.
const MAX_SPANS_ASKED: usize = 20;

async fn get_span<B: Backend>(backend: &B, args: &Args) -> ToolResult {
    let trace_id = args.trace_id()?;
    let span_ids = args.texts("span_ids")?;
    if span_ids.is_empty() || span_ids.len() > MAX_SPANS_ASKED {
        return Err(format!("span_ids takes 1 to {MAX_SPANS_ASKED} span ids"));
    }
    let mut spans = Vec::new();
    let mut out = String::new();
    for span_id in &span_ids {
        let span_id = query::span_id(span_id).map_err(|e| e.to_string())?;
        let span = backend
            .get(&format!("/v1/traces/{trace_id}/spans/{span_id}"))
            .await?;
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&render::span_details(&span));
        spans.push(span);
    }
    Ok(Answer {
        text: out,
        structured: json!({ "spans": spans }),
    })
}

async fn get_trace_errors<B: Backend>(backend: &B, args: &Args) -> ToolResult {
    let trace_id = args.trace_id()?;
    let mut spans: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut trace_start = None;
    let mut complete = true;
    loop {
        let mut page = trace_page(backend, &trace_id, ERROR_SCAN_PAGE, cursor.as_deref()).await?;
        trace_start.get_or_insert(number(&page, "startTimeUnixNano"));
        if let Value::Array(more) = page["spans"].take() {
            spans.extend(more);
        }
        match page["nextSpansCursor"].as_str() {
            Some(next) if (spans.len() as u32) < MAX_ERROR_SCAN_SPANS => {
                cursor = Some(next.to_owned())
            }
            Some(_) => {
                complete = false;
                break;
            }
            None => break,
        }
    }
    let trace_start = trace_start.unwrap_or_default();
    let by_id: HashMap<&str, &Value> = spans.iter().map(|s| (text(s, "spanId"), s)).collect();
    let failing: Vec<&Value> = spans.iter().filter(|s| render::failed(s)).collect();
    let mut out = match failing.len() {
        0 => format!("No span of trace {trace_id} has status error."),
        n => format!(
            "{} of trace {trace_id} with status error:",
            count(n, "span")
        ),
    };
    let mut errors = Vec::new();
    for span in failing.iter().take(MAX_ERRORS_SHOWN) {
        // From the root down to the parent; a missing parent or a cycle ends the walk.
        let mut path: Vec<&Value> = Vec::new();
        let mut parent = span["parentSpanId"].as_str();
        while let Some(ancestor) = parent.and_then(|id| by_id.get(id)) {
            if path.len() > spans.len() {
                break;
            }
            path.push(ancestor);
            parent = ancestor["parentSpanId"].as_str();
        }
        path.reverse();
        let exceptions: Vec<Value> = span["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["name"] == "exception")
            .map(|e| {
                let attributes = &e["attributes"];
                let field = |key: &str| attributes.get(key).map(render::value);
                json!({
                    "type": field("exception.type"),
                    "message": field("exception.message"),
                    "stacktrace": attributes.get("exception.stacktrace").map(|v| match v {
                        Value::String(s) => render::cut(s, MAX_STACKTRACE_CHARS),
                        other => render::cut(&other.to_string(), MAX_STACKTRACE_CHARS),
                    }),
                })
            })
            .collect();
        let offset = number(span, "startTimeUnixNano").saturating_sub(trace_start);
        let message = text(&span["status"], "message");
        out.push_str(&format!(
            "\n\n{} {} ({}) at +{}, {}: {}",
            text(span, "spanId"),
            text(span, "name"),
            render::service(span),
            render::duration(offset),
            render::duration(number(span, "durationNs")),
            if message.is_empty() {
                "(no status message)"
            } else {
                message
            },
        ));
        let route: Vec<String> = path
            .iter()
            .chain([span])
            .map(|s| format!("{} ({})", text(s, "name"), render::service(s)))
            .collect();
        out.push_str(&format!("\n  path: {}", route.join(" > ")));
        let attributes = render::map(span, "attributes");
        if !attributes.is_empty() {
            out.push_str(&format!(
                "\n  attributes {}",
                render::attributes(attributes)
            ));
        }
        for exception in &exceptions {
            out.push_str(&format!(
                "\n  exception {}: {}",
                exception["type"].as_str().unwrap_or("?"),
                exception["message"].as_str().unwrap_or("")
            ));
            if let Some(stack) = exception["stacktrace"].as_str() {
                out.push_str(&format!("\n    {}", stack.replace('\n', "\n    ")));
            }
        }
        errors.push(json!({
            "spanId": span["spanId"],
            "name": span["name"],
            "service": render::service(span),
            "offsetNs": offset,
            "durationNs": span["durationNs"],
            "statusMessage": message,
            "attributes": attributes,
            "exceptions": exceptions,
            "path": path.iter().map(|s| json!({
                "spanId": s["spanId"], "name": s["name"], "service": render::service(s),
            })).collect::<Vec<_>>(),
        }));
    }
    if failing.len() > MAX_ERRORS_SHOWN {
        out.push_str(&format!(
            "\n\n{} more error spans not shown: get_trace shows every span's status.",
            failing.len() - MAX_ERRORS_SHOWN
        ));
    }
    if !complete {
        out.push_str(&format!(
            "\n\nOnly the first {MAX_ERROR_SCAN_SPANS} spans (in start order) were read; later spans may have failed too."
        ));
    }
    Ok(Answer {
        text: out,
        structured: json!({
            "traceId": trace_id,
            "errorCount": failing.len(),
            "errors": errors,
            "url": trace_url(backend, &trace_id),
        }),
    })
}

/// Lines of log records after a heading, with how to continue.
fn log_lines(mut out: String, body: &Value) -> String {
    for log in items(body, "logs") {
        out.push('\n');
        out.push_str(&render::log_line(log));
    }
    out
}

async fn search_logs<B: Backend>(backend: &B, args: &Args) -> ToolResult {
    let mut query = Query::new();
    query
        .add("service", args.text("service")?)
        .add("severity", args.text_or_number("severity")?)
        .add("traceId", args.text("trace_id")?)
        .add("spanId", args.text("span_id")?)
        .add("q", args.text("text")?);
    for attribute in args.texts("attributes")? {
        query.add("attr", Some(attribute));
    }
    time_range(backend, args, &mut query)?;
    query
        .add(
            "limit",
            Some(args.bounded("limit", DEFAULT_LOG_LIMIT, MAX_LIST_LIMIT)?),
        )
        .add("before", args.text("cursor")?);
    let body = backend.get(&query.path("/v1/logs")).await?;
    let heading = match items(&body, "logs").len() {
        0 => "No log record matches.".to_owned(),
        n => format!("{}, newest first:", count(n, "log record")),
    };
    let mut out = log_lines(heading, &body);
    out.push_str(&continuation(
        body["nextCursor"].as_str(),
        body["partial"] == true,
        "records",
    ));
    Ok(Answer {
        text: out,
        structured: body,
    })
}

async fn get_trace_logs<B: Backend>(backend: &B, args: &Args) -> ToolResult {
    let trace_id = args.trace_id()?;
    let mut query = Query::new();
    query
        .add(
            "limit",
            Some(args.bounded("limit", DEFAULT_TRACE_LOG_LIMIT, MAX_PAGE)?),
        )
        .add("cursor", args.text("cursor")?);
    let body = backend
        .get(&query.path(&format!("/v1/traces/{trace_id}/logs")))
        .await?;
    let heading = match items(&body, "logs").len() {
        0 => format!("Trace {trace_id} has no log records."),
        n => format!(
            "{} of trace {trace_id}, in time order:",
            count(n, "log record")
        ),
    };
    let mut out = log_lines(heading, &body);
    if let Some(cursor) = body["nextCursor"].as_str() {
        out.push_str(&format!(
            "\nMore records follow: call again with cursor={cursor:?}."
        ));
    }
    Ok(Answer {
        text: out,
        structured: body,
    })
}

/// `compare_traces`: the comparison's headline, its largest self-time changes, the spans
/// only one trace has and the status changes, small enough for a model's context
/// whatever the traces' size. Reads the API's JSON, as the other tools do.
async fn compare_traces<B: Backend>(backend: &B, args: &Args) -> ToolResult {
    let a = query::trace_id(&args.required("a")?).map_err(|e| e.to_string())?;
    let b = query::trace_id(&args.required("b")?).map_err(|e| e.to_string())?;
    let max = args.bounded("max_changes", 10, 200)? as usize;
    let body = backend
        .get(&format!("/v1/compare/traces?a={a}&b={b}"))
        .await?;
    let signed = |value: &Value| crate::duration::human_change(value.as_i64().unwrap_or(0));
    let mut out = format!(
        "b {b} took {} against {} for a {a} ({}); {} matched, {} only in a, {} only in b, {}.",
        render::duration(number(&body["b"], "durationNs")),
        render::duration(number(&body["a"], "durationNs")),
        signed(&body["durationDeltaNs"]),
        count(number(&body, "matched") as usize, "span"),
        number(&body, "onlyInA"),
        number(&body, "onlyInB"),
        count(number(&body, "statusChanges") as usize, "status change"),
    );
    if body["truncated"] == true {
        out.push_str(" A trace was too large to compare whole: its first spans by start were.");
    }
    let positions = items(&body, "positions");
    let changed_self = |p: &Value| p["selfDeltaNs"].as_i64().unwrap_or(0);
    let mut changed: Vec<&Value> = positions
        .iter()
        .filter(|p| changed_self(p) != 0 || p["statusChanged"] == true)
        .collect();
    changed.sort_by_key(|p| {
        std::cmp::Reverse((
            changed_self(p).unsigned_abs(),
            p["durationDeltaNs"].as_i64().unwrap_or(0).unsigned_abs(),
        ))
    });
    changed.truncate(max);
    if !changed.is_empty() {
        out.push_str("\nLargest changes in self time (the span's own time, outside its children):");
    }
    for p in &changed {
        let status = match (p["statusChanged"] == true, p["b"]["error"] == true) {
            (true, true) => ", now failing (was ok)",
            (true, false) => ", no longer failing",
            _ => "",
        };
        out.push_str(&format!(
            "\n  {} self, {} in all{status}: {}",
            signed(&p["selfDeltaNs"]),
            signed(&p["durationDeltaNs"]),
            text(p, "path")
        ));
    }
    let only = |side: &str| -> Vec<&Value> {
        positions
            .iter()
            .filter(|p| p[side].is_null())
            .take(max)
            .collect()
    };
    // Only in a: no span at b's side, and the other way round.
    let (only_a, only_b) = (only("b"), only("a"));
    for (label, list, total) in [
        ("Only in b", &only_b, number(&body, "onlyInB")),
        ("Only in a", &only_a, number(&body, "onlyInA")),
    ] {
        if list.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{label}:"));
        for p in list {
            let side = if p["b"].is_null() { &p["a"] } else { &p["b"] };
            out.push_str(&format!(
                "\n  {} {}",
                text(p, "path"),
                render::duration(number(side, "durationNs"))
            ));
        }
        if total as usize > list.len() {
            out.push_str(&format!("\n  ... and {} more", total as usize - list.len()));
        }
    }
    let summary = |list: &[&Value]| -> Vec<Value> {
        list.iter()
            .map(|p| {
                json!({
                    "path": p["path"],
                    "a": p["a"],
                    "b": p["b"],
                    "durationDeltaNs": p["durationDeltaNs"],
                    "selfDeltaNs": p["selfDeltaNs"],
                    "statusChanged": p["statusChanged"],
                })
            })
            .collect()
    };
    let paths =
        |list: &[&Value]| -> Vec<Value> { list.iter().map(|p| p["path"].clone()).collect() };
    Ok(Answer {
        text: out,
        structured: json!({
            "a": body["a"],
            "b": body["b"],
            "durationDeltaNs": body["durationDeltaNs"],
            "matched": body["matched"],
            "onlyInA": body["onlyInA"],
            "onlyInB": body["onlyInB"],
            "statusChanges": body["statusChanges"],
            "truncated": body["truncated"],
            "changes": summary(&changed),
            "onlyInAPaths": paths(&only_a),
            "onlyInBPaths": paths(&only_b),
        }),
    })
}

/// `compare_groups`: how each group was read, then the operations that changed (the
/// regressions first, as the API ranks them) with their numbers in a line each, small
/// enough for a model's context whatever the groups' size.
async fn compare_groups<B: Backend>(backend: &B, args: &Args) -> ToolResult {
    let baseline = args.required("baseline")?;
    let candidate = args.required("candidate")?;
    let max_traces = args
        .get("max_traces")
        .map(|_| args.bounded("max_traces", 1, 2_000))
        .transpose()?;
    let max = args.bounded("max_operations", 10, 200)? as usize;
    let path = {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("baseline", &baseline);
        query.append_pair("candidate", &candidate);
        if let Some(n) = max_traces {
            query.append_pair("maxTraces", &n.to_string());
        }
        format!("/v1/compare/groups?{}", query.finish())
    };
    let body = backend.get(&path).await?;
    let mut out = String::new();
    for label in ["baseline", "candidate"] {
        let side = &body[label];
        out.push_str(&format!(
            "{label} ({}): {} read of {}{} matched{}.\n",
            text(side, "query"),
            count(number(side, "traces") as usize, "trace"),
            number(side, "matched"),
            if side["matchedAll"] == true { "" } else { "+" },
            if side["truncated"] == true {
                ", stopped at the span limit"
            } else {
                ""
            },
        ));
    }
    let operations = items(&body, "operations");
    let regressions = number(&body, "regressions") as usize;
    out.push_str(&match regressions {
        0 => "No operation regressed significantly.".to_owned(),
        n => format!(
            "{} regressed significantly (ranked: own time or errors first):",
            count(n, "operation")
        ),
    });
    let signed = |value: &Value| crate::duration::human_change(value.as_i64().unwrap_or(0));
    let line = |o: &Value| {
        let side = |s: &Value| {
            format!(
                "{} calls, p50 {}, p99 {}, {:.1}% errors",
                number(s, "calls"),
                render::duration(number(s, "p50Ns")),
                render::duration(number(s, "p99Ns")),
                s["errorRate"].as_f64().unwrap_or(0.0) * 100.0
            )
        };
        let measures: Vec<&str> = items(o, "changedIn")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        format!(
            "\n  {}: {} [{}]: p50 {}, self p50 {}, error rate {:+.1} pp; baseline {}; candidate {}",
            text(o, "service"),
            text(o, "name"),
            measures.join(", "),
            signed(&o["p50DeltaNs"]),
            signed(&o["selfP50DeltaNs"]),
            o["errorRateDelta"].as_f64().unwrap_or(0.0) * 100.0,
            side(&o["baseline"]),
            side(&o["candidate"]),
        )
    };
    let changed: Vec<&Value> = operations
        .iter()
        .filter(|o| o["regressed"] == true || o["improved"] == true)
        .take(max)
        .collect();
    for o in changed.iter().filter(|o| o["regressed"] == true) {
        out.push_str(&line(o));
    }
    let improved: Vec<&&Value> = changed.iter().filter(|o| o["improved"] == true).collect();
    if !improved.is_empty() {
        out.push_str("\nImproved significantly:");
        for o in improved {
            out.push_str(&line(o));
        }
    }
    let untested = operations
        .iter()
        .filter(|o| o["duration"].is_null())
        .count();
    out.push_str(&format!(
        "\n{} compared; {untested} with fewer than {} calls in a group were not tested.",
        count(operations.len(), "operation"),
        number(&body, "minSamples")
    ));
    Ok(Answer {
        text: out,
        structured: json!({
            "baseline": body["baseline"],
            "candidate": body["candidate"],
            "regressions": body["regressions"],
            "operations": changed,
            "method": body["method"],
        }),
    })
}

async fn get_stats<B: Backend>(backend: &B) -> ToolResult {
    let body = backend.get("/v1/stats").await?;
    let mut out = format!(
        "{} spans in {}, {} log records, {} bytes stored",
        number(&body, "spans"),
        count(number(&body, "traces") as usize, "trace"),
        number(&body, "logs"),
        number(&body, "bytes"),
    );
    if let Some(budget) = body["budgetBytes"].as_u64() {
        out.push_str(&format!(" of a {budget}-byte budget"));
    }
    let archive = &body["archive"];
    if archive.is_object() {
        out.push_str(&format!(
            "; the archive holds {} more spans and {} more log records in {} ({} bytes), searched alike",
            number(archive, "spans"),
            number(archive, "records"),
            count(number(archive, "blocks") as usize, "block"),
            number(archive, "bytes"),
        ));
    }
    let (oldest, newest) = (
        number(&body, "oldestUnixNano"),
        number(&body, "newestUnixNano"),
    );
    let oldest = match number(archive, "oldestUnixNano") {
        0 => oldest,
        archived if oldest == 0 => archived,
        archived => oldest.min(archived),
    };
    if oldest > 0 {
        out.push_str(&format!(
            "; from {} to {}",
            render::instant(oldest),
            render::instant(newest)
        ));
    }
    let pruned = number(&body, "prunedTraces");
    if pruned > 0 {
        out.push_str(&format!(
            "; {pruned} older traces were pruned (retention or budget)"
        ));
    }
    let shards = items(&body, "shards").len();
    if shards > 1 {
        out.push_str(&format!("; {shards} databases"));
    }
    Ok(Answer {
        text: out,
        structured: body,
    })
}

async fn list_metrics<B: Backend>(backend: &B, args: &Args) -> ToolResult {
    let mut query = Query::new();
    query
        .add("service", args.text("service")?)
        .add("q", args.text("text")?);
    let body = backend.get(&query.path("/v1/metrics")).await?;
    let metrics = items(&body, "metrics");
    let mut out = match metrics.len() {
        0 => "No metric matches.".to_owned(),
        n => format!("{}:", count(n, "metric")),
    };
    for m in metrics {
        let mut kind = text(m, "type").to_owned();
        if let Some(temporality) = m["temporality"].as_str() {
            kind.push_str(&format!(" ({temporality}"));
            if m["monotonic"] == true {
                kind.push_str(", monotonic");
            }
            kind.push(')');
        }
        let services: Vec<&str> = items(m, "services")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        out.push_str(&format!(
            "\n{} [{kind}] {}  {}  {}, last seen {}  services: {}",
            text(m, "name"),
            text(m, "unit"),
            text(m, "description"),
            count(number(m, "series") as usize, "series"),
            render::instant(number(m, "lastSeenUnixNano")),
            services.join(", ")
        ));
    }
    Ok(Answer {
        text: out,
        structured: body,
    })
}

/// Steps `get_metric` folds its stretch of time into unless told otherwise.
const DEFAULT_METRIC_STEPS: u32 = 15;
const MAX_METRIC_STEPS: u32 = 60;

async fn get_metric<B: Backend>(backend: &B, args: &Args) -> ToolResult {
    let name = args.required("name")?;
    let since = args.text("since")?.unwrap_or_else(|| "15m".into());
    let back = crate::duration::parse(&since).map_err(|e| format!("since: {e}"))?;
    let back_ns = u64::try_from(back.as_nanos())
        .unwrap_or(u64::MAX)
        .max(1_000_000);
    let steps = args.bounded("steps", DEFAULT_METRIC_STEPS, MAX_METRIC_STEPS)?;
    let step_ms = (back_ns / u64::from(steps) / 1_000_000).max(1);
    let mut query = Query::new();
    query.add("service", args.text("service")?);
    for attribute in args.texts("attributes")? {
        query.add("attr", Some(attribute));
    }
    query
        .add("start", Some(backend.now_ns().saturating_sub(back_ns)))
        .add("step", Some(format!("{step_ms}ms")));
    // A path segment: form encoding would turn a space into `+`, which a path keeps as is.
    let encoded = percent_encoding::utf8_percent_encode(&name, percent_encoding::NON_ALPHANUMERIC);
    let body = backend
        .get(&query.path(&format!("/v1/metrics/{encoded}")))
        .await?;
    let kind = text(&body, "type");
    let (what, keys): (&str, &[&str]) = match kind {
        "sum" if body["monotonic"] == true => ("rate per second", &["rate"]),
        "histogram" | "exponentialHistogram" => {
            ("count, p50, p90, p99", &["count", "p50", "p90", "p99"])
        }
        "summary" => ("count, sum", &["count", "sum"]),
        _ => ("value", &["value"]),
    };
    let mut out = format!(
        "{} ({kind}{}): {what} per step of {}, over the last {since}, oldest first",
        name,
        match text(&body, "unit") {
            "" => String::new(),
            unit => format!(", {unit}"),
        },
        crate::duration::spelled(Duration::from_millis(step_ms)),
    );
    let series = items(&body, "series");
    if series.is_empty() {
        out.push_str("\nNo series matches the filters.");
    }
    let mut exemplars = Vec::new();
    for s in series {
        let attributes = render::attributes(render::map(s, "attributes"));
        out.push_str(&format!(
            "\n{} {}:",
            s["serviceName"].as_str().unwrap_or("?"),
            if attributes.is_empty() {
                "(no attributes)".to_owned()
            } else {
                attributes
            }
        ));
        let points = items(s, "points");
        if points.is_empty() {
            out.push_str(" no points in this stretch");
        }
        for point in points {
            let values: Vec<String> = keys
                .iter()
                .map(|k| match &point[*k] {
                    Value::Number(n) => n.to_string(),
                    Value::Null => "-".into(),
                    other => other.to_string(),
                })
                .collect();
            out.push_str(&format!(
                " {}={}",
                render::instant(number(point, "timeUnixNano"))
                    .get(11..19)
                    .unwrap_or(""),
                values.join("/")
            ));
            for e in items(point, "exemplars") {
                if let Some(trace) = e["traceId"].as_str() {
                    exemplars.push(format!(
                        "{} at {} in trace {trace} span {}",
                        render::value(&e["value"]),
                        render::instant(number(e, "timeUnixNano")),
                        e["spanId"].as_str().unwrap_or("?")
                    ));
                }
            }
        }
    }
    if !exemplars.is_empty() {
        out.push_str("\nExemplars (get_trace shows each one's trace):");
        for e in exemplars.iter().take(10) {
            out.push_str(&format!("\n  {e}"));
        }
        if exemplars.len() > 10 {
            out.push_str(&format!("\n  and {} more", exemplars.len() - 10));
        }
    }
    Ok(Answer {
        text: out,
        structured: body,
    })
}

async fn wait_for_traces<B: Backend>(backend: &B, args: &Args) -> ToolResult {
    let seconds =
        u64::from(args.bounded("timeout_seconds", DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS)?);
    let mut query = trace_filters(args)?;
    query.add("limit", Some(WAIT_SNAPSHOT));
    let path = query.path("/v1/traces");
    let deadline = backend.now_ns() + seconds * 1_000_000_000;
    let ids = |body: &Value| -> BTreeSet<String> {
        items(body, "traces")
            .iter()
            .map(|t| text(t, "traceId").to_owned())
            .collect()
    };
    let known = ids(&backend.get(&path).await?);
    loop {
        let now = backend.now_ns();
        if now >= deadline {
            return Ok(Answer {
                text: format!(
                    "No new matching trace arrived in {seconds} s. If the request finished before this call, search_traces finds its trace; SDKs export in batches (every 5 s by default), so a longer timeout may help."
                ),
                structured: json!({"traces": [], "timedOut": true}),
            });
        }
        backend
            .news(WAIT_POLL.min(Duration::from_nanos(deadline - now)))
            .await;
        let body = backend.get(&path).await?;
        let new: Vec<&Value> = items(&body, "traces")
            .iter()
            .filter(|t| !known.contains(text(t, "traceId")))
            .collect();
        if !new.is_empty() {
            let mut out = format!(
                "{} (spans may still be arriving; get_trace shows what is stored now):",
                count(new.len(), "new trace")
            );
            for trace in &new {
                out.push('\n');
                out.push_str(&render::trace_line(trace));
            }
            return Ok(Answer {
                text: out,
                structured: json!({
                    "traces": new.iter().map(|t| with_url(backend, t)).collect::<Vec<_>>(),
                    "timedOut": false,
                }),
            });
        }
    }
}

async fn delete_trace<B: Backend>(backend: &B, args: &Args) -> ToolResult {
    let trace_id = args.trace_id()?;
    backend.delete(&format!("/v1/traces/{trace_id}")).await?;
    Ok(Answer {
        text: format!("Deleted trace {trace_id}, its spans and its log records."),
        structured: json!({"deleted": true, "traceId": trace_id}),
    })
}

/// `resources/list`: the newest traces, a page at a time.
pub(super) async fn list_resources<B: Backend>(
    backend: &B,
    cursor: Option<&str>,
) -> Result<Value, RpcError> {
    let mut query = Query::new();
    query
        .add("limit", Some(RESOURCE_PAGE))
        .add("before", cursor);
    let body = backend
        .get(&query.path("/v1/traces"))
        .await
        .map_err(|e| RpcError::invalid_params(e.message))?;
    let resources: Vec<Value> = items(&body, "traces")
        .iter()
        .map(|trace| {
            json!({
                "uri": format!("{TRACE_URI_PREFIX}{}", text(trace, "traceId")),
                "name": trace["traceId"],
                "title": format!(
                    "{}: {} ({})",
                    trace["serviceName"].as_str().unwrap_or("?"),
                    trace["rootSpanName"].as_str().unwrap_or("root not received"),
                    render::duration(number(trace, "durationNs")),
                ),
                "description": render::trace_line(trace),
                "mimeType": "text/plain",
            })
        })
        .collect();
    let mut result = json!({ "resources": resources });
    if let Some(next) = body["nextCursor"].as_str() {
        result["nextCursor"] = next.into();
    }
    Ok(result)
}

/// `resources/read` of `otel-worker://traces/{traceId}`: the trace's tree as text.
pub(super) async fn read_resource<B: Backend>(backend: &B, uri: &str) -> Result<Value, RpcError> {
    let not_found = |message: String| RpcError {
        code: RpcError::RESOURCE_NOT_FOUND,
        message,
    };
    let trace_id = uri
        .strip_prefix(TRACE_URI_PREFIX)
        .ok_or_else(|| {
            not_found(format!(
                "no resource {uri:?}; traces are {TRACE_URI_PREFIX}<traceId>"
            ))
        })
        .and_then(|id| query::trace_id(id).map_err(|e| not_found(e.to_string())))?;
    let answer = trace_tree(backend, &trace_id, false, DEFAULT_TREE_SPANS, None)
        .await
        .map_err(not_found)?;
    Ok(json!({
        "contents": [{"uri": uri, "mimeType": "text/plain", "text": answer.text}],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[test]
    fn the_catalogue_lists_every_tool_with_an_object_schema() {
        let tools = catalogue(true);
        let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
        assert_eq!(
            names,
            [
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
                "delete_trace"
            ]
        );
        for tool in &tools {
            assert_eq!(tool["inputSchema"]["type"], "object", "{}", tool["name"]);
            assert!(tool["description"].as_str().is_some_and(|d| d.len() > 40));
            let read_only = tool["annotations"]["readOnlyHint"].as_bool();
            assert_eq!(read_only, Some(tool["name"] != DELETE_TOOL));
        }
        assert!(!catalogue(false).iter().any(|t| t["name"] == DELETE_TOOL));
    }

    /// A backend whose every request fails at once: a tool has read its arguments by then.
    struct Unreachable;

    #[async_trait::async_trait]
    impl Backend for Unreachable {
        async fn get(&self, _: &str) -> Result<Value, ApiFailure> {
            Err(ApiFailure {
                status: 0,
                message: "unreachable".into(),
            })
        }
        async fn delete(&self, _: &str) -> Result<(), ApiFailure> {
            Err(ApiFailure {
                status: 0,
                message: "unreachable".into(),
            })
        }
        fn now_ns(&self) -> u64 {
            0
        }
        async fn news(&self, _: Duration) {}
        fn ui_base(&self) -> &str {
            "http://ui"
        }
    }

    /// Every property a schema offers is read by its tool, and nothing else: an argument
    /// the schema allows can never be silently ignored.
    #[test]
    fn every_tool_reads_exactly_the_properties_of_its_schema() {
        for tool in catalogue(true) {
            let name = tool["name"].as_str().unwrap_or_default();
            let mut arguments = Map::new();
            if name == "get_span" {
                arguments.insert("span_ids".into(), json!(["0".repeat(16)]));
            }
            if tool["inputSchema"]["properties"].get("trace_id").is_some() && name != "search_logs"
            {
                arguments.insert("trace_id".into(), json!("0".repeat(32)));
            }
            if name == "get_metric" {
                arguments.insert("name".into(), json!("m"));
            }
            if name == "compare_traces" {
                arguments.insert("a".into(), json!("0".repeat(32)));
                arguments.insert("b".into(), json!("1".repeat(32)));
            }
            if name == "compare_groups" {
                arguments.insert("baseline".into(), json!("service=a"));
                arguments.insert("candidate".into(), json!("service=b"));
                arguments.insert("max_traces".into(), json!(10));
            }
            let args = Args::new(arguments);
            let outcome = run(&Unreachable, name, &args).now_or_never();
            assert_eq!(
                outcome.map(|o| o.err()),
                Some(Some("unreachable".to_owned())),
                "{name}"
            );
            let asked: Vec<&str> = args.asked.lock().unwrap().iter().copied().collect();
            let mut properties: Vec<&str> = tool["inputSchema"]["properties"]
                .as_object()
                .into_iter()
                .flat_map(Map::keys)
                .map(String::as_str)
                .collect();
            properties.sort_unstable();
            assert_eq!(asked, properties, "{name}");
        }
    }

    #[test]
    fn arguments_outside_the_schema_or_of_the_wrong_type_are_refused_by_name() {
        let tools = catalogue(false);
        let search = tools.iter().find(|t| t["name"] == "search_traces").unwrap();
        let error = check_arguments(search, json!({"servce": "api"})).unwrap_err();
        assert!(error.contains("\"servce\""), "{error}");
        assert!(check_arguments(search, json!({"service": "api"})).is_ok());
        assert!(check_arguments(search, json!([1])).is_err());
        let args = |value: Value| Args::new(value.as_object().cloned().unwrap_or_default());
        assert!(
            args(json!({"limit": 0}))
                .bounded("limit", 10, 100)
                .unwrap_err()
                .contains("1 to 100")
        );
        assert!(
            args(json!({"limit": 101}))
                .bounded("limit", 10, 100)
                .is_err()
        );
        assert_eq!(args(json!({})).bounded("limit", 10, 100), Ok(10));
        assert!(
            args(json!({"root": "yes"}))
                .flag("root")
                .unwrap_err()
                .contains("true or false")
        );
        assert!(
            args(json!({"attributes": "a=b"}))
                .texts("attributes")
                .is_err()
        );
        assert_eq!(
            args(json!({"severity": 17})).text_or_number("severity"),
            Ok(Some("17".into()))
        );
    }

    fn span(id: &str, parent: Option<&str>) -> Value {
        json!({"spanId": id, "parentSpanId": parent, "name": id})
    }

    #[test]
    fn the_tree_lists_children_under_their_parent_and_orphans_and_cycles_as_roots() {
        let spans = [
            span("root", None),
            span("a", Some("root")),
            span("orphan", Some("missing")),
            span("a1", Some("a")),
            span("b", Some("root")),
            span("c1", Some("c2")),
            span("c2", Some("c1")),
        ];
        let order: Vec<(&str, usize)> = tree_order(&spans)
            .into_iter()
            .map(|(s, depth)| (text(s, "spanId"), depth))
            .collect();
        assert_eq!(
            order,
            [
                ("root", 0),
                ("a", 1),
                ("a1", 2),
                ("b", 1),
                ("orphan", 0),
                ("c1", 0),
                ("c2", 0)
            ]
        );
    }
}
