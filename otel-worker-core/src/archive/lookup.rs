//! A trace by id in the archive: the blocks whose trace-id filter may hold it (one small
//! shard row per block, one query), then in each the one row group (two at a boundary)
//! that holds it.

use rustc_hash::FxHashMap;
use serde::Deserialize;

use super::block::{self, TraceRow};
use super::compact::{TRACE_FILTER_SHARDS, id_bytes, shard_key};
use super::read::ReadError;
use super::trace_filter;
use super::walk::{BlockRow, Deleted, Position};
use crate::models::TraceSummary;
use crate::store::{
    Param, ResourceRecord, ShapeRecord, SpanRecord, SpanRow, Statement, Store, StoreError,
    ns_param, sql,
};

/// A block whose trace-id filter shard may hold a trace, with the shard's bits, or a
/// segment that holds it, with its bytes.
#[derive(Deserialize)]
struct SourceRow {
    #[serde(flatten)]
    block: BlockRow,
    bits: Option<String>,
    body: Option<String>,
}

/// A block read's result, `None` for a block whose object is gone: retention deletes the
/// row first and the object after, so a read that listed the block just before may
/// find it missing, and the block no longer counts.
pub(crate) fn dropped_is_none<T>(read: Result<T, ReadError>) -> Result<Option<T>, StoreError> {
    match read {
        Ok(value) => Ok(Some(value)),
        Err(ReadError::Missing(_)) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// The keys of the trace-id filter shards that may hold `id`: one per shard count in
/// use (level-0 blocks, and merged blocks once they exist).
fn shard_keys(id: &[u8; 16]) -> [i64; 2] {
    [
        shard_key(
            TRACE_FILTER_SHARDS,
            trace_filter::shard_of(id, TRACE_FILTER_SHARDS),
        ),
        shard_key(MERGED_SHARDS, trace_filter::shard_of(id, MERGED_SHARDS)),
    ]
}

/// How far apart in start time the spans of one trace may be archived and still be
/// brought together in one block (see [`Store::archived_among`]): traces whose spans
/// arrive over more than an hour stay in several blocks, read whole by id, and listed
/// whole wherever a search reaches all their parts.
pub const REJOIN_WINDOW_NS: u64 = 3_600 * 1_000_000_000;

/// Shards of a merged block's trace-id filter (docs/architecture.md).
const MERGED_SHARDS: u16 = 256;

/// A deletion the blocks up to `up_to_block`, and the segments stored up to
/// `up_to_segment`, still hold.
#[derive(Debug, Deserialize)]
pub(crate) struct Tombstone {
    /// Empty: the whole trace.
    #[serde(default)]
    pub span_id: String,
    #[serde(default)]
    pub trace_id: String,
    pub up_to_block: i64,
    /// Unix ns, as text.
    #[serde(default)]
    pub up_to_segment: Option<String>,
}

impl Tombstone {
    /// Whether it hides what is held `at` (a block or a segment) of its trace.
    pub(crate) fn covers(&self, at: Position) -> bool {
        match at {
            Position::Block(block_id) => self.up_to_block >= block_id,
            Position::Segment(received) => self
                .up_to_segment
                .as_deref()
                .and_then(|t| t.parse::<u64>().ok())
                .is_some_and(|up_to| up_to >= received),
        }
    }
}

/// What the archive holds of one trace.
#[derive(Debug, Default)]
pub struct ArchivedTrace {
    /// In start order (then span id), one copy of each span: the newest block's.
    pub spans: Vec<SpanRow>,
    /// The same spans, as blocks hold them.
    pub records: Vec<SpanRecord>,
    /// The resources and key sets of the blocks they were read from.
    pub resources: Vec<ResourceRecord>,
    pub shapes: Vec<ShapeRecord>,
}

impl ArchivedTrace {
    /// The summary of the archived spans whose ids are not in `except` (those the span
    /// rows hold again); `None` when none is left.
    pub fn summary(&self, except: &std::collections::HashSet<String>) -> Option<TraceSummary> {
        let kept: Vec<SpanRecord> = self
            .records
            .iter()
            .filter(|r| !except.contains(&r.span_id))
            .cloned()
            .collect();
        block::trace_row(&kept, |_| None).map(TraceSummary::from)
    }
}

impl Store {
    /// Marks the archived spans of a trace (or one of them) deleted; `false` when the
    /// archive holds none of them.
    pub async fn delete_archived(
        &self,
        trace_id: &str,
        span_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        let held = self.archived_trace(trace_id).await?;
        let any = match span_id {
            Some(id) => held.spans.iter().any(|s| s.span_id == id),
            // A trace's log records in the archive go with it, even without spans there.
            None => {
                !held.spans.is_empty()
                    || !self
                        .archived_trace_logs(trace_id, None, 1)
                        .await?
                        .is_empty()
            }
        };
        if any {
            self.db
                .transaction(vec![Statement::new(
                    sql::INSERT_TOMBSTONE,
                    vec![trace_id.into(), span_id.unwrap_or("").into()],
                )])
                .await?;
        }
        Ok(any)
    }

    /// Which of `traces` (lower-case hex id, earliest and latest start of their spans in
    /// the database) a block already holds part of, looking at the blocks whose starts come
    /// within [`REJOIN_WINDOW_NS`] of theirs: one query for those blocks' trace-id filter
    /// shards, then, where a filter does not rule the trace out, the block's trace table
    /// (kept once read), so a false positive costs a lookup and no span is decoded.
    pub async fn archived_among(
        &self,
        traces: &[(String, u64, u64)],
    ) -> Result<Vec<String>, StoreError> {
        let Some(archive) = self.archive() else {
            return Ok(Vec::new());
        };
        let ids: Vec<(&String, [u8; 16], u64, u64)> = traces
            .iter()
            .filter_map(|(t, low, high)| Some((t, id_bytes(t)?, *low, *high)))
            .collect();
        let (Some(low), Some(high)) =
            (ids.iter().map(|t| t.2).min(), ids.iter().map(|t| t.3).max())
        else {
            return Ok(Vec::new());
        };
        let mut shards: Vec<i64> = ids.iter().flat_map(|t| shard_keys(&t.1)).collect();
        shards.sort_unstable();
        shards.dedup();
        #[derive(Deserialize)]
        struct Shard {
            shard: i64,
            #[serde(flatten)]
            block: BlockRow,
            bits: String,
        }
        let rows: Vec<Shard> = self
            .rows(Statement::new(
                sql::ARCHIVE_TRACE_SHARDS_AMONG,
                vec![
                    serde_json::to_string(&shards).unwrap_or_default().into(),
                    ns_param(low.saturating_sub(REJOIN_WINDOW_NS)),
                    ns_param(high.saturating_add(REJOIN_WINDOW_NS)),
                ],
            ))
            .await?;
        let mut by_shard: FxHashMap<i64, Vec<(BlockRow, Vec<u8>)>> = FxHashMap::default();
        for row in rows {
            if let Ok(bits) = hex::decode(&row.bits) {
                by_shard
                    .entry(row.shard)
                    .or_default()
                    .push((row.block, bits));
            }
        }
        let mut found = Vec::new();
        for (trace_id, id, low, high) in ids {
            let candidates = shard_keys(&id)
                .into_iter()
                .filter_map(|shard| by_shard.get(&shard))
                .flatten()
                .filter(|(block, bits)| {
                    block.max_start() >= low.saturating_sub(REJOIN_WINDOW_NS)
                        && block.min_start() <= high.saturating_add(REJOIN_WINDOW_NS)
                        && trace_filter::may_contain(bits, &id)
                });
            for (block, _) in candidates {
                let objects = archive.objects();
                let Some(open) = dropped_is_none(
                    archive
                        .open(objects, block.block_id, &block.object_key)
                        .await,
                )?
                else {
                    continue;
                };
                let Some(table) =
                    dropped_is_none(archive.traces(objects, block.block_id, &open).await)?
                else {
                    continue;
                };
                if table
                    .binary_search_by(|t| t.trace_id.as_str().cmp(trace_id))
                    .is_ok()
                {
                    found.push(trace_id.clone());
                    break;
                }
            }
        }
        Ok(found)
    }

    /// The blocks and segments that may hold spans of `trace_id` (lower-case hex), oldest
    /// first (blocks by id, then segments as stored), with the bytes of the segments.
    async fn blocks_of_trace(
        &self,
        trace_id: &str,
    ) -> Result<Vec<(BlockRow, Option<Vec<u8>>)>, StoreError> {
        let Some(id) = id_bytes(trace_id) else {
            return Ok(Vec::new());
        };
        let [level0, merged] = shard_keys(&id);
        let rows: Vec<SourceRow> = self
            .rows(Statement::new(
                sql::TRACE_SOURCES,
                vec![Param::Int(level0), Param::Int(merged), trace_id.into()],
            ))
            .await?;
        let mut found = Vec::new();
        for row in rows {
            match (row.bits, row.body) {
                (_, Some(body)) => {
                    let bytes = hex::decode(&body).map_err(|e| {
                        StoreError::Other(format!("segment {}: {e}", row.block.object_key))
                    })?;
                    found.push((row.block, Some(bytes)));
                }
                (Some(bits), None) => {
                    if hex::decode(&bits).is_ok_and(|bits| trace_filter::may_contain(&bits, &id)) {
                        found.push((row.block, None));
                    }
                }
                (None, None) => {}
            }
        }
        found.sort_by_key(|(block, _)| match block.segment_received() {
            None => (0, block.block_id as i128),
            Some(received) => (1, i128::from(received)),
        });
        Ok(found)
    }

    /// Everything the archive holds of `trace_id`; empty without an archive.
    pub async fn archived_trace(&self, trace_id: &str) -> Result<ArchivedTrace, StoreError> {
        let Some(archive) = self.archive() else {
            return Ok(ArchivedTrace::default());
        };
        let mut out = ArchivedTrace::default();
        let blocks = self.blocks_of_trace(trace_id).await?;
        if blocks.is_empty() {
            return Ok(out);
        }
        let deleted = Deleted::of(
            self.rows(Statement::new(sql::TRACE_TOMBSTONES, vec![trace_id.into()]))
                .await?,
        );
        let mut by_span: FxHashMap<String, (SpanRecord, SpanRow)> = FxHashMap::default();
        for (block, bytes) in blocks {
            if deleted.hides_trace(trace_id, block.position()) {
                continue;
            }
            let objects = self.block_objects(&block, bytes);
            let objects = &*objects;
            let Some(open) = dropped_is_none(
                archive
                    .open(objects, block.block_id, &block.object_key)
                    .await,
            )?
            else {
                continue;
            };
            // The trace table (sorted by id, kept once read) says whether the block holds
            // the trace at all: a false positive of the trace-id filter costs a lookup
            // there, not the decoding of a row group.
            let Some(table) =
                dropped_is_none(archive.traces(objects, block.block_id, &open).await)?
            else {
                continue;
            };
            if table
                .binary_search_by(|t| t.trace_id.as_str().cmp(trace_id))
                .is_err()
            {
                continue;
            }
            let mut records = Vec::new();
            for (index, group) in open.footer.row_groups.iter().enumerate() {
                if group.first_trace.as_str() <= trace_id && trace_id <= group.last_trace.as_str() {
                    let Some(spans) = dropped_is_none(
                        archive
                            .row_group(objects, block.block_id, &open, index)
                            .await,
                    )?
                    else {
                        continue;
                    };
                    records.extend(spans.iter().filter(|s| s.trace_id == trace_id).cloned());
                }
            }
            records.retain(|s| !deleted.hides_span(trace_id, &s.span_id, block.position()));
            out.resources
                .extend(open.dictionaries.resources.iter().cloned());
            out.shapes.extend(open.dictionaries.shapes.iter().cloned());
            let resources: FxHashMap<i64, _> = open
                .dictionaries
                .resources
                .iter()
                .map(|r| (r.id, r))
                .collect();
            let shapes: FxHashMap<i64, _> =
                open.dictionaries.shapes.iter().map(|s| (s.id, s)).collect();
            for record in records {
                let row = SpanRow::from_record(
                    &record,
                    resources.get(&record.resource_id).copied(),
                    record.shape_id.and_then(|id| shapes.get(&id).copied()),
                );
                // Blocks come oldest first: a later copy replaces an earlier one.
                by_span.insert(record.span_id.clone(), (record, row));
            }
        }
        let mut spans: Vec<(SpanRecord, SpanRow)> = by_span.into_values().collect();
        spans.sort_by(|a, b| (a.0.start_ns, &a.0.span_id).cmp(&(b.0.start_ns, &b.0.span_id)));
        (out.records, out.spans) = spans.into_iter().unzip();
        Ok(out)
    }
}

/// One trace's summary from its parts in several places (tiers, blocks): the earliest
/// start, the latest end, the counts added up, the root of the earliest part that has
/// one. Spans stored twice (sent again after their first copy was archived) count twice
/// until a merge removes the older copy.
pub fn merge_summaries(mut parts: Vec<TraceSummary>) -> Option<TraceSummary> {
    parts.sort_by_key(|p| p.start_time_unix_nano);
    let mut parts = parts.into_iter();
    let mut merged = parts.next()?;
    for part in parts {
        merged.end_time_unix_nano = merged.end_time_unix_nano.max(part.end_time_unix_nano);
        merged.span_count += part.span_count;
        merged.error_count += part.error_count;
        if merged.root_span_name.is_none() && part.root_span_name.is_some() {
            merged.root_span_name = part.root_span_name;
            merged.service_name = part.service_name.or(merged.service_name);
        } else if merged.service_name.is_none() {
            merged.service_name = part.service_name;
        }
        merged.services.extend(part.services);
    }
    merged.services.sort();
    merged.services.dedup();
    merged.duration_ns = merged
        .end_time_unix_nano
        .saturating_sub(merged.start_time_unix_nano);
    Some(merged)
}

impl From<TraceRow> for TraceSummary {
    fn from(row: TraceRow) -> Self {
        Self {
            duration_ns: row.end_ns.saturating_sub(row.start_ns),
            trace_id: row.trace_id,
            root_span_name: row.root_name,
            service_name: row.service,
            start_time_unix_nano: row.start_ns,
            end_time_unix_nano: row.end_ns,
            span_count: row.spans,
            error_count: row.errors,
            services: row.services,
        }
    }
}
