//! Handlers that read and delete stored traces and spans, and report what is stored.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::download::{attachment, json_lines};
use super::extract::{SpanId, TraceId};
use super::{ApiError, AppState};
use crate::models::{
    ArchiveStats, AttributeKey, AttributeList, AttributeValues, Service, ServiceList, Stats,
    StoreStats, StoredTraceDetail, TraceList,
};
use crate::query;
use crate::store::Store;
use crate::store::search::search;

type ApiResult<T> = Result<T, ApiError>;

/// `GET /health`: answers without a token so probes need no secret.
pub(crate) async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// `GET /v1/traces`: one page of the search, with the cursor of the next.
pub(crate) async fn list_traces(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<TraceList>> {
    let query = query::trace_list(raw.as_deref())?;
    let page = search(state.shards.all(), &query, state.search_budget).await?;
    Ok(Json(TraceList {
        traces: page.traces,
        next_cursor: page.next.as_ref().map(query::cursor_text),
        partial: page.partial,
    }))
}

/// `GET /v1/services`: every store's services, added up.
pub(crate) async fn list_services(State(state): State<AppState>) -> ApiResult<Json<ServiceList>> {
    let mut merged: BTreeMap<String, Service> = BTreeMap::new();
    for store in state.shards.all() {
        for service in store.services().await? {
            merged
                .entry(service.name.clone())
                .and_modify(|known| {
                    known.span_count += service.span_count;
                    known.last_seen_unix_nano =
                        known.last_seen_unix_nano.max(service.last_seen_unix_nano);
                })
                .or_insert(service);
        }
    }
    Ok(Json(ServiceList {
        services: merged.into_values().collect(),
    }))
}

/// The parameters of `GET /v1/traces/{traceId}`.
const TRACE_PARAMETERS: &[&str] = &["spansLimit", "spansCursor"];
/// The parameters of `GET /v1/traces/{traceId}/spans`.
const SPANS_PARAMETERS: &[&str] = &["limit", "cursor"];

/// The store that holds a trace, with its summary.
pub(crate) async fn find_trace(
    state: &AppState,
    trace_id: &str,
) -> ApiResult<(Store, crate::models::TraceSummary)> {
    for store in state.shards.lookup_order(trace_id) {
        if let Some(summary) = store.trace_summary(trace_id).await? {
            return Ok((store.clone(), summary));
        }
    }
    Err(trace_not_found(trace_id))
}

/// `GET /v1/traces/{traceId}`: the summary and the spans in start order, all of them or,
/// for a large trace, the first page and the cursor of the rest.
pub(crate) async fn get_trace(
    State(state): State<AppState>,
    TraceId(trace_id): TraceId,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<StoredTraceDetail>> {
    let (after, limit) = query::span_page(
        raw.as_deref(),
        ("spansLimit", "spansCursor"),
        TRACE_PARAMETERS,
    )?;
    let (store, summary) = find_trace(&state, &trace_id).await?;
    let page = store.trace_spans(&trace_id, after.as_ref(), limit).await?;
    Ok(Json(StoredTraceDetail {
        summary,
        spans: page.spans,
        next_spans_cursor: page.next.as_ref().map(query::span_cursor_text),
    }))
}

/// `DELETE /v1/traces/{traceId}`
pub(crate) async fn delete_trace(
    State(state): State<AppState>,
    TraceId(trace_id): TraceId,
) -> ApiResult<StatusCode> {
    for store in state.shards.lookup_order(&trace_id) {
        if store.delete_trace(&trace_id).await? {
            return Ok(StatusCode::NO_CONTENT);
        }
    }
    Err(trace_not_found(&trace_id))
}

/// `GET /v1/traces/{traceId}/spans`: one page of the spans in start order (a JSON
/// array); when more follow, a `Link` header with `rel="next"` points at the next page.
pub(crate) async fn trace_spans(
    State(state): State<AppState>,
    TraceId(trace_id): TraceId,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let (after, limit) = query::span_page(raw.as_deref(), ("limit", "cursor"), SPANS_PARAMETERS)?;
    let (store, _) = find_trace(&state, &trace_id).await?;
    let page = store.trace_spans(&trace_id, after.as_ref(), limit).await?;
    let mut response = Json(page.spans).into_response();
    if let Some(next) = &page.next {
        let link = format!(
            "</v1/traces/{trace_id}/spans?limit={limit}&cursor={}>; rel=\"next\"",
            query::span_cursor_text(next)
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// The most spans `GET /v1/traces/{traceId}/otlp` writes: the whole answer is built in
/// memory (a Worker's isolate has 128 MB).
pub const MAX_EXPORT_SPANS: usize = 100_000;

/// `GET /v1/traces/{traceId}/otlp`: the trace as an OTLP/JSON `ExportTraceServiceRequest`,
/// a file `import` (or any OTLP receiver) reads back.
pub(crate) async fn export_trace(
    State(state): State<AppState>,
    TraceId(trace_id): TraceId,
) -> ApiResult<Response> {
    let (store, _) = find_trace(&state, &trace_id).await?;
    let Some((request, _)) = trace_as_otlp(&store, &trace_id, MAX_EXPORT_SPANS).await? else {
        return Err(ApiError::BadRequest(
            "trace-too-large",
            format!(
                "trace {trace_id} has more than {MAX_EXPORT_SPANS} spans, more than one export file holds here; read it with GET /v1/traces/{trace_id}/spans"
            ),
        ));
    };
    Ok(attachment(
        Json(request).into_response(),
        &format!("trace-{trace_id}.json"),
    ))
}

/// Traces a search's export reads at most when `maxTraces` does not say.
pub const DEFAULT_EXPORT_TRACES: u32 = 1_000;

/// `GET /v1/export/traces?<filters>[&maxTraces=N]`: the traces a search finds, newest
/// first, as OTLP JSON Lines (a line per trace, as the Collector's file exporter writes
/// them). Stops at `maxTraces` (1,000 unless asked) or at the span limit a request reads
/// here, saying so in `Otel-Worker-Truncated: true`.
pub(crate) async fn export_search(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let (search_for, max_traces) = query::export_search(raw.as_deref())?;
    let max_traces = max_traces.unwrap_or(DEFAULT_EXPORT_TRACES) as usize;
    let max_spans = state.export_items as usize;
    let mut q = search_for.query;
    let (mut lines, mut traces, mut spans, mut truncated) = (String::new(), 0, 0, false);
    'pages: loop {
        q.limit = ((max_traces - traces) as u32).min(query::MAX_LIST_LIMIT);
        let page = search(state.shards.all(), &q, state.search_budget).await?;
        for (i, summary) in page.traces.iter().enumerate() {
            let Some((store, _)) = found(&state, &summary.trace_id).await? else {
                continue;
            };
            match trace_as_otlp(&store, &summary.trace_id, max_spans - spans).await? {
                Some((request, count)) => {
                    lines.push_str(&request.to_string());
                    lines.push('\n');
                    spans += count;
                    traces += 1;
                }
                None => {
                    truncated = true;
                    break 'pages;
                }
            }
            if traces >= max_traces {
                // More were found than asked for.
                truncated = i + 1 < page.traces.len() || page.next.is_some();
                break 'pages;
            }
        }
        match page.next {
            Some(next) => q.before = Some(next),
            None => break,
        }
    }
    Ok(json_lines(lines, truncated, "traces.jsonl"))
}

/// The store holding a trace, when one does (a trace deleted since it was listed: none).
async fn found(
    state: &AppState,
    trace_id: &str,
) -> ApiResult<Option<(Store, crate::models::TraceSummary)>> {
    match find_trace(state, trace_id).await {
        Ok(found) => Ok(Some(found)),
        Err(ApiError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A trace as an OTLP/JSON request and its span count; `None` past `max_spans`.
async fn trace_as_otlp(
    store: &Store,
    trace_id: &str,
    max_spans: usize,
) -> ApiResult<Option<(serde_json::Value, usize)>> {
    let (spans, more) =
        read_spans::<serde_json::Value>(store, trace_id, max_spans, query::MAX_SPAN_PAGE).await?;
    Ok((!more).then(|| (crate::otlp_json::trace_request(&spans), spans.len())))
}

/// Up to `max` spans of a trace in start order, read `page` at a time as `T`, and whether
/// there were more.
pub(crate) async fn read_spans<T: serde::de::DeserializeOwned>(
    store: &Store,
    trace_id: &str,
    max: usize,
    page: u32,
) -> ApiResult<(Vec<T>, bool)> {
    let mut spans = Vec::new();
    let mut after = None;
    loop {
        let read = store.trace_spans(trace_id, after.as_ref(), page).await?;
        for raw in &read.spans {
            let span: T = serde_json::from_str(raw.get()).map_err(|e| {
                crate::store::StoreError::Other(format!(
                    "a stored span of {trace_id} does not read back: {e}"
                ))
            })?;
            spans.push(span);
        }
        if spans.len() >= max {
            let more = spans.len() > max || read.next.is_some();
            spans.truncate(max);
            return Ok((spans, more));
        }
        match read.next {
            Some(next) => after = Some(next),
            None => return Ok((spans, false)),
        }
    }
}

/// `GET /v1/traces/{traceId}/spans/{spanId}`
pub(crate) async fn get_span(
    State(state): State<AppState>,
    TraceId(trace_id): TraceId,
    SpanId(span_id): SpanId,
) -> ApiResult<Response> {
    for store in state.shards.lookup_order(&trace_id) {
        if let Some(span) = store.span(&trace_id, &span_id).await? {
            return Ok(Json(span).into_response());
        }
    }
    Err(span_not_found(&trace_id, &span_id))
}

/// `DELETE /v1/traces/{traceId}/spans/{spanId}`
pub(crate) async fn delete_span(
    State(state): State<AppState>,
    TraceId(trace_id): TraceId,
    SpanId(span_id): SpanId,
) -> ApiResult<StatusCode> {
    for store in state.shards.lookup_order(&trace_id) {
        if store.delete_span(&trace_id, &span_id).await? {
            return Ok(StatusCode::NO_CONTENT);
        }
    }
    Err(span_not_found(&trace_id, &span_id))
}

/// `GET /v1/stats`: what every store holds, and all of them together.
pub(crate) async fn stats(State(state): State<AppState>) -> ApiResult<Json<Stats>> {
    let mut shards = Vec::new();
    for store in state.shards.all() {
        shards.push(store.holdings().await?);
    }
    let total = StoreStats {
        spans: shards.iter().map(|s| s.spans).sum(),
        traces: shards.iter().map(|s| s.traces).sum(),
        logs: shards.iter().map(|s| s.logs).sum(),
        metric_points: shards.iter().map(|s| s.metric_points).sum(),
        metric_series: shards.iter().map(|s| s.metric_series).sum(),
        bytes: shards.iter().map(|s| s.bytes).sum(),
        budget_bytes: shards.iter().map(|s| s.budget_bytes).sum(),
        oldest_unix_nano: shards.iter().filter_map(|s| s.oldest_unix_nano).min(),
        newest_unix_nano: shards.iter().filter_map(|s| s.newest_unix_nano).max(),
        pruned_traces: shards.iter().map(|s| s.pruned_traces).sum(),
        sampled_out_spans: shards.iter().map(|s| s.sampled_out_spans).sum(),
        unindexed_spans: shards.iter().map(|s| s.unindexed_spans).sum(),
        archive: shards
            .iter()
            .filter_map(|s| s.archive.clone())
            .reduce(|a, b| ArchiveStats {
                spans: a.spans + b.spans,
                records: a.records + b.records,
                bytes: a.bytes + b.bytes,
                blocks: a.blocks + b.blocks,
                oldest_unix_nano: a
                    .oldest_unix_nano
                    .into_iter()
                    .chain(b.oldest_unix_nano)
                    .min(),
                failed_writes: a.failed_writes + b.failed_writes,
                within_budget: a.within_budget && b.within_budget,
            }),
    };
    Ok(Json(Stats { total, shards }))
}

/// `GET /v1/attributes?service=&scope=`: attribute keys with their types and how many
/// spans carry them.
pub(crate) async fn attributes(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<AttributeList>> {
    let params = query::parameters(raw.as_deref(), query::ATTRIBUTE_PARAMETERS)?;
    let limit = query::catalog_limit(params.get("limit"))?;
    let scope = params
        .get("scope")
        .map(|s| query::attribute_scope(s))
        .transpose()?;
    let service = params.get("service").map(String::as_str);
    let mut merged: BTreeMap<(String, String), AttributeKey> = BTreeMap::new();
    for store in state.shards.all() {
        for key in store.attribute_keys(service, scope).await? {
            merged
                .entry((key.key.clone(), key.scope.clone()))
                .and_modify(|known| {
                    known.count += key.count;
                    for t in &key.types {
                        if !known.types.contains(t) {
                            known.types.push(t.clone());
                        }
                    }
                })
                .or_insert(key);
        }
    }
    let mut attributes: Vec<AttributeKey> = merged.into_values().collect();
    attributes.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    let truncated = attributes.len() > limit;
    attributes.truncate(limit);
    Ok(Json(AttributeList {
        attributes,
        truncated,
    }))
}

/// `GET /v1/attributes/{key}/values?service=&prefix=&limit=`: the most frequent values.
pub(crate) async fn attribute_values(
    State(state): State<AppState>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<AttributeValues>> {
    let params = query::parameters(raw.as_deref(), query::VALUE_PARAMETERS)?;
    let limit = query::value_limit(params.get("limit"))?;
    let service = params.get("service").map(String::as_str);
    let prefix = params.get("prefix").map(String::as_str);
    let mut merged: BTreeMap<String, u64> = BTreeMap::new();
    for store in state.shards.all() {
        for value in store.attribute_values(&key, service, prefix, limit).await? {
            *merged.entry(value.value).or_default() += value.count;
        }
    }
    let mut values: Vec<crate::models::AttributeValue> = merged
        .into_iter()
        .map(|(value, count)| crate::models::AttributeValue { value, count })
        .collect();
    values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    values.truncate(limit as usize);
    Ok(Json(AttributeValues { values }))
}

fn trace_not_found(trace_id: &str) -> ApiError {
    ApiError::NotFound(format!("trace {trace_id} not found"))
}

fn span_not_found(trace_id: &str, span_id: &str) -> ApiError {
    ApiError::NotFound(format!("span {span_id} of trace {trace_id} not found"))
}
