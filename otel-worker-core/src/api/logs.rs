//! Handlers that read log records: the newest-first list with its filters, and a trace's
//! records in time order.

use axum::Json;
use axum::extract::{RawQuery, State};

use super::extract::TraceId;
use super::{ApiError, AppState};
use crate::models::LogList;
use crate::query;
use crate::store::logs::LogCursor;

/// Windows of rows one store may filter per request when the home bounds a request's
/// work (the Worker): 50,000 rows, about a D1 query's worth.
pub const MAX_LOG_WINDOWS: u32 = 5;

/// `GET /v1/logs`: one page, newest first, merged over every store.
pub(crate) async fn list_logs(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<LogList>, ApiError> {
    let query = query::log_list(raw.as_deref())?;
    let max_windows = state.search_budget.map(|_| MAX_LOG_WINDOWS);
    let pages = futures_util::future::join_all(
        state
            .shards
            .all()
            .iter()
            .map(|store| store.logs(&query, max_windows)),
    )
    .await;
    // Each store looked at everything from the top down to its `next`: only what is
    // above the highest of those is complete over all stores.
    let mut bound: Option<LogCursor> = None;
    let mut logs = Vec::new();
    for page in pages {
        let page = page?;
        bound = bound.max(page.next);
        logs.extend(page.logs);
    }
    logs.retain(|(key, _)| bound.is_none_or(|b| *key >= b));
    logs.sort_by_key(|(key, _)| std::cmp::Reverse(*key));
    let limit = query.limit as usize;
    let full = logs.len() >= limit;
    logs.truncate(limit);
    let next = if full {
        logs.last().map(|(key, _)| *key)
    } else {
        bound
    };
    Ok(Json(LogList {
        next_cursor: next.as_ref().map(query::log_cursor_text),
        partial: !full && bound.is_some(),
        logs: logs.into_iter().map(|(_, log)| log).collect(),
    }))
}

/// `GET /v1/traces/{traceId}/logs`: the trace's records in time order, a page at a time.
pub(crate) async fn trace_logs(
    State(state): State<AppState>,
    TraceId(trace_id): TraceId,
    RawQuery(raw): RawQuery,
) -> Result<Json<LogList>, ApiError> {
    let (after, limit) = query::trace_log_page(raw.as_deref())?;
    let mut page = Default::default();
    for store in state.shards.lookup_order(&trace_id) {
        page = store.trace_logs(&trace_id, after, limit).await?;
        if !page.logs.is_empty() {
            break;
        }
    }
    let crate::store::logs::LogPage { logs, next } = page;
    Ok(Json(LogList {
        logs: logs.into_iter().map(|(_, log)| log).collect(),
        next_cursor: next.as_ref().map(query::log_cursor_text),
        partial: false,
    }))
}
