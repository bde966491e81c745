//! The archive's block: one immutable object holding a run of spans, columnar and
//! deflated, readable a row group at a time (docs/architecture.md, "The block").
//!
//! ```text
//! MAGIC | resources | shapes | traces | row group 0 | row group 1 | ... | footer | footer length (u32 LE) | MAGIC
//! ```
//!
//! Spans are sorted by (trace id, start), so a trace lies in one row group, or two at a
//! boundary, and the footer's first and last trace id per row group find it with one
//! range read. The footer is JSON (it is small, and read once per block); everything
//! else is deflated columns. A block carries the resources and attribute key sets its
//! spans use, so it stays readable whatever happens to the shared rows of the hot tier.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::store::{ResourceRecord, ShapeRecord, SpanRecord};

/// First and last bytes of every block.
pub const MAGIC: &[u8; 4] = b"OWB1";

/// Spans per row group: what a trace lookup reads and inflates (about 100 KB).
pub const ROW_GROUP_SPANS: usize = 4_096;

/// Bytes at the end of a block that say where its footer starts: the footer's length
/// and [`MAGIC`].
pub const TRAILER_BYTES: usize = 8;

/// The largest footer a reader accepts: a block of a million spans has about 250.
const MAX_FOOTER_BYTES: u32 = 16 << 20;

/// The largest inflated column a reader accepts, so a corrupt object cannot make it
/// allocate without bound.
const MAX_COLUMN_BYTES: u64 = 512 << 20;

/// What can be wrong with a block's bytes.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error("not an otel-worker block: {0}")]
    Format(String),
    #[error("a block column is corrupt: {0}")]
    Corrupt(String),
}

/// Where a part of the block is, from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extent {
    pub offset: u64,
    pub len: u64,
}

/// A row group: its place, its rows, and what a read needs to skip it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowGroupMeta {
    pub extent: Extent,
    pub rows: u32,
    /// Lower-case hex, like every id the store hands out.
    pub first_trace: String,
    pub last_trace: String,
    pub min_start_ns: u64,
    pub max_start_ns: u64,
    /// The deflated length of each column, in the order they are written: trace ids, span
    /// ids, parents, starts, ends, names (dictionary, then indexes), kinds, statuses,
    /// resources, key sets, bodies.
    pub columns: Vec<u64>,
}

/// The block's table of contents, read first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Footer {
    pub version: u32,
    pub spans: u64,
    pub traces: u64,
    pub min_start_ns: u64,
    pub max_start_ns: u64,
    pub resources: Extent,
    pub shapes: Extent,
    pub trace_table: Extent,
    pub row_groups: Vec<RowGroupMeta>,
}

impl Footer {
    /// The row groups that may hold `trace_id` (lower-case hex).
    pub fn row_groups_of(&self, trace_id: &str) -> impl Iterator<Item = &RowGroupMeta> {
        self.row_groups.iter().filter(move |group| {
            group.first_trace.as_str() <= trace_id && trace_id <= group.last_trace.as_str()
        })
    }
}

/// One trace's summary within a block: what a trace list shows without reading spans.
/// A trace whose spans lie in several blocks has a summary in each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceRow {
    pub trace_id: String,
    pub start_ns: u64,
    pub end_ns: u64,
    pub spans: u64,
    pub errors: u64,
    /// The name of its earliest span without a parent.
    pub root_name: Option<String>,
    /// The service of its earliest span without a parent, else of its earliest span.
    pub service: Option<String>,
    /// Its distinct services, sorted.
    #[serde(default)]
    pub services: Vec<String>,
}

/// The resources and key sets a block's spans refer to, by position.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dictionaries {
    pub resources: Vec<ResourceRecord>,
    pub shapes: Vec<ShapeRecord>,
}

/// What [`encode`] was given, back: spans in block order (trace id, then start).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    pub dictionaries: Dictionaries,
    pub spans: Vec<SpanRecord>,
    pub traces: Vec<TraceRow>,
}

/// Builds a block of `spans`, whose resources and key sets are among `resources` and
/// `shapes` (a span whose resource is missing from them gets an empty one, so nothing
/// is dropped). Sorts the spans; ids must be the store's lower-case hex.
pub fn encode(
    mut spans: Vec<SpanRecord>,
    resources: &[ResourceRecord],
    shapes: &[ShapeRecord],
) -> Result<Vec<u8>, BlockError> {
    spans.sort_by(|a, b| {
        (a.trace_id.as_str(), a.start_ns, a.span_id.as_str()).cmp(&(
            b.trace_id.as_str(),
            b.start_ns,
            b.span_id.as_str(),
        ))
    });
    let dictionaries = Dictionaries::used_by_items(
        spans
            .iter()
            .map(|s| (s.resource_id, s.shape_id, s.service_name.as_deref())),
        resources,
        shapes,
    );
    let resource_at = dictionaries.resource_positions();
    let shape_at = dictionaries.shape_positions();
    let traces = summarize(&spans, &dictionaries);
    let groups = spans
        .chunks(ROW_GROUP_SPANS)
        .map(|group| {
            Ok(GroupColumns {
                columns: SpanColumns::of(group, &resource_at, &shape_at).deflated()?,
                rows: group.len() as u32,
                first_trace: group
                    .first()
                    .map(|s| s.trace_id.clone())
                    .unwrap_or_default(),
                last_trace: group.last().map(|s| s.trace_id.clone()).unwrap_or_default(),
                min_start_ns: group.iter().map(|s| s.start_ns).min().unwrap_or(0),
                max_start_ns: group.iter().map(|s| s.start_ns).max().unwrap_or(0),
            })
        })
        .collect::<Result<Vec<_>, BlockError>>()?;
    assemble(&dictionaries, &traces, groups)
}

/// A row group's deflated columns and what its footer entry says of them.
pub(super) struct GroupColumns {
    pub columns: Vec<Vec<u8>>,
    pub rows: u32,
    pub first_trace: String,
    pub last_trace: String,
    pub min_start_ns: u64,
    pub max_start_ns: u64,
}

/// Writes a block: magic, dictionaries, trace table, row groups, footer, trailer. Both
/// kinds of block (spans, log records) share it.
pub(super) fn assemble(
    dictionaries: &Dictionaries,
    traces: &[TraceRow],
    groups: Vec<GroupColumns>,
) -> Result<Vec<u8>, BlockError> {
    let mut out = MAGIC.to_vec();
    let resource_rows: Vec<(&str, &str, Option<&str>)> = dictionaries
        .resources
        .iter()
        .map(|r| {
            (
                r.resource.as_str(),
                r.scope.as_str(),
                r.service_name.as_deref(),
            )
        })
        .collect();
    let resources_extent = append(&mut out, &json_deflated(&resource_rows)?);
    let shape_rows: Vec<&str> = dictionaries
        .shapes
        .iter()
        .map(|s| s.keys.as_str())
        .collect();
    let shapes_extent = append(&mut out, &json_deflated(&shape_rows)?);
    let traces_extent = append(&mut out, &json_deflated(&traces)?);
    let mut row_groups = Vec::with_capacity(groups.len());
    for group in groups {
        let start = out.len() as u64;
        let mut lengths = Vec::with_capacity(group.columns.len());
        for column in &group.columns {
            out.extend_from_slice(column);
            lengths.push(column.len() as u64);
        }
        row_groups.push(RowGroupMeta {
            extent: Extent {
                offset: start,
                len: out.len() as u64 - start,
            },
            rows: group.rows,
            first_trace: group.first_trace,
            last_trace: group.last_trace,
            min_start_ns: group.min_start_ns,
            max_start_ns: group.max_start_ns,
            columns: lengths,
        });
    }
    let footer = Footer {
        version: 1,
        spans: row_groups.iter().map(|g| u64::from(g.rows)).sum(),
        traces: traces.len() as u64,
        min_start_ns: row_groups.iter().map(|g| g.min_start_ns).min().unwrap_or(0),
        max_start_ns: row_groups.iter().map(|g| g.max_start_ns).max().unwrap_or(0),
        resources: resources_extent,
        shapes: shapes_extent,
        trace_table: traces_extent,
        row_groups,
    };
    let footer = serde_json::to_vec(&footer).map_err(|e| BlockError::Format(e.to_string()))?;
    out.extend_from_slice(&footer);
    out.extend_from_slice(&(footer.len() as u32).to_le_bytes());
    out.extend_from_slice(MAGIC);
    Ok(out)
}

/// How many bytes of the block's end hold its footer, from its last [`TRAILER_BYTES`].
pub fn footer_len(trailer: &[u8]) -> Result<u64, BlockError> {
    let trailer = trailer
        .get(trailer.len().saturating_sub(TRAILER_BYTES)..)
        .filter(|t| t.len() == TRAILER_BYTES && &t[4..] == MAGIC)
        .ok_or_else(|| BlockError::Format("the object does not end with a block trailer".into()))?;
    let len = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    if len > MAX_FOOTER_BYTES {
        return Err(BlockError::Format(format!("a footer of {len} bytes")));
    }
    Ok(u64::from(len))
}

/// Reads the footer from the block's last bytes (at least the footer and the trailer).
pub fn read_footer(tail: &[u8]) -> Result<Footer, BlockError> {
    let len = footer_len(tail)? as usize;
    let end = tail.len() - TRAILER_BYTES;
    let bytes = end
        .checked_sub(len)
        .and_then(|start| tail.get(start..end))
        .ok_or_else(|| BlockError::Format("the footer is cut off".into()))?;
    let footer: Footer =
        serde_json::from_slice(bytes).map_err(|e| BlockError::Format(format!("footer: {e}")))?;
    if footer.version != 1 {
        return Err(BlockError::Format(format!(
            "block version {} (this build reads 1)",
            footer.version
        )));
    }
    Ok(footer)
}

/// The block's resources and key sets, from the bytes of [`Footer::resources`] and
/// [`Footer::shapes`].
pub fn read_dictionaries(resources: &[u8], shapes: &[u8]) -> Result<Dictionaries, BlockError> {
    let resources: Vec<(String, String, Option<String>)> = json_inflated(resources)?;
    let shapes: Vec<String> = json_inflated(shapes)?;
    Ok(Dictionaries {
        resources: resources
            .into_iter()
            .map(|(resource, scope, service)| ResourceRecord::new(resource, scope, service))
            .collect(),
        shapes: shapes
            .into_iter()
            .map(|keys| ShapeRecord {
                id: crate::store::row::content_id(&[&keys]),
                keys,
            })
            .collect(),
    })
}

/// The block's trace summaries, from the bytes of [`Footer::trace_table`].
pub fn read_traces(bytes: &[u8]) -> Result<Vec<TraceRow>, BlockError> {
    json_inflated(bytes)
}

/// The spans of one row group, from its bytes ([`RowGroupMeta::extent`]).
pub fn read_row_group(
    bytes: &[u8],
    meta: &RowGroupMeta,
    dictionaries: &Dictionaries,
) -> Result<Vec<SpanRecord>, BlockError> {
    let columns = inflate_columns(bytes, meta)?;
    SpanColumns::read(&columns, meta.rows as usize, dictionaries)
}

/// The inflated columns of a row group, from its bytes.
pub(super) fn inflate_columns(
    bytes: &[u8],
    meta: &RowGroupMeta,
) -> Result<Vec<Vec<u8>>, BlockError> {
    let mut columns = Vec::with_capacity(meta.columns.len());
    let mut at = 0usize;
    for len in &meta.columns {
        let end = usize::try_from(*len)
            .ok()
            .and_then(|len| at.checked_add(len))
            .filter(|end| *end <= bytes.len())
            .ok_or_else(|| BlockError::Corrupt("a column runs past its row group".into()))?;
        columns.push(inflate(&bytes[at..end])?);
        at = end;
    }
    Ok(columns)
}

/// A whole block, decoded (tests, compaction of small blocks).
pub fn decode(block: &[u8]) -> Result<Decoded, BlockError> {
    let (footer, dictionaries) = open_whole(block)?;
    let traces = read_traces(slice(block, footer.trace_table)?)?;
    let mut spans = Vec::new();
    for group in &footer.row_groups {
        spans.extend(read_row_group(
            slice(block, group.extent)?,
            group,
            &dictionaries,
        )?);
    }
    Ok(Decoded {
        dictionaries,
        spans,
        traces,
    })
}

/// The footer and dictionaries of a whole block in memory.
pub(super) fn open_whole(block: &[u8]) -> Result<(Footer, Dictionaries), BlockError> {
    if block.get(..4) != Some(MAGIC) {
        return Err(BlockError::Format(
            "the object does not start with a block's magic".into(),
        ));
    }
    let footer = read_footer(block)?;
    let dictionaries = read_dictionaries(
        slice(block, footer.resources)?,
        slice(block, footer.shapes)?,
    )?;
    Ok((footer, dictionaries))
}

/// The part of a whole block at `extent`.
pub(super) fn slice(block: &[u8], extent: Extent) -> Result<&[u8], BlockError> {
    usize::try_from(extent.offset)
        .ok()
        .zip(usize::try_from(extent.len).ok())
        .and_then(|(offset, len)| block.get(offset..offset.checked_add(len)?))
        .ok_or_else(|| BlockError::Corrupt("a part runs past the block".into()))
}

impl Dictionaries {
    /// The resources and shapes a block's items use, in the order they first appear;
    /// `items` gives each one's resource, key set and service.
    pub(super) fn used_by_items<'a>(
        items: impl Iterator<Item = (i64, Option<i64>, Option<&'a str>)>,
        resources: &[ResourceRecord],
        shapes: &[ShapeRecord],
    ) -> Self {
        let known_resources: FxHashMap<i64, &ResourceRecord> =
            resources.iter().map(|r| (r.id, r)).collect();
        let known_shapes: FxHashMap<i64, &ShapeRecord> = shapes.iter().map(|s| (s.id, s)).collect();
        let mut out = Self::default();
        let mut seen_resources = rustc_hash::FxHashSet::default();
        let mut seen_shapes = rustc_hash::FxHashSet::default();
        for (resource_id, shape_id, service_name) in items {
            if seen_resources.insert(resource_id) {
                out.resources.push(match known_resources.get(&resource_id) {
                    Some(r) => (*r).clone(),
                    // Kept under its own id, so the item still points at it.
                    None => ResourceRecord {
                        id: resource_id,
                        resource: "{}".into(),
                        scope: "{}".into(),
                        service_name: service_name.map(str::to_owned),
                    },
                });
            }
            if let Some(shape) = shape_id
                && seen_shapes.insert(shape)
            {
                out.shapes.push(match known_shapes.get(&shape) {
                    Some(s) => (*s).clone(),
                    None => ShapeRecord {
                        id: shape,
                        keys: "[]".into(),
                    },
                });
            }
        }
        out
    }

    /// The resource a row's varint names.
    pub(super) fn resource_at(&self, index: u128) -> Result<&ResourceRecord, BlockError> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.resources.get(i))
            .ok_or_else(|| BlockError::Corrupt("a resource outside the dictionary".into()))
    }

    /// The key set a row's varint names (0: none, else 1 + its position), by id.
    pub(super) fn shape_at(&self, value: u128) -> Result<Option<i64>, BlockError> {
        if value == 0 {
            return Ok(None);
        }
        usize::try_from(value - 1)
            .ok()
            .and_then(|i| self.shapes.get(i))
            .map(|s| Some(s.id))
            .ok_or_else(|| BlockError::Corrupt("a key set outside the dictionary".into()))
    }

    /// Each resource's position, by id.
    pub(super) fn resource_positions(&self) -> FxHashMap<i64, u64> {
        self.resources
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id, i as u64))
            .collect()
    }

    /// Each key set's position, by id.
    pub(super) fn shape_positions(&self) -> FxHashMap<i64, u64> {
        self.shapes
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id, i as u64))
            .collect()
    }
}

/// The summaries of the traces of `spans` (sorted by trace id).
fn summarize(spans: &[SpanRecord], dictionaries: &Dictionaries) -> Vec<TraceRow> {
    let service_of: FxHashMap<i64, Option<&str>> = dictionaries
        .resources
        .iter()
        .map(|r| (r.id, r.service_name.as_deref()))
        .collect();
    spans
        .chunk_by(|a, b| a.trace_id == b.trace_id)
        .filter_map(|trace| trace_row(trace, |id| service_of.get(&id).copied().flatten()))
        .collect()
}

/// The summary of one trace's `spans` (any order), a span's service being its own
/// `service_name` or else `service_of` its resource. `None` without spans.
pub fn trace_row<'a>(
    spans: &'a [SpanRecord],
    service_of: impl Fn(i64) -> Option<&'a str>,
) -> Option<TraceRow> {
    let first = spans.first()?;
    let service = |s: &'a SpanRecord| {
        s.service_name
            .as_deref()
            .or_else(|| service_of(s.resource_id))
    };
    let root = spans
        .iter()
        .filter(|s| s.parent_span_id.is_none())
        .min_by_key(|s| (s.start_ns, &s.span_id));
    let main_service = spans
        .iter()
        .filter_map(|s| Some(((s.parent_span_id.is_some(), s.start_ns), service(s)?)))
        .min_by_key(|(key, _)| *key)
        .map(|(_, service)| service.to_owned());
    let mut services: Vec<String> = spans
        .iter()
        .filter_map(service)
        .map(str::to_owned)
        .collect();
    services.sort_unstable();
    services.dedup();
    Some(TraceRow {
        trace_id: first.trace_id.clone(),
        start_ns: spans.iter().map(|s| s.start_ns).min().unwrap_or(0),
        end_ns: spans.iter().map(|s| s.end_ns).max().unwrap_or(0),
        spans: spans.len() as u64,
        errors: spans.iter().filter(|s| s.status_code == 2).count() as u64,
        root_name: root.map(|s| s.name.clone()),
        service: main_service,
        services,
    })
}

/// The columns of a row group, before deflating, in the order they are written.
#[derive(Default)]
struct SpanColumns {
    trace_ids: Vec<u8>,
    span_ids: Vec<u8>,
    /// One byte per span (1: has a parent), then 8 bytes per parent.
    parents: Vec<u8>,
    /// Zigzag varints of each start minus the previous span's.
    starts: Vec<u8>,
    /// Zigzag varints of each end minus its start.
    ends: Vec<u8>,
    /// The distinct names (length-prefixed) ...
    name_dictionary: Vec<u8>,
    /// ... and each span's index among them (varint).
    names: Vec<u8>,
    kinds: Vec<u8>,
    statuses: Vec<u8>,
    /// Varint index into the block's resources.
    resources: Vec<u8>,
    /// Varint: 0 without attributes, else 1 + the index into the block's shapes.
    shapes: Vec<u8>,
    /// Length-prefixed [`crate::store::Body`] JSON.
    bodies: Vec<u8>,
}

/// How many columns a row group has.
const COLUMNS: usize = 12;

impl SpanColumns {
    fn of(
        spans: &[SpanRecord],
        resource_at: &FxHashMap<i64, u64>,
        shape_at: &FxHashMap<i64, u64>,
    ) -> Self {
        let mut c = Self::default();
        let mut names: FxHashMap<&str, u64> = FxHashMap::default();
        let mut previous_start = 0u64;
        for span in spans {
            hex_into(&span.trace_id, 16, &mut c.trace_ids);
            hex_into(&span.span_id, 8, &mut c.span_ids);
            c.parents.push(u8::from(span.parent_span_id.is_some()));
            put_varint(
                &mut c.starts,
                zigzag(i128::from(span.start_ns) - i128::from(previous_start)),
            );
            previous_start = span.start_ns;
            put_varint(
                &mut c.ends,
                zigzag(i128::from(span.end_ns) - i128::from(span.start_ns)),
            );
            let next = names.len() as u64;
            let index = *names.entry(span.name.as_str()).or_insert_with(|| {
                put_bytes(&mut c.name_dictionary, span.name.as_bytes());
                next
            });
            put_varint(&mut c.names, u128::from(index));
            put_varint(&mut c.kinds, zigzag(i128::from(span.kind)));
            put_varint(&mut c.statuses, zigzag(i128::from(span.status_code)));
            put_varint(
                &mut c.resources,
                u128::from(resource_at.get(&span.resource_id).copied().unwrap_or(0)),
            );
            let shape = span
                .shape_id
                .and_then(|id| shape_at.get(&id))
                .map_or(0, |i| i + 1);
            put_varint(&mut c.shapes, u128::from(shape));
            put_bytes(&mut c.bodies, span.body.as_bytes());
        }
        for span in spans {
            if let Some(parent) = &span.parent_span_id {
                hex_into(parent, 8, &mut c.parents);
            }
        }
        c
    }

    fn deflated(&self) -> Result<Vec<Vec<u8>>, BlockError> {
        [
            &self.trace_ids,
            &self.span_ids,
            &self.parents,
            &self.starts,
            &self.ends,
            &self.name_dictionary,
            &self.names,
            &self.kinds,
            &self.statuses,
            &self.resources,
            &self.shapes,
            &self.bodies,
        ]
        .iter()
        .map(|column| deflate(column))
        .collect()
    }

    fn read(
        columns: &[Vec<u8>],
        rows: usize,
        dictionaries: &Dictionaries,
    ) -> Result<Vec<SpanRecord>, BlockError> {
        let [
            trace_ids,
            span_ids,
            parents,
            starts,
            ends,
            name_dictionary,
            names,
            kinds,
            statuses,
            resources,
            shapes,
            bodies,
        ] = columns
        else {
            return Err(BlockError::Corrupt(format!(
                "{} columns in a row group of {COLUMNS}",
                columns.len()
            )));
        };
        let fixed = |column: &[u8], width: usize, what: &str| {
            if rows.checked_mul(width) == Some(column.len()) {
                Ok(())
            } else {
                Err(BlockError::Corrupt(format!(
                    "{what}: {} bytes for {rows} rows",
                    column.len()
                )))
            }
        };
        fixed(trace_ids, 16, "trace ids")?;
        fixed(span_ids, 8, "span ids")?;
        let (has_parent, parent_ids) = parents
            .split_at_checked(rows)
            .ok_or_else(|| BlockError::Corrupt("parents are cut off".into()))?;
        let mut dictionary = Vec::new();
        let mut at = 0;
        while at < name_dictionary.len() {
            dictionary.push(get_text(name_dictionary, &mut at)?);
        }
        let mut cursors = [0usize; 7];
        let mut parent_at = 0usize;
        let mut start = 0u64;
        let mut out = Vec::with_capacity(rows);
        for row in 0..rows {
            let delta = unzigzag(get_varint(starts, &mut cursors[0])?);
            start = u64::try_from(i128::from(start) + delta)
                .map_err(|_| BlockError::Corrupt("a start out of range".into()))?;
            let end =
                u64::try_from(i128::from(start) + unzigzag(get_varint(ends, &mut cursors[1])?))
                    .map_err(|_| BlockError::Corrupt("an end out of range".into()))?;
            let name = usize::try_from(get_varint(names, &mut cursors[2])?)
                .ok()
                .and_then(|i| dictionary.get(i))
                .ok_or_else(|| BlockError::Corrupt("a name outside the dictionary".into()))?;
            let small = |value: i128| {
                i32::try_from(value)
                    .map_err(|_| BlockError::Corrupt("a kind or status out of range".into()))
            };
            let kind = small(unzigzag(get_varint(kinds, &mut cursors[3])?))?;
            let status_code = small(unzigzag(get_varint(statuses, &mut cursors[4])?))?;
            let resource = dictionaries.resource_at(get_varint(resources, &mut cursors[5])?)?;
            let shape = dictionaries.shape_at(get_varint(shapes, &mut cursors[6])?)?;
            let parent_span_id = match has_parent[row] {
                0 => None,
                _ => {
                    let id = parent_ids
                        .get(parent_at..parent_at + 8)
                        .ok_or_else(|| BlockError::Corrupt("parent ids are cut off".into()))?;
                    parent_at += 8;
                    Some(hex::encode(id))
                }
            };
            out.push(SpanRecord {
                trace_id: hex::encode(&trace_ids[row * 16..row * 16 + 16]),
                span_id: hex::encode(&span_ids[row * 8..row * 8 + 8]),
                parent_span_id,
                name: name.clone(),
                kind,
                service_name: resource.service_name.clone(),
                status_code,
                start_ns: start,
                end_ns: end,
                resource_id: resource.id,
                shape_id: shape,
                body: String::new(),
            });
        }
        let mut at = 0;
        for span in &mut out {
            span.body = get_text(bodies, &mut at)?;
        }
        Ok(out)
    }
}

fn append(out: &mut Vec<u8>, bytes: &[u8]) -> Extent {
    let offset = out.len() as u64;
    out.extend_from_slice(bytes);
    Extent {
        offset,
        len: bytes.len() as u64,
    }
}

fn json_deflated<T: Serialize>(value: &T) -> Result<Vec<u8>, BlockError> {
    deflate(&serde_json::to_vec(value).map_err(|e| BlockError::Format(e.to_string()))?)
}

fn json_inflated<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, BlockError> {
    serde_json::from_slice(&inflate(bytes)?).map_err(|e| BlockError::Corrupt(e.to_string()))
}

pub(super) fn deflate(bytes: &[u8]) -> Result<Vec<u8>, BlockError> {
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::new(6));
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| BlockError::Format(e.to_string()))
}

fn inflate(bytes: &[u8]) -> Result<Vec<u8>, BlockError> {
    let mut out = Vec::new();
    DeflateDecoder::new(bytes)
        .take(MAX_COLUMN_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| BlockError::Corrupt(e.to_string()))?;
    if out.len() as u64 > MAX_COLUMN_BYTES {
        return Err(BlockError::Corrupt("a column inflates past 512 MiB".into()));
    }
    Ok(out)
}

/// Appends the `width` bytes of a lower-case hex id (zeros if it is not one: the store
/// only hands out valid ids).
pub(super) fn hex_into(id: &str, width: usize, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + width, 0);
    if hex::decode_to_slice(id, &mut out[start..]).is_err() {
        out[start..].fill(0);
    }
}

pub(super) fn zigzag(value: i128) -> u128 {
    ((value << 1) ^ (value >> 127)) as u128
}

pub(super) fn unzigzag(value: u128) -> i128 {
    ((value >> 1) as i128) ^ -((value & 1) as i128)
}

pub(super) fn put_varint(out: &mut Vec<u8>, mut value: u128) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

pub(super) fn get_varint(bytes: &[u8], at: &mut usize) -> Result<u128, BlockError> {
    let mut value = 0u128;
    for shift in (0..128).step_by(7) {
        let byte = *bytes
            .get(*at)
            .ok_or_else(|| BlockError::Corrupt("a number is cut off".into()))?;
        *at += 1;
        value |= u128::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(BlockError::Corrupt("a number longer than 128 bits".into()))
}

pub(super) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u128);
    out.extend_from_slice(bytes);
}

pub(super) fn get_text(bytes: &[u8], at: &mut usize) -> Result<String, BlockError> {
    let len = usize::try_from(get_varint(bytes, at)?)
        .map_err(|_| BlockError::Corrupt("a text length out of range".into()))?;
    let text = at
        .checked_add(len)
        .and_then(|end| bytes.get(*at..end))
        .ok_or_else(|| BlockError::Corrupt("a text is cut off".into()))?;
    *at += len;
    String::from_utf8(text.to_vec()).map_err(|_| BlockError::Corrupt("a text is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(service: &str) -> ResourceRecord {
        ResourceRecord::new(
            format!(r#"{{"attributes":{{"service.name":"{service}"}}}}"#),
            r#"{"name":"lib"}"#.into(),
            Some(service.into()),
        )
    }

    fn shape(keys: &[&str]) -> ShapeRecord {
        let keys = serde_json::to_string(keys).unwrap();
        ShapeRecord {
            id: crate::store::row::content_id(&[&keys]),
            keys,
        }
    }

    /// Span `span` of trace `trace`, in `service`, with one attribute.
    fn span(
        trace: u8,
        span: u8,
        parent: Option<u8>,
        start_ns: u64,
        end_ns: u64,
        service: &str,
    ) -> SpanRecord {
        SpanRecord {
            trace_id: format!("{trace:02x}").repeat(16),
            span_id: format!("{span:02x}").repeat(8),
            parent_span_id: parent.map(|p| format!("{p:02x}").repeat(8)),
            name: format!("op {}", span % 3),
            kind: 2,
            service_name: Some(service.into()),
            status_code: if span.is_multiple_of(5) { 2 } else { 0 },
            start_ns,
            end_ns,
            resource_id: resource(service).id,
            shape_id: Some(shape(&["n"]).id),
            body: format!(r#"{{"v":[{span}]}}"#),
        }
    }

    fn sorted(mut spans: Vec<SpanRecord>) -> Vec<SpanRecord> {
        spans.sort_by(|a, b| {
            (&a.trace_id, a.start_ns, &a.span_id).cmp(&(&b.trace_id, b.start_ns, &b.span_id))
        });
        spans
    }

    #[test]
    fn every_field_of_every_span_reads_back_exactly() {
        let mut spans = vec![
            span(1, 1, None, 1_000, 2_000, "a"),
            span(1, 2, Some(1), 1_100, 1_900, "b"),
            span(2, 3, None, 0, u64::MAX, "a"),
            // Ends before it starts, starts at the largest time there is.
            span(3, 4, Some(9), u64::MAX, 5, "c"),
        ];
        spans[1].shape_id = None;
        spans[1].body = String::new();
        spans[2].name = "ünïcode \u{0} and \"quotes\"".into();
        spans[2].kind = -7;
        spans[3].status_code = i32::MAX;
        let resources = [resource("a"), resource("b"), resource("c")];
        let block = encode(spans.clone(), &resources, &[shape(&["n"])]).unwrap();
        let decoded = decode(&block).unwrap();
        assert_eq!(decoded.spans, sorted(spans));
        assert_eq!(decoded.dictionaries.resources, resources);
        assert_eq!(decoded.dictionaries.shapes, [shape(&["n"])]);
    }

    #[test]
    fn trace_summaries_say_what_a_trace_list_shows() {
        let spans = vec![
            span(1, 2, Some(1), 1_100, 1_900, "child"),
            span(1, 1, None, 1_000, 2_000, "root"),
            span(1, 5, Some(1), 1_500, 2_500, "child"),
            span(2, 7, Some(6), 10, 20, "orphan"),
        ];
        let decoded = decode(
            &encode(
                spans,
                &[resource("root"), resource("child"), resource("orphan")],
                &[],
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            decoded.traces,
            [
                TraceRow {
                    trace_id: "01".repeat(16),
                    start_ns: 1_000,
                    end_ns: 2_500,
                    spans: 3,
                    errors: 1,
                    root_name: Some("op 1".into()),
                    service: Some("root".into()),
                    services: vec!["child".into(), "root".into()],
                },
                TraceRow {
                    trace_id: "02".repeat(16),
                    start_ns: 10,
                    end_ns: 20,
                    spans: 1,
                    errors: 0,
                    root_name: None,
                    service: Some("orphan".into()),
                    services: vec!["orphan".into()],
                },
            ]
        );
    }

    #[test]
    fn a_trace_is_found_by_reading_the_footer_and_one_row_group() {
        // 3 row groups and a bit; trace t has spans 4 apart in start order.
        let spans: Vec<SpanRecord> = (0..ROW_GROUP_SPANS as u64 * 3 + 10)
            .map(|i| {
                let mut s = span(0, 0, None, 1_000 + i, 2_000 + i, "svc");
                s.trace_id = format!("{:032x}", i / 4);
                s.span_id = format!("{:016x}", i);
                s
            })
            .collect();
        let block = encode(spans.clone(), &[resource("svc")], &[shape(&["n"])]).unwrap();
        let tail = &block[block.len() - 100_000.min(block.len())..];
        let footer = read_footer(tail).unwrap();
        assert_eq!(footer.row_groups.len(), 4);
        assert_eq!(footer.spans, spans.len() as u64);
        let wanted = format!("{:032x}", 2_000);
        let groups: Vec<&RowGroupMeta> = footer.row_groups_of(&wanted).collect();
        assert_eq!(groups.len(), 1);
        let group = groups[0];
        let bytes =
            &block[group.extent.offset as usize..(group.extent.offset + group.extent.len) as usize];
        let slice = |e: Extent| &block[e.offset as usize..(e.offset + e.len) as usize];
        let dictionaries =
            read_dictionaries(slice(footer.resources), slice(footer.shapes)).unwrap();
        let found: Vec<SpanRecord> = read_row_group(bytes, group, &dictionaries)
            .unwrap()
            .into_iter()
            .filter(|s| s.trace_id == wanted)
            .collect();
        assert_eq!(found, spans[8_000..8_004]);
    }

    #[test]
    fn damaged_blocks_are_errors_never_panics() {
        let spans: Vec<SpanRecord> = (0..50)
            .map(|i| span(i, i, None, u64::from(i), 100, "svc"))
            .collect();
        let block = encode(spans, &[resource("svc")], &[shape(&["n"])]).unwrap();
        assert!(decode(&block).is_ok());
        assert!(decode(&[]).is_err());
        assert!(decode(&block[..block.len() - 1]).is_err());
        assert!(decode(&block[4..]).is_err());
        // Every single-byte change and every cut decodes to an error or to some spans.
        for i in 0..block.len() {
            let mut damaged = block.clone();
            damaged[i] ^= 0x5a;
            let _ = decode(&damaged);
            let _ = decode(&block[..i]);
        }
    }

    #[test]
    fn an_empty_block_is_valid() {
        let decoded = decode(&encode(Vec::new(), &[], &[]).unwrap()).unwrap();
        assert_eq!(decoded, Decoded::default());
    }
}
