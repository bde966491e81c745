//! `POST /v1/traces`, `/v1/logs` and `/v1/metrics`: OTLP/HTTP's rules on top of the
//! transport-free [`crate::ingest`].
//!
//! The headers choose the encoding and compression, the body is read within the size
//! limit, and everything after that is the same ingest every transport calls. Refusals
//! answer in the request's encoding (JSON when it had none we know).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::{ApiError, AppState};
use crate::ingest::{self, Encoding, Export, IngestError, Signal, Stored};

/// What an export stored, left in the response's extensions for the request log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    pub signal: Signal,
    /// Spans, log records or data points stored.
    pub stored: usize,
    /// Spans, log records or data points rejected.
    pub rejected: u64,
}

/// `POST /v1/traces`.
pub(crate) async fn export_traces(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (encoding, request) =
        read::<ExportTraceServiceRequest>(&headers, body, state.max_body_bytes).await?;
    let stored = ingest::store_traces(&state.shards, request, state.sampling)
        .await
        .map_err(|e| ApiError::Export(e, encoding))?;
    Ok(answer(&state, Signal::Traces, encoding, stored))
}

/// `POST /v1/logs`.
pub(crate) async fn export_logs(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (encoding, request) =
        read::<ExportLogsServiceRequest>(&headers, body, state.max_body_bytes).await?;
    let stored = ingest::store_logs(&state.shards, request, state.sampling)
        .await
        .map_err(|e| ApiError::Export(e, encoding))?;
    Ok(answer(&state, Signal::Logs, encoding, stored))
}

/// `POST /v1/metrics`.
pub(crate) async fn export_metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (encoding, request) =
        read::<ExportMetricsServiceRequest>(&headers, body, state.max_body_bytes).await?;
    let stored = ingest::metrics::store_metrics(&state.shards, request)
        .await
        .map_err(|e| ApiError::Export(e, encoding))?;
    Ok(answer(&state, Signal::Metrics, encoding, stored))
}

/// The request of one export: its encoding from the headers, its body within the size
/// limit, decompressed and decoded. Refusals answer in the request's encoding (JSON when
/// it had none we know).
async fn read<T: Export>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<(Encoding, T), ApiError> {
    let header_text = |name| {
        headers
            .get(name)
            .map(|v: &axum::http::HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let content_type = header_text(header::CONTENT_TYPE).unwrap_or_default();
    let Some(encoding) = Encoding::from_content_type(&content_type) else {
        return Err(ApiError::Export(
            IngestError::UnsupportedContentType(content_type),
            Encoding::Json,
        ));
    };
    let refused = |error| ApiError::Export(error, encoding);
    let gzip =
        ingest::is_gzip(header_text(header::CONTENT_ENCODING).as_deref()).map_err(refused)?;
    let raw = read_limited(body, limit).await.map_err(refused)?;
    let request = ingest::read_request(encoding, gzip, &raw, limit).map_err(refused)?;
    Ok((encoding, request))
}

/// The 200 answer, after which the live feed hears about what was stored.
fn answer(state: &AppState, signal: Signal, encoding: Encoding, stored: Stored) -> Response {
    if let Some(announcement) = stored.announcement {
        state.events.announce(announcement);
    }
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, encoding.content_type())],
        stored.reply.encode(signal, encoding),
    )
        .into_response();
    response.extensions_mut().insert(Exported {
        signal,
        stored: stored.stored,
        rejected: stored.reply.rejected,
    });
    response
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
