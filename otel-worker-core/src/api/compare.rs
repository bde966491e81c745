//! `GET /v1/compare/traces`: two stored traces side by side ([`crate::compare`]).

use axum::Json;
use axum::extract::{RawQuery, State};

use super::traces::find_trace;
use super::{ApiError, AppState};
use crate::compare::{self, MAX_SPANS, Span, TraceComparison};
use crate::query;
use crate::store::StoreError;
use crate::store::read::SpanCursor;

/// Spans read per page: what the Worker holds as text at once while reading a trace.
const PAGE: u32 = 2_000;

/// `GET /v1/compare/traces?a=ID&b=ID`
pub(crate) async fn compare_traces(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<TraceComparison>, ApiError> {
    let (a, b) = query::trace_pair(raw.as_deref())?;
    let (a, a_cut) = spans_of(&state, &a).await?;
    let (b, b_cut) = spans_of(&state, &b).await?;
    Ok(Json(compare::traces(&a, &b, a_cut || b_cut)))
}

/// Up to [`MAX_SPANS`] spans of a trace, and whether there were more.
async fn spans_of(state: &AppState, trace_id: &str) -> Result<(Vec<Span>, bool), ApiError> {
    let (store, _) = find_trace(state, trace_id).await?;
    let mut spans = Vec::new();
    let mut after: Option<SpanCursor> = None;
    loop {
        let page = store.trace_spans(trace_id, after.as_ref(), PAGE).await?;
        for raw in &page.spans {
            let span: Span = serde_json::from_str(raw.get()).map_err(|e| {
                StoreError::Other(format!(
                    "a stored span of {trace_id} does not read back: {e}"
                ))
            })?;
            spans.push(span);
        }
        if spans.len() >= MAX_SPANS {
            let more = spans.len() > MAX_SPANS || page.next.is_some();
            spans.truncate(MAX_SPANS);
            return Ok((spans, more));
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok((spans, false)),
        }
    }
}
