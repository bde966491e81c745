//! Log records: appended in the transaction of the export that carries them, listed
//! newest first, read per trace, and deleted oldest first with the traces of their time.
//!
//! A list with filters reads the newest records in windows of [`LOG_WINDOW`] rows (the
//! `(time_ns, identity)` index, newest first) and filters each window, so one statement
//! never scans more than a window; a home that bounds a request's work stops after a few
//! windows and answers with a cursor that continues.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Param, Statement, Store, StoreError, ns_param, sql};
use crate::archive::log_read::ArchivedLogs;
use crate::models::{self, Attributes};

/// Rows one filtered list statement looks at, newest first.
pub const LOG_WINDOW: u32 = 10_000;

/// One log record ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// The record's time, or its observed time when it has none.
    pub time_ns: u64,
    /// A 53-bit hash of everything the record holds: a retried export's copy has the
    /// same, and is stored once.
    pub identity: i64,
    pub severity_number: i32,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    /// [`super::ResourceRecord::id`] of its resource and scope.
    pub resource_id: i64,
    /// [`super::ShapeRecord::id`] of its attribute keys; `None` without attributes.
    pub shape_id: Option<i64>,
    /// The resource's `service.name` (stored with the resource).
    pub service_name: Option<String>,
    /// The body as text: a string as it is, any other value as JSON; `None` without one.
    pub message: Option<String>,
    /// [`LogBody`] JSON.
    pub body: String,
}

/// What `logs.body` holds: the record minus its columns, resource and scope.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LogBody {
    pub time_unix_nano: u64,
    pub observed_time_unix_nano: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub severity_text: String,
    /// `message` is the JSON of a value that is not a string.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub body_is_json: bool,
    /// The attribute values, in the order of the record's shape.
    #[serde(rename = "v", skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Value>,
    #[serde(skip_serializing_if = "is_zero")]
    pub flags: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub event_name: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub dropped_attributes_count: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A position in the newest-first log list: records sort by time, then identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogCursor {
    pub time_ns: u64,
    pub identity: i64,
}

/// Which log records to list, and which page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogQuery {
    pub limit: u32,
    /// Where the previous page ended (newest first), or where the next starts (a trace's
    /// records, oldest first).
    pub cursor: Option<LogCursor>,
    pub start_ns: Option<u64>,
    pub end_ns: Option<u64>,
    pub service: Option<String>,
    /// This severity number and above.
    pub min_severity: Option<i32>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    /// `key = value` pairs the record or its resource must all carry, as for spans.
    pub attributes: Vec<(String, String)>,
    /// Text contained in the body or an attribute, ignoring ASCII case.
    pub text: Option<String>,
}

impl LogQuery {
    /// Whether rows must be read and filtered, rather than taken from an index in order.
    fn filters_rows(&self) -> bool {
        self.service.is_some()
            || self.min_severity.is_some()
            || self.span_id.is_some()
            || !self.attributes.is_empty()
            || self.text.is_some()
    }
}

/// One store's page of log records.
#[derive(Debug, Default)]
pub struct LogPage {
    /// Newest first (a trace's records: oldest first), each with its position.
    pub logs: Vec<(LogCursor, models::Log)>,
    /// The position after the last record looked at: the last returned one when the
    /// page is full, or the end of the last window when the page stopped early.
    /// `None`: nothing is left.
    pub next: Option<LogCursor>,
}

/// A row of the log queries, named as they name their columns.
#[derive(Debug, Deserialize)]
struct LogRow {
    time_ns: String,
    identity: String,
    severity_number: i32,
    trace_id: Option<String>,
    span_id: Option<String>,
    message: Option<String>,
    body: String,
    resource: Option<String>,
    scope: Option<String>,
    service_name: Option<String>,
    /// The JSON array of attribute keys; `None` without attributes.
    shape: Option<String>,
}

impl LogRow {
    fn cursor(&self) -> LogCursor {
        LogCursor {
            time_ns: self.time_ns.parse().unwrap_or(0),
            identity: self.identity.parse().unwrap_or(0),
        }
    }

    fn into_log(self) -> Result<models::Log, StoreError> {
        let corrupt = |what: &str, e: serde_json::Error| {
            StoreError::Other(format!("a stored log record has a broken {what}: {e}"))
        };
        let body: LogBody = serde_json::from_str(&self.body).map_err(|e| corrupt("body", e))?;
        let keys: Vec<String> = match &self.shape {
            Some(keys) => serde_json::from_str(keys).map_err(|e| corrupt("shape", e))?,
            None => Vec::new(),
        };
        if keys.len() != body.values.len() {
            return Err(StoreError::Other(format!(
                "a stored log record has {} attribute values for {} keys",
                body.values.len(),
                keys.len()
            )));
        }
        let attributes: Attributes = keys.into_iter().zip(body.values).collect();
        let value = match (self.message, body.body_is_json) {
            (None, _) => Value::Null,
            (Some(text), true) if text.is_empty() => Value::Null,
            (Some(text), true) => serde_json::from_str(&text).map_err(|e| corrupt("value", e))?,
            (Some(text), false) => Value::String(text),
        };
        // A record whose resource row went missing is still shown, with an empty one.
        fn parsed<T: serde::de::DeserializeOwned + Default>(
            text: Option<&str>,
        ) -> serde_json::Result<T> {
            text.map_or(Ok(T::default()), serde_json::from_str)
        }
        let resource = parsed(self.resource.as_deref()).map_err(|e| corrupt("resource", e))?;
        let scope = parsed(self.scope.as_deref()).map_err(|e| corrupt("scope", e))?;
        Ok(models::Log {
            time_unix_nano: body.time_unix_nano,
            observed_time_unix_nano: body.observed_time_unix_nano,
            severity_number: self.severity_number,
            severity_text: body.severity_text,
            body: value,
            attributes,
            resource,
            scope,
            trace_id: self.trace_id,
            span_id: self.span_id,
            flags: body.flags,
            event_name: body.event_name,
            dropped_attributes_count: body.dropped_attributes_count,
            service_name: self.service_name,
        })
    }
}

/// An archived record as the API shows it, its resource and key set from its block's
/// dictionaries.
pub(crate) fn archived_log(
    record: LogRecord,
    dictionaries: &crate::archive::block::Dictionaries,
) -> Result<models::Log, StoreError> {
    let resource = dictionaries
        .resources
        .iter()
        .find(|r| r.id == record.resource_id);
    let shape = record
        .shape_id
        .and_then(|id| dictionaries.shapes.iter().find(|s| s.id == id));
    LogRow {
        time_ns: record.time_ns.to_string(),
        identity: record.identity.to_string(),
        severity_number: record.severity_number,
        trace_id: record.trace_id,
        span_id: record.span_id,
        message: record.message,
        body: record.body,
        resource: resource.map(|r| r.resource.clone()),
        scope: resource.map(|r| r.scope.clone()),
        service_name: resource
            .and_then(|r| r.service_name.clone())
            .or(record.service_name),
        shape: shape.map(|s| s.keys.clone()),
    }
    .into_log()
}

/// The parameters of [`sql::INSERT_LOG`] for one record.
pub(super) fn log_params(log: &LogRecord) -> Vec<Param> {
    vec![
        ns_param(log.time_ns),
        Param::Text(log.identity.to_string()),
        Param::Int(i64::from(log.severity_number)),
        log.trace_id.as_deref().into(),
        log.span_id.as_deref().into(),
        Param::Text(log.resource_id.to_string()),
        log.shape_id.map(|id| id.to_string()).into(),
        log.message.as_deref().into(),
        log.body.as_str().into(),
    ]
}

/// `(time_ns, identity) <op> cursor`, bound in `b`.
fn compared(b: &mut sql::Builder, op: &str, cursor: LogCursor) -> String {
    let time = b.bind(ns_param(cursor.time_ns));
    let identity = b.bind(Param::Text(cursor.identity.to_string()));
    format!("(time_ns, identity) {op} (CAST({time} AS INTEGER), CAST({identity} AS INTEGER))")
}

/// The conditions of `query` on a record's place in the `logs_by_time` and
/// `logs_by_trace` order (time range, trace, cursor), bound in `b`.
fn position(b: &mut sql::Builder, query: &LogQuery) -> Vec<String> {
    let mut position = Vec::new();
    if let Some(start) = query.start_ns {
        position.push(format!(
            "time_ns >= CAST({} AS INTEGER)",
            b.bind(ns_param(start))
        ));
    }
    if let Some(end) = query.end_ns {
        position.push(format!(
            "time_ns < CAST({} AS INTEGER)",
            b.bind(ns_param(end))
        ));
    }
    if let Some(trace_id) = &query.trace_id {
        position.push(format!(
            "trace_id = unhex({})",
            b.bind(trace_id.as_str().into())
        ));
    }
    if let Some(cursor) = query.cursor {
        position.push(compared(b, "<", cursor));
    }
    position
}

/// The conditions of `query` that need the row, on `l` (logs), `r` (resources) and `sh`
/// (its attribute keys), bound in `b`.
fn filters(b: &mut sql::Builder, query: &LogQuery) -> Vec<String> {
    let mut filters = Vec::new();
    if let Some(service) = &query.service {
        filters.push(format!(
            "r.service_name = {}",
            b.bind(service.as_str().into())
        ));
    }
    if let Some(severity) = query.min_severity {
        filters.push(format!(
            "l.severity_number >= {}",
            b.bind(Param::Int(i64::from(severity)))
        ));
    }
    if let Some(span_id) = &query.span_id {
        filters.push(format!(
            "l.span_id = unhex({})",
            b.bind(span_id.as_str().into())
        ));
    }
    for (key, value) in &query.attributes {
        let key = b.bind(key.as_str().into());
        let value = b.bind(value.as_str().into());
        let same = format!(
            "((a.type = 'text' AND a.value = {value})
               OR (a.type IN ('integer', 'real') AND CAST(a.value AS TEXT) = {value})
               OR (a.type IN ('true', 'false') AND a.type = {value}))"
        );
        // A record's keys are its shape's, zipped with the body's values by position.
        filters.push(format!(
            "(EXISTS (SELECT 1 FROM json_each(sh.keys) k JOIN json_each(l.body, '$.v') a
                ON a.key = k.key WHERE k.value = {key} AND {same})
              OR EXISTS (SELECT 1 FROM json_each(r.resource, '$.attributes') a
                WHERE a.key = {key} AND {same}))"
        ));
    }
    if let Some(text) = &query.text {
        let text = b.bind(text.to_ascii_lowercase().into());
        filters.push(format!(
            "(instr(lower(coalesce(l.message, '')), {text}) > 0 OR instr(lower(l.body), {text}) > 0)"
        ));
    }
    filters
}

/// The position [`LOG_WINDOW`] rows below the query's cursor, in its time range.
pub fn window_edge_statement(query: &LogQuery) -> Statement {
    let mut b = sql::Builder::default();
    let position = position(&mut b, query);
    let offset = b.bind(Param::Int(i64::from(LOG_WINDOW) - 1));
    b.finish(format!(
        // Named apart from the columns: `ORDER BY time_ns` would sort by a text alias.
        "SELECT CAST(time_ns AS TEXT) AS edge_time, CAST(identity AS TEXT) AS edge_identity
FROM logs{} ORDER BY time_ns DESC, identity DESC LIMIT 1 OFFSET {offset}",
        and(&position)
    ))
}

/// The newest records matching `query`, down to `edge` (inclusive) when given, at most
/// `limit`.
pub fn list_statement(query: &LogQuery, edge: Option<LogCursor>, limit: u32) -> Statement {
    let mut b = sql::Builder::default();
    let mut position = position(&mut b, query);
    if let Some(edge) = edge {
        position.push(compared(&mut b, ">=", edge));
    }
    let filters = filters(&mut b, query);
    let limit = b.bind(Param::Int(i64::from(limit)));
    b.finish(format!(
        "{} FROM (SELECT * FROM logs{} ORDER BY time_ns DESC, identity DESC) l
LEFT JOIN resources r ON r.resource_id = l.resource_id
LEFT JOIN attribute_shapes sh ON sh.shape_id = l.shape_id{}
ORDER BY l.time_ns DESC, l.identity DESC LIMIT {limit}",
        sql::LOG_COLUMNS,
        and(&position),
        and(&filters),
    ))
}

fn and(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    }
}

impl Store {
    /// Stored log records newest first, at most `query.limit`, looking at no more than
    /// `max_windows` windows of [`LOG_WINDOW`] rows (`None`: as many as it takes), and as
    /// many blocks of the archive.
    pub async fn logs(
        &self,
        query: &LogQuery,
        max_windows: Option<u32>,
    ) -> Result<LogPage, StoreError> {
        // The rows first: a block committed meanwhile holds what left them.
        let hot = self.hot_logs(query, max_windows).await?;
        if self.archive().is_none() {
            return Ok(hot);
        }
        let limit = query.limit.max(1) as usize;
        let archived = self.archived_logs(query, limit, max_windows).await?;
        Ok(merge(hot, archived, limit))
    }

    /// [`Store::logs`] of the rows alone.
    async fn hot_logs(
        &self,
        query: &LogQuery,
        max_windows: Option<u32>,
    ) -> Result<LogPage, StoreError> {
        let limit = query.limit.max(1);
        let mut query = query.clone();
        let mut page = LogPage::default();
        // Without row filters the index gives the page directly (one more: is there a next?).
        if !query.filters_rows() {
            return page_of(self.log_rows(&query, None, limit + 1).await?, limit);
        }
        let mut windows = 0;
        loop {
            let wanted = limit - page.logs.len() as u32;
            let edge = self.window_edge(&query).await?;
            let rows = self.log_rows(&query, edge, wanted).await?;
            windows += 1;
            let full = rows.len() as u32 == wanted;
            for row in rows {
                let cursor = row.cursor();
                page.next = Some(cursor);
                page.logs.push((cursor, row.into_log()?));
            }
            if full {
                return Ok(page);
            }
            let Some(edge) = edge else {
                page.next = None;
                return Ok(page);
            };
            page.next = Some(edge);
            query.cursor = Some(edge);
            if max_windows.is_some_and(|max| windows >= max) {
                return Ok(page);
            }
        }
    }

    /// The oldest position of the next window, when there are more rows than a window.
    async fn window_edge(&self, query: &LogQuery) -> Result<Option<LogCursor>, StoreError> {
        #[derive(Deserialize)]
        struct Edge {
            edge_time: String,
            edge_identity: String,
        }
        let edges: Vec<Edge> = self.rows(window_edge_statement(query)).await?;
        Ok(edges.into_iter().next().map(|e| LogCursor {
            time_ns: e.edge_time.parse().unwrap_or(0),
            identity: e.edge_identity.parse().unwrap_or(0),
        }))
    }

    /// The newest rows matching `query` down to `edge` (inclusive), at most `limit`.
    async fn log_rows(
        &self,
        query: &LogQuery,
        edge: Option<LogCursor>,
        limit: u32,
    ) -> Result<Vec<LogRow>, StoreError> {
        self.rows(list_statement(query, edge, limit)).await
    }

    /// A trace's log records in time order: at most `limit`, after `after`.
    pub async fn trace_logs(
        &self,
        trace_id: &str,
        after: Option<LogCursor>,
        limit: u32,
    ) -> Result<LogPage, StoreError> {
        let limit = limit.max(1);
        let mut page = self.hot_trace_logs(trace_id, after, limit).await?;
        if self.archive().is_none() {
            return Ok(page);
        }
        // A page of rows is complete up to its last record; the archive's records before
        // that (or all of them, when the rows ran out) join it.
        // One more than a page: whether a next one exists.
        let archived = self
            .archived_trace_logs(trace_id, after, limit as usize + 1)
            .await?;
        let bound = page.next;
        page.logs.extend(
            archived
                .into_iter()
                .filter(|(cursor, _)| bound.is_none_or(|bound| *cursor <= bound)),
        );
        page.logs.sort_by_key(|l| l.0);
        page.logs.dedup_by(|a, b| a.0 == b.0);
        if page.logs.len() > limit as usize {
            page.logs.truncate(limit as usize);
            page.next = page.logs.last().map(|(cursor, _)| *cursor);
        }
        Ok(page)
    }

    /// [`Store::trace_logs`] of the rows alone.
    async fn hot_trace_logs(
        &self,
        trace_id: &str,
        after: Option<LogCursor>,
        limit: u32,
    ) -> Result<LogPage, StoreError> {
        let rows: Vec<LogRow> = self
            .rows(Statement::new(
                sql::TRACE_LOGS,
                vec![
                    trace_id.into(),
                    after.map(|c| ns_param(c.time_ns)).unwrap_or(Param::Null),
                    after
                        .map(|c| Param::Text(c.identity.to_string()))
                        .unwrap_or(Param::Null),
                    Param::Int(i64::from(limit) + 1),
                ],
            ))
            .await?;
        page_of(rows, limit)
    }
}

/// One page of both tiers, newest first. Each side is complete down to where it stopped
/// (the last record of a full page, or where a bounded walk ended); the page keeps what
/// lies above the higher of the two, so nothing below it is skipped.
fn merge(hot: LogPage, archived: ArchivedLogs, limit: usize) -> LogPage {
    let archive_bound = if archived.logs.len() >= limit {
        archived.logs.last().map(|(cursor, _)| *cursor)
    } else {
        archived.stopped_at
    };
    let bound = hot.next.max(archive_bound);
    let mut logs = hot.logs;
    logs.extend(archived.logs);
    logs.sort_by_key(|l| std::cmp::Reverse(l.0));
    logs.dedup_by(|a, b| a.0 == b.0);
    if let Some(bound) = bound {
        logs.retain(|(cursor, _)| *cursor >= bound);
    }
    if logs.len() > limit {
        logs.truncate(limit);
        let next = logs.last().map(|(cursor, _)| *cursor);
        return LogPage { logs, next };
    }
    LogPage { logs, next: bound }
}

/// A page of at most `limit` of `rows` (read with one more, which says whether a next
/// page exists).
fn page_of(rows: Vec<LogRow>, limit: u32) -> Result<LogPage, StoreError> {
    let more = rows.len() > limit as usize;
    let mut page = LogPage::default();
    for row in rows.into_iter().take(limit as usize) {
        let cursor = row.cursor();
        page.next = Some(cursor);
        page.logs.push((cursor, row.into_log()?));
    }
    if !more {
        page.next = None;
    }
    Ok(page)
}

/// The time column of a record: its time, or its observed time when it has none.
pub fn time_column(time_ns: u64, observed_ns: u64) -> u64 {
    if time_ns == 0 { observed_ns } else { time_ns }
}
