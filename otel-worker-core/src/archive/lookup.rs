//! A trace by id in the archive: the blocks whose trace-id filter may hold it (one small
//! shard row per block, one query), then in each the one row group (two at a boundary)
//! that holds it.

use rustc_hash::FxHashMap;
use serde::Deserialize;

use super::block::TraceRow;
use super::compact::{TRACE_FILTER_SHARDS, id_bytes, shard_key};
use super::trace_filter;
use super::walk::BlockRow;
use crate::models::TraceSummary;
use crate::store::{Param, SpanRow, Statement, Store, StoreError, sql};

#[derive(Deserialize)]
struct ShardRow {
    #[serde(flatten)]
    block: BlockRow,
    bits: String,
}

/// A deletion the blocks up to `up_to_block` still hold.
#[derive(Deserialize)]
pub(crate) struct Tombstone {
    /// Empty: the whole trace.
    #[serde(default)]
    pub span_id: String,
    #[serde(default)]
    pub trace_id: String,
    pub up_to_block: i64,
}

/// What the archive holds of one trace.
#[derive(Debug, Default)]
pub struct ArchivedTrace {
    /// In start order (then span id), one copy of each span: the newest block's.
    pub spans: Vec<SpanRow>,
    /// Its summary in each block that holds some of it.
    pub summaries: Vec<TraceRow>,
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
            None => !held.spans.is_empty(),
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

    /// The blocks that may hold spans of `trace_id` (lower-case hex), oldest first.
    async fn blocks_of_trace(&self, trace_id: &str) -> Result<Vec<BlockRow>, StoreError> {
        let Some(id) = id_bytes(trace_id) else {
            return Ok(Vec::new());
        };
        let shard = trace_filter::shard_of(&id, TRACE_FILTER_SHARDS);
        let rows: Vec<ShardRow> = self
            .rows(Statement::new(
                sql::ARCHIVE_TRACE_SHARDS,
                vec![
                    Param::Int(shard_key(TRACE_FILTER_SHARDS, shard)),
                    // The shard count of merged blocks, once they exist.
                    Param::Int(shard_key(256, trace_filter::shard_of(&id, 256))),
                ],
            ))
            .await?;
        Ok(rows
            .into_iter()
            .filter(|row| {
                hex::decode(&row.bits).is_ok_and(|bits| trace_filter::may_contain(&bits, &id))
            })
            .map(|row| row.block)
            .collect())
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
        let tombstones: Vec<Tombstone> = self
            .rows(Statement::new(sql::TRACE_TOMBSTONES, vec![trace_id.into()]))
            .await?;
        let deleted = |block_id: i64, span_id: &str| {
            tombstones.iter().any(|t| {
                t.up_to_block >= block_id && (t.span_id.is_empty() || t.span_id == span_id)
            })
        };
        let mut by_span: FxHashMap<String, (u64, String, SpanRow)> = FxHashMap::default();
        for block in blocks {
            if deleted(block.block_id, "") {
                continue;
            }
            let open = archive.open(block.block_id, &block.object_key).await?;
            let mut records = Vec::new();
            for (index, group) in open.footer.row_groups.iter().enumerate() {
                if group.first_trace.as_str() <= trace_id && trace_id <= group.last_trace.as_str() {
                    let spans = archive.row_group(block.block_id, &open, index).await?;
                    records.extend(spans.iter().filter(|s| s.trace_id == trace_id).cloned());
                }
            }
            let before = records.len();
            let errors_before = records.iter().filter(|s| s.status_code == 2).count();
            records.retain(|s| !deleted(block.block_id, &s.span_id));
            if records.is_empty() {
                continue;
            }
            if let Some(summary) = archive
                .traces(block.block_id, &open)
                .await?
                .iter()
                .find(|t| t.trace_id == trace_id)
            {
                // Deleted spans no longer count.
                let mut summary = summary.clone();
                summary.spans -= (before - records.len()) as u64;
                summary.errors -=
                    (errors_before - records.iter().filter(|s| s.status_code == 2).count()) as u64;
                out.summaries.push(summary);
            }
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
                by_span.insert(record.span_id, (record.start_ns, row.span_id.clone(), row));
            }
        }
        let mut spans: Vec<(u64, String, SpanRow)> = by_span.into_values().collect();
        spans.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        out.spans = spans.into_iter().map(|(_, _, row)| row).collect();
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
