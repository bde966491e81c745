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
use http_body_util::BodyExt;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::compute::{HEAVY_BODY_BYTES, offload};
use super::{ApiError, AppState};
use crate::ingest::{self, Compression, Encoding, Export, IngestError, Prepared, Signal, Stored};

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
    let (bounds, sampling) = (state.bounds(), state.sampling);
    export::<ExportTraceServiceRequest>(state, headers, body, move |request| {
        ingest::prepare_traces(request, bounds, sampling)
    })
    .await
}

/// `POST /v1/logs`.
pub(crate) async fn export_logs(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (bounds, sampling) = (state.bounds(), state.sampling);
    export::<ExportLogsServiceRequest>(state, headers, body, move |request| {
        ingest::prepare_logs(request, bounds, sampling)
    })
    .await
}

/// `POST /v1/metrics`.
pub(crate) async fn export_metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bounds = state.bounds();
    export::<ExportMetricsServiceRequest>(state, headers, body, move |request| {
        ingest::metrics::prepare_metrics(request, bounds)
    })
    .await
}

/// One export: its body read within the limit, then decompressed, decoded and converted
/// by `prepare` where the home runs CPU work, then stored and answered.
async fn export<T: Export + Send + 'static>(
    state: AppState,
    headers: HeaderMap,
    body: Body,
    prepare: impl FnOnce(T) -> Prepared + Send + 'static,
) -> Result<Response, ApiError> {
    let (encoding, compression) = encoding_of(&headers)?;
    let refused = |error| ApiError::Export(error, encoding);
    let limit = state.max_body_bytes;
    let raw = read_limited(body, limit).await.map_err(refused)?;
    let heavy = match compression {
        Compression::None => raw.len() > HEAVY_BODY_BYTES,
        Compression::Gzip | Compression::Zstd => raw.len() > HEAVY_BODY_BYTES / 8,
    };
    let prepared = offload(state.compute.as_ref(), heavy, move || {
        ingest::read_request::<T>(encoding, compression, &raw, limit).map(prepare)
    })
    .await?
    .map_err(refused)?;
    let stored = ingest::commit(&state.shards, prepared)
        .await
        .map_err(refused)?;
    Ok(answer(&state, T::SIGNAL, encoding, stored))
}

/// The encoding and compression an export's headers declare. Refusals answer in the
/// request's encoding (JSON when it had none we know).
fn encoding_of(headers: &HeaderMap) -> Result<(Encoding, Compression), ApiError> {
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
    let compression =
        Compression::from_content_encoding(header_text(header::CONTENT_ENCODING).as_deref())
            .map_err(|error| ApiError::Export(error, encoding))?;
    Ok((encoding, compression))
}

/// The paths OTLP/HTTP exporters POST to.
pub const EXPORT_PATHS: [&str; 3] = ["/v1/traces", "/v1/logs", "/v1/metrics"];

/// `error` as the answer to `request`: on an export route, a `google.rpc.Status` in the
/// export's encoding (JSON when it has none we know), as OTLP exporters read refusals.
pub fn refusal_for<B>(request: &axum::http::Request<B>, error: ApiError) -> ApiError {
    if request.method() != axum::http::Method::POST || !EXPORT_PATHS.contains(&request.uri().path())
    {
        return error;
    }
    let encoding = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(Encoding::from_content_type)
        .unwrap_or(Encoding::Json);
    ApiError::OnExport(Box::new(error), encoding)
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

/// Bytes of a refused body read on and thrown away before the 413, past its limit.
pub const MAX_DRAINED_BYTES: usize = 64 * 1024 * 1024;

/// Reads the body, refusing it once it passes `limit` bytes. The rest of a refused body is
/// still read, and thrown away (up to [`MAX_DRAINED_BYTES`] more), before the answer: an
/// HTTP/1.1 client still sending it would otherwise see a broken connection instead of
/// the 413. Memory stays within `limit`.
async fn read_limited(mut body: Body, limit: usize) -> Result<bytes::Bytes, IngestError> {
    let mut kept: Vec<bytes::Bytes> = Vec::new();
    let mut read = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| IngestError::InvalidBody(format!("the body could not be read: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        read = read.saturating_add(data.len());
        if read <= limit {
            kept.push(data);
        } else {
            // Over the limit: nothing more is kept.
            kept.clear();
            if read - limit > MAX_DRAINED_BYTES {
                break;
            }
        }
    }
    if read > limit {
        return Err(IngestError::TooLarge { limit });
    }
    // One frame (the usual case) is passed on without a copy.
    Ok(match kept.len() {
        1 => kept.swap_remove(0),
        _ => kept.concat().into(),
    })
}
