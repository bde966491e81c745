//! Why an export was refused, and the `google.rpc.Status` body OTLP clients expect.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message;

use super::Encoding;
use crate::store::StoreError;

/// Seconds a client should wait before retrying when the database is busy.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// `google.rpc.Status` (`details` is never filled, so it is left out).
#[derive(Clone, PartialEq, Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// gRPC status codes used in `RpcStatus::code`.
mod grpc {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
}

/// Every way `POST /v1/traces` can refuse an export. Nothing of a refused export is stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("unsupported content type {0:?}: send application/x-protobuf or application/json")]
    UnsupportedContentType(String),
    #[error("unsupported content encoding {0:?}: send gzip or identity")]
    UnsupportedEncoding(String),
    #[error("the body is larger than {limit} bytes (after decompression)")]
    TooLarge { limit: usize },
    #[error("{0}")]
    InvalidBody(String),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl IngestError {
    fn status(&self) -> StatusCode {
        match self {
            Self::UnsupportedContentType(_) | Self::UnsupportedEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::InvalidBody(_) => StatusCode::BAD_REQUEST,
            Self::Storage(StoreError::Busy(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Storage(StoreError::Other(_)) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The kebab-case code of the API's error format.
    fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedContentType(_) => "unsupported-media-type",
            Self::UnsupportedEncoding(_) => "unsupported-encoding",
            Self::TooLarge { .. } => "payload-too-large",
            Self::InvalidBody(_) => "invalid-body",
            Self::Storage(StoreError::Busy(_)) => "storage-busy",
            Self::Storage(StoreError::Other(_)) => "storage-error",
        }
    }

    fn grpc_code(&self) -> i32 {
        match self {
            Self::Storage(StoreError::Busy(_)) => grpc::UNAVAILABLE,
            Self::Storage(StoreError::Other(_)) => grpc::INTERNAL,
            _ => grpc::INVALID_ARGUMENT,
        }
    }

    /// The refusal as a response in the request's encoding (JSON when it had none).
    pub fn into_response_as(self, encoding: Encoding) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "export failed");
        } else {
            tracing::debug!(error = %self, "export refused");
        }
        let message = self.to_string();
        let mut response = match encoding {
            Encoding::Protobuf => (
                status,
                [(header::CONTENT_TYPE, Encoding::Protobuf.content_type())],
                RpcStatus {
                    code: self.grpc_code(),
                    message,
                }
                .encode_to_vec(),
            )
                .into_response(),
            // A valid google.rpc.Status in JSON that is also the API's error format.
            Encoding::Json => (
                status,
                [(header::CONTENT_TYPE, Encoding::Json.content_type())],
                serde_json::json!({
                    "code": self.grpc_code(),
                    "message": message,
                    "error": self.code(),
                })
                .to_string(),
            )
                .into_response(),
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        response
    }
}
