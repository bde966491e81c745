//! The `POST /v1/traces` handler: reads the body within the size limit, decompresses,
//! decodes, stores in one transaction, then announces the new spans.

use std::io::Read;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use flate2::read::MultiGzDecoder;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::{Encoding, IngestError, decode, reply, to_rows};
use crate::api::AppState;
use crate::models::{LiveSpan, ServerMessage, StatusCode};
use crate::store::SpanRecord;

/// Handles one OTLP/HTTP export.
pub async fn export_traces(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let Some(encoding) = Encoding::from_content_type(&content_type) else {
        return IngestError::UnsupportedContentType(content_type).into_response_as(Encoding::Json);
    };
    match ingest(&state, &headers, body, encoding).await {
        Ok(response) => response,
        Err(error) => error.into_response_as(encoding),
    }
}

async fn ingest(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    encoding: Encoding,
) -> Result<Response, IngestError> {
    let gzip = is_gzip(headers)?;
    let limit = state.max_body_bytes;
    let raw = read_limited(body, limit).await?;
    let decompressed;
    let bytes: &[u8] = if gzip {
        decompressed = gunzip(&raw, limit)?;
        &decompressed
    } else {
        &raw
    };
    let rows = to_rows(decode(encoding, bytes)?, state.store.max_span_bytes());
    if !rows.batch.spans.is_empty() {
        let new_spans = rows
            .batch
            .spans
            .iter()
            .map(|s| (s.trace_id.clone(), s.span_id.clone()))
            .collect();
        let spans = rows.batch.spans.iter().map(live_span).collect();
        state.store.insert(rows.batch).await?;
        state
            .events
            .broadcast(ServerMessage::SpanAdded { new_spans, spans })
            .await;
    }
    Ok(reply::accepted(encoding, rows.rejected, rows.first_error))
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

/// `true` for gzip, `false` for identity or no header; anything else is refused.
fn is_gzip(headers: &HeaderMap) -> Result<bool, IngestError> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(false);
    };
    let value = String::from_utf8_lossy(value.as_bytes());
    match value.trim().to_ascii_lowercase().as_str() {
        "gzip" | "x-gzip" => Ok(true),
        "identity" | "" => Ok(false),
        _ => Err(IngestError::UnsupportedEncoding(value.into_owned())),
    }
}

/// Reads the body, refusing it as soon as it passes `limit` bytes.
async fn read_limited(body: Body, limit: usize) -> Result<bytes::Bytes, IngestError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(IngestError::TooLarge { limit })
        }
        Err(e) => Err(IngestError::InvalidBody(format!(
            "the body could not be read: {e}"
        ))),
    }
}

/// Decompresses gzip (several members allowed) without ever holding more than
/// `limit + 1` bytes, so a gzip bomb is refused instead of exhausting memory.
pub fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::new();
    MultiGzDecoder::new(data)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| IngestError::InvalidBody(format!("the body is not valid gzip: {e}")))?;
    if out.len() > limit {
        return Err(IngestError::TooLarge { limit });
    }
    Ok(out)
}
