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
    /// JSON `{service: items}` (a segment's: `{service: [items, latest end]}`).
    pub services: String,
    /// A segment of the hot tier: when it was stored (unix ns, text); `None` for a block.
    #[serde(default)]
    pub received: Option<String>,
    /// What it holds, where a query says (retention): spans, or log records
    /// ([`super::log_compact::LOGS`]).
    #[serde(default)]
    pub signal: Option<i64>,
}

impl BlockRow {
    pub fn min_start(&self) -> u64 {
        self.min_start.parse().unwrap_or(0)
    }

    pub fn max_start(&self) -> u64 {
        self.max_start.parse().unwrap_or(0)
    }

    /// When the segment was stored; `None` for a block of the archive.
    pub fn segment_received(&self) -> Option<u64> {
        self.received.as_deref().map(|r| r.parse().unwrap_or(0))
    }

    /// Where it stands in the order tombstones cover.
    pub fn position(&self) -> Position {
        match self.segment_received() {
            Some(received) => Position::Segment(received),
            None => Position::Block(self.block_id),
        }
    }
}

/// Where spans are held, as a tombstone covers them: a block of the archive by its id,
/// or a segment of the hot tier by when it was stored (unix ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Block(i64),
    Segment(u64),
}

#[derive(Deserialize)]
struct BloomRow {
    block_id: i64,
    bloom: String,
}

/// Filters read from the database in one statement.
const FILTERS_PER_READ: usize = 8;

/// Segments a search may read for each block its budget lets it probe.
const SEGMENT_PROBES_PER_PROBE: usize = 16;

/// Segment filters read in one statement: a few hundred bytes each, and a hot tier holds
/// a few minutes of exports.
const SEGMENT_FILTERS_PER_READ: usize = 500;

/// Why a read starts over: a segment it listed was compacted into a block before it was
/// read (the block was not in the listing).
pub(crate) const COMPACTED_MEANWHILE: &str =
    "a segment of the hot tier was compacted during the read";

/// How many times a read starts over when segments were compacted under it (once a
/// minute at most; a second time in a row is all but impossible).
pub(crate) const READ_ATTEMPTS: usize = 3;

/// Whether `error` says a read should start over ([`COMPACTED_MEANWHILE`]).
pub(crate) fn compacted_meanwhile(error: &StoreError) -> bool {
    matches!(error, StoreError::Busy(message) if message == COMPACTED_MEANWHILE)
}

impl Store {
    /// What a block's bytes are read through: the archive's object store, or a segment's
    /// row (its `bytes`, when the statement that found it read them already).
    pub(crate) fn block_objects(
        &self,
        block: &BlockRow,
        bytes: Option<Vec<u8>>,
    ) -> Arc<dyn super::objects::ObjectStore> {
        match (block.received.is_some(), self.archive()) {
            (false, Some(archive)) => archive.shared_objects(),
            _ => Arc::new(super::segments::SegmentObject::new(
                self.db.clone(),
                &block.object_key,
                bytes,
            )),
        }
    }

    /// A block's read result, `None` for a block gone since it was listed (dropped by
    /// retention: it no longer counts); a segment gone was compacted, and the read must
    /// start over to find its spans in their block.
    pub(crate) fn listed<T>(
        block: &BlockRow,
        read: Result<T, super::read::ReadError>,
    ) -> Result<Option<T>, StoreError> {
        match dropped_is_none(read)? {
            None if block.received.is_some() => Err(StoreError::Busy(COMPACTED_MEANWHILE.into())),
            other => Ok(other),
        }
    }

    /// The segments and blocks a walk goes through, latest start first. Segments are
    /// listed first: a table compacted between the two statements is then read twice
    /// (spans are merged by id), never missed.
    pub(crate) async fn blocks_to_walk(&self, bottom: u64) -> Result<Vec<BlockRow>, StoreError> {
        let segments: Vec<BlockRow> = self
            .rows(Statement::new(
                sql::HOT_SEGMENTS,
                vec![crate::store::ns_param(bottom)],
            ))
            .await?;
        let blocks: Vec<BlockRow> = self
            .rows(Statement::new(
                sql::ARCHIVE_BLOCKS,
                vec![Param::Int(SPANS), crate::store::ns_param(bottom)],
            ))
            .await?;
        if segments.is_empty() {
            return Ok(blocks);
        }
        let mut all = segments;
        all.extend(blocks);
        // Stable: each list is in order already.
        all.sort_by_key(|b| std::cmp::Reverse(b.max_start()));
        Ok(all)
    }
}

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
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.archive_walk_once(query, budget, floor).await {
                Err(e) if compacted_meanwhile(&e) && attempt < READ_ATTEMPTS => continue,
                other => return other,
            }
        }
    }

    async fn archive_walk_once(
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
        let blocks = self.blocks_to_walk(bottom).await?;
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
        // The filters this walk read, whatever the cache (small on the Worker) kept.
        let mut read: HashMap<i64, Arc<Bloom>> = HashMap::new();
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
                let known = |id: i64, read: &HashMap<i64, Arc<Bloom>>| {
                    archive.cached_filter(id).or_else(|| read.get(&id).cloned())
                };
                let bloom = match known(block.block_id, &read) {
                    Some(bloom) => Some(bloom),
                    None if block.received.is_some() => {
                        // Every segment's filter left, in one statement: they are small.
                        let fresh = self
                            .read_archive_filters(&blocks[i..], true, |id| {
                                known(id, &read).is_some()
                            })
                            .await?;
                        read.extend(fresh);
                        known(block.block_id, &read)
                    }
                    None => {
                        if budget.is_some_and(|b| filters >= b.filters) {
                            let (found, end) = stopped(ranked(&by_id), newest_left);
                            return Ok((found, end, split));
                        }
                        let fresh = self
                            .read_archive_filters(&blocks[i..], false, |id| {
                                known(id, &read).is_some()
                            })
                            .await?;
                        filters += fresh.len();
                        read.extend(fresh);
                        known(block.block_id, &read)
                    }
                };
                // Without a filter (its row went since the listing) the block is probed,
                // and found dropped or compacted there.
                if bloom.is_some_and(|bloom| !plan.may_match(&bloom)) {
                    continue;
                }
            }
            // A segment is an export's spans, one small read: it counts as a fraction of
            // a block's probe.
            let cost = if block.received.is_some() {
                1
            } else {
                SEGMENT_PROBES_PER_PROBE
            };
            if budget.is_some_and(|b| probes + cost > b.probes * SEGMENT_PROBES_PER_PROBE) {
                let (found, end) = stopped(ranked(&by_id), newest_left);
                return Ok((found, end, split));
            }
            probes += cost;
            let objects = self.block_objects(block, None);
            let Some(open) = Self::listed(
                block,
                archive
                    .open(&*objects, block.block_id, &block.object_key)
                    .await,
            )?
            else {
                continue;
            };
            let traces = self
                .block_matches(
                    (block, &*objects, &open),
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

    /// Reads the filters of the first [`FILTERS_PER_READ`] blocks of `blocks` whose filter
    /// is not `known` (the first of them among them), or with `segments`, of every such
    /// segment; keeps them in the archive's cache and returns them.
    pub(super) async fn read_archive_filters(
        &self,
        blocks: &[BlockRow],
        segments: bool,
        known: impl Fn(i64) -> bool,
    ) -> Result<Vec<(i64, Arc<Bloom>)>, StoreError> {
        let Some(archive) = self.archive() else {
            return Ok(Vec::new());
        };
        let wanted = blocks
            .iter()
            .filter(|b| b.received.is_some() == segments && !known(b.block_id));
        let (statement, ids, per_read): (&str, Vec<i64>, usize) = if segments {
            let ids = wanted.map(|b| -1 - b.block_id).collect();
            (sql::HOT_BLOOMS, ids, SEGMENT_FILTERS_PER_READ)
        } else {
            let ids = wanted.take(FILTERS_PER_READ).map(|b| b.block_id).collect();
            (sql::ARCHIVE_BLOOMS, ids, FILTERS_PER_READ)
        };
        let mut out = Vec::new();
        for chunk in ids.chunks(per_read) {
            let rows: Vec<BloomRow> = self
                .rows(Statement::new(
                    statement,
                    vec![serde_json::to_string(chunk).unwrap_or_default().into()],
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
                let bloom = Arc::new(bloom);
                archive.keep_filter(row.block_id, bloom.clone());
                out.push((row.block_id, bloom));
            }
        }
        Ok(out)
    }

    /// The newest `wanted` of the block's traces in the query's range and before its
    /// cursor, not `hidden`, with a span `matcher` accepts (without one: any). Traces are
    /// checked newest first, each through the row groups that hold it, so a filter that
    /// matches often reads few spans.
    async fn block_matches(
        &self,
        (block, objects, open): (&BlockRow, &dyn super::objects::ObjectStore, &OpenBlock),
        query: &TraceListQuery,
        matcher: Option<&Matcher>,
        wanted: usize,
        deleted: &Deleted,
    ) -> Result<Vec<TraceSummary>, StoreError> {
        let Some(archive) = self.archive() else {
            return Ok(Vec::new());
        };
        let block_id = block.block_id;
        let in_range = |t: &block::TraceRow| {
            query.start_ns.is_none_or(|start| t.start_ns >= start)
                && query.end_ns.is_none_or(|end| t.start_ns < end)
                && query.before.as_ref().is_none_or(|c| before(t, c))
                && !deleted.hides_trace(&t.trace_id, block.position())
        };
        let Some(table) = Self::listed(block, archive.traces(objects, block_id, open).await)?
        else {
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
                let Some(spans) = Self::listed(
                    block,
                    archive.row_group(objects, block_id, open, index).await,
                )?
                else {
                    return Ok(Vec::new());
                };
                // A row group is sorted by trace id: the trace's spans are one run.
                let from = spans.partition_point(|s| s.trace_id.as_str() < id);
                let to = spans.partition_point(|s| s.trace_id.as_str() <= id);
                for span in &spans[from..to] {
                    if deleted.hides_span(id, &span.span_id, block.position()) {
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
pub(crate) struct Deleted {
    traces: HashMap<String, Tombstone>,
    spans: HashMap<String, Vec<Tombstone>>,
}

impl Deleted {
    pub(crate) fn of(tombstones: Vec<Tombstone>) -> Self {
        let mut deleted = Self::default();
        for t in tombstones {
            if t.span_id.is_empty() {
                deleted.traces.insert(t.trace_id.clone(), t);
            } else {
                deleted.spans.entry(t.trace_id.clone()).or_default().push(t);
            }
        }
        deleted
    }

    pub(crate) fn hides_trace(&self, trace_id: &str, at: Position) -> bool {
        self.traces.get(trace_id).is_some_and(|t| t.covers(at))
    }

    pub(crate) fn hides_span(&self, trace_id: &str, span_id: &str, at: Position) -> bool {
        self.hides_trace(trace_id, at)
            || self
                .spans
                .get(trace_id)
                .is_some_and(|spans| spans.iter().any(|t| t.span_id == span_id && t.covers(at)))
    }
}

/// Whether a trace comes after cursor `c` in the newest-first list.
fn before(t: &block::TraceRow, c: &Cursor) -> bool {
    match &c.trace_id {
        Some(id) => (t.start_ns, t.trace_id.as_str()) < (c.start_ns, id.as_str()),
        None => t.start_ns < c.start_ns,
    }
}
