//! `POST /v1/traces`: OTLP/HTTP's rules on top of the transport-free [`crate::ingest`].
//!
//! The headers choose the encoding and compression, the body is read within the size
//! limit, and everything after that is the same ingest every transport calls. Refusals
//! answer in the request's encoding (JSON when it had none we know).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::{ApiError, AppState};
use crate::ingest::{self, Encoding, IngestError};

/// What an export stored, left in the response's extensions for the request log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    pub spans: usize,
    pub rejected_spans: u64,
}

/// Handles one OTLP/HTTP export.
pub(crate) async fn export_traces(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
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
    let limit = state.max_body_bytes;
    let raw = read_limited(body, limit).await.map_err(refused)?;
    let request = ingest::read_request(encoding, gzip, &raw, limit).map_err(refused)?;
    let stored = ingest::store_traces(&state.shards, request, state.sampling)
        .await
        .map_err(refused)?;
    if let Some(announcement) = stored.announcement {
        state.events.announce(announcement);
    }
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, encoding.content_type())],
        stored.reply.encode(encoding),
    )
        .into_response();
    response.extensions_mut().insert(Exported {
        spans: stored.spans,
        rejected_spans: stored.reply.rejected_spans,
    });
    Ok(response)
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
