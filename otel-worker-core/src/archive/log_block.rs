//! The archive's block of log records: the span block's container ([`super::block`]: the
//! same magic, dictionaries, footer and trailer, so [`super::read::OpenBlock`] opens
//! either) with rows sorted by (time, identity) instead of by trace, and columns of their
//! own. A row group's time range in the footer lets a list newest first read only the row
//! groups below its cursor; the trace table is empty.

use rustc_hash::FxHashMap;

use super::block::{
    self, BlockError, Dictionaries, GroupColumns, deflate, get_text, get_varint, hex_into,
    put_bytes, put_varint, unzigzag, zigzag,
};
use crate::store::logs::LogRecord;
use crate::store::{ResourceRecord, ShapeRecord};

/// Records per row group: what a page of a list reads and inflates.
pub const ROW_GROUP_RECORDS: usize = 4_096;

/// How many columns a row group of log records has.
const COLUMNS: usize = 9;

/// Builds a block of `records`, whose resources and key sets are among `resources` and
/// `shapes` (a record whose resource is missing from them gets an empty one). Sorts the
/// records by time, then identity, in place; ids must be the store's lower-case hex.
/// Returns the block and its dictionaries: with the sorted records, what a reader of the
/// block decodes, without decoding it.
pub fn encode(
    records: &mut [LogRecord],
    resources: &[ResourceRecord],
    shapes: &[ShapeRecord],
) -> Result<(Vec<u8>, Dictionaries), BlockError> {
    records.sort_by_key(|r| (r.time_ns, r.identity));
    let dictionaries = Dictionaries::used_by_items(
        records
            .iter()
            .map(|r| (r.resource_id, r.shape_id, r.service_name.as_deref())),
        resources,
        shapes,
    );
    let resource_at = dictionaries.resource_positions();
    let shape_at = dictionaries.shape_positions();
    let groups = records
        .chunks(ROW_GROUP_RECORDS)
        .map(|group| {
            Ok(GroupColumns {
                columns: LogColumns::of(group, &resource_at, &shape_at).deflated()?,
                rows: group.len() as u32,
                first_trace: String::new(),
                last_trace: String::new(),
                min_start_ns: group.first().map_or(0, |r| r.time_ns),
                max_start_ns: group.last().map_or(0, |r| r.time_ns),
            })
        })
        .collect::<Result<Vec<_>, BlockError>>()?;
    Ok((block::assemble(&dictionaries, &[], groups)?, dictionaries))
}

/// The records of one row group, from its bytes ([`block::RowGroupMeta::extent`]), in
/// block order (oldest first).
pub fn read_row_group(
    bytes: &[u8],
    meta: &block::RowGroupMeta,
    dictionaries: &Dictionaries,
) -> Result<Vec<LogRecord>, BlockError> {
    let columns = block::inflate_columns(bytes, meta)?;
    LogColumns::read(&columns, meta.rows as usize, dictionaries)
}

/// A whole block of records, decoded (tests, compaction).
pub fn decode(bytes: &[u8]) -> Result<(Dictionaries, Vec<LogRecord>), BlockError> {
    let (footer, dictionaries) = block::open_whole(bytes)?;
    let mut records = Vec::new();
    for group in &footer.row_groups {
        let part = block::slice(bytes, group.extent)?;
        records.extend(read_row_group(part, group, &dictionaries)?);
    }
    Ok((dictionaries, records))
}

/// The columns of a row group, before deflating, in the order they are written.
#[derive(Default)]
struct LogColumns {
    /// Zigzag varints of each time minus the previous record's.
    times: Vec<u8>,
    /// Zigzag varints.
    identities: Vec<u8>,
    severities: Vec<u8>,
    /// One byte per record (1: has one), then 16 bytes per trace id.
    trace_ids: Vec<u8>,
    /// Likewise, 8 bytes per span id.
    span_ids: Vec<u8>,
    /// Varint index into the block's resources.
    resources: Vec<u8>,
    /// Varint: 0 without attributes, else 1 + the index into the block's shapes.
    shapes: Vec<u8>,
    /// Varint: 0 without a message, else 1 + its length, then its bytes.
    messages: Vec<u8>,
    /// Length-prefixed [`crate::store::logs::LogBody`] JSON.
    bodies: Vec<u8>,
}

impl LogColumns {
    fn of(
        records: &[LogRecord],
        resource_at: &FxHashMap<i64, u64>,
        shape_at: &FxHashMap<i64, u64>,
    ) -> Self {
        let mut c = Self::default();
        let mut previous = 0u64;
        for record in records {
            put_varint(
                &mut c.times,
                zigzag(i128::from(record.time_ns) - i128::from(previous)),
            );
            previous = record.time_ns;
            put_varint(&mut c.identities, zigzag(i128::from(record.identity)));
            put_varint(
                &mut c.severities,
                zigzag(i128::from(record.severity_number)),
            );
            c.trace_ids.push(u8::from(record.trace_id.is_some()));
            c.span_ids.push(u8::from(record.span_id.is_some()));
            put_varint(
                &mut c.resources,
                u128::from(resource_at.get(&record.resource_id).copied().unwrap_or(0)),
            );
            let shape = record
                .shape_id
                .and_then(|id| shape_at.get(&id))
                .map_or(0, |i| i + 1);
            put_varint(&mut c.shapes, u128::from(shape));
            match &record.message {
                None => put_varint(&mut c.messages, 0),
                Some(text) => {
                    put_varint(&mut c.messages, text.len() as u128 + 1);
                    c.messages.extend_from_slice(text.as_bytes());
                }
            }
            put_bytes(&mut c.bodies, record.body.as_bytes());
        }
        for record in records {
            if let Some(id) = &record.trace_id {
                hex_into(id, 16, &mut c.trace_ids);
            }
            if let Some(id) = &record.span_id {
                hex_into(id, 8, &mut c.span_ids);
            }
        }
        c
    }

    fn deflated(&self) -> Result<Vec<Vec<u8>>, BlockError> {
        [
            &self.times,
            &self.identities,
            &self.severities,
            &self.trace_ids,
            &self.span_ids,
            &self.resources,
            &self.shapes,
            &self.messages,
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
    ) -> Result<Vec<LogRecord>, BlockError> {
        let [
            times,
            identities,
            severities,
            trace_ids,
            span_ids,
            resources,
            shapes,
            messages,
            bodies,
        ] = columns
        else {
            return Err(BlockError::Corrupt(format!(
                "{} columns in a row group of {COLUMNS} log columns",
                columns.len()
            )));
        };
        let (has_trace, trace_bytes) = trace_ids
            .split_at_checked(rows)
            .ok_or_else(|| BlockError::Corrupt("trace ids are cut off".into()))?;
        let (has_span, span_bytes) = span_ids
            .split_at_checked(rows)
            .ok_or_else(|| BlockError::Corrupt("span ids are cut off".into()))?;
        let mut at = [0usize; 7];
        let (mut trace_at, mut span_at) = (0usize, 0usize);
        let mut time = 0u64;
        let mut out = Vec::with_capacity(rows);
        for row in 0..rows {
            time = u64::try_from(i128::from(time) + unzigzag(get_varint(times, &mut at[0])?))
                .map_err(|_| BlockError::Corrupt("a time out of range".into()))?;
            let identity = i64::try_from(unzigzag(get_varint(identities, &mut at[1])?))
                .map_err(|_| BlockError::Corrupt("an identity out of range".into()))?;
            let severity_number = i32::try_from(unzigzag(get_varint(severities, &mut at[2])?))
                .map_err(|_| BlockError::Corrupt("a severity out of range".into()))?;
            let id = |present: u8, bytes: &[u8], at: &mut usize, width: usize| {
                if present == 0 {
                    return Ok(None);
                }
                let id = bytes
                    .get(*at..*at + width)
                    .ok_or_else(|| BlockError::Corrupt("ids are cut off".into()))?;
                *at += width;
                Ok::<_, BlockError>(Some(hex::encode(id)))
            };
            let trace_id = id(has_trace[row], trace_bytes, &mut trace_at, 16)?;
            let span_id = id(has_span[row], span_bytes, &mut span_at, 8)?;
            let resource = dictionaries.resource_at(get_varint(resources, &mut at[3])?)?;
            let shape_id = dictionaries.shape_at(get_varint(shapes, &mut at[4])?)?;
            let message = match get_varint(messages, &mut at[5])? {
                0 => None,
                len => {
                    let len = usize::try_from(len - 1)
                        .map_err(|_| BlockError::Corrupt("a message length".into()))?;
                    let text = at[5]
                        .checked_add(len)
                        .and_then(|end| messages.get(at[5]..end))
                        .ok_or_else(|| BlockError::Corrupt("a message is cut off".into()))?;
                    at[5] += len;
                    Some(
                        String::from_utf8(text.to_vec())
                            .map_err(|_| BlockError::Corrupt("a message is not UTF-8".into()))?,
                    )
                }
            };
            let body = get_text(bodies, &mut at[6])?;
            out.push(LogRecord {
                time_ns: time,
                identity,
                severity_number,
                trace_id,
                span_id,
                resource_id: resource.id,
                shape_id,
                service_name: resource.service_name.clone(),
                message,
                body,
            });
        }
        Ok(out)
    }
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

    fn record(
        time_ns: u64,
        identity: i64,
        resource: &ResourceRecord,
        trace: Option<u8>,
    ) -> LogRecord {
        LogRecord {
            time_ns,
            identity,
            severity_number: 9 + (identity % 10) as i32,
            trace_id: trace.map(|t| format!("{t:02x}").repeat(16)),
            span_id: trace.map(|t| format!("{t:02x}").repeat(8)),
            resource_id: resource.id,
            shape_id: None,
            service_name: resource.service_name.clone(),
            message: (identity % 3 != 0).then(|| format!("message {identity} ünïcode")),
            body: format!(r#"{{"timeUnixNano":{time_ns}}}"#),
        }
    }

    #[test]
    fn records_come_back_whole_in_time_order_across_row_groups() {
        let shop = resource("shop");
        let db = resource("db");
        let records: Vec<LogRecord> = (0..(ROW_GROUP_RECORDS as i64 * 2 + 10))
            .rev()
            .map(|i| {
                let r = if i % 2 == 0 { &shop } else { &db };
                record(
                    1_000 + (i as u64 / 2) * 7,
                    i - 500,
                    r,
                    (i % 4 != 0).then_some(i as u8),
                )
            })
            .collect();
        let mut sorted = records.clone();
        let (bytes, built) = encode(&mut sorted, &[shop.clone(), db.clone()], &[]).unwrap();
        let (dictionaries, decoded) = decode(&bytes).unwrap();
        assert_eq!(dictionaries.resources.len(), 2);
        assert_eq!(dictionaries, built);
        let mut expected = records;
        expected.sort_by_key(|r| (r.time_ns, r.identity));
        assert_eq!(decoded, expected);
        assert_eq!(sorted, expected);
        let footer = block::read_footer(&bytes).unwrap();
        assert_eq!(footer.row_groups.len(), 3);
        assert!(footer.row_groups[0].max_start_ns <= footer.row_groups[1].min_start_ns);
        assert_eq!(footer.min_start_ns, 1_000);
    }

    /// Compaction builds the filter from the records it encoded, not from a decoded copy
    /// of the block: both must give the same filter, including for a record whose
    /// resource and key set are gone from the store (the block keeps empty ones).
    #[test]
    fn the_filter_of_the_records_is_the_filter_of_their_block() {
        use super::super::matching::{Parsed, summarize_logs};
        let shop = resource("shop");
        let keys = ShapeRecord {
            id: 4_242,
            keys: r#"["http.route","user.id"]"#.into(),
        };
        let mut records: Vec<LogRecord> = (0..600)
            .map(|i| {
                let mut r = record(10_000 - i as u64, i, &shop, (i % 3 != 0).then_some(i as u8));
                if i % 2 == 0 {
                    r.shape_id = Some(keys.id);
                    r.body = format!(r#"{{"timeUnixNano":1,"v":["/cart/{i}",{i}]}}"#);
                }
                r
            })
            .collect();
        let gone = resource("gone");
        let mut orphan = record(3, 7_000, &gone, None);
        orphan.shape_id = Some(-99);
        orphan.body = r#"{"timeUnixNano":3}"#.into();
        records.push(orphan);
        let (bytes, dictionaries) = encode(&mut records, &[shop], &[keys]).unwrap();
        let built = summarize_logs(&records, &Parsed::of(&dictionaries)).unwrap();
        let (read_dictionaries, decoded) = decode(&bytes).unwrap();
        let read = summarize_logs(&decoded, &Parsed::of(&read_dictionaries)).unwrap();
        assert_eq!(built.as_bytes(), read.as_bytes());
        assert!(!built.as_bytes().is_empty());
    }

    #[test]
    fn a_span_block_is_not_read_as_records() {
        let (bytes, _) = encode(&mut [record(5, 1, &resource("a"), None)], &[], &[]).unwrap();
        let footer = block::read_footer(&bytes).unwrap();
        let part = block::slice(&bytes, footer.row_groups[0].extent).unwrap();
        let (dictionaries, _) = decode(&bytes).unwrap();
        assert!(block::read_row_group(part, &footer.row_groups[0], &dictionaries).is_err());
    }
}
