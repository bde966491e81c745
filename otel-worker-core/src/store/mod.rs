//! Where telemetry lives, on both homes.
//!
//! A home provides a [`Database`]: something that runs SQL (SQLite through rusqlite
//! locally, D1 on Cloudflare). Everything else is here, once: [`Store`] composes every
//! statement ([`sql`]), decodes every row ([`row`]), and keeps the summaries that make
//! search fast ([`summary`], [`bloom`]). So the two homes cannot answer differently.
//!
//! Split by mechanism: [`write`](mod@write) stores exports, [`read`] reads traces and spans back,
//! [`prune`] deletes, [`search`] finds traces, [`summary`] folds new spans into the
//! search blocks, [`legacy`] moves spans stored by an older layout.

pub mod bloom;
pub mod budget;
pub mod legacy;
pub mod logs;
pub mod metrics;
pub mod prune;
pub mod read;
pub mod row;
pub mod search;
pub mod shards;
pub mod shares;
pub mod sql;
pub mod summary;
pub mod sweep;
pub mod write;

pub use row::{Body, ResourceRecord, ShapeRecord, SpanRow, content_id};

pub use logs::LogRecord;
pub use shards::Shards;

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A statement parameter. Integers travel as [`Param::Text`] where they may pass 2^53 (D1
/// hands numbers to JavaScript as doubles), and the SQL casts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Null,
    /// An integer that fits in 53 bits.
    Int(i64),
    Text(String),
    /// Bytes stored as a BLOB (bound as such, not as hex: a segment of the hot tier is
    /// most of a row's 2 MB).
    Blob(Vec<u8>),
}

impl From<&str> for Param {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<String> for Param {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl<T: Into<Param>> From<Option<T>> for Param {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Null, Into::into)
    }
}

/// Nanoseconds as the INTEGER columns hold them. SQLite integers are signed 64-bit, so
/// instants past the year 2262 are clamped in the column; the body keeps the exact
/// value.
pub fn ns_to_column(ns: u64) -> i64 {
    i64::try_from(ns).unwrap_or(i64::MAX)
}

/// Nanoseconds as a statement parameter (text, cast by the SQL).
pub fn ns_param(ns: u64) -> Param {
    Param::Text(ns_to_column(ns).to_string())
}

/// One statement of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    /// SQL with its parameters.
    One {
        sql: Cow<'static, str>,
        params: Vec<Param>,
    },
    /// The same insert for many rows. A home runs `per_row` once per row with the row's
    /// parameters (cheapest with prepared statements), or `as_json` once per chunk of
    /// rows, bound as one JSON array of arrays (one round trip, for D1).
    Rows {
        per_row: &'static str,
        as_json: &'static str,
        rows: Vec<Vec<Param>>,
    },
}

impl Statement {
    pub fn new(sql: impl Into<Cow<'static, str>>, params: Vec<Param>) -> Self {
        Self::One {
            sql: sql.into(),
            params,
        }
    }
}

/// The rows of a query as a database hands them back: the JSON text of an array of
/// objects, column name to value (one text, decoded once into typed rows, is far cheaper
/// than a map per row). Blobs never come back; the SQL reads them as hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rows(pub String);

/// Why a store call failed, split by what the client should do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database is busy or locked by someone else: retrying later will work.
    #[error("the database is busy: {0}")]
    Busy(String),
    /// The storage budget is used up even after pruning: retrying later will work.
    #[error("{0}")]
    Full(String),
    /// Anything else; retrying will not help.
    #[error("storage failed: {0}")]
    Other(String),
}

/// What a home gives the core: a database that runs SQL.
#[async_trait]
pub trait Database: Send + Sync + 'static {
    /// The rows of one query that only reads.
    async fn query(&self, statement: Statement) -> Result<Rows, StoreError>;

    /// Runs `statements` in order in one transaction: all or nothing. Returns how many
    /// rows each changed ([`Statement::Rows`] counts as one, with the sum).
    async fn transaction(&self, statements: Vec<Statement>) -> Result<Vec<u64>, StoreError>;

    /// Stores one export. A home may commit several exports together
    /// ([`write::export_statements`] of them all), answering each once committed.
    async fn ingest(&self, batch: Batch) -> Result<(), StoreError> {
        self.transaction(write::export_statements(std::slice::from_ref(&batch)))
            .await
            .map(drop)
    }

    /// The bytes the database occupies, as its home measures them.
    async fn size(&self) -> Result<u64, StoreError>;

    /// The bytes the stored data takes now, measured afresh and without what
    /// [`Database::reclaim`] gives back: what pruning reduces step by step.
    async fn data_size(&self) -> Result<u64, StoreError> {
        self.size().await
    }

    /// Gives back space the database holds but does not use (a home with a write-ahead
    /// log truncates it); asked for when pruning alone has not brought it under budget.
    async fn reclaim(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The largest span body this database can hold, if it has a limit. Larger spans are
    /// rejected one by one at ingest instead of failing the whole export.
    fn max_span_bytes(&self) -> Option<usize> {
        None
    }
}

/// Decodes rows into `T`, named as the SQL names its columns.
pub fn decode<T: DeserializeOwned>(rows: &Rows) -> Result<Vec<T>, StoreError> {
    serde_json::from_str(&rows.0)
        .map_err(|e| StoreError::Other(format!("stored rows do not read back: {e}")))
}

/// Reads a number the SQL returned as text (or as a number).
pub fn number<T: std::str::FromStr>(value: &Value) -> Option<T> {
    match value {
        Value::String(text) => text.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

/// The first row's `column`, read as a number.
pub(crate) fn first_number<T: std::str::FromStr>(rows: &Rows, column: &str) -> Option<T> {
    let rows: Vec<Map<String, Value>> = decode(rows).ok()?;
    rows.first()
        .and_then(|row| row.get(column))
        .and_then(number)
}

/// Traces, spans and their summaries in one database, with every statement the core
/// knows. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) db: Arc<dyn Database>,
    /// Decoded search block filters, kept between searches.
    cache: Arc<search::BlockCache>,
    /// Resources and attribute key sets the summarizer has read.
    dictionary: Arc<summary::Dictionary>,
    /// The storage budget in bytes; `None`: unlimited.
    budget: Option<u64>,
    /// Span rows the summarizer folds per step ([`summary::STEP_ROWS`] unless set).
    summary_step_rows: u32,
    /// Where old traces go; `None`: they stay in the span rows until pruned.
    archive: Option<Arc<crate::archive::Archive>>,
}

impl Store {
    pub fn new(db: Arc<dyn Database>) -> Self {
        Self {
            db,
            cache: Arc::default(),
            dictionary: Arc::default(),
            budget: None,
            summary_step_rows: summary::STEP_ROWS,
            archive: None,
        }
    }

    /// Moves old traces to `archive` (see [`crate::archive`]) and reads them from there.
    pub fn with_archive(mut self, archive: Arc<crate::archive::Archive>) -> Self {
        self.archive = Some(archive);
        self
    }

    /// The archive, if this store has one.
    pub fn archive(&self) -> Option<&crate::archive::Archive> {
        self.archive.as_deref()
    }

    /// Folds `rows` span rows per summarizer step. Each step reads and rewrites the open
    /// block's filter and value counts, so larger steps cost less per row; a home whose
    /// steps are bounded in time or memory (a Worker invocation) keeps the default.
    pub fn with_summary_step(mut self, rows: u32) -> Self {
        self.summary_step_rows = rows.max(1);
        self
    }

    /// Keeps search filters in `cache`, which may outlive this store (a home that builds
    /// its stores per request shares one cache per database between them).
    pub fn with_block_cache(mut self, cache: Arc<search::BlockCache>) -> Self {
        self.cache = cache;
        self
    }

    pub fn database(&self) -> &dyn Database {
        self.db.as_ref()
    }

    /// The largest span body this store can hold, if it has a limit.
    pub fn max_span_bytes(&self) -> Option<usize> {
        self.db.max_span_bytes()
    }

    pub(crate) async fn rows<T: DeserializeOwned>(
        &self,
        statement: Statement,
    ) -> Result<Vec<T>, StoreError> {
        decode(&self.db.query(statement).await?)
    }

    /// A counter's value.
    pub async fn counter(&self, name: &str) -> Result<u64, StoreError> {
        let rows = self
            .db
            .query(Statement::new(sql::COUNTER, vec![name.into()]))
            .await?;
        Ok(first_number(&rows, "value").unwrap_or(0))
    }
}

/// One span ready to be written: the columns the API filters and sorts on, the keys of
/// its resource and attribute shape, and the rest of the span as a compact [`Body`].
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    /// 32 lower-case hex characters.
    pub trace_id: String,
    /// 16 lower-case hex characters.
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    /// The OTLP `SpanKind` number.
    pub kind: i32,
    /// The resource's `service.name`, when it is a string (stored with the resource).
    pub service_name: Option<String>,
    /// The OTLP `StatusCode` number (2 = error).
    pub status_code: i32,
    pub start_ns: u64,
    pub end_ns: u64,
    /// [`ResourceRecord::id`] of the span's resource and scope.
    pub resource_id: i64,
    /// [`ShapeRecord::id`] of its attribute keys; `None` without attributes.
    pub shape_id: Option<i64>,
    /// [`Body`] JSON.
    pub body: String,
}

/// What one export writes: its spans or log records and the resources and shapes they
/// refer to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Distinct resource and scope pairs; already stored ones are left as they are.
    pub resources: Vec<ResourceRecord>,
    /// Distinct attribute key sets; already stored ones are left as they are.
    pub shapes: Vec<ShapeRecord>,
    pub spans: Vec<SpanRecord>,
    pub logs: Vec<LogRecord>,
    /// Metric series not stored yet are written; stored ones are left as they are.
    pub series: Vec<metrics::SeriesRecord>,
    pub points: Vec<metrics::PointRecord>,
    /// Spans left out by sampling, counted with the export.
    pub sampled_out: u64,
}

/// Which page of the trace list to read, newest first, and which traces qualify.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TraceListQuery {
    pub limit: u32,
    /// Where the previous page ended.
    pub before: Option<Cursor>,
    /// Only traces that started at or after this instant (unix nanoseconds).
    pub start_ns: Option<u64>,
    /// Only traces that started strictly before this instant (unix nanoseconds).
    pub end_ns: Option<u64>,
    /// What one span of the trace must match.
    pub span: SpanFilter,
}

/// A position in the newest-first trace list. Traces sort by start time, then by id, so
/// a cursor with an id resumes exactly after the last trace of a page, even when several
/// traces started in the same nanosecond.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub start_ns: u64,
    /// `None`: every trace that started strictly before `start_ns`.
    pub trace_id: Option<String>,
}

/// Conditions that one span of a trace must meet together (as in Jaeger's search): a
/// trace matches when at least one of its spans matches all of them. Empty matches all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpanFilter {
    /// The span's `service.name`.
    pub service: Option<String>,
    /// The span's name, exactly.
    pub name: Option<String>,
    /// Only spans without a parent.
    pub root_only: bool,
    /// The OTLP status code number (0 unset, 1 ok, 2 error).
    pub status_code: Option<i32>,
    pub min_duration_ns: Option<u64>,
    pub max_duration_ns: Option<u64>,
    /// `key = value` pairs the span or its resource must all carry. The value is the
    /// text a user typed: it matches a string attribute with that text, or an integer,
    /// double or bool attribute whose JSON value reads the same (`500`, `1.5`, `true`).
    pub attributes: Vec<(String, String)>,
    /// Text contained in the span name or any string attribute value of the span or its
    /// resource, ignoring ASCII case.
    pub text: Option<String>,
}

impl SpanFilter {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// What one prune step deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pruned {
    pub traces: u64,
    pub spans: u64,
    pub logs: u64,
    pub points: u64,
}
