//! Where spans live. Each home implements [`Store`] over its database (SQLite for the
//! CLI, D1 for the Worker) with the SQL in [`sql`], against the schema in `migrations/`.
//! [`row`] says how a span is laid out in the database.

pub mod row;
pub mod sql;

pub use row::{Body, ResourceRecord, SpanRow};

use async_trait::async_trait;
use serde_json::value::RawValue;

use crate::models::{Service, TraceSummary};

/// One span ready to be written: the columns the API filters and sorts on, the key of
/// its resource and scope, and the rest of the span as a compact [`Body`].
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
    /// The resource's `service.name`, when it is a string.
    pub service_name: Option<String>,
    /// The OTLP `StatusCode` number (2 = error).
    pub status_code: i32,
    pub start_ns: u64,
    pub end_ns: u64,
    /// [`ResourceRecord::id`] of the span's resource and scope.
    pub resource_id: i64,
    /// [`Body`] JSON.
    pub body: String,
}

/// What one export writes: its spans and the resources they refer to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Distinct resource and scope pairs; already stored ones are left as they are.
    pub resources: Vec<ResourceRecord>,
    pub spans: Vec<SpanRecord>,
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

/// What one [`Store::prune`] call deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pruned {
    pub traces: u64,
    pub spans: u64,
}

/// Why a store call failed, split by what the client should do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database is busy or locked by someone else: retrying later will work.
    #[error("the database is busy: {0}")]
    Busy(String),
    /// Anything else; retrying will not help.
    #[error("storage failed: {0}")]
    Other(String),
}

/// Span storage shared by both servers. Every method is one logical operation; writes
/// are atomic (all of an export or nothing).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The largest span body this store can hold, if it has a limit. Larger spans are
    /// rejected one by one at ingest, like any other invalid span, instead of failing the
    /// whole export in the database.
    fn max_span_bytes(&self) -> Option<usize> {
        None
    }

    /// Stores the spans of one export in one transaction. A span that is already stored
    /// (same trace and span id) is replaced, so a retried export is stored once.
    async fn insert(&self, batch: Batch) -> Result<(), StoreError>;

    /// Trace summaries matching the query, newest trace start first.
    async fn list_traces(&self, query: TraceListQuery) -> Result<Vec<TraceSummary>, StoreError>;

    /// Every service name seen, with its span count and latest span end, by name.
    async fn services(&self) -> Result<Vec<Service>, StoreError>;

    /// The summary of one trace, `None` when it has no spans.
    async fn trace_summary(&self, trace_id: &str) -> Result<Option<TraceSummary>, StoreError>;

    /// Every span of a trace as the API's JSON, ordered by start time.
    async fn trace_spans(&self, trace_id: &str) -> Result<Vec<Box<RawValue>>, StoreError>;

    /// One span as the API's JSON.
    async fn span(
        &self,
        trace_id: &str,
        span_id: &str,
    ) -> Result<Option<Box<RawValue>>, StoreError>;

    /// Deletes every span of a trace; `false` when there was none.
    async fn delete_trace(&self, trace_id: &str) -> Result<bool, StoreError>;

    /// Deletes one span; `false` when it did not exist.
    async fn delete_span(&self, trace_id: &str, span_id: &str) -> Result<bool, StoreError>;

    /// Deletes the oldest traces (at most `max_traces`, all of their spans) that started
    /// before `cutoff_ns`, in one short transaction; see [`crate::retention`].
    async fn prune(&self, cutoff_ns: u64, max_traces: u32) -> Result<Pruned, StoreError>;
}

/// Nanoseconds as the INTEGER columns hold them. SQLite integers are signed 64-bit, so
/// instants past the year 2262 are clamped in the column; the body keeps the exact
/// value.
pub fn ns_to_column(ns: u64) -> i64 {
    i64::try_from(ns).unwrap_or(i64::MAX)
}
