//! Rotation and compaction of the hot tier of segments ([`super::segments`]).
//!
//! Exports write to the current of [`sql::HOT_TABLES`] tables. A run, under the archive
//! lease (so two isolates never compact the same table):
//! 1. makes the next table current once the current one holds a block's worth of spans,
//!    or [`MAX_TABLE_SEGMENTS`], or is older than the run's `max_age_ms` (two counters
//!    written);
//! 2. compacts every other table that holds segments, unless it stopped being current
//!    less than [`SETTLE_MS`] ago (an isolate may still write to it): its segments are
//!    decoded, deleted spans left out, a span stored twice kept once (the later copy),
//!    and the spans cut by trace into blocks written to the object store;
//! 3. commits, in one transaction, a guard that fails unless the table still holds
//!    exactly the segments read (a late writer's row makes the step start over with it),
//!    the blocks' rows, and the table dropped and created again: no row written for the
//!    segments it held.
//!
//! Stopped anywhere, nothing is lost: until the commit the segments are where they were,
//! and an object without its row is never read (the daily orphan listing deletes it).

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use serde::Deserialize;

use super::compact;
use super::lookup::Tombstone;
use super::walk::{Deleted, Position};
use super::{block, object_key};
use crate::store::summary::AttributeCounts;
use crate::store::{
    Param, ResourceRecord, ShapeRecord, SpanRecord, Statement, Store, StoreError, sql,
};

/// How long after a table stopped being current it is left alone: longer than an isolate
/// keeps the current table's number ([`super::segments::GENERATION_TTL_MS`]) plus an
/// export's time to be stored.
pub const SETTLE_MS: u64 = 15_000;

/// How old the current table may grow before a run makes the next one current, unless
/// the run is given less: a table a few minutes old is a block of a few minutes' traces.
pub const DEFAULT_MAX_AGE_MS: u64 = 300_000;

/// How many segments the current table may hold before a run makes the next one current:
/// a search reads every segment's filter, and those it cannot rule out whole.
pub const MAX_TABLE_SEGMENTS: u64 = 256;

/// The most attribute values an hour's counts keep ([`sql::SET_ATTRIBUTE_HOUR`]): its
/// JSON is bound to one statement, under a megabyte.
pub const MAX_HOUR_VALUES: usize = 6_000;

/// Segment bodies read per statement while compacting.
const BODIES_PER_READ: usize = 32;

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Compacted {
    /// Whether it made the next table current.
    pub rotated: bool,
    pub tables: u64,
    pub segments: u64,
    pub blocks: u64,
    pub spans: u64,
    pub bytes: u64,
}

#[derive(Debug, Deserialize)]
struct TableState {
    hot_table: u64,
    segments: u64,
    spans: u64,
    generation: String,
    rotated_ms: String,
}

#[derive(Deserialize)]
struct SegmentListed {
    segment_id: i64,
    received: String,
}

#[derive(Deserialize)]
struct SegmentBody {
    segment_id: i64,
    body: String,
}

impl Store {
    /// One run of rotation and compaction (see the module's documentation); nothing when
    /// another compactor holds the archive lease. Compacts at most `max_tables` tables.
    pub async fn compact_hot(
        &self,
        now_ms: u64,
        max_age_ms: u64,
        max_tables: u32,
    ) -> Result<Compacted, StoreError> {
        let Some(archive) = self.archive() else {
            return Ok(Compacted::default());
        };
        let block_spans = archive.limits().block_spans;
        let Some(lease) = self.take_archive_lease(now_ms).await? else {
            return Ok(Compacted::default());
        };
        let result = self
            .rotate_and_compact(now_ms, max_age_ms, max_tables, block_spans)
            .await;
        self.return_archive_lease(lease).await;
        result
    }

    async fn rotate_and_compact(
        &self,
        now_ms: u64,
        max_age_ms: u64,
        max_tables: u32,
        block_spans: u64,
    ) -> Result<Compacted, StoreError> {
        let mut done = Compacted::default();
        let tables: Vec<TableState> = self
            .rows(Statement::new(sql::HOT_TABLES_STATE, vec![]))
            .await?;
        let Some(first) = tables.first() else {
            return Ok(done);
        };
        let mut generation: u64 = first.generation.parse().unwrap_or(0);
        let mut rotated_ms: u64 = first.rotated_ms.parse().unwrap_or(0);
        let state = |table: u64| tables.iter().find(|t| t.hot_table == table);
        let current = generation % sql::HOT_TABLES;
        let next = (generation + 1) % sql::HOT_TABLES;
        let full = state(current).is_some_and(|t| {
            t.segments > 0
                && (t.spans >= block_spans
                    || t.segments >= MAX_TABLE_SEGMENTS
                    || now_ms.saturating_sub(rotated_ms) >= max_age_ms)
        });
        if full && state(next).is_some_and(|t| t.segments == 0) {
            let [when, next] = sql::ROTATE_HOT;
            self.db
                .transaction(vec![
                    Statement::new(
                        when,
                        vec![generation.to_string().into(), now_ms.to_string().into()],
                    ),
                    Statement::new(next, vec![generation.to_string().into()]),
                ])
                .await?;
            generation += 1;
            rotated_ms = now_ms;
            done.rotated = true;
        }
        // Oldest first: the table after the current one was current longest ago.
        let settling = now_ms.saturating_sub(rotated_ms) < SETTLE_MS;
        // Every table but the current one, and the one before while it settles.
        let previous = (generation + sql::HOT_TABLES - 1) % sql::HOT_TABLES;
        let mut candidates: Vec<u64> = (1..sql::HOT_TABLES)
            .map(|ahead| (generation + ahead) % sql::HOT_TABLES)
            .filter(|t| !(settling && *t == previous))
            .collect();
        // A table rotated away just now was found with segments before the rotation.
        candidates.retain(|t| state(*t).is_some_and(|s| s.segments > 0));
        for table in candidates.into_iter().take(max_tables as usize) {
            let step = self.compact_table(table, block_spans, now_ms).await?;
            done.tables += 1;
            done.segments += step.segments;
            done.blocks += step.blocks;
            done.spans += step.spans;
            done.bytes += step.bytes;
        }
        Ok(done)
    }

    /// Compacts hot table `table` into blocks and empties it.
    async fn compact_table(
        &self,
        table: u64,
        block_spans: u64,
        now_ms: u64,
    ) -> Result<Compacted, StoreError> {
        let archive = self
            .archive()
            .ok_or_else(|| StoreError::Other("this store has no archive".into()))?;
        let listed: Vec<SegmentListed> = self
            .rows(Statement::new(sql::segments_of_table(table), vec![]))
            .await?;
        if listed.is_empty() {
            return Ok(Compacted::default());
        }
        let check = listed.iter().fold(0i64, |sum, s| {
            sum + s.segment_id.rem_euclid(sql::SEGMENT_ID_CHECK)
        });
        let guard = format!("{}:{check}", listed.len());
        let received: FxHashMap<i64, u64> = listed
            .iter()
            .map(|s| (s.segment_id, s.received.parse().unwrap_or(0)))
            .collect();
        let tombstones: Vec<Tombstone> = self
            .rows(Statement::new(sql::TRACE_TOMBSTONES_ALL, vec![]))
            .await?;
        let deleted = Deleted::of(tombstones);

        // Every span once: segments are read oldest first, so a later copy replaces an
        // earlier one (an export sent again).
        let mut spans: FxHashMap<(String, String), SpanRecord> = FxHashMap::default();
        let mut resources: FxHashMap<i64, ResourceRecord> = FxHashMap::default();
        let mut shapes: FxHashMap<i64, ShapeRecord> = FxHashMap::default();
        let ids: Vec<i64> = listed.iter().map(|s| s.segment_id).collect();
        let mut bodies: Vec<SegmentBody> = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BODIES_PER_READ) {
            bodies.extend(
                self.rows::<SegmentBody>(Statement::new(
                    sql::segment_bodies(table),
                    vec![serde_json::to_string(chunk).unwrap_or_default().into()],
                ))
                .await?,
            );
        }
        bodies.sort_by_key(|b| (received.get(&b.segment_id).copied(), b.segment_id));
        let segments = bodies.len() as u64;
        for segment in bodies {
            let at = received.get(&segment.segment_id).copied().unwrap_or(0);
            let bytes = hex::decode(&segment.body)
                .map_err(|e| StoreError::Other(format!("segment {}: {e}", segment.segment_id)))?;
            let decoded = block::decode(&bytes)
                .map_err(|e| StoreError::Other(format!("segment {}: {e}", segment.segment_id)))?;
            for resource in decoded.dictionaries.resources {
                resources.insert(resource.id, resource);
            }
            for shape in decoded.dictionaries.shapes {
                shapes.insert(shape.id, shape);
            }
            for span in decoded.spans {
                if deleted.hides_span(&span.trace_id, &span.span_id, Position::Segment(at)) {
                    continue;
                }
                spans.insert((span.trace_id.clone(), span.span_id.clone()), span);
            }
        }

        // By trace, in start order, cut into blocks of whole traces.
        let mut by_trace: BTreeMap<String, Vec<SpanRecord>> = BTreeMap::new();
        for ((trace_id, _), span) in spans {
            by_trace.entry(trace_id).or_default().push(span);
        }
        let mut traces: Vec<(u64, String, Vec<SpanRecord>)> = by_trace
            .into_iter()
            .map(|(id, spans)| {
                let start = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
                (start, id, spans)
            })
            .collect();
        traces.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let mut groups: Vec<Vec<(String, Vec<SpanRecord>)>> = Vec::new();
        let (mut group_spans, mut group_start) = (0u64, 0u64);
        for (start, id, spans) in traces {
            let count = spans.len() as u64;
            let fits = groups.last().is_some_and(|group| {
                !group.is_empty()
                    && compact::fits_block(group_spans, group_start, count, start, block_spans)
            });
            if !fits {
                groups.push(Vec::new());
                group_spans = 0;
                group_start = start;
            }
            group_spans += count;
            if let Some(group) = groups.last_mut() {
                group.push((id, spans));
            }
        }

        let mut statements = vec![Statement::new(sql::hot_guard(table), vec![guard.into()])];
        let mut done = Compacted {
            segments,
            ..Compacted::default()
        };
        if !groups.is_empty() {
            // The ids, from a counter only the lease holder moves.
            self.db
                .transaction(vec![Statement::new(
                    sql::ADD_TO_COUNTER,
                    vec!["last_archive_block".into(), groups.len().to_string().into()],
                )])
                .await?;
        }
        let last = self.counter("last_archive_block").await? as i64;
        let first_id = last - groups.len() as i64 + 1;
        let mut block_counts: Vec<AttributeCounts> = Vec::new();
        let resources: Vec<ResourceRecord> = resources.into_values().collect();
        let shapes: Vec<ShapeRecord> = shapes.into_values().collect();
        for (index, group) in groups.into_iter().enumerate() {
            let block_id = first_id + index as i64;
            let trace_ids: Vec<String> = group.iter().map(|(id, _)| id.clone()).collect();
            let spans: Vec<SpanRecord> = group.into_iter().flat_map(|(_, spans)| spans).collect();
            let count = spans.len() as u64;
            let built = compact::build(
                block_id,
                spans,
                &resources,
                &shapes,
                &trace_ids,
                |_| true,
                compact::Counts::Returned,
            )?;
            block_counts.extend(built.counts);
            done.bytes += built.bytes.len() as u64;
            archive
                .objects()
                .put(&object_key(0, block_id), built.bytes)
                .await?;
            statements.extend(built.statements);
            // The compacted spans now count in `services`, as a span row's do.
            statements.push(Statement::new(
                sql::ADD_SERVICES,
                vec![
                    serde_json::to_string(&built.services)
                        .unwrap_or_default()
                        .into(),
                ],
            ));
            done.blocks += 1;
            done.spans += count;
        }
        statements.extend(
            self.attribute_hour_statements(now_ms, &block_counts)
                .await?,
        );
        statements.extend(
            sql::recreate_hot_table(table)
                .into_iter()
                .map(|sql| Statement::new(sql, vec![])),
        );
        self.db.transaction(statements).await?;
        archive.set_known_bytes(None);
        Ok(done)
    }
}

#[derive(Deserialize)]
struct HourRow {
    hour: i64,
    counts: String,
}

impl Store {
    /// The statements that add `blocks`' attribute counts to the current hour's, and
    /// write the counts of hours that are over as rows: a block's own counts would be
    /// hundreds of rows written, an hour's are written once.
    async fn attribute_hour_statements(
        &self,
        now_ms: u64,
        blocks: &[AttributeCounts],
    ) -> Result<Vec<Statement>, StoreError> {
        let pending: Vec<HourRow> = self
            .rows(Statement::new(sql::ATTRIBUTE_HOURS, vec![]))
            .await?;
        // An isolate whose clock is behind adds to the latest hour there is.
        let hour = pending
            .iter()
            .map(|row| row.hour)
            .chain([(now_ms / 3_600_000) as i64])
            .max()
            .unwrap_or(0);
        let mut statements = Vec::new();
        let mut current = AttributeCounts::new(sql::attribute_hour_id(hour));
        for row in pending {
            if row.hour == hour {
                current.add_json(&row.counts, MAX_HOUR_VALUES)?;
                continue;
            }
            let mut over = AttributeCounts::new(sql::attribute_hour_id(row.hour));
            over.add_json(&row.counts, usize::MAX)?;
            statements.extend(over.statements());
            statements.push(Statement::new(
                sql::FORGET_ATTRIBUTE_HOUR,
                vec![Param::Int(row.hour)],
            ));
        }
        for counts in blocks {
            current.add(counts, MAX_HOUR_VALUES);
        }
        statements.push(Statement::new(
            sql::SET_ATTRIBUTE_HOUR,
            vec![Param::Int(hour), current.json().into()],
        ));
        Ok(statements)
    }
}
