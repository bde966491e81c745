//! The API's one error type: every failure of every route, with its status code and body,
//! written in one place.
//!
//! Most answers are `{"error": "<code>", "message": "<sentence>"}`; a refused export is a
//! `google.rpc.Status` in the request's encoding, as OTLP clients expect (its JSON form
//! also carries `error`, so it reads as the API's error format too). Nothing is logged
//! here: the response carries its [`FailureCause`], and each home logs every request once,
//! with that cause, in its request log.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message;

use crate::ingest::error::RpcCode;
use crate::ingest::reply::RpcStatus;
use crate::ingest::{Encoding, IngestError};
use crate::models::ErrorBody;
use crate::query::QueryError;
use crate::store::StoreError;

/// The range of seconds a client is told to wait before retrying (`Retry-After`). Each
/// answer picks one at random, so exporters refused together do not retry together.
pub const RETRY_AFTER_SECONDS: std::ops::RangeInclusive<u32> = 1..=3;

/// A `Retry-After` value from [`RETRY_AFTER_SECONDS`].
pub fn retry_after_seconds() -> u32 {
    let (low, high) = (*RETRY_AFTER_SECONDS.start(), *RETRY_AFTER_SECONDS.end());
    // Without randomness the shortest wait is still a valid answer.
    low + getrandom::u32().map_or(0, |r| r % (high - low + 1))
}

/// Every failure a route can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed: (code, message).
    #[error("{1}")]
    BadRequest(&'static str, String),
    #[error("{0}")]
    NotFound(String),
    /// What the request names existed and is no longer there to read: (code, message).
    #[error("{1}")]
    Gone(&'static str, String),
    #[error("this server requires `Authorization: Bearer <token>`")]
    Unauthorized,
    /// The request is understood and authenticated but not allowed (a foreign `Origin`).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} is not allowed on this path")]
    MethodNotAllowed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An export refused as a whole, answered in the export's encoding.
    #[error("{0}")]
    Export(IngestError, Encoding),
    /// The home's live feed could not take the WebSocket.
    #[error("the live feed is unavailable: {0}")]
    LiveFeedUnavailable(String),
    /// The server lacks a secret or binding it needs; the message names it.
    #[error("{0}")]
    Misconfigured(String),
    /// Any other refusal of an export route (a missing token, a foreign origin), answered
    /// like [`Self::Export`] as a `google.rpc.Status` in the export's encoding.
    #[error("{0}")]
    OnExport(Box<ApiError>, Encoding),
}

/// Why a request failed, left in the response's extensions for the request log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureCause(pub String);

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> Self {
        let code = match error {
            QueryError::TraceId(_) => "invalid-trace-id",
            QueryError::SpanId(_) => "invalid-span-id",
            QueryError::UnknownParameter { .. } | QueryError::InvalidValue { .. } => {
                "invalid-query"
            }
        };
        Self::BadRequest(code, error.to_string())
    }
}

/// The status and code of a storage failure, wherever it happens: a busy or full store is
/// worth a retry, anything else is not.
fn storage(error: &StoreError) -> (StatusCode, &'static str) {
    match error {
        StoreError::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage-busy"),
        StoreError::Full(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage-full"),
        StoreError::Other(_) => (StatusCode::INTERNAL_SERVER_ERROR, "storage-error"),
    }
}

impl ApiError {
    /// The HTTP status and the kebab-case code of the API's error format.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(code, _) => (StatusCode::BAD_REQUEST, code),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            Self::Gone(code, _) => (StatusCode::GONE, code),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed"),
            Self::Store(e) | Self::Export(IngestError::Storage(e), _) => storage(e),
            Self::Export(error, _) => match error {
                IngestError::UnsupportedContentType(_) => {
                    (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type")
                }
                IngestError::UnsupportedEncoding(_) => {
                    (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-encoding")
                }
                IngestError::TooLarge { .. } => {
                    (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large")
                }
                IngestError::InvalidBody(_) => (StatusCode::BAD_REQUEST, "invalid-body"),
                IngestError::Storage(e) => storage(e),
            },
            Self::LiveFeedUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "live-feed-unavailable")
            }
            Self::Misconfigured(_) => (StatusCode::INTERNAL_SERVER_ERROR, "misconfigured"),
            Self::OnExport(inner, _) => inner.status_and_code(),
        }
    }

    /// The `google.rpc.Code` an OTLP exporter reads from this refusal.
    fn rpc_code(&self) -> RpcCode {
        match self {
            Self::Export(error, _) => error.rpc_code(),
            Self::OnExport(inner, _) => inner.rpc_code(),
            Self::Unauthorized => RpcCode::Unauthenticated,
            Self::Forbidden(_) => RpcCode::PermissionDenied,
            _ => match self.status_and_code().0 {
                StatusCode::SERVICE_UNAVAILABLE => RpcCode::Unavailable,
                StatusCode::PAYLOAD_TOO_LARGE => RpcCode::ResourceExhausted,
                status if status.is_server_error() => RpcCode::Internal,
                _ => RpcCode::InvalidArgument,
            },
        }
    }

    /// The encoding of the export this refuses, when it refuses one.
    fn export_encoding(&self) -> Option<Encoding> {
        match self {
            Self::Export(_, encoding) | Self::OnExport(_, encoding) => Some(*encoding),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = self.to_string();
        let mut response = match self.export_encoding() {
            Some(Encoding::Protobuf) => (
                status,
                [(header::CONTENT_TYPE, Encoding::Protobuf.content_type())],
                RpcStatus {
                    code: self.rpc_code() as i32,
                    message: message.clone(),
                }
                .encode_to_vec(),
            )
                .into_response(),
            // A valid google.rpc.Status in JSON that is also the API's error format.
            Some(Encoding::Json) => (
                status,
                Json(serde_json::json!({
                    "code": self.rpc_code() as i32,
                    "message": message,
                    "error": code,
                })),
            )
                .into_response(),
            None => (
                status,
                Json(ErrorBody {
                    error: code.to_owned(),
                    message: message.clone(),
                }),
            )
                .into_response(),
        };
        let headers = response.headers_mut();
        match status {
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after_seconds()),
                );
            }
            StatusCode::UNAUTHORIZED => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response.extensions_mut().insert(FailureCause(message));
        response
    }
}
