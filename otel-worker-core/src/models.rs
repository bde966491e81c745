//! The JSON shapes of the HTTP API, shared by the servers (which write them) and the
//! client (which reads them), so both sides can never disagree on a field name.
//!
//! Nanosecond timestamps travel as decimal strings: JavaScript and D1 turn larger integers
//! into doubles and would silently round them.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Attribute maps as the API shows them: key -> natural JSON value.
pub type Attributes = Map<String, Value>;

/// A stored span in the API's JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    /// `None` for a root span.
    pub parent_span_id: Option<String>,
    pub name: String,
    pub kind: SpanKind,
    #[serde(with = "u64_string")]
    pub start_time_unix_nano: u64,
    #[serde(with = "u64_string")]
    pub end_time_unix_nano: u64,
    /// `end - start`, or 0 when the span ends before it starts.
    pub duration_ns: u64,
    pub trace_state: String,
    pub flags: u32,
    pub status: Status,
    pub attributes: Attributes,
    pub resource: Resource,
    pub scope: Scope,
    pub events: Vec<Event>,
    pub links: Vec<Link>,
    pub dropped_attributes_count: u32,
    pub dropped_events_count: u32,
    pub dropped_links_count: u32,
}

/// The OTLP span kinds, named as the API writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpanKind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    /// Maps the OTLP enum number; values from a newer protocol fall back to `Unspecified`.
    pub fn from_otlp(value: i32) -> Self {
        match value {
            1 => Self::Internal,
            2 => Self::Server,
            3 => Self::Client,
            4 => Self::Producer,
            5 => Self::Consumer,
            _ => Self::Unspecified,
        }
    }
}

/// Span status as the API writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub code: StatusCode,
    pub message: String,
}

/// The OTLP status codes, named as the API writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusCode {
    Unset,
    Ok,
    Error,
}

impl StatusCode {
    /// Maps the OTLP enum number; unknown values count as `Unset`.
    pub fn from_otlp(value: i32) -> Self {
        match value {
            1 => Self::Ok,
            2 => Self::Error,
            _ => Self::Unset,
        }
    }

    /// The OTLP number, which is also what the `status_code` column stores.
    pub fn as_otlp(self) -> i32 {
        match self {
            Self::Unset => 0,
            Self::Ok => 1,
            Self::Error => 2,
        }
    }
}

/// The resource (process, host, service) that produced a span.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
    pub schema_url: String,
}

/// The instrumentation scope (library) that produced a span.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    pub name: String,
    pub version: String,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
    pub schema_url: String,
}

/// A timestamped event inside a span (log line, exception).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub name: String,
    #[serde(with = "u64_string")]
    pub time_unix_nano: u64,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
}

/// A link from a span to a span of possibly another trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    pub trace_id: String,
    pub span_id: String,
    pub trace_state: String,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
    pub flags: u32,
}

/// One line of the trace list: enough to spot the slow or failing request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceSummary {
    pub trace_id: String,
    /// `None` while the root span has not arrived (or was never sent).
    pub root_span_name: Option<String>,
    /// The root's `service.name`, else that of the earliest span that has one.
    pub service_name: Option<String>,
    #[serde(with = "u64_string")]
    pub start_time_unix_nano: u64,
    #[serde(with = "u64_string")]
    pub end_time_unix_nano: u64,
    pub duration_ns: u64,
    pub span_count: u64,
    pub error_count: u64,
    /// Distinct service names, sorted.
    pub services: Vec<String>,
}

/// Body of `GET /v1/traces`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceList {
    pub traces: Vec<TraceSummary>,
    /// Pass as `before` to get the next page; `None` on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// The server stopped looking before the page was full (it bounds the work of one
    /// request): older traces may still match; continue with `nextCursor`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// One service in `GET /v1/services`: what fills a service picker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub name: String,
    pub span_count: u64,
    /// The latest end time of its spans.
    #[serde(with = "u64_string")]
    pub last_seen_unix_nano: u64,
}

/// Body of `GET /v1/services`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceList {
    pub services: Vec<Service>,
}

/// Body of `GET /v1/traces/{traceId}` as the client reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceDetail {
    #[serde(flatten)]
    pub summary: TraceSummary,
    /// The spans in start order: all of them, or the first page of a large trace.
    pub spans: Vec<Span>,
    /// Where the rest of the spans start (`spansCursor`); `None` when all are here.
    #[serde(default)]
    pub next_spans_cursor: Option<String>,
}

/// Body of `GET /v1/traces/{traceId}` as the server writes it: the spans are passed
/// through from storage as stored JSON, never parsed again.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredTraceDetail {
    #[serde(flatten)]
    pub summary: TraceSummary,
    pub spans: Vec<Box<RawValue>>,
    pub next_spans_cursor: Option<String>,
}

/// Body of `POST /v1/traces/{traceId}/share`: a link that shows one trace, read-only,
/// without the token, until it expires or is revoked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Share {
    /// The link's signed grant: `GET /v1/shared/{token}` reads the trace with it.
    pub token: String,
    /// The page that shows the trace, relative to the server (`/#share=<token>`).
    pub path: String,
    /// The same page as a full URL, as this request reached the server.
    pub url: String,
    pub trace_id: String,
    /// What `DELETE /v1/shares/{token}` revokes.
    pub share_id: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// Body of `GET /v1/stats`: what a server holds, in all and per store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    #[serde(flatten)]
    pub total: StoreStats,
    /// One entry per database (the Worker's D1 shards; one locally).
    pub shards: Vec<StoreStats>,
}

/// What one store (or all together) holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreStats {
    pub spans: u64,
    pub traces: u64,
    /// Log records.
    #[serde(default)]
    pub logs: u64,
    /// Metric data points.
    #[serde(default)]
    pub metric_points: u64,
    /// Metric series (one per metric, resource and attribute set).
    #[serde(default)]
    pub metric_series: u64,
    /// Bytes on disk (locally: the database file and its WAL) or in D1.
    pub bytes: u64,
    /// The storage budget; `None` when unlimited.
    pub budget_bytes: Option<u64>,
    #[serde(with = "option_u64_string", default)]
    pub oldest_unix_nano: Option<u64>,
    #[serde(with = "option_u64_string", default)]
    pub newest_unix_nano: Option<u64>,
    /// Traces deleted by retention or the budget, ever.
    pub pruned_traces: u64,
    /// Spans left out by sampling, ever.
    pub sampled_out_spans: u64,
    /// Spans not yet in the search summaries (counted by row, so a span sent again
    /// counts twice until then): searches find them, probing each of their traces.
    #[serde(default)]
    pub unindexed_spans: u64,
    /// What the archive tier holds; the fields above are the hot tier's. `None` when
    /// there is no archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<ArchiveStats>,
}

/// What the archive tier holds (docs/architecture.md, "The archive tier").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveStats {
    /// Spans in blocks. A span sent again after its first copy was archived is counted
    /// twice until a merge drops the older copy.
    pub spans: u64,
    /// Log records in blocks.
    #[serde(default)]
    pub records: u64,
    /// Bytes of the blocks' objects.
    pub bytes: u64,
    pub blocks: u64,
    /// The earliest span start or record time in a block.
    #[serde(with = "option_u64_string", default)]
    pub oldest_unix_nano: Option<u64>,
    /// Block writes that failed and were retried (their data stayed hot meanwhile).
    pub failed_writes: u64,
    /// Whether `bytes` counts against `budgetBytes` (locally the archive shares the
    /// database's disk; on the Worker the budget is D1's).
    #[serde(default)]
    pub within_budget: bool,
}

/// A stored log record in the API's JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Log {
    /// When the event happened; 0 when the record did not say.
    #[serde(with = "u64_string")]
    pub time_unix_nano: u64,
    /// When the SDK saw it; 0 when the record did not say.
    #[serde(with = "u64_string")]
    pub observed_time_unix_nano: u64,
    /// OTLP's 1 (TRACE) to 24 (FATAL4); 0 when unspecified.
    pub severity_number: i32,
    pub severity_text: String,
    /// Any OTLP value as plain JSON (string, number, bool, base64 bytes, array, map).
    pub body: Value,
    pub attributes: Attributes,
    pub resource: Resource,
    pub scope: Scope,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub flags: u32,
    pub event_name: String,
    pub dropped_attributes_count: u32,
    /// The resource's `service.name`, when it is a string.
    pub service_name: Option<String>,
}

/// Body of `GET /v1/logs` and `GET /v1/traces/{traceId}/logs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogList {
    pub logs: Vec<Log>,
    /// Pass as `before` to get the next page; `None` on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// The server stopped looking before the page was full (it bounds the work of one
    /// request): older records may still match; continue with `nextCursor`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// A stored log record as the live feed announces it: one line of a tail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveLog {
    #[serde(with = "u64_string")]
    pub time_unix_nano: u64,
    pub severity_number: i32,
    pub severity_text: String,
    pub body: Value,
    pub service_name: Option<String>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
}

/// One metric of `GET /v1/metrics`: a name, with what its series share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricSummary {
    pub name: String,
    /// `gauge`, `sum`, `histogram`, `exponentialHistogram` or `summary`.
    #[serde(rename = "type")]
    pub kind: String,
    pub unit: String,
    pub description: String,
    /// `delta` or `cumulative` for sums and histograms; `None` otherwise.
    pub temporality: Option<String>,
    /// For sums: whether it only goes up; `None` otherwise.
    pub monotonic: Option<bool>,
    /// The services that sent it, sorted.
    pub services: Vec<String>,
    /// How many series (attribute sets per resource) it has.
    pub series: u64,
    #[serde(with = "option_u64_string", default)]
    pub last_seen_unix_nano: Option<u64>,
}

/// Body of `GET /v1/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricList {
    pub metrics: Vec<MetricSummary>,
    /// More metrics exist than `limit` let through (the first by name are listed).
    #[serde(default)]
    pub truncated: bool,
}

/// One series of `GET /v1/metrics/{name}`: its attributes, where it comes from, its
/// points (each as its kind has it; see `docs/api.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricSeries {
    pub attributes: Attributes,
    /// The resource's attributes.
    pub resource: Attributes,
    pub service_name: Option<String>,
    pub points: Vec<Value>,
}

/// Body of `GET /v1/metrics/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricDetail {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub unit: String,
    pub description: String,
    pub temporality: Option<String>,
    pub monotonic: Option<bool>,
    /// The step points were folded into (`10s`), when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub series: Vec<MetricSeries>,
    /// Some series had more points in the range than the limit: the oldest were left out.
    #[serde(default)]
    pub partial: bool,
}

/// A metric that got points, as the live feed announces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveMetric {
    pub name: String,
    pub service_name: Option<String>,
    pub points: u64,
}

/// Body of `GET /v1/attributes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeList {
    pub attributes: Vec<AttributeKey>,
    /// More keys exist than `limit` let through (the most frequent are listed).
    #[serde(default)]
    pub truncated: bool,
}

/// An attribute key seen on spans (`span`) or on their resources (`resource`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeKey {
    pub key: String,
    pub scope: String,
    /// Value types seen: `string`, `int`, `double`, `bool`, `array`, `map`, `empty`.
    pub types: Vec<String>,
    /// How many spans carry it (directly or through their resource).
    pub count: u64,
}

/// Body of `GET /v1/attributes/{key}/values`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeValues {
    pub values: Vec<AttributeValue>,
}

/// One value of a key, as a search filter takes it, and how many spans carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeValue {
    pub value: String,
    pub count: u64,
}

/// Body of every API error: a stable code for programs and a sentence for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

/// Messages the server pushes over the `/api/ws` WebSocket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "details", rename_all = "camelCase")]
pub enum ServerMessage {
    /// Spans were stored: `newSpans` has `[traceId, spanId]` of each, `spans` what a
    /// live view prints about each without asking for it.
    #[serde(rename_all = "camelCase")]
    SpanAdded {
        new_spans: Vec<(String, String)>,
        #[serde(default)]
        spans: Vec<LiveSpan>,
    },
    /// Log records were stored.
    LogAdded { logs: Vec<LiveLog> },
    /// Metric points were stored: how many, per metric and service.
    MetricAdded { metrics: Vec<LiveMetric> },
}

/// A stored span as the live feed announces it: one line of a tail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveSpan {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub service_name: Option<String>,
    #[serde(with = "u64_string")]
    pub start_time_unix_nano: u64,
    pub duration_ns: u64,
    pub status: StatusCode,
}

/// [`u64_string`] for optional values (`null` when absent).
pub mod option_u64_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serializer.collect_str(v),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "super::u64_string")] u64);
        Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|Wrapped(v)| v))
    }
}

/// Serializes a `u64` as a decimal string and reads it from a string or a number.
pub mod u64_string {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(u64),
            Text(String),
        }
        match Either::deserialize(deserializer)? {
            Either::Number(n) => Ok(n),
            Either::Text(s) => s
                .parse()
                .map_err(|_| D::Error::custom(format!("{s:?} is not an unsigned integer"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_added_has_the_documented_shape() {
        let msg = ServerMessage::SpanAdded {
            new_spans: vec![("a".repeat(32), "b".repeat(16))],
            spans: vec![LiveSpan {
                trace_id: "a".repeat(32),
                span_id: "b".repeat(16),
                parent_span_id: None,
                name: "GET /".into(),
                service_name: Some("web".into()),
                start_time_unix_nano: 1_700_000_000_000_000_001,
                duration_ns: 5,
                status: StatusCode::Error,
            }],
        };
        let json = serde_json::to_value(&msg).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "spanAdded", "details": {
                "newSpans": [["a".repeat(32), "b".repeat(16)]],
                "spans": [{"traceId": "a".repeat(32), "spanId": "b".repeat(16),
                    "parentSpanId": null, "name": "GET /", "serviceName": "web",
                    "startTimeUnixNano": "1700000000000000001", "durationNs": 5,
                    "status": "error"}]}})
        );
        assert_eq!(serde_json::from_value::<ServerMessage>(json).unwrap(), msg);
    }

    #[test]
    fn trace_detail_round_trips_nanoseconds_beyond_f64() {
        let summary = TraceSummary {
            trace_id: "0".repeat(32),
            root_span_name: None,
            service_name: Some("svc".into()),
            start_time_unix_nano: 1_700_000_000_123_456_789,
            end_time_unix_nano: u64::MAX,
            duration_ns: 5,
            span_count: 1,
            error_count: 0,
            services: vec!["svc".into()],
        };
        let text = serde_json::to_string(&TraceDetail {
            summary: summary.clone(),
            spans: vec![],
            next_spans_cursor: None,
        })
        .unwrap();
        assert!(text.contains("\"startTimeUnixNano\":\"1700000000123456789\""));
        assert!(text.contains("\"endTimeUnixNano\":\"18446744073709551615\""));
        let back: TraceDetail = serde_json::from_str(&text).unwrap();
        assert_eq!(back.summary, summary);
    }
}
