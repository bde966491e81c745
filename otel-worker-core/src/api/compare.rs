//! `GET /v1/compare/traces`: two stored traces side by side ([`crate::compare`]);
//! `GET /v1/compare/groups`: two searches, operation by operation
//! ([`crate::compare::groups`]).

use axum::Json;
use axum::extract::{RawQuery, State};

use super::traces::{find_trace, read_spans};
use super::{ApiError, AppState};
use crate::compare::groups::{self, GroupComparison, GroupSample, GroupSide, Options};
use crate::compare::{self, MAX_SPANS, Span, TraceComparison};
use crate::query::{self, Group};
use crate::store::search::search;

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
    read_spans(&store, trace_id, MAX_SPANS, PAGE).await
}

/// Search calls one group may make to list its traces (a budgeted search may answer a
/// page in parts).
const MAX_SEARCH_CALLS: usize = 100;

/// `GET /v1/compare/groups?baseline=<search>&candidate=<search>`
pub(crate) async fn compare_groups(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<GroupComparison>, ApiError> {
    let asked = query::group_pair(raw.as_deref())?;
    let limits = state.compare_limits;
    let traces = asked
        .max_traces
        .map_or(limits.traces, |n| n.min(limits.traces));
    let (baseline, base_side) = read_group(&state, &asked.baseline, traces).await?;
    let (candidate, cand_side) = read_group(&state, &asked.candidate, traces).await?;
    let options = Options {
        min_samples: asked.min_samples.unwrap_or(groups::DEFAULT_MIN_SAMPLES),
        ..Options::default()
    };
    Ok(Json(groups::compare(
        baseline,
        candidate,
        (base_side, cand_side),
        options,
    )))
}

/// Lists the group's traces (newest first, up to the scan limit), reads `traces` of them
/// spread evenly, and says how.
async fn read_group(
    state: &AppState,
    group: &Group,
    traces: u32,
) -> Result<(GroupSample, GroupSide), ApiError> {
    let limits = state.compare_limits;
    let mut search_query = group.query.clone();
    let mut ids: Vec<String> = Vec::new();
    let mut matched_all = false;
    for _ in 0..MAX_SEARCH_CALLS {
        let left = (limits.scanned as usize).saturating_sub(ids.len());
        if left == 0 {
            break;
        }
        search_query.limit = (left as u32).min(query::MAX_LIST_LIMIT);
        let page = search(state.shards.all(), &search_query, state.search_budget).await?;
        ids.extend(page.traces.into_iter().map(|t| t.trace_id));
        match page.next {
            Some(next) => search_query.before = Some(next),
            None => {
                matched_all = true;
                break;
            }
        }
    }
    let chosen: Vec<&String> = if ids.len() > traces as usize {
        (0..traces as usize)
            .map(|i| &ids[i * ids.len() / traces as usize])
            .collect()
    } else {
        ids.iter().collect()
    };
    let mut sample = GroupSample::default();
    let mut truncated = false;
    for trace_id in &chosen {
        if sample.spans >= limits.spans {
            truncated = true;
            break;
        }
        // A trace deleted since it was listed is skipped.
        let (spans, cut) = match spans_of(state, trace_id).await {
            Ok(read) => read,
            Err(ApiError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        truncated |= cut;
        sample.add_trace(&spans);
    }
    let side = GroupSide {
        query: group.text.clone(),
        matched: ids.len() as u64,
        matched_all,
        traces: sample.traces,
        spans: sample.spans,
        sampled: (sample.traces as usize) < ids.len(),
        truncated,
    };
    Ok((sample, side))
}
