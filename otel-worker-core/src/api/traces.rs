//! Handlers that read and delete stored traces and spans.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;

use super::extract::{SpanId, TraceId};
use super::{ApiError, AppState};
use crate::models::{ServiceList, StoredTraceDetail, TraceList};
use crate::query;

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
    let mut query = query::trace_list(raw.as_deref())?;
    let page = query.limit as usize;
    // One more than the page tells whether there is a next page.
    query.limit += 1;
    let mut traces = state.store.list_traces(query).await?;
    let next_cursor = if traces.len() > page {
        traces.truncate(page);
        traces.last().map(query::next_cursor)
    } else {
        None
    };
    Ok(Json(TraceList {
        traces,
        next_cursor,
    }))
}

/// `GET /v1/services`
pub(crate) async fn list_services(State(state): State<AppState>) -> ApiResult<Json<ServiceList>> {
    let services = state.store.services().await?;
    Ok(Json(ServiceList { services }))
}

/// `GET /v1/traces/{traceId}`
pub(crate) async fn get_trace(
    State(state): State<AppState>,
    TraceId(trace_id): TraceId,
) -> ApiResult<Json<StoredTraceDetail>> {
    let summary = state
        .store
        .trace_summary(&trace_id)
        .await?
        .ok_or_else(|| trace_not_found(&trace_id))?;
    let spans = state.store.trace_spans(&trace_id).await?;
    Ok(Json(StoredTraceDetail { summary, spans }))
}

/// `DELETE /v1/traces/{traceId}`
pub(crate) async fn delete_trace(
    State(state): State<AppState>,
    TraceId(trace_id): TraceId,
) -> ApiResult<StatusCode> {
    if state.store.delete_trace(&trace_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(trace_not_found(&trace_id))
    }
}

/// `GET /v1/traces/{traceId}/spans`
pub(crate) async fn trace_spans(
    State(state): State<AppState>,
    TraceId(trace_id): TraceId,
) -> ApiResult<Json<Vec<Box<RawValue>>>> {
    let spans = state.store.trace_spans(&trace_id).await?;
    if spans.is_empty() {
        return Err(trace_not_found(&trace_id));
    }
    Ok(Json(spans))
}

/// `GET /v1/traces/{traceId}/spans/{spanId}`
pub(crate) async fn get_span(
    State(state): State<AppState>,
    TraceId(trace_id): TraceId,
    SpanId(span_id): SpanId,
) -> ApiResult<Response> {
    match state.store.span(&trace_id, &span_id).await? {
        Some(span) => Ok(Json(span).into_response()),
        None => Err(span_not_found(&trace_id, &span_id)),
    }
}

/// `DELETE /v1/traces/{traceId}/spans/{spanId}`
pub(crate) async fn delete_span(
    State(state): State<AppState>,
    TraceId(trace_id): TraceId,
    SpanId(span_id): SpanId,
) -> ApiResult<StatusCode> {
    if state.store.delete_span(&trace_id, &span_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(span_not_found(&trace_id, &span_id))
    }
}

fn trace_not_found(trace_id: &str) -> ApiError {
    ApiError::NotFound(format!("trace {trace_id} not found"))
}

fn span_not_found(trace_id: &str, span_id: &str) -> ApiError {
    ApiError::NotFound(format!("span {span_id} of trace {trace_id} not found"))
}
