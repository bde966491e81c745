//! Handlers that read log records: the newest-first list with its filters, its export as
//! OTLP, and a trace's records in time order.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::download::json_lines;
use super::extract::TraceId;
use super::{ApiError, AppState};
use crate::models::{Log, LogList};
use crate::query;
use crate::store::logs::LogCursor;
use crate::store::logs::LogQuery;

/// Windows of rows one store may filter per request when the home bounds a request's
/// work (the Worker): 50,000 rows, about a D1 query's worth.
pub const MAX_LOG_WINDOWS: u32 = 5;

/// `GET /v1/logs`: one page, newest first, merged over every store.
pub(crate) async fn list_logs(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<LogList>, ApiError> {
    let query = query::log_list(raw.as_deref())?;
    let page = page(&state, &query).await?;
    Ok(Json(LogList {
        next_cursor: page.next.as_ref().map(query::log_cursor_text),
        partial: page.partial,
        logs: page.logs,
    }))
}

/// One page of the log list, with the cursor of the next as the store reads it.
struct Page {
    logs: Vec<Log>,
    next: Option<LogCursor>,
    /// The page stopped at the request's bound before it was full.
    partial: bool,
}

async fn page(state: &AppState, query: &LogQuery) -> Result<Page, ApiError> {
    let max_windows = state.search_budget.map(|_| MAX_LOG_WINDOWS);
    let pages = futures_util::future::join_all(
        state
            .shards
            .all()
            .iter()
            .map(|store| store.logs(query, max_windows)),
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
    Ok(Page {
        partial: !full && bound.is_some(),
        next,
        logs: logs.into_iter().map(|(_, log)| log).collect(),
    })
}

/// Records `GET /v1/export/logs` reads at most when `maxRecords` does not say.
pub const DEFAULT_EXPORT_LOGS: u32 = 10_000;

/// Records per line of a log export: one `ExportLogsServiceRequest` each.
const EXPORT_LINE_RECORDS: u32 = 1_000;

/// Pages one log export reads at most where a request's work is bounded (the Worker: each
/// page is a few D1 queries per database).
const MAX_BUDGETED_EXPORT_PAGES: usize = 50;

/// `GET /v1/export/logs?<filters>[&maxRecords=N]`: the records a search finds, newest
/// first, as OTLP JSON Lines of up to 1,000 records a line. Stops at `maxRecords`
/// (10,000 unless asked, and at most the home's export items), saying so in
/// `Otel-Worker-Truncated: true`.
pub(crate) async fn export_logs(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (mut query, max) = query::export_logs(raw.as_deref())?;
    let max = u64::from(max.unwrap_or(DEFAULT_EXPORT_LOGS)).min(state.export_items) as usize;
    let max_pages = state.search_budget.map(|_| MAX_BUDGETED_EXPORT_PAGES);
    let (mut lines, mut written, mut pages, mut truncated) = (String::new(), 0, 0, false);
    loop {
        query.limit = (max - written).min(EXPORT_LINE_RECORDS as usize) as u32;
        let page = page(&state, &query).await?;
        pages += 1;
        if !page.logs.is_empty() {
            let records = serde_json::to_value(&page.logs)
                .map_err(|e| ApiError::Misconfigured(format!("a log record as JSON: {e}")))?;
            let records = records.as_array().map(Vec::as_slice).unwrap_or_default();
            lines.push_str(&crate::otlp_json::logs_request(records).to_string());
            lines.push('\n');
            written += page.logs.len();
        }
        match page.next {
            None => break,
            Some(_) if written >= max || max_pages.is_some_and(|most| pages >= most) => {
                truncated = true;
                break;
            }
            Some(next) => query.cursor = Some(next),
        }
    }
    Ok(json_lines(lines, truncated, "logs.jsonl"))
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
