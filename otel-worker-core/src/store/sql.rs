//! The SQL both stores run, so SQLite and D1 answer every read the same way.
//!
//! Written for D1's limits as much as SQLite's: nanosecond columns are read back
//! `CAST(... AS TEXT)` because D1 hands integers to JavaScript as doubles.
//!
//! Ids are stored as bytes (migration 0004) and cross this boundary as lowercase hex:
//! every id parameter goes through `unhex(...)` and every id column comes back through
//! `lower(hex(...))`.

use serde::Deserialize;

use super::StoreError;
use crate::models::TraceSummary;

/// Columns of one summary row; the list and the single-trace reads share them.
const SUMMARY_COLUMNS: &str = "\
SELECT lower(hex(t.trace_id)) AS trace_id,
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

/// A statement with its parameters, all bound as text (or NULL) so both stores bind
/// them the same way; the SQL casts where it needs numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Option<String>>,
}

impl Statement {
    fn new() -> Self {
        Self {
            sql: String::new(),
            params: Vec::new(),
        }
    }

    /// Binds `value` and returns its placeholder.
    fn bind(&mut self, value: impl Into<Option<String>>) -> String {
        self.params.push(value.into());
        format!("?{}", self.params.len())
    }
}

/// The trace list: summaries of the newest traces matching `query`, at most
/// `query.limit` of them.
///
/// Traces are walked newest first on `traces_by_start`, bounded by the cursor and the
/// time range; the span filter is one `EXISTS` probe per trace into that trace's spans
/// by primary key, so a page stops as soon as it is full and no query ever scans `spans`.
/// `resources` (one row per distinct resource and scope) is read once for resource
/// attribute filters.
pub fn list_traces(query: &super::TraceListQuery) -> Statement {
    let mut st = Statement::new();
    let limit = st.bind(query.limit.to_string());
    let mut conditions = Vec::new();
    if let Some(cursor) = &query.before {
        let start = st.bind(cursor.start_ns.to_string());
        match &cursor.trace_id {
            Some(id) => {
                let id = st.bind(id.clone());
                conditions.push(format!(
                    "(t.start_ns, t.trace_id) < (CAST({start} AS INTEGER), unhex({id}))"
                ));
            }
            None => conditions.push(format!("t.start_ns < CAST({start} AS INTEGER)")),
        }
    }
    if let Some(start) = query.start_ns {
        let start = st.bind(super::ns_to_column(start).to_string());
        conditions.push(format!("t.start_ns >= CAST({start} AS INTEGER)"));
    }
    if let Some(end) = query.end_ns {
        let end = st.bind(super::ns_to_column(end).to_string());
        conditions.push(format!("t.start_ns < CAST({end} AS INTEGER)"));
    }
    if !query.span.is_empty() {
        let matches = span_conditions(&mut st, &query.span);
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM spans m WHERE m.trace_id = t.trace_id AND {})",
            matches.join(" AND ")
        ));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    st.sql = format!(
        "{SUMMARY_COLUMNS}{filter} ORDER BY t.start_ns DESC, t.trace_id DESC LIMIT CAST({limit} AS INTEGER)"
    );
    st
}

/// The conditions on one span `m` of [`list_traces`].
fn span_conditions(st: &mut Statement, filter: &super::SpanFilter) -> Vec<String> {
    let mut all = Vec::new();
    if let Some(service) = &filter.service {
        all.push(format!("m.service_name = {}", st.bind(service.clone())));
    }
    if let Some(name) = &filter.name {
        all.push(format!("m.name = {}", st.bind(name.clone())));
    }
    if filter.root_only {
        all.push("m.parent_span_id IS NULL".to_owned());
    }
    if let Some(code) = filter.status_code {
        all.push(format!("m.status_code = {code}"));
    }
    if let Some(min) = filter.min_duration_ns {
        let min = st.bind(super::ns_to_column(min).to_string());
        all.push(format!("m.end_ns - m.start_ns >= CAST({min} AS INTEGER)"));
    }
    if let Some(max) = filter.max_duration_ns {
        let max = st.bind(super::ns_to_column(max).to_string());
        all.push(format!("m.end_ns - m.start_ns <= CAST({max} AS INTEGER)"));
    }
    for (key, value) in &filter.attributes {
        let key = st.bind(key.clone());
        let text = st.bind(value.clone());
        // A double attribute matches a value that reads as a number; NULL otherwise.
        let number = st.bind(
            value
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(|_| value.clone()),
        );
        let value = format!(
            "CASE a.type WHEN 'text' THEN a.value = {text} \
             WHEN 'integer' THEN CAST(a.value AS TEXT) = {text} \
             WHEN 'real' THEN a.value = CAST({number} AS REAL) \
             WHEN 'true' THEN {text} = 'true' WHEN 'false' THEN {text} = 'false' ELSE 0 END"
        );
        all.push(attribute_match(&format!("a.key = {key} AND {value}")));
    }
    if let Some(text) = &filter.text {
        let pattern = st.bind(format!("%{}%", escape_like(text)));
        let contains = format!("a.type = 'text' AND a.value LIKE {pattern} ESCAPE '\\'");
        all.push(format!(
            "(m.name LIKE {pattern} ESCAPE '\\' OR {})",
            attribute_match(&contains)
        ));
    }
    all
}

/// "An attribute `a` of span `m` or of its resource meets `condition`".
fn attribute_match(condition: &str) -> String {
    format!(
        "(EXISTS (SELECT 1 FROM json_each(m.body, '$.attributes') a WHERE {condition}) \
         OR m.resource_id IN (SELECT r.resource_id FROM resources r, \
         json_each(r.resource, '$.attributes') a WHERE {condition}))"
    )
}

/// `text` with LIKE's wildcards (and the escape character) taken literally.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Services with their span counts and latest span end, from the `services` table the
/// triggers of migration 0005 keep.
pub const SERVICES: &str = "\
SELECT service_name AS name, span_count, CAST(last_seen_ns AS TEXT) AS last_seen
FROM services WHERE span_count > 0 ORDER BY service_name";

/// One row of [`SERVICES`].
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceRow {
    pub name: String,
    pub span_count: i64,
    pub last_seen: String,
}

impl ServiceRow {
    pub fn into_service(self) -> Result<crate::models::Service, StoreError> {
        Ok(crate::models::Service {
            span_count: u64::try_from(self.span_count).unwrap_or(0),
            last_seen_unix_nano: self.last_seen.parse().map_err(|_| {
                StoreError::Other(format!(
                    "stored timestamp {:?} is not a number",
                    self.last_seen
                ))
            })?,
            name: self.name,
        })
    }
}

/// The traces one prune step removes: `?1` = cutoff in nanoseconds as text, `?2` = the
/// most traces per step. Both prune statements select the same traces, in one
/// transaction.
pub const PRUNED_TRACES: &str = "\
SELECT trace_id FROM traces WHERE start_ns < CAST(?1 AS INTEGER) ORDER BY start_ns LIMIT ?2";

/// Deletes the spans of the traces of [`PRUNED_TRACES`]; run before [`prune_traces`].
pub fn prune_spans() -> String {
    format!("DELETE FROM spans WHERE trace_id IN ({PRUNED_TRACES})")
}

/// Deletes the trace rows of [`PRUNED_TRACES`].
pub fn prune_traces() -> String {
    format!("DELETE FROM traces WHERE trace_id IN ({PRUNED_TRACES})")
}

/// One trace's summary: `?1` = trace id.
pub fn trace_summary() -> String {
    format!("{SUMMARY_COLUMNS} WHERE t.trace_id = unhex(?1)")
}

/// The columns of a [`super::SpanRow`], joined with its resource and scope.
const SPAN_COLUMNS: &str = "\
SELECT lower(hex(s.trace_id)) AS trace_id, lower(hex(s.span_id)) AS span_id,
       nullif(lower(hex(s.parent_span_id)), '') AS parent_span_id,
       s.name AS name, s.kind AS kind, s.status_code AS status_code,
       CAST(s.start_ns AS TEXT) AS start_ns, CAST(s.end_ns AS TEXT) AS end_ns,
       s.body AS body, r.resource AS resource, r.scope AS scope
FROM spans s LEFT JOIN resources r ON r.resource_id = s.resource_id";

/// Every span of a trace in start order: `?1` = trace id.
pub fn trace_spans() -> String {
    format!("{SPAN_COLUMNS} WHERE s.trace_id = unhex(?1) ORDER BY s.start_ns, s.span_id")
}

/// One span: `?1` = trace id, `?2` = span id.
pub fn span() -> String {
    format!("{SPAN_COLUMNS} WHERE s.trace_id = unhex(?1) AND s.span_id = unhex(?2)")
}

/// `INSERT INTO spans` with every column from `$rows` (a `VALUES` or `SELECT` clause, ids
/// as hex). A span stored before is overwritten in place, which keeps the service counts
/// of migration 0005 exact (`OR REPLACE` would delete without firing their trigger). Both
/// span inserts are built from it so they cannot drift apart.
macro_rules! insert_spans {
    ($rows:literal) => {
        concat!(
            "INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, service_name,
    status_code, start_ns, end_ns, resource_id, body)
",
            $rows,
            "
ON CONFLICT (trace_id, span_id) DO UPDATE SET parent_span_id = excluded.parent_span_id,
    name = excluded.name, kind = excluded.kind, service_name = excluded.service_name,
    status_code = excluded.status_code, start_ns = excluded.start_ns, end_ns = excluded.end_ns,
    resource_id = excluded.resource_id, body = excluded.body"
        )
    };
}

/// Writes one span (SQLite, where a prepared statement per row is cheapest).
pub const INSERT_SPAN: &str =
    insert_spans!("VALUES (unhex(?1), unhex(?2), unhex(?3), ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");

/// Writes one resource and scope pair unless it is already stored.
pub const INSERT_RESOURCE: &str =
    "INSERT OR IGNORE INTO resources (resource_id, resource, scope) VALUES (?1, ?2, ?3)";

/// Writes many spans with one statement, for databases where each statement is a round
/// trip or counts against a quota (D1): `?1` = a JSON array of rows from [`span_rows_json`].
/// Nanoseconds and resource keys travel as JSON integers inside the text, so they stay
/// exact. Overwrites like [`INSERT_SPAN`]; `WHERE true` tells SQLite's parser that
/// `ON CONFLICT` belongs to the insert, not to a join.
pub const INSERT_SPANS_JSON: &str = insert_spans!(
    "SELECT unhex(json_extract(value, '$[0]')), unhex(json_extract(value, '$[1]')),
       unhex(json_extract(value, '$[2]')),
       json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),
       json_extract(value, '$[6]'), json_extract(value, '$[7]'), json_extract(value, '$[8]'),
       json_extract(value, '$[9]'), json_extract(value, '$[10]')
FROM json_each(?1) WHERE true"
);

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
WHERE trace_id IN (SELECT unhex(value) FROM json_each(?1)) GROUP BY trace_id
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
DELETE FROM traces WHERE trace_id = unhex(?1)
AND NOT EXISTS (SELECT 1 FROM spans WHERE trace_id = unhex(?1))";

/// Deletes a trace's spans: `?1` = trace id.
pub const DELETE_TRACE_SPANS: &str = "DELETE FROM spans WHERE trace_id = unhex(?1)";

/// Deletes a trace's row: `?1` = trace id.
pub const DELETE_TRACE: &str = "DELETE FROM traces WHERE trace_id = unhex(?1)";

/// Deletes one span: `?1` = trace id, `?2` = span id.
pub const DELETE_SPAN: &str =
    "DELETE FROM spans WHERE trace_id = unhex(?1) AND span_id = unhex(?2)";

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
