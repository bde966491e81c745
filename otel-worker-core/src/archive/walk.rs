//! The archive's part of a search: blocks walked by latest start, newest first, as the
//! search blocks of the span rows are ([`crate::store::search`]). A block's search filter
//! rules it out without reading it; a block that may match has its trace table read, and
//! for a span filter its rows too, checked in Rust ([`super::matching`]). The walk ends
//! when the page is full and no block left can hold a newer trace than its last, or when
//! the budget runs out (the page is then `partial`, with a cursor that continues it).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use serde::Deserialize;

use super::block;
use super::compact::SPANS;
use super::lookup::{Tombstone, dropped_is_none, merge_summaries};
use super::matching::{Matcher, Parsed};
use super::read::OpenBlock;
use crate::models::TraceSummary;
use crate::store::bloom::Bloom;
use crate::store::search::{Budget, End, rank, stopped};
use crate::store::summary::Plan;
use crate::store::{Cursor, Param, SpanFilter, Statement, Store, StoreError, TraceListQuery, sql};

/// One block as [`sql::ARCHIVE_BLOCKS`] lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct BlockRow {
    pub block_id: i64,
    pub object_key: String,
    /// No trace has a span in the block that started earlier ...
    pub min_start: String,
    /// ... or later.
    pub max_start: String,
    pub items: i64,
    pub traces: i64,
    pub bytes: i64,
    /// JSON `{service: items}`.
    pub services: String,
}

impl BlockRow {
    pub fn min_start(&self) -> u64 {
        self.min_start.parse().unwrap_or(0)
    }

    pub fn max_start(&self) -> u64 {
        self.max_start.parse().unwrap_or(0)
    }
}

#[derive(Deserialize)]
struct BloomRow {
    block_id: i64,
    bloom: String,
}

/// Filters read from the database in one statement.
const FILTERS_PER_READ: usize = 8;

impl Store {
    /// The archive's traces for one page of `query`, newest first, how far the walk
    /// went, and the traces found in several blocks. Without an archive: nothing,
    /// exhausted.
    /// Traces that started before `floor` are not wanted (the span rows filled the page
    /// with later ones).
    pub(crate) async fn archive_walk(
        &self,
        query: &TraceListQuery,
        budget: Option<Budget>,
        floor: Option<u64>,
    ) -> Result<(Vec<TraceSummary>, End, Vec<String>), StoreError> {
        let Some(archive) = self.archive() else {
            return Ok((Vec::new(), End::Exhausted, Vec::new()));
        };
        let wanted = query.limit as usize + 1;
        let bottom = query.start_ns.unwrap_or(0).max(floor.unwrap_or(0));
        let blocks: Vec<BlockRow> = self
            .rows(Statement::new(
                sql::ARCHIVE_BLOCKS,
                vec![Param::Int(SPANS), crate::store::ns_param(bottom)],
            ))
            .await?;
        // Traces deleted while blocks hold them.
        let deleted = if blocks.is_empty() {
            Deleted::default()
        } else {
            let rows: Vec<Tombstone> = self
                .rows(Statement::new(sql::TRACE_TOMBSTONES_ALL, vec![]))
                .await?;
            Deleted::of(rows)
        };
        let plan = Plan::of(&query.span);
        let matcher = (!query.span.is_empty()).then(|| Matcher::new(&query.span));
        let (mut probes, mut filters) = (0usize, 0usize);
        // A trace with parts in several blocks is found in each: kept once, its parts'
        // summaries merged, and named in `split` for the search to summarize whole.
        let mut by_id: HashMap<String, TraceSummary> = HashMap::new();
        let mut split: Vec<String> = Vec::new();
        let ranked = |by_id: &HashMap<String, TraceSummary>| {
            let mut found: Vec<TraceSummary> = by_id.values().cloned().collect();
            rank(&mut found);
            found
        };
        for (i, block) in blocks.iter().enumerate() {
            let newest_left = block.max_start();
            if by_id.len() >= wanted {
                let mut found = ranked(&by_id);
                if found[wanted - 1].start_time_unix_nano > newest_left {
                    found.truncate(wanted);
                    return Ok((found, End::Full, split));
                }
            }
            // Every trace part in the block started at or after its earliest span.
            let min_start = block.min_start();
            if query.end_ns.is_some_and(|end| min_start >= end)
                || query
                    .before
                    .as_ref()
                    .is_some_and(|c| min_start > c.start_ns)
            {
                continue;
            }
            if !plan.is_empty() {
                let bloom = match archive.cached_filter(block.block_id) {
                    Some(bloom) => bloom,
                    None => {
                        if budget.is_some_and(|b| filters >= b.filters) {
                            let (found, end) = stopped(ranked(&by_id), newest_left);
                            return Ok((found, end, split));
                        }
                        let read = self.read_archive_filters(&blocks[i..]).await?;
                        filters += read;
                        archive.cached_filter(block.block_id).unwrap_or_default()
                    }
                };
                if !plan.may_match(&bloom) {
                    continue;
                }
            }
            if budget.is_some_and(|b| probes >= b.probes) {
                let (found, end) = stopped(ranked(&by_id), newest_left);
                return Ok((found, end, split));
            }
            probes += 1;
            let Some(open) =
                dropped_is_none(archive.open(block.block_id, &block.object_key).await)?
            else {
                continue;
            };
            let traces = self
                .block_matches(
                    block.block_id,
                    &open,
                    query,
                    matcher.as_ref(),
                    wanted,
                    &deleted,
                )
                .await?;
            for trace in traces {
                match by_id.entry(trace.trace_id.clone()) {
                    Entry::Vacant(slot) => {
                        slot.insert(trace);
                    }
                    Entry::Occupied(mut known) => {
                        split.push(trace.trace_id.clone());
                        let parts = vec![known.get().clone(), trace];
                        if let Some(merged) = merge_summaries(parts) {
                            known.insert(merged);
                        }
                    }
                }
            }
        }
        let mut found = ranked(&by_id);
        if found.len() >= wanted {
            found.truncate(wanted);
            return Ok((found, End::Full, split));
        }
        Ok((found, End::Exhausted, split))
    }

    /// Reads the filters of the first blocks of `blocks` not cached yet (the first of
    /// them among them) into the archive's cache. Returns how many it read.
    async fn read_archive_filters(&self, blocks: &[BlockRow]) -> Result<usize, StoreError> {
        let Some(archive) = self.archive() else {
            return Ok(0);
        };
        let ids: Vec<i64> = blocks
            .iter()
            .filter(|b| archive.cached_filter(b.block_id).is_none())
            .take(FILTERS_PER_READ)
            .map(|b| b.block_id)
            .collect();
        let rows: Vec<BloomRow> = self
            .rows(Statement::new(
                sql::ARCHIVE_BLOOMS,
                vec![serde_json::to_string(&ids).unwrap_or_default().into()],
            ))
            .await?;
        for row in rows {
            let bloom = hex::decode(&row.bloom)
                .ok()
                .and_then(Bloom::from_sized_bytes)
                .ok_or_else(|| {
                    StoreError::Other(format!(
                        "archive block {} has a broken search filter",
                        row.block_id
                    ))
                })?;
            archive.keep_filter(row.block_id, Arc::new(bloom));
        }
        Ok(ids.len())
    }

    /// The newest `wanted` of the block's traces in the query's range and before its
    /// cursor, not `hidden`, with a span `matcher` accepts (without one: any). Traces are
    /// checked newest first, each through the row groups that hold it, so a filter that
    /// matches often reads few spans.
    async fn block_matches(
        &self,
        block_id: i64,
        open: &OpenBlock,
        query: &TraceListQuery,
        matcher: Option<&Matcher>,
        wanted: usize,
        deleted: &Deleted,
    ) -> Result<Vec<TraceSummary>, StoreError> {
        let Some(archive) = self.archive() else {
            return Ok(Vec::new());
        };
        let in_range = |t: &block::TraceRow| {
            query.start_ns.is_none_or(|start| t.start_ns >= start)
                && query.end_ns.is_none_or(|end| t.start_ns < end)
                && query.before.as_ref().is_none_or(|c| before(t, c))
                && !deleted.hides_trace(&t.trace_id, block_id)
        };
        let Some(table) = dropped_is_none(archive.traces(block_id, open).await)? else {
            return Ok(Vec::new());
        };
        let mut traces: Vec<&block::TraceRow> = table.iter().filter(|t| in_range(t)).collect();
        traces.sort_by(|a, b| (b.start_ns, &b.trace_id).cmp(&(a.start_ns, &a.trace_id)));
        let Some(matcher) = matcher else {
            traces.truncate(wanted);
            return Ok(traces
                .into_iter()
                .cloned()
                .map(TraceSummary::from)
                .collect());
        };
        // A filter of the service alone, or of failing spans alone, is answered by the
        // block's trace table: a trace's services and error count there are its spans'.
        let f = &query.span;
        let rest = SpanFilter {
            service: None,
            status_code: None,
            ..f.clone()
        };
        let by_table = |t: &block::TraceRow| -> Option<bool> {
            if !rest.is_empty() || deleted.spans.contains_key(&t.trace_id) {
                return None;
            }
            match (&f.service, f.status_code) {
                (Some(service), None) => Some(t.services.contains(service)),
                (None, Some(2)) => Some(t.errors > 0),
                _ => None,
            }
        };
        let parsed = Parsed::of(&open.dictionaries);
        let mut matcher = matcher.for_block(&parsed);
        let mut found = Vec::new();
        for trace in traces {
            let id = trace.trace_id.as_str();
            if let Some(matched) = by_table(trace) {
                if matched {
                    found.push(TraceSummary::from(trace.clone()));
                    if found.len() >= wanted {
                        break;
                    }
                }
                continue;
            }
            let mut matched = false;
            for (index, group) in open.footer.row_groups.iter().enumerate() {
                if matched || id < group.first_trace.as_str() || group.last_trace.as_str() < id {
                    continue;
                }
                let Some(spans) = dropped_is_none(archive.row_group(block_id, open, index).await)?
                else {
                    return Ok(Vec::new());
                };
                // A row group is sorted by trace id: the trace's spans are one run.
                let from = spans.partition_point(|s| s.trace_id.as_str() < id);
                let to = spans.partition_point(|s| s.trace_id.as_str() <= id);
                for span in &spans[from..to] {
                    if deleted.hides_span(id, &span.span_id, block_id) {
                        continue;
                    }
                    if matcher
                        .matches(span)
                        .map_err(|e| StoreError::Other(format!("archive: {}: {e}", open.key)))?
                    {
                        matched = true;
                        break;
                    }
                }
            }
            if matched {
                found.push(TraceSummary::from(trace.clone()));
                if found.len() >= wanted {
                    break;
                }
            }
        }
        Ok(found)
    }
}

/// What was deleted while blocks hold it: whole traces, and single spans by trace, each
/// with the last block its tombstone covers.
#[derive(Debug, Default)]
struct Deleted {
    traces: HashMap<String, i64>,
    spans: HashMap<String, Vec<(String, i64)>>,
}

impl Deleted {
    fn of(tombstones: Vec<Tombstone>) -> Self {
        let mut deleted = Self::default();
        for t in tombstones {
            if t.span_id.is_empty() {
                deleted.traces.insert(t.trace_id, t.up_to_block);
            } else {
                deleted
                    .spans
                    .entry(t.trace_id)
                    .or_default()
                    .push((t.span_id, t.up_to_block));
            }
        }
        deleted
    }

    fn hides_trace(&self, trace_id: &str, block_id: i64) -> bool {
        self.traces
            .get(trace_id)
            .is_some_and(|up_to| *up_to >= block_id)
    }

    fn hides_span(&self, trace_id: &str, span_id: &str, block_id: i64) -> bool {
        self.spans.get(trace_id).is_some_and(|spans| {
            spans
                .iter()
                .any(|(span, up_to)| span == span_id && *up_to >= block_id)
        })
    }
}

/// Whether a trace comes after cursor `c` in the newest-first list.
fn before(t: &block::TraceRow, c: &Cursor) -> bool {
    match &c.trace_id {
        Some(id) => (t.start_ns, t.trace_id.as_str()) < (c.start_ns, id.as_str()),
        None => t.start_ns < c.start_ns,
    }
}
