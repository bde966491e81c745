//! OTLP ingest, free of any transport: from an export's bytes (or an already decoded
//! message) to stored rows and the reply OTLP clients expect.
//!
//! Every transport (`api::export` for OTLP/HTTP, the local server's gRPC) calls the same
//! steps: [`read_request`] turns a body into the signal's request under the size limit,
//! [`prepare_traces`] / [`prepare_logs`] / [`metrics::prepare_metrics`] validate and
//! convert it (plain CPU work, run where the home chooses), and [`commit`] stores it in
//! one transaction. Split by concern: [`json`] holds every
//! OTLP/JSON leniency, [`convert`] validates spans and renders rows, [`logs`] and
//! [`metrics`] do the same for log records and metric points, [`reply`] is the success
//! answer and [`error`] the refusals.

pub mod convert;
pub mod error;
pub mod json;
pub mod logs;
pub mod metrics;
pub mod reply;

#[cfg(test)]
mod tests;

use std::io::Read;

use flate2::read::MultiGzDecoder;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

pub use convert::{Rows, to_rows};
pub use error::IngestError;
pub use logs::{prepare_logs, to_log_rows};
pub use reply::ExportReply;

use crate::models::{LiveSpan, ServerMessage, StatusCode};
use crate::store::{Batch, Shards, SpanRecord};

/// The OTLP signals, each with its own export path (`/v1/traces`, `/v1/logs`,
/// `/v1/metrics`) and its own word for what an export carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Traces,
    Logs,
    Metrics,
}

impl Signal {
    /// The `partialSuccess` member that counts what was rejected, in OTLP/JSON.
    pub fn rejected_field(self) -> &'static str {
        match self {
            Self::Traces => "rejectedSpans",
            Self::Logs => "rejectedLogRecords",
            Self::Metrics => "rejectedDataPoints",
        }
    }

    /// The request message's name, for error messages.
    pub fn request_name(self) -> &'static str {
        match self {
            Self::Traces => "ExportTraceServiceRequest",
            Self::Logs => "ExportLogsServiceRequest",
            Self::Metrics => "ExportMetricsServiceRequest",
        }
    }
}

/// An export request as one signal decodes it, from either encoding.
pub trait Export: Sized {
    const SIGNAL: Signal;
    /// The spans, log records or data points it carries, counted without converting them.
    fn items(&self) -> usize;
    fn from_protobuf(body: &[u8]) -> Result<Self, prost::DecodeError>;
    fn from_json(body: &[u8]) -> Result<Self, serde_json::Error>;
}

impl Export for ExportTraceServiceRequest {
    const SIGNAL: Signal = Signal::Traces;
    fn items(&self) -> usize {
        self.resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum()
    }
    fn from_protobuf(body: &[u8]) -> Result<Self, prost::DecodeError> {
        prost::Message::decode(body)
    }
    fn from_json(body: &[u8]) -> Result<Self, serde_json::Error> {
        json::decode(body)
    }
}

impl Export for ExportLogsServiceRequest {
    const SIGNAL: Signal = Signal::Logs;
    fn items(&self) -> usize {
        self.resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum()
    }
    fn from_protobuf(body: &[u8]) -> Result<Self, prost::DecodeError> {
        prost::Message::decode(body)
    }
    fn from_json(body: &[u8]) -> Result<Self, serde_json::Error> {
        json::logs::decode(body)
    }
}

/// The two OTLP/HTTP body encodings; a response always uses the request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// Reads a `Content-Type` value: case-insensitive, parameters such as charset allowed.
    pub fn from_content_type(value: &str) -> Option<Self> {
        let mime = value.split(';').next().unwrap_or("").trim();
        if mime.eq_ignore_ascii_case("application/x-protobuf")
            || mime.eq_ignore_ascii_case("application/protobuf")
        {
            Some(Self::Protobuf)
        } else if mime.eq_ignore_ascii_case("application/json") {
            Some(Self::Json)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }
}

/// `protobuf` or `json`, as flags and scripts spell the encodings.
impl std::str::FromStr for Encoding {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "protobuf" => Ok(Self::Protobuf),
            "json" => Ok(Self::Json),
            _ => Err(format!("{text:?} is not an encoding: use protobuf or json")),
        }
    }
}

/// How an export body is compressed, from its `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    /// Offered by the OpenTelemetry Collector and the Rust SDK.
    Zstd,
}

impl Compression {
    /// Reads a `Content-Encoding` value (absent: none). gzip and identity are the
    /// encodings OTLP defines, zstd the one exporters add; anything else is refused.
    pub fn from_content_encoding(value: Option<&str>) -> Result<Self, IngestError> {
        let Some(value) = value else {
            return Ok(Self::None);
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Ok(Self::Gzip),
            "zstd" => Ok(Self::Zstd),
            "identity" | "" => Ok(Self::None),
            _ => Err(IngestError::UnsupportedEncoding(value.to_owned())),
        }
    }
}

/// Decompresses gzip (several members allowed) without ever holding more than
/// `limit + 1` bytes, so a gzip bomb is refused instead of exhausting memory.
pub fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, IngestError> {
    bounded_read(MultiGzDecoder::new(data), limit, "gzip")
}

/// Decompresses zstd (several frames allowed) within `limit` bytes, like [`gunzip`].
pub fn unzstd(data: &[u8], limit: usize) -> Result<Vec<u8>, IngestError> {
    let mut rest = data;
    let mut out = Vec::new();
    while !rest.is_empty() {
        // Each frame is read from where the last one ended.
        let decoder = ruzstd::decoding::StreamingDecoder::new(&mut rest)
            .map_err(|e| IngestError::InvalidBody(format!("the body is not valid zstd: {e}")))?;
        let frame = bounded_read(decoder, limit - out.len(), "zstd")?;
        out.extend(frame);
    }
    Ok(out)
}

/// Reads `reader` to its end, refusing once it passes `limit` bytes.
fn bounded_read(reader: impl Read, limit: usize, what: &str) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| IngestError::InvalidBody(format!("the body is not valid {what}: {e}")))?;
    if out.len() > limit {
        return Err(IngestError::TooLarge { limit });
    }
    Ok(out)
}

/// Decodes a trace export body (already decompressed) in the given encoding.
pub fn decode(encoding: Encoding, body: &[u8]) -> Result<ExportTraceServiceRequest, IngestError> {
    decode_export(encoding, body)
}

/// Decodes any signal's export body (already decompressed) in the given encoding.
pub fn decode_export<T: Export>(encoding: Encoding, body: &[u8]) -> Result<T, IngestError> {
    let name = T::SIGNAL.request_name();
    match encoding {
        Encoding::Protobuf => T::from_protobuf(body).map_err(|e| {
            IngestError::InvalidBody(format!("the body is not a valid OTLP protobuf {name}: {e}"))
        }),
        Encoding::Json => T::from_json(body).map_err(|e| {
            IngestError::InvalidBody(format!("the body is not a valid OTLP/JSON {name}: {e}"))
        }),
    }
}

/// A whole export body as a transport received it: checked against `limit` bytes before
/// and after decompression, then decoded.
pub fn read_request<T: Export>(
    encoding: Encoding,
    compression: Compression,
    body: &[u8],
    limit: usize,
) -> Result<T, IngestError> {
    if body.len() > limit {
        return Err(IngestError::TooLarge { limit });
    }
    match compression {
        Compression::None => decode_export(encoding, body),
        Compression::Gzip => decode_export(encoding, &gunzip(body, limit)?),
        Compression::Zstd => decode_export(encoding, &unzstd(body, limit)?),
    }
}

/// What became of an export that was not refused as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// How many spans or log records were stored.
    pub stored: usize,
    /// The reply for the exporter: how many spans were rejected, and why.
    pub reply: ExportReply,
    /// What the live feed should announce, when anything was stored. The transport sends
    /// it after answering, so the exporter never waits for WebSocket clients.
    pub announcement: Option<ServerMessage>,
}

/// How far ahead of the server's clock an item may be dated. A sender whose clock is
/// further ahead is broken, and what it sends would sort after everything else: the
/// oldest-first pruning of a store at its budget would reach it last, or never.
pub const MAX_FUTURE_NS: u64 = 24 * 3600 * 1_000_000_000;

/// What each item of an export must fit in, besides being valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// The largest item a store can hold, as stored ([`Shards::max_span_bytes`]).
    pub max_item_bytes: Option<usize>,
    /// The latest time an item may be dated (unix ns): [`MAX_FUTURE_NS`] past the
    /// server's clock, or `u64::MAX` when the home has no clock to compare with.
    pub latest_ns: u64,
}

impl Bounds {
    /// The bounds of `shards` at `now_ns` (the server's clock; `None`: no time bound).
    pub fn new(shards: &Shards, now_ns: Option<u64>) -> Self {
        Self {
            max_item_bytes: shards.max_span_bytes(),
            latest_ns: now_ns.map_or(u64::MAX, |now| now.saturating_add(MAX_FUTURE_NS)),
        }
    }

    /// Why the items of a resource and scope are refused, or `None`: the pair is stored
    /// once, as one row, and must fit where an item must (on D1, a row over its limit
    /// would fail the whole export).
    pub(crate) fn resource_too_large(&self, pair: &crate::store::ResourceRecord) -> Option<String> {
        let size = pair.resource.len() + pair.scope.len();
        let limit = self.max_item_bytes?;
        (size > limit).then(|| {
            format!(
                "its resource and scope are {size} bytes as stored, more than this server's \
                 limit of {limit}"
            )
        })
    }

    /// Why an item dated `time_ns` is refused, or `None` when it is not too far ahead.
    pub(crate) fn too_late(&self, time_ns: u64) -> Option<String> {
        (time_ns > self.latest_ns).then(|| {
            format!(
                "it is dated {time_ns} ns, more than a day after this server's clock \
                 (latest accepted: {}); check the sender's clock",
                self.latest_ns
            )
        })
    }
}

/// Only a size bound, no time bound (tests, fuzzing, benchmarks).
impl From<Option<usize>> for Bounds {
    fn from(max_item_bytes: Option<usize>) -> Self {
        Self {
            max_item_bytes,
            latest_ns: u64::MAX,
        }
    }
}

/// An export validated and converted, ready to store: what [`commit`] needs. Made by
/// [`prepare_traces`], [`logs::prepare_logs`] or [`metrics::prepare_metrics`], plain
/// CPU work a home may run off the threads that answer requests.
#[derive(Debug)]
pub struct Prepared {
    pub batch: Batch,
    /// How many spans, log records or points `batch` holds.
    pub stored: usize,
    pub reply: ExportReply,
    /// The live feed's message, when anything is stored.
    pub announcement: Option<ServerMessage>,
}

/// Stores a prepared export in one transaction per store (when it holds anything to
/// store or count) and says what became of it; a storage failure refuses the whole
/// export and stores nothing.
pub async fn commit(shards: &Shards, prepared: Prepared) -> Result<Stored, IngestError> {
    if prepared.stored > 0 || prepared.batch.sampled_out > 0 {
        shards.insert(prepared.batch).await?;
    }
    Ok(Stored {
        stored: prepared.stored,
        reply: prepared.reply,
        announcement: prepared.announcement.filter(|_| prepared.stored > 0),
    })
}

/// Which traces to keep: a share of them, decided from the trace id alone, so every span
/// of a trace gets the same answer in every export and every service (like OpenTelemetry's
/// trace-id ratio sampler), and every span whose status is error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Kept traces have the last 8 bytes of their id below this.
    threshold: u64,
}

impl Sampling {
    /// Keeps `rate` of the traces (0 < rate ≤ 1); `None` for any other rate.
    pub fn new(rate: f64) -> Option<Self> {
        let threshold = if rate >= 1.0 {
            u64::MAX
        } else {
            (rate * u64::MAX as f64) as u64
        };
        (rate > 0.0 && rate <= 1.0).then_some(Self { threshold })
    }

    /// Whether a span of this trace, with this status, is kept.
    pub fn keeps(&self, trace_id: &str, status_code: i32) -> bool {
        if status_code == StatusCode::Error.as_otlp() || self.threshold == u64::MAX {
            return true;
        }
        let tail = trace_id
            .get(trace_id.len().saturating_sub(16)..)
            .unwrap_or("");
        u64::from_str_radix(tail, 16).is_ok_and(|value| value < self.threshold)
    }

    /// Whether a log record is kept: with its trace's decision, keeping errors (severity
    /// ERROR and above); a record outside any trace always is.
    pub fn keeps_log(&self, trace_id: Option<&str>, severity_number: i32) -> bool {
        const ERROR: i32 = 17;
        trace_id.is_none_or(|id| severity_number >= ERROR || self.keeps(id, 0))
    }

    /// Leaves out the spans this sampling drops, counting them, and the resources and
    /// shapes no kept span uses.
    pub fn apply(&self, batch: &mut Batch) {
        let before = batch.spans.len();
        batch
            .spans
            .retain(|s| self.keeps(&s.trace_id, s.status_code));
        batch.sampled_out += (before - batch.spans.len()) as u64;
        batch.drop_unused_resources_and_shapes();
    }
}

/// Validates, converts and samples every span of `request`, for [`commit`]. Invalid
/// spans are rejected one by one (the reply counts them); spans left out by `sampling`
/// count as accepted.
pub fn prepare_traces(
    request: ExportTraceServiceRequest,
    bounds: impl Into<Bounds>,
    sampling: Option<Sampling>,
) -> Prepared {
    let mut rows = to_rows(request, bounds);
    if let Some(sampling) = sampling {
        sampling.apply(&mut rows.batch);
    }
    let reply = ExportReply {
        rejected: rows.rejected,
        error_message: rows.first_error,
    };
    let spans = rows.batch.spans.len();
    let announcement = (spans > 0).then(|| ServerMessage::SpanAdded {
        new_spans: rows
            .batch
            .spans
            .iter()
            .map(|s| (s.trace_id.clone(), s.span_id.clone()))
            .collect(),
        spans: rows.batch.spans.iter().map(live_span).collect(),
    });
    Prepared {
        batch: rows.batch,
        stored: spans,
        reply,
        announcement,
    }
}

/// What the live feed says about a stored span.
fn live_span(span: &SpanRecord) -> LiveSpan {
    LiveSpan {
        trace_id: span.trace_id.clone(),
        span_id: span.span_id.clone(),
        parent_span_id: span.parent_span_id.clone(),
        name: span.name.clone(),
        service_name: span.service_name.clone(),
        start_time_unix_nano: span.start_ns,
        duration_ns: span.end_ns.saturating_sub(span.start_ns),
        status: StatusCode::from_otlp(span.status_code),
    }
}
