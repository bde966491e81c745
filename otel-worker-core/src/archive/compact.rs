//! Compaction: the oldest traces leave the span rows for a block in the object store.
//!
//! A step, under a lease so two compactors never take the same traces
//! (docs/architecture.md, "A compaction step"):
//! 1. [`Store::prepare_block`]: takes the lease and a block id, reads the oldest whole
//!    traces that started before the cutoff (up to [`BLOCK_SPANS`] spans), and builds the
//!    block, its search filter and its trace-id filter in memory;
//! 2. [`Store::write_block`]: puts the object under a key fixed by the id;
//! 3. [`Store::commit_block`]: one transaction records the block and deletes the span and
//!    trace rows it took, provided they are still exactly those (a span that arrived for
//!    one of the traces meanwhile makes it fail, and the next step starts over).
//!
//! Stopped anywhere, nothing is lost: until the commit the rows are where they were, and
//! an object without its row is never read. Such an orphan is overwritten if its id comes
//! back, or deleted by [`Store::delete_orphans`].

use std::collections::BTreeMap;

use serde::Deserialize;

use super::matching::{self, Parsed};
use super::{Archive, block, object_key, trace_filter};
use crate::store::summary::{AttributeCounts, LEASE_MS};
use crate::store::{
    Param, ResourceRecord, ShapeRecord, SpanRecord, Statement, Store, StoreError, sql,
};

/// Spans a block takes at most by default ([`super::Limits`]; whole traces, so one larger
/// trace makes a larger block): about 1.7 MB of object at 26 bytes a span, and a search
/// that must read a block reads at most this many.
pub const BLOCK_SPANS: u64 = 65_536;

/// The longest time between the first and the last trace start of a block: retention
/// drops blocks whole once their newest trace is past it, so a block of old and less old
/// traces (a backlog, sparse traffic) would keep the old ones for as long as the newest;
/// cut at an hour, retention is exact to an hour.
pub const BLOCK_WINDOW_NS: u64 = 3_600_000_000_000;

/// Whether a trace of `spans` spans that started at `start` joins a block that holds
/// `held` spans and whose first trace started at `first` (a block's first trace always
/// does, whatever its size).
pub(crate) fn fits_block(held: u64, first: u64, spans: u64, start: u64, block_spans: u64) -> bool {
    held + spans <= block_spans && start <= first.saturating_add(BLOCK_WINDOW_NS)
}

/// Shards of a level-0 block's trace-id filter.
pub const TRACE_FILTER_SHARDS: u16 = 16;

/// The signal of span blocks in `archive_blocks`.
pub const SPANS: i64 = 1;

/// A block built and not committed yet.
#[derive(Debug)]
pub struct Pending {
    pub block_id: i64,
    pub key: String,
    pub bytes: Vec<u8>,
    /// The lease's expiry, returned with the commit.
    lease: u64,
    traces: Vec<String>,
    spans: u64,
    /// The span rows taken: `count:sum of row numbers`, checked at the commit.
    rows: String,
    statements: Vec<Statement>,
}

/// What one step archived (or several, added up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Archived {
    /// The (last) block written.
    pub block_id: i64,
    pub blocks: u64,
    pub traces: u64,
    pub spans: u64,
    pub bytes: u64,
}

impl Archived {
    /// Adds one more step's.
    pub fn add(&mut self, step: Archived) {
        self.block_id = step.block_id;
        self.blocks += step.blocks;
        self.traces += step.traces;
        self.spans += step.spans;
        self.bytes += step.bytes;
    }
}

#[derive(Deserialize)]
struct TraceToArchive {
    trace_id: String,
    span_count: i64,
    first_start: String,
}

#[derive(Deserialize)]
struct SpanToArchive {
    span_row: String,
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    name: String,
    kind: i32,
    status_code: i32,
    start_ns: String,
    end_ns: String,
    resource_id: String,
    shape_id: Option<String>,
    body: String,
}

#[derive(Deserialize)]
struct ResourceRow {
    resource_id: String,
    resource: String,
    scope: String,
    service_name: Option<String>,
}

#[derive(Deserialize)]
struct ShapeRow {
    shape_id: String,
    keys: String,
}

pub(super) fn number(text: &str, what: &str) -> Result<i64, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Other(format!("stored {what} {text:?} is not a number")))
}

impl Store {
    pub(super) fn archive_or_fail(&self) -> Result<&Archive, StoreError> {
        self.archive()
            .ok_or_else(|| StoreError::Other("this store has no archive".into()))
    }

    /// One whole step; `None` when another compactor holds the lease or no trace started
    /// before `cutoff_ns`.
    pub async fn archive_step(
        &self,
        now_ms: u64,
        cutoff_ns: u64,
    ) -> Result<Option<Archived>, StoreError> {
        let Some(pending) = self.prepare_block(now_ms, cutoff_ns).await? else {
            return Ok(None);
        };
        let lease = pending.lease;
        let result = async {
            self.write_block(&pending).await?;
            self.commit_block(pending).await
        }
        .await;
        if result.is_err() {
            // The next step, here or elsewhere, may start over at once.
            self.return_archive_lease(lease).await;
        }
        result.map(Some)
    }

    /// Archives every trace that started before `cutoff_ns`, step after step, at most
    /// `max_steps`. Returns what the steps archived, in all.
    pub async fn archive_before(
        &self,
        now_ms: u64,
        cutoff_ns: u64,
        max_steps: u32,
    ) -> Result<Archived, StoreError> {
        let mut total = Archived::default();
        for _ in 0..max_steps {
            let Some(step) = self.archive_step(now_ms, cutoff_ns).await? else {
                break;
            };
            total.add(step);
        }
        Ok(total)
    }

    /// Step 1: the lease, a block id, and the block built from the oldest traces.
    pub async fn prepare_block(
        &self,
        now_ms: u64,
        cutoff_ns: u64,
    ) -> Result<Option<Pending>, StoreError> {
        self.archive_or_fail()?;
        let Some(lease) = self.take_archive_lease(now_ms).await? else {
            return Ok(None);
        };
        let built = self.build_block(lease, cutoff_ns).await;
        if !matches!(built, Ok(Some(_))) {
            self.return_archive_lease(lease).await;
        }
        built
    }

    /// Takes the archive lease for [`LEASE_MS`]: its expiry, or `None` while another
    /// compactor holds it.
    pub(crate) async fn take_archive_lease(&self, now_ms: u64) -> Result<Option<u64>, StoreError> {
        let lease = now_ms + LEASE_MS;
        let taken = self
            .db
            .transaction(vec![Statement::new(
                sql::TAKE_ARCHIVE_LEASE,
                vec![now_ms.to_string().into(), lease.to_string().into()],
            )])
            .await?;
        Ok((taken.first().copied() == Some(1)).then_some(lease))
    }

    /// Gives the lease taken until `lease` back; a failure leaves it to expire.
    pub(crate) async fn return_archive_lease(&self, lease: u64) {
        let statement = Statement::new(sql::RETURN_ARCHIVE_LEASE, vec![lease.to_string().into()]);
        let _ = self.db.transaction(vec![statement]).await;
    }

    async fn build_block(&self, lease: u64, cutoff_ns: u64) -> Result<Option<Pending>, StoreError> {
        let block_spans = self.archive_or_fail()?.limits().block_spans;
        let candidates: Vec<TraceToArchive> = self
            .rows(Statement::new(
                sql::TRACES_TO_ARCHIVE,
                vec![
                    crate::store::ns_param(cutoff_ns),
                    Param::Int(block_spans as i64),
                ],
            ))
            .await?;
        let mut traces = Vec::new();
        let mut spans_wanted = 0u64;
        let mut first_start: Option<u64> = None;
        // Full: as many traces as a block takes spans, or the next one does not fit.
        let mut full = candidates.len() as u64 >= block_spans;
        for trace in candidates {
            let start = number(&trace.first_start, "start")?.max(0) as u64;
            let first = *first_start.get_or_insert(start);
            let count = trace.span_count.max(0) as u64;
            if !traces.is_empty() && !fits_block(spans_wanted, first, count, start, block_spans) {
                full = true;
                break;
            }
            spans_wanted += count;
            traces.push(trace.trace_id);
        }
        let Some(first_start) = first_start else {
            return Ok(None);
        };
        if !full
            && !self
                .archive_or_fail()?
                .partial_block_due(first_start, cutoff_ns)
        {
            return Ok(None);
        }
        let ids = serde_json::to_string(&traces).unwrap_or_default();
        let rows: Vec<SpanToArchive> = self
            .rows(Statement::new(
                sql::SPANS_TO_ARCHIVE,
                vec![ids.clone().into()],
            ))
            .await?;
        let mut row_sum: i64 = 0;
        let mut resource_ids = BTreeMap::new();
        let mut shape_ids = BTreeMap::new();
        let mut spans = Vec::with_capacity(rows.len());
        for row in &rows {
            row_sum = row_sum.wrapping_add(number(&row.span_row, "span row")?);
            resource_ids.insert(row.resource_id.clone(), ());
            if let Some(shape) = &row.shape_id {
                shape_ids.insert(shape.clone(), ());
            }
        }
        let (resources, shapes) = self.load_dictionaries(&resource_ids, &shape_ids).await?;
        let service_of: BTreeMap<i64, Option<&str>> = resources
            .iter()
            .map(|r| (r.id, r.service_name.as_deref()))
            .collect();
        for row in rows {
            let resource_id = number(&row.resource_id, "resource id")?;
            spans.push(SpanRecord {
                service_name: service_of
                    .get(&resource_id)
                    .copied()
                    .flatten()
                    .map(str::to_owned),
                trace_id: row.trace_id,
                span_id: row.span_id,
                parent_span_id: row.parent_span_id,
                name: row.name,
                kind: row.kind,
                status_code: row.status_code,
                start_ns: number(&row.start_ns, "start")?.max(0) as u64,
                end_ns: number(&row.end_ns, "end")?.max(0) as u64,
                resource_id,
                shape_id: row
                    .shape_id
                    .as_deref()
                    .map(|s| number(s, "shape"))
                    .transpose()?,
                body: row.body,
            });
        }
        let count = spans.len() as u64;
        // Traces the archive already holds part of (spans that came after the rest was
        // archived) are taken whole into the new block, and their earlier parts hidden by
        // a tombstone at the commit: a trace is never split across blocks for long.
        let mut resources = resources;
        let mut shapes = shapes;
        let mut rejoined = Vec::new();
        // Spans the block holds that earlier blocks count already: those it takes from
        // them, and those sent again after their first copy was archived (whose new copy
        // the export counted once more).
        let mut counted_before = std::collections::HashSet::new();
        let mut sent_again: BTreeMap<String, u64> = BTreeMap::new();
        let mut ranges: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for span in &spans {
            let range = ranges
                .entry(span.trace_id.as_str())
                .or_insert((span.start_ns, span.start_ns));
            range.0 = range.0.min(span.start_ns);
            range.1 = range.1.max(span.start_ns);
        }
        let ranges: Vec<(String, u64, u64)> = ranges
            .into_iter()
            .map(|(id, (low, high))| (id.to_owned(), low, high))
            .collect();
        for trace_id in self.archived_among(&ranges).await? {
            let earlier = self.archived_trace(&trace_id).await?;
            if earlier.records.is_empty() {
                continue;
            }
            let newer: std::collections::HashSet<&str> = spans
                .iter()
                .filter(|s| s.trace_id == trace_id)
                .map(|s| s.span_id.as_str())
                .collect();
            let (again, older): (Vec<SpanRecord>, Vec<SpanRecord>) = earlier
                .records
                .into_iter()
                .partition(|r| newer.contains(r.span_id.as_str()));
            for span in &again {
                if let Some(service) = &span.service_name {
                    *sent_again.entry(service.clone()).or_default() += 1;
                }
            }
            counted_before.extend(
                again
                    .iter()
                    .chain(&older)
                    .map(|r| (r.trace_id.clone(), r.span_id.clone())),
            );
            spans.extend(older);
            resources.extend(earlier.resources);
            shapes.extend(earlier.shapes);
            rejoined.push(trace_id);
        }
        let is_new = |s: &SpanRecord| {
            counted_before.is_empty()
                || !counted_before.contains(&(s.trace_id.clone(), s.span_id.clone()))
        };
        // The id, from a counter only the lease holder moves.
        self.db
            .transaction(vec![Statement::new(sql::NEXT_ARCHIVE_BLOCK, vec![])])
            .await?;
        let block_id = self.counter("last_archive_block").await? as i64;
        let key = object_key(0, block_id);
        let built = build(
            block_id,
            spans,
            &resources,
            &shapes,
            &traces,
            is_new,
            Counts::Rows,
        )?;
        let encoded = built.bytes;
        let mut statements = built.statements;
        if !sent_again.is_empty() {
            statements.push(Statement::new(
                sql::UNCOUNT_ARCHIVE_SERVICES,
                vec![
                    serde_json::to_string(&sent_again)
                        .unwrap_or_default()
                        .into(),
                ],
            ));
        }
        for trace_id in rejoined {
            statements.push(Statement::new(
                sql::TOMBSTONE_EARLIER_PARTS,
                vec![trace_id.into(), (block_id - 1).to_string().into()],
            ));
        }
        Ok(Some(Pending {
            block_id,
            key,
            bytes: encoded,
            lease,
            rows: format!("{count}:{row_sum}"),
            spans: count,
            traces,
            statements,
        }))
    }

    /// The resources and attribute key sets of some items, by id (as text), whole, as a
    /// block keeps them.
    pub(super) async fn load_dictionaries(
        &self,
        resource_ids: &BTreeMap<String, ()>,
        shape_ids: &BTreeMap<String, ()>,
    ) -> Result<(Vec<ResourceRecord>, Vec<ShapeRecord>), StoreError> {
        let resources: Vec<ResourceRow> = self
            .rows(Statement::new(
                sql::ARCHIVE_RESOURCES,
                vec![json_keys(resource_ids).into()],
            ))
            .await?;
        let shapes: Vec<ShapeRow> = self
            .rows(Statement::new(
                sql::SHAPES_BY_ID,
                vec![json_keys(shape_ids).into()],
            ))
            .await?;
        let resources = resources
            .into_iter()
            .map(|r| {
                Ok(ResourceRecord {
                    id: number(&r.resource_id, "resource id")?,
                    resource: r.resource,
                    scope: r.scope,
                    service_name: r.service_name,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let shapes = shapes
            .into_iter()
            .map(|s| {
                Ok(ShapeRecord {
                    id: number(&s.shape_id, "attribute key set id")?,
                    keys: s.keys,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((resources, shapes))
    }

    /// Step 2: the object, under its fixed key (a retried step overwrites its own). A
    /// failed write is counted for the stats; the rows stay hot for the next step.
    pub async fn write_block(&self, pending: &Pending) -> Result<(), StoreError> {
        self.put_block(&pending.key, &pending.bytes).await
    }

    /// Writes a block's object; a failure is counted for the stats.
    pub(super) async fn put_block(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let archive = self.archive_or_fail()?;
        if let Err(error) = archive.objects().put(key, bytes.to_vec()).await {
            let _ = self
                .db
                .transaction(vec![Statement::new(
                    sql::ADD_TO_COUNTER,
                    vec!["archive_failed_writes".into(), "1".into()],
                )])
                .await;
            return Err(error.into());
        }
        Ok(())
    }

    /// Step 3: one transaction records the block and deletes the rows it holds, or
    /// changes nothing.
    pub async fn commit_block(&self, pending: Pending) -> Result<Archived, StoreError> {
        let ids: Param = serde_json::to_string(&pending.traces)
            .unwrap_or_default()
            .into();
        let mut statements = vec![Statement::new(
            sql::ARCHIVE_GUARD,
            vec![
                ids.clone(),
                pending.rows.clone().into(),
                pending.spans.to_string().into(),
            ],
        )];
        statements.extend(
            sql::ARCHIVE_DELETE
                .iter()
                .map(|sql| Statement::new(*sql, vec![ids.clone()])),
        );
        statements.extend(pending.statements);
        statements.extend(
            sql::FORGET_EMPTY_BLOCKS
                .iter()
                .map(|sql| Statement::new(*sql, vec![])),
        );
        statements.push(Statement::new(
            sql::RETURN_ARCHIVE_LEASE,
            vec![pending.lease.to_string().into()],
        ));
        self.db.transaction(statements).await?;
        if let Some(archive) = self.archive() {
            archive.set_known_bytes(None);
        }
        Ok(Archived {
            block_id: pending.block_id,
            blocks: 1,
            traces: pending.traces.len() as u64,
            spans: pending.spans,
            bytes: pending.bytes.len() as u64,
        })
    }

    /// Deletes objects under `blocks/` that no block row names and that are not newer
    /// than the last block id taken (a step in progress may be writing a newer one).
    /// Returns how many it deleted.
    pub async fn delete_orphans(&self) -> Result<u64, StoreError> {
        let archive = self.archive_or_fail()?;
        let last = self.counter("last_archive_block").await? as i64;
        let known: Vec<KnownKey> = self.rows(Statement::new(sql::ARCHIVE_KEYS, vec![])).await?;
        let known: std::collections::HashSet<String> =
            known.into_iter().map(|k| k.object_key).collect();
        let mut deleted = 0;
        let mut after: Option<String> = None;
        loop {
            let listing = archive
                .objects()
                .list("blocks/", after.as_deref(), 1_000)
                .await?;
            let orphans: Vec<String> = listing
                .objects
                .iter()
                .filter(|o| !known.contains(&o.key))
                .filter(|o| block_id_of(&o.key).is_some_and(|id| id < last))
                .map(|o| o.key.clone())
                .collect();
            if !orphans.is_empty() {
                archive.objects().delete(&orphans).await?;
                deleted += orphans.len() as u64;
            }
            after = listing.objects.last().map(|o| o.key.clone());
            if !listing.truncated || after.is_none() {
                break;
            }
        }
        Ok(deleted)
    }
}

/// The spans of each service among `spans` and the latest end of them: `[spans, end]`.
pub(crate) fn services_of<'a>(
    spans: impl IntoIterator<Item = &'a SpanRecord>,
) -> BTreeMap<String, [u64; 2]> {
    let mut services: BTreeMap<String, [u64; 2]> = BTreeMap::new();
    for span in spans {
        if let Some(service) = &span.service_name {
            let entry = services.entry(service.clone()).or_default();
            entry[0] += 1;
            entry[1] = entry[1].max(span.end_ns);
        }
    }
    services
}

/// A block built in memory: its bytes and the statements that record it.
pub(crate) struct Built {
    pub bytes: Vec<u8>,
    pub statements: Vec<Statement>,
    /// The spans it counts, by service: `[spans, latest end]`.
    pub services: BTreeMap<String, [u64; 2]>,
    /// Its attribute key and value counts, when they are not among `statements`.
    pub counts: Option<AttributeCounts>,
}

/// Where a block's attribute counts go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counts {
    /// Rows of their own, under the block's negated id (dropped with the block).
    Rows,
    /// Back to the caller, which adds them up with others' (fewer rows written).
    Returned,
}

/// Builds block `block_id` of `spans` (of `traces`, with the resources and key sets they
/// use): the object, and the statements that record its row, its trace-id filter and
/// its attribute counts. Its item and service counts take only the spans `is_new`
/// accepts (others are counted by an earlier block already).
pub(crate) fn build(
    block_id: i64,
    spans: Vec<SpanRecord>,
    resources: &[ResourceRecord],
    shapes: &[ShapeRecord],
    traces: &[String],
    is_new: impl Fn(&SpanRecord) -> bool,
    counted: Counts,
) -> Result<Built, StoreError> {
    let items = spans.iter().filter(|s| is_new(s)).count() as u64;
    let services = services_of(spans.iter().filter(|s| is_new(s)));
    let counts_only: BTreeMap<&str, u64> = services
        .iter()
        .map(|(s, [n, _])| (s.as_str(), *n))
        .collect();
    let min_start = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
    let max_start = spans.iter().map(|s| s.start_ns).max().unwrap_or(0);
    let trace_ids: Vec<[u8; 16]> = traces.iter().filter_map(|t| id_bytes(t)).collect();
    let key = object_key(0, block_id);
    let encoded = block::encode(spans, resources, shapes).map_err(block_failed)?;
    // The filter and the attribute counts come from the block as readers see it.
    let decoded = block::decode(&encoded).map_err(block_failed)?;
    let parsed = Parsed::of(&decoded.dictionaries);
    let mut counts = AttributeCounts::new(-block_id);
    let bloom =
        matching::summarize(&decoded.spans, &parsed, &mut counts, is_new).map_err(block_failed)?;
    let mut statements = vec![Statement::new(
        sql::INSERT_ARCHIVE_BLOCK,
        vec![
            block_id.to_string().into(),
            Param::Int(0),
            Param::Int(SPANS),
            key.as_str().into(),
            crate::store::ns_param(min_start),
            crate::store::ns_param(max_start),
            Param::Int(items as i64),
            Param::Int(traces.len() as i64),
            Param::Int(encoded.len() as i64),
            serde_json::to_string(&counts_only)
                .unwrap_or_default()
                .into(),
            hex::encode(bloom.as_bytes()).into(),
        ],
    )];
    let shard_rows: Vec<Vec<Param>> = trace_filter::build(&trace_ids, TRACE_FILTER_SHARDS)
        .into_iter()
        .enumerate()
        .filter(|(_, bits)| !bits.is_empty())
        .map(|(index, bits)| {
            vec![
                Param::Int(shard_key(TRACE_FILTER_SHARDS, index as u16)),
                block_id.to_string().into(),
                hex::encode(bits).into(),
            ]
        })
        .collect();
    if !shard_rows.is_empty() {
        statements.push(Statement::Rows {
            per_row: sql::INSERT_TRACE_FILTER,
            as_json: sql::INSERT_TRACE_FILTERS_JSON,
            rows: shard_rows,
        });
    }
    // Attribute discovery counts the block's spans under its negated id.
    let counts = match counted {
        Counts::Rows => {
            statements.extend(counts.statements());
            None
        }
        Counts::Returned => Some(counts),
    };
    Ok(Built {
        bytes: encoded,
        statements,
        services,
        counts,
    })
}

#[derive(Deserialize)]
struct KnownKey {
    object_key: String,
}

/// The id in a block's key (`blocks/<level>/<id>.owb`).
fn block_id_of(key: &str) -> Option<i64> {
    key.rsplit('/').next()?.strip_suffix(".owb")?.parse().ok()
}

/// How a trace-id filter shard is keyed: its count and index, so blocks of different
/// shard counts share the table.
pub fn shard_key(shards: u16, index: u16) -> i64 {
    i64::from(shards) << 16 | i64::from(index)
}

/// A trace id's 16 bytes, from its hex.
pub fn id_bytes(hex_id: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    hex::decode_to_slice(hex_id, &mut out).ok()?;
    Some(out)
}

pub(super) fn json_keys(ids: &BTreeMap<String, ()>) -> String {
    serde_json::to_string(&ids.keys().collect::<Vec<_>>()).unwrap_or_default()
}

pub(super) fn block_failed(error: block::BlockError) -> StoreError {
    StoreError::Other(format!("archive: building a block: {error}"))
}
