//! Log records: validated one by one, rendered as rows, and stored in one transaction
//! per export, like spans.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::LogRecord as OtlpLog;
use rustc_hash::FxHashSet;

use super::convert::{ResourceText, any_value, attributes, too_many_attributes};
use super::{Bounds, ExportReply, Prepared, Sampling};
use crate::models::{LiveLog, ServerMessage};
use crate::store::logs::{LogBody, time_column};
use crate::store::{Batch, LogRecord, ShapeRecord, content_id};

/// What a log export turns into: the rows to store and what was rejected.
#[derive(Debug, Default)]
pub struct LogRows {
    pub batch: Batch,
    /// What the live feed says about each record of `batch.logs`, in the same order
    /// (made from the record's values, so the stored JSON is never parsed back).
    pub live: Vec<LiveLog>,
    pub rejected: u64,
    /// The first rejection, for the response's `error_message`.
    pub first_error: Option<String>,
}

/// Validates and converts every record of an export; records outside `bounds` are
/// rejected.
pub fn to_log_rows(request: ExportLogsServiceRequest, bounds: impl Into<Bounds>) -> LogRows {
    let bounds = bounds.into();
    let mut rows = LogRows::default();
    let (mut shapes_seen, mut resources_seen) = (FxHashSet::default(), FxHashSet::default());
    for resource_logs in request.resource_logs {
        let resource = ResourceText::of(
            &resource_logs.resource.unwrap_or_default(),
            resource_logs.schema_url,
        );
        for scope_logs in resource_logs.scope_logs {
            let pair =
                resource.with_scope(scope_logs.scope.unwrap_or_default(), scope_logs.schema_url);
            let mut used = false;
            let too_large = bounds.resource_too_large(&pair);
            for log in scope_logs.log_records {
                let record = match &too_large {
                    Some(problem) => {
                        Err(format!("log record at {}: {problem}", log.time_unix_nano))
                    }
                    None => log_record(log, &pair, &bounds),
                };
                match record {
                    Ok((record, shape, live)) => {
                        used = true;
                        if let Some(shape) = shape.filter(|s| shapes_seen.insert(s.id)) {
                            rows.batch.shapes.push(shape);
                        }
                        rows.batch.logs.push(record);
                        rows.live.push(live);
                    }
                    Err(problem) => {
                        rows.rejected += 1;
                        rows.first_error.get_or_insert(problem);
                    }
                }
            }
            if used && resources_seen.insert(pair.id) {
                rows.batch.resources.push(pair);
            }
        }
    }
    rows
}

/// An id of `len` bytes as hex, `None` when empty or all zeros (how SDKs say "none").
fn optional_id(what: &str, id: &[u8], len: usize) -> Result<Option<String>, String> {
    if id.is_empty() || id.iter().all(|b| *b == 0) {
        return Ok(None);
    }
    if id.len() != len {
        return Err(format!(
            "{what} must be empty or {len} bytes ({} hex characters), got {} bytes",
            len * 2,
            id.len()
        ));
    }
    Ok(Some(hex::encode(id)))
}

fn log_record(
    log: OtlpLog,
    resource: &crate::store::ResourceRecord,
    bounds: &Bounds,
) -> Result<(LogRecord, Option<ShapeRecord>, LiveLog), String> {
    let describe = |problem: String| format!("log record at {}: {problem}", log.time_unix_nano);
    let trace_id = optional_id("trace id", &log.trace_id, 16).map_err(describe)?;
    let span_id = optional_id("span id", &log.span_id, 8).map_err(describe)?;
    if let Some(problem) = too_many_attributes(&log.attributes, "it")
        .or_else(|| bounds.too_late(log.time_unix_nano.max(log.observed_time_unix_nano)))
    {
        return Err(describe(problem));
    }
    let value = any_value(log.body.as_ref());
    let (message, body_is_json) = match &value {
        // No body: an empty "JSON" message, which reads back as none (the column is NOT
        // NULL, and no text search matches it).
        serde_json::Value::Null => (Some(String::new()), true),
        serde_json::Value::String(text) => (Some(text.clone()), false),
        other => (Some(other.to_string()), true),
    };
    let live_severity_text = log.severity_text.clone();
    let record_attributes = attributes(&log.attributes);
    let shape = (!record_attributes.is_empty()).then(|| ShapeRecord::of(&record_attributes));
    let body = LogBody {
        time_unix_nano: log.time_unix_nano,
        observed_time_unix_nano: log.observed_time_unix_nano,
        severity_text: log.severity_text,
        body_is_json,
        values: record_attributes
            .into_iter()
            .map(|(_, value)| value)
            .collect(),
        flags: log.flags,
        event_name: log.event_name,
        dropped_attributes_count: log.dropped_attributes_count,
    };
    let body = serde_json::to_string(&body)
        .map_err(|e| describe(format!("cannot be written as JSON: {e}")))?;
    let size = body.len() + message.as_ref().map_or(0, String::len);
    if let Some(limit) = bounds.max_item_bytes.filter(|limit| size > *limit) {
        return Err(describe(format!(
            "it is {size} bytes as stored, more than this server's limit of {limit}"
        )));
    }
    let severity = log.severity_number.to_string();
    let keys = shape.as_ref().map_or("", |s| s.keys.as_str());
    let identity = content_id(&[
        &resource.id.to_string(),
        keys,
        &severity,
        trace_id.as_deref().unwrap_or(""),
        span_id.as_deref().unwrap_or(""),
        message.as_deref().unwrap_or(""),
        &body,
    ]);
    let live = LiveLog {
        time_unix_nano: time_column(log.time_unix_nano, log.observed_time_unix_nano),
        severity_number: log.severity_number,
        severity_text: live_severity_text,
        body: value,
        service_name: resource.service_name.clone(),
        trace_id: trace_id.clone(),
        span_id: span_id.clone(),
    };
    let record = LogRecord {
        time_ns: live.time_unix_nano,
        identity,
        severity_number: log.severity_number,
        trace_id,
        span_id,
        resource_id: resource.id,
        shape_id: shape.as_ref().map(|s| s.id),
        service_name: resource.service_name.clone(),
        message,
        body,
    };
    Ok((record, shape, live))
}

/// Validates, converts and samples every record of `request`, for [`super::commit`]; as
/// [`super::prepare_traces`] does for spans.
pub fn prepare_logs(
    request: ExportLogsServiceRequest,
    bounds: impl Into<Bounds>,
    sampling: Option<Sampling>,
) -> Prepared {
    let mut rows = to_log_rows(request, bounds);
    if let Some(sampling) = sampling {
        let batch = &mut rows.batch;
        let kept: Vec<bool> = batch
            .logs
            .iter()
            .map(|l| sampling.keeps_log(l.trace_id.as_deref(), l.severity_number))
            .collect();
        let mut keep = kept.iter();
        batch.logs.retain(|_| keep.next().copied().unwrap_or(false));
        let mut keep = kept.iter();
        rows.live.retain(|_| keep.next().copied().unwrap_or(false));
        batch.drop_unused_resources_and_shapes();
    }
    let reply = ExportReply {
        rejected: rows.rejected,
        error_message: rows.first_error,
    };
    Prepared {
        stored: rows.batch.logs.len(),
        batch: rows.batch,
        reply,
        announcement: Some(ServerMessage::LogAdded { logs: rows.live }),
    }
}
