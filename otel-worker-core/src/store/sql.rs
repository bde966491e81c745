//! The SQL both stores run, so SQLite and D1 answer every read the same way.
//!
//! Written for D1's limits as much as SQLite's: nanosecond columns are read back
//! `CAST(... AS TEXT)` because D1 hands integers to JavaScript as doubles.

use serde::Deserialize;

use super::StoreError;
use crate::models::TraceSummary;

/// Columns of one summary row; the list and the single-trace reads share them.
const SUMMARY_COLUMNS: &str = "\
SELECT t.trace_id AS trace_id,
       CAST(t.start_ns AS TEXT) AS start_ns,
       CAST(t.end_ns AS TEXT) AS end_ns,
       (SELECT COUNT(*) FROM spans s WHERE s.trace_id = t.trace_id) AS span_count,
       (SELECT COUNT(*) FROM spans s WHERE s.trace_id = t.trace_id AND s.status_code = 2) AS error_count,
       (SELECT s.name FROM spans s WHERE s.trace_id = t.trace_id AND s.parent_span_id IS NULL
         ORDER BY s.start_ns LIMIT 1) AS root_span_name,
       (SELECT s.service_name FROM spans s WHERE s.trace_id = t.trace_id AND s.service_name IS NOT NULL
         ORDER BY s.parent_span_id IS NOT NULL, s.start_ns LIMIT 1) AS service_name,
       (SELECT json_group_array(DISTINCT s.service_name) FROM spans s
         WHERE s.trace_id = t.trace_id AND s.service_name IS NOT NULL) AS services
FROM traces t";

/// The newest traces: `?1` = limit.
pub fn list_traces() -> String {
    format!("{SUMMARY_COLUMNS} ORDER BY t.start_ns DESC, t.trace_id DESC LIMIT ?1")
}

/// The newest traces that started before `?2`: `?1` = limit, `?2` = nanoseconds as text.
pub fn list_traces_before() -> String {
    format!(
        "{SUMMARY_COLUMNS} WHERE t.start_ns < CAST(?2 AS INTEGER) \
         ORDER BY t.start_ns DESC, t.trace_id DESC LIMIT ?1"
    )
}

/// One trace's summary: `?1` = trace id.
pub fn trace_summary() -> String {
    format!("{SUMMARY_COLUMNS} WHERE t.trace_id = ?1")
}

/// The columns of a [`super::SpanRow`], joined with its resource and scope.
const SPAN_COLUMNS: &str = "\
SELECT s.trace_id AS trace_id, s.span_id AS span_id, s.parent_span_id AS parent_span_id,
       s.name AS name, s.kind AS kind, s.status_code AS status_code,
       CAST(s.start_ns AS TEXT) AS start_ns, CAST(s.end_ns AS TEXT) AS end_ns,
       s.body AS body, r.resource AS resource, r.scope AS scope
FROM spans s LEFT JOIN resources r ON r.resource_id = s.resource_id";

/// Every span of a trace in start order: `?1` = trace id.
pub fn trace_spans() -> String {
    format!("{SPAN_COLUMNS} WHERE s.trace_id = ?1 ORDER BY s.start_ns, s.span_id")
}

/// One span: `?1` = trace id, `?2` = span id.
pub fn span() -> String {
    format!("{SPAN_COLUMNS} WHERE s.trace_id = ?1 AND s.span_id = ?2")
}

/// Writes one span (SQLite, where a prepared statement per row is cheapest).
pub const INSERT_SPAN: &str = "\
INSERT OR REPLACE INTO spans (trace_id, span_id, parent_span_id, name, kind, service_name,
    status_code, start_ns, end_ns, resource_id, body)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

/// Writes one resource and scope pair unless it is already stored.
pub const INSERT_RESOURCE: &str =
    "INSERT OR IGNORE INTO resources (resource_id, resource, scope) VALUES (?1, ?2, ?3)";

/// Writes many spans with one statement, for databases where each statement is a round
/// trip or counts against a quota (D1): `?1` = a JSON array of rows from [`span_rows_json`].
/// Nanoseconds and resource keys travel as JSON integers inside the text, so they stay
/// exact.
pub const INSERT_SPANS_JSON: &str = "\
INSERT OR REPLACE INTO spans (trace_id, span_id, parent_span_id, name, kind, service_name,
    status_code, start_ns, end_ns, resource_id, body)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
       json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),
       json_extract(value, '$[6]'), json_extract(value, '$[7]'), json_extract(value, '$[8]'),
       json_extract(value, '$[9]'), json_extract(value, '$[10]')
FROM json_each(?1)";

/// [`INSERT_RESOURCE`] for many pairs at once: `?1` = [`resource_rows_json`].
pub const INSERT_RESOURCES_JSON: &str = "\
INSERT OR IGNORE INTO resources (resource_id, resource, scope)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
FROM json_each(?1)";

/// The rows of `spans` as JSON arrays for [`INSERT_SPANS_JSON`], in chunks of at most
/// `max_bytes` of text (a single larger row gets a chunk of its own).
pub fn span_rows_json(spans: &[super::SpanRecord], max_bytes: usize) -> Vec<String> {
    chunked_rows(
        spans.iter().map(|s| {
            serde_json::json!([
                s.trace_id,
                s.span_id,
                s.parent_span_id,
                s.name,
                s.kind,
                s.service_name,
                s.status_code,
                super::ns_to_column(s.start_ns),
                super::ns_to_column(s.end_ns),
                s.resource_id,
                s.body,
            ])
        }),
        max_bytes,
    )
}

/// The pairs of `resources` as JSON arrays for [`INSERT_RESOURCES_JSON`], chunked like
/// [`span_rows_json`].
pub fn resource_rows_json(resources: &[super::ResourceRecord], max_bytes: usize) -> Vec<String> {
    chunked_rows(
        resources
            .iter()
            .map(|r| serde_json::json!([r.id, r.resource, r.scope])),
        max_bytes,
    )
}

fn chunked_rows(rows: impl Iterator<Item = serde_json::Value>, max_bytes: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut chunk = String::from("[");
    for row in rows {
        let row = row.to_string();
        if chunk.len() > 1 && chunk.len() + row.len() + 2 > max_bytes {
            chunk.push(']');
            chunks.push(std::mem::replace(&mut chunk, String::from("[")));
        }
        if chunk.len() > 1 {
            chunk.push(',');
        }
        chunk.push_str(&row);
    }
    if chunk.len() > 1 {
        chunk.push(']');
        chunks.push(chunk);
    }
    chunks
}

/// Recomputes the `traces` rows of the given traces from their spans after spans were
/// written or deleted: `?1` = the trace ids as a JSON array (see [`json_array`]).
pub const REFRESH_TRACES: &str = "\
INSERT INTO traces (trace_id, start_ns, end_ns)
SELECT trace_id, MIN(start_ns), MAX(end_ns) FROM spans
WHERE trace_id IN (SELECT value FROM json_each(?1)) GROUP BY trace_id
ON CONFLICT (trace_id) DO UPDATE SET start_ns = excluded.start_ns, end_ns = excluded.end_ns";

/// The distinct trace ids of `spans` as the JSON array [`REFRESH_TRACES`] takes.
pub fn trace_ids_json(spans: &[super::SpanRecord]) -> String {
    let mut ids: Vec<&str> = spans.iter().map(|s| s.trace_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    json_array(&ids)
}

/// A JSON array of strings, for statements that take a list as one parameter.
pub fn json_array(items: &[&str]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// Drops a trace's row once it has no spans left: `?1` = trace id.
pub const FORGET_EMPTY_TRACE: &str = "\
DELETE FROM traces WHERE trace_id = ?1
AND NOT EXISTS (SELECT 1 FROM spans WHERE trace_id = ?1)";

/// Deletes a trace's spans: `?1` = trace id.
pub const DELETE_TRACE_SPANS: &str = "DELETE FROM spans WHERE trace_id = ?1";

/// Deletes a trace's row: `?1` = trace id.
pub const DELETE_TRACE: &str = "DELETE FROM traces WHERE trace_id = ?1";

/// Deletes one span: `?1` = trace id, `?2` = span id.
pub const DELETE_SPAN: &str = "DELETE FROM spans WHERE trace_id = ?1 AND span_id = ?2";

/// One row of the summary queries, named as the SQL names its columns.
#[derive(Debug, Clone, Deserialize)]
pub struct SummaryRow {
    pub trace_id: String,
    pub start_ns: String,
    pub end_ns: String,
    pub span_count: i64,
    pub error_count: i64,
    pub root_span_name: Option<String>,
    pub service_name: Option<String>,
    /// A JSON array of distinct service names.
    pub services: Option<String>,
}

impl SummaryRow {
    /// Turns the row into the API's summary; a malformed row is a storage error.
    pub fn into_summary(self) -> Result<TraceSummary, StoreError> {
        let parse_ns = |text: &str| {
            text.parse::<u64>().map_err(|_| {
                StoreError::Other(format!("stored timestamp {text:?} is not a number"))
            })
        };
        let start = parse_ns(&self.start_ns)?;
        let end = parse_ns(&self.end_ns)?;
        let mut services: Vec<String> = match self.services.as_deref() {
            None | Some("") => Vec::new(),
            Some(json) => serde_json::from_str(json)
                .map_err(|e| StoreError::Other(format!("stored service list is not JSON: {e}")))?,
        };
        services.sort();
        Ok(TraceSummary {
            trace_id: self.trace_id,
            root_span_name: self.root_span_name,
            service_name: self.service_name,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            duration_ns: end.saturating_sub(start),
            span_count: u64::try_from(self.span_count).unwrap_or(0),
            error_count: u64::try_from(self.error_count).unwrap_or(0),
            services,
        })
    }
}
