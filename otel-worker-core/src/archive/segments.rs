//! The Worker's hot tier: each export's spans stored as one row, a *segment*, in the
//! current one of [`sql::HOT_TABLES`] tables (docs/architecture.md, "The Worker's hot
//! tier of segments"). D1 bills rows written, and a row per export instead of a row per
//! span (with its trace row, index entries and counters) is what brings a month of
//! traffic inside the plan.
//!
//! A segment is a small block of the archive's format with, beside it in its row, what a
//! read needs to skip it: its trace ids, services, search filter and attribute counts.
//! Reads treat segments as blocks whose bytes are in the database ([`SegmentObject`]);
//! [`super::rotate`] turns a table of them into archive blocks.

use std::ops::Range;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::Deserialize;

use super::block::{self, BlockError};
use super::compact::{id_bytes, services_of};
use super::matching::{self, Parsed};
use super::objects::{Listing, ObjectError, ObjectStore};
use crate::store::summary::AttributeCounts;
use crate::store::{
    Database, Param, ResourceRecord, ShapeRecord, SpanRecord, Statement, Store, StoreError,
    ns_param, sql,
};

/// The most bytes a segment's block takes: D1 holds 2 MB a row, and its other columns
/// (filter, attribute counts) need room. A larger export becomes several segments.
pub const MAX_SEGMENT_BYTES: usize = 900_000;

/// How long an isolate writes to the table it last read as current before reading the
/// counter again. Compaction leaves a table alone for [`super::rotate::SETTLE_MS`] after
/// it stopped being current, longer than this.
pub const GENERATION_TTL_MS: u64 = 10_000;

/// Unix time in nanoseconds.
pub type Clock = fn() -> u64;

/// What an archive keeps of the hot tier between requests: its clock and the current
/// table as last read.
#[derive(Debug)]
pub struct HotTier {
    clock: Clock,
    /// The generation last read, and when (unix ms).
    generation: Mutex<Option<(u64, u64)>>,
}

impl HotTier {
    pub fn new(clock: Clock) -> Self {
        Self {
            clock,
            generation: Mutex::default(),
        }
    }

    pub fn now_ns(&self) -> u64 {
        (self.clock)()
    }

    fn known_generation(&self, now_ms: u64) -> Option<u64> {
        let known = *super::lock(&self.generation);
        known
            .filter(|(_, read)| now_ms.saturating_sub(*read) < GENERATION_TTL_MS)
            .map(|(generation, _)| generation)
    }

    fn set_generation(&self, generation: u64, now_ms: u64) {
        *super::lock(&self.generation) = Some((generation, now_ms));
    }
}

/// One export's spans (or part of them) as a row of a hot table.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Random, 52 bits: unique in practice, so a read may keep a segment by its id.
    pub id: i64,
    pub received_ns: u64,
    pub min_start_ns: u64,
    pub max_start_ns: u64,
    pub spans: u64,
    pub traces: u64,
    /// The 16-byte trace ids, sorted, one after the other.
    pub trace_ids: Vec<u8>,
    /// JSON `{service: [spans, latest end ns]}`.
    pub services: String,
    /// [`AttributeCounts::json`].
    pub attributes: String,
    /// The search filter of its spans.
    pub bloom: Vec<u8>,
    /// The spans, as a block.
    pub body: Vec<u8>,
}

/// Encodes `spans` (with the resources and key sets they use) as one segment, or several
/// when one would pass [`MAX_SEGMENT_BYTES`]: cut between traces, or within the trace
/// when one trace alone is larger (reads put a trace's parts back together).
pub fn encode(
    mut spans: Vec<SpanRecord>,
    resources: &[ResourceRecord],
    shapes: &[ShapeRecord],
    received_ns: u64,
) -> Result<Vec<Segment>, BlockError> {
    spans.sort_by(|a, b| (&a.trace_id, a.start_ns).cmp(&(&b.trace_id, b.start_ns)));
    let mut out = Vec::new();
    encode_into(spans, resources, shapes, received_ns, &mut out)?;
    Ok(out)
}

fn encode_into(
    spans: Vec<SpanRecord>,
    resources: &[ResourceRecord],
    shapes: &[ShapeRecord],
    received_ns: u64,
    out: &mut Vec<Segment>,
) -> Result<(), BlockError> {
    if spans.is_empty() {
        return Ok(());
    }
    let body = block::encode(spans, resources, shapes)?;
    // The filter and the counts come from the block as readers see it; so does a split.
    let decoded = block::decode(&body)?;
    if body.len() > MAX_SEGMENT_BYTES {
        let spans = decoded.spans;
        if spans.len() == 1 {
            return Err(BlockError::Format(format!(
                "span {} takes {} bytes in a segment, more than the {MAX_SEGMENT_BYTES} a row holds",
                spans[0].span_id,
                body.len()
            )));
        }
        // Spans are sorted by trace: cut at the trace boundary nearest the middle, or in
        // the middle of a trace that has all of them.
        let middle = spans.len() / 2;
        let cut = (1..spans.len())
            .filter(|&i| spans[i].trace_id != spans[i - 1].trace_id)
            .min_by_key(|&i| i.abs_diff(middle))
            .unwrap_or(middle);
        let mut first = spans;
        let second = first.split_off(cut);
        encode_into(first, resources, shapes, received_ns, out)?;
        return encode_into(second, resources, shapes, received_ns, out);
    }
    let parsed = Parsed::of(&decoded.dictionaries);
    let mut counts = AttributeCounts::new(0);
    let bloom = matching::summarize(&decoded.spans, &parsed, &mut counts, |_| true)?;
    let services = services_of(&decoded.spans);
    let mut trace_ids = Vec::with_capacity(decoded.traces.len() * 16);
    for trace in &decoded.traces {
        let id = id_bytes(&trace.trace_id)
            .ok_or_else(|| BlockError::Format(format!("trace id {:?}", trace.trace_id)))?;
        trace_ids.extend_from_slice(&id);
    }
    out.push(Segment {
        id: random_id().map_err(|e| BlockError::Format(format!("no randomness: {e}")))?,
        received_ns,
        min_start_ns: decoded.spans.iter().map(|s| s.start_ns).min().unwrap_or(0),
        max_start_ns: decoded.spans.iter().map(|s| s.start_ns).max().unwrap_or(0),
        spans: decoded.spans.len() as u64,
        traces: decoded.traces.len() as u64,
        trace_ids,
        services: serde_json::to_string(&services).unwrap_or_default(),
        attributes: counts.json(),
        bloom: bloom.as_bytes().to_vec(),
        body,
    });
    Ok(())
}

/// A random positive id of 52 bits (D1 hands numbers to JavaScript as doubles).
fn random_id() -> Result<i64, getrandom::Error> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)?;
    Ok(((u64::from_le_bytes(bytes) >> 12) | 1) as i64)
}

#[derive(Deserialize)]
struct Generation {
    value: String,
}

impl Store {
    /// The hot tier of segments, when this store's archive has one.
    pub fn hot(&self) -> Option<&HotTier> {
        self.archive().and_then(|archive| archive.hot())
    }

    /// The generation of the current hot table, as read at most
    /// [`GENERATION_TTL_MS`] ago.
    pub(crate) async fn hot_generation(&self, hot: &HotTier) -> Result<u64, StoreError> {
        let now_ms = hot.now_ns() / 1_000_000;
        if let Some(generation) = hot.known_generation(now_ms) {
            return Ok(generation);
        }
        let rows: Vec<Generation> = self
            .rows(Statement::new(sql::HOT_GENERATION, vec![]))
            .await?;
        let generation = rows
            .first()
            .and_then(|row| row.value.parse().ok())
            .unwrap_or(0);
        hot.set_generation(generation, now_ms);
        Ok(generation)
    }

    /// Stores an export's spans as segments of the current hot table: one row each, one
    /// transaction.
    pub(crate) async fn insert_segments(
        &self,
        hot: &HotTier,
        spans: Vec<SpanRecord>,
        resources: &[ResourceRecord],
        shapes: &[ShapeRecord],
    ) -> Result<(), StoreError> {
        let received_ns = hot.now_ns();
        let segments = encode(spans, resources, shapes, received_ns)
            .map_err(|e| StoreError::Other(format!("encoding a segment: {e}")))?;
        let table = self.hot_generation(hot).await? % sql::HOT_TABLES;
        let insert = sql::insert_segment(table);
        let statements = segments
            .into_iter()
            .map(|s| {
                Statement::new(
                    insert.clone(),
                    vec![
                        Param::Int(s.id),
                        ns_param(s.received_ns),
                        ns_param(s.min_start_ns),
                        ns_param(s.max_start_ns),
                        Param::Int(s.spans as i64),
                        Param::Int(s.traces as i64),
                        Param::Blob(s.trace_ids),
                        Param::Text(s.services),
                        Param::Text(s.attributes),
                        Param::Blob(s.bloom),
                        Param::Blob(s.body),
                    ],
                )
            })
            .collect();
        self.db.transaction(statements).await.map(drop)
    }
}

/// The table and id of a segment's key (`hot/<table>/<id>`, as the SQL that lists
/// segments writes it); `None` for a block's.
pub fn parse_segment_key(key: &str) -> Option<(u64, i64)> {
    let mut parts = key.strip_prefix("hot/")?.split('/');
    let table = parts
        .next()?
        .parse()
        .ok()
        .filter(|t| *t < sql::HOT_TABLES)?;
    let id = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((table, id))
}

/// One segment's bytes, read from its row the first time a read needs them (or given,
/// when the statement that found the segment read them): what the archive's block reader
/// reads a segment through.
pub struct SegmentObject {
    db: std::sync::Arc<dyn Database>,
    key: String,
    bytes: Mutex<Option<std::sync::Arc<Vec<u8>>>>,
}

impl SegmentObject {
    pub fn new(db: std::sync::Arc<dyn Database>, key: &str, bytes: Option<Vec<u8>>) -> Self {
        Self {
            db,
            key: key.to_owned(),
            bytes: Mutex::new(bytes.map(std::sync::Arc::new)),
        }
    }

    async fn bytes(&self, key: &str) -> Result<Option<std::sync::Arc<Vec<u8>>>, ObjectError> {
        if key != self.key {
            return Err(ObjectError::Refused(format!(
                "{key} is not the segment {}",
                self.key
            )));
        }
        if let Some(bytes) = super::lock(&self.bytes).clone() {
            return Ok(Some(bytes));
        }
        let Some((table, id)) = parse_segment_key(key) else {
            return Err(ObjectError::Refused(format!("{key} names no segment")));
        };
        #[derive(Deserialize)]
        struct Body {
            body: String,
        }
        let rows = self
            .db
            .query(Statement::new(
                sql::segment_body(table),
                vec![Param::Int(id)],
            ))
            .await
            .map_err(|e| match e {
                StoreError::Busy(message) => ObjectError::Unavailable(message),
                other => ObjectError::Unavailable(other.to_string()),
            })?;
        let rows: Vec<Body> =
            crate::store::decode(&rows).map_err(|e| ObjectError::Unavailable(e.to_string()))?;
        // Compacted since it was listed: the read starts over (see `ReadError::Missing`).
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let bytes = std::sync::Arc::new(
            hex::decode(&row.body)
                .map_err(|e| ObjectError::Unavailable(format!("segment {key}: {e}")))?,
        );
        *super::lock(&self.bytes) = Some(bytes.clone());
        Ok(Some(bytes))
    }
}

#[async_trait]
impl ObjectStore for SegmentObject {
    async fn put(&self, key: &str, _bytes: Vec<u8>) -> Result<(), ObjectError> {
        Err(ObjectError::Refused(format!(
            "segment {key} is written as a row, not an object"
        )))
    }

    async fn get_range(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> Result<Option<Vec<u8>>, ObjectError> {
        Ok(self.bytes(key).await?.map(|bytes| {
            let end = usize::try_from(range.end)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let start = usize::try_from(range.start).unwrap_or(usize::MAX).min(end);
            bytes[start..end].to_vec()
        }))
    }

    async fn get_suffix(&self, key: &str, len: u64) -> Result<Option<(Vec<u8>, u64)>, ObjectError> {
        Ok(self.bytes(key).await?.map(|bytes| {
            let from = bytes
                .len()
                .saturating_sub(usize::try_from(len).unwrap_or(usize::MAX));
            (bytes[from..].to_vec(), bytes.len() as u64)
        }))
    }

    async fn delete(&self, _keys: &[String]) -> Result<(), ObjectError> {
        Err(ObjectError::Refused(
            "segments are dropped with their table".into(),
        ))
    }

    async fn list(
        &self,
        _prefix: &str,
        _after: Option<&str>,
        _limit: u32,
    ) -> Result<Listing, ObjectError> {
        Ok(Listing::default())
    }
}
